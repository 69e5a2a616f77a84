// The trace as a tree: Tempo's JSON flattened into spans, put in tree order, and the critical
// path through it. No drawing here; trace.js draws what this computes.

import { attr, base64ToHex, nanos } from './util.js';

/** Every span of Tempo's `batches` with its service and resource, ids in hex, times as BigInt. */
export function flatten(body) {
  const spans = [];
  for (const batch of body.batches || body.resourceSpans || []) {
    const resource = (batch.resource && batch.resource.attributes) || [];
    const service = attr(resource, 'service.name') || 'unknown service';
    for (const scopeSpans of batch.scopeSpans || []) {
      for (const raw of scopeSpans.spans || []) {
        const start = nanos(raw.startTimeUnixNano);
        const end = nanos(raw.endTimeUnixNano);
        spans.push({
          raw,
          id: base64ToHex(raw.spanId),
          parent: base64ToHex(raw.parentSpanId),
          service,
          resource,
          scope: scopeSpans.scope || {},
          start,
          end: end < start ? start : end,
          error: Boolean(raw.status && raw.status.code === 'STATUS_CODE_ERROR'),
          children: [],
        });
      }
    }
  }
  return spans;
}

/**
 * Depth-first from the roots, children by start time; each span gets `depth` and `children`.
 * A span whose parent is not in the trace (not arrived yet, or dropped) is drawn as a root.
 * Spans caught in a parent cycle, which only a broken or hostile sender produces, are still
 * drawn, as roots at the end.
 */
export function treeOrder(spans) {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    if (span.parent && byId.has(span.parent) && span.parent !== span.id) {
      if (!children.has(span.parent)) children.set(span.parent, []);
      children.get(span.parent).push(span);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
  const ordered = [];
  const seen = new Set();
  const walk = (top) => {
    const stack = [[top, 0, null]];
    while (stack.length) {
      const [span, depth, parent] = stack.pop();
      if (seen.has(span)) continue;
      seen.add(span);
      span.depth = depth;
      if (parent) parent.children.push(span);
      ordered.push(span);
      const kids = (children.get(span.id) || []).slice().sort(byStart).reverse();
      for (const kid of kids) stack.push([kid, depth + 1, span]);
    }
  };
  roots.sort(byStart).forEach(walk);
  spans.filter((s) => !seen.has(s)).sort(byStart).forEach(walk);
  return ordered;
}

/**
 * The critical path: the spans that set the trace's end-to-end time, as a Set of ids.
 *
 * The rule: start at the root that ends last, with a cursor at its end. Among its children
 * that started before the cursor, take the one that ends last, counting its end as no later
 * than the cursor (a child that outlives its parent, or overlaps the one after it, only counts
 * up to where the path already is). That child is on the path up to the cursor; the cursor
 * moves back to the child's start, and the next child is chosen the same way, until no child
 * started before the cursor or the cursor reaches the parent's start. Each chosen child is then
 * walked the same way, with its own end cut at the cursor it was chosen under. Ties go to the
 * child that started first (it covers more of the time). So of two children running side by
 * side only the one ending later is on the path, and sequential children are all on it.
 */
export function criticalPath(spans) {
  const path = new Set();
  const roots = spans.filter((s) => s.depth === 0);
  if (roots.length === 0) return path;
  const root = roots.reduce((a, b) => (b.end > a.end ? b : a));
  const work = [[root, root.end]];
  while (work.length) {
    const [span, until] = work.pop();
    if (path.has(span.id)) continue;
    path.add(span.id);
    let cursor = span.end < until ? span.end : until;
    const left = span.children.slice();
    while (cursor > span.start && left.length) {
      let best = -1;
      let bestEnd = 0n;
      left.forEach((child, i) => {
        if (child.start >= cursor) return;
        const end = child.end < cursor ? child.end : cursor;
        if (best < 0 || end > bestEnd || (end === bestEnd && child.start < left[best].start)) {
          best = i;
          bestEnd = end;
        }
      });
      if (best < 0) break;
      const [chosen] = left.splice(best, 1);
      work.push([chosen, cursor]);
      cursor = chosen.start;
    }
  }
  return path;
}
