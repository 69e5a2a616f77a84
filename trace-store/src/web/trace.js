// The trace view: /api/traces/{id} (Tempo's JSON) drawn as a waterfall. Rows are in tree
// order (each child under its parent, earliest first), bars are positioned and scaled to the
// whole trace, and error spans are marked, as are the spans on the critical path (the chain
// that set the trace's end-to-end time, computed as the store's analysis does). Clicking a row
// shows the span in the detail panel.

import { renderDetail } from './detail.js';
import {
  attr, base64ToHex, el, formatDuration, formatTime, getJson, nanos, padTraceId, tokenForm,
} from './util.js';

export async function renderTrace(ctx, rawId, selectedSpan) {
  const traceId = padTraceId(rawId);
  ctx.view.append(
    el('p', { class: 'back' }, el('a', { href: ctx.lastSearch, id: 'back' }, '← Search')),
    el('p', { class: 'status', id: 'trace-status' }, `Loading trace ${traceId}…`),
  );
  let body;
  try {
    body = await getJson(`/api/traces/${traceId}`);
  } catch (error) {
    if (!ctx.current()) return;
    if (error.status === 401) {
      document.getElementById('trace-status').replaceWith(tokenForm(error));
      ctx.done('auth');
      return;
    }
    const text = error.status === 404
      ? `Trace ${traceId} is not in the store (it may not have arrived yet, or was evicted).`
      : `Could not load trace ${traceId}: ${error.message}`;
    document.getElementById('trace-status').replaceWith(
      el('div', { class: 'error-box', id: 'trace-error', role: 'alert' }, text),
    );
    ctx.done('error');
    return;
  }
  if (!ctx.current()) return;

  const spans = treeOrder(flatten(body));
  document.getElementById('trace-status').remove();
  if (spans.length === 0) {
    ctx.view.append(el('div', { class: 'error-box', id: 'trace-error' }, 'This trace has no spans.'));
    ctx.done('error');
    return;
  }
  const start = spans.reduce((m, s) => (s.start < m ? s.start : m), spans[0].start);
  const end = spans.reduce((m, s) => (s.end > m ? s.end : m), spans[0].end);
  const trace = { id: traceId, start, duration: Number(end - start), spans };
  const onPath = criticalPath(spans);
  for (const span of spans) span.critical = onPath.get(span) || 0n;
  // Colours follow first appearance in tree order, so the root service is always the first colour.
  const services = [...new Set(spans.map((s) => s.service))];
  for (const span of spans) span.colour = services.indexOf(span.service) % 8;

  const detail = el('aside', { class: 'detail', id: 'detail' });
  const rows = spans.map((span) => spanRow(span, trace));
  const select = (span) => {
    for (const row of rows) row.classList.toggle('selected', row.dataset.spanId === span.id);
    renderDetail(detail, span, trace);
    ctx.replaceHash(`#/trace/${traceId}?span=${span.id}`);
  };
  rows.forEach((row, i) => {
    row.addEventListener('click', () => select(spans[i]));
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select(spans[i]);
      } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const next = rows[i + (event.key === 'ArrowDown' ? 1 : -1)];
        if (next) next.focus();
      }
    });
  });

  ctx.view.append(
    header(trace, services),
    el('div', { class: 'trace-layout' },
      el('section', { class: 'waterfall', id: 'waterfall', 'aria-label': 'Spans' }, axis(trace), rows),
      detail),
  );
  const chosen = spans.find((s) => s.id === selectedSpan.toLowerCase());
  if (chosen) {
    select(chosen);
  } else {
    detail.append(el('p', { class: 'hint' }, 'Select a span to see its attributes, resource and events.'));
  }
  ctx.done('ready');
}

/**
 * Each span's own time on the critical path (BigInt ns), from the first root in tree order.
 * Walking back from its end: the child that finished last was waited on, so its own path comes
 * next; before it started, the next child to finish; the gaps are the parent's own work.
 * Overlapping children are clipped at the chosen one's start, late ones at the parent's end.
 */
function criticalPath(ordered) {
  const on = new Map();
  if (ordered.length === 0) return on;
  const kids = new Map();
  for (const span of ordered) {
    if (span.depth > 0) {
      if (!kids.has(span.parent)) kids.set(span.parent, []);
      kids.get(span.parent).push(span);
    }
  }
  for (const list of kids.values()) list.sort((a, b) => (a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  const add = (span, from, to) => { if (to > from) on.set(span, (on.get(span) || 0n) + (to - from)); };
  const root = ordered[0];
  const stack = [{ span: root, cursor: root.end, next: 0 }];
  while (stack.length) {
    const frame = stack[stack.length - 1];
    const children = kids.get(frame.span.id) || [];
    let at = frame.next;
    while (at < children.length && children[at].start >= frame.cursor) at += 1;
    if (at >= children.length) {
      add(frame.span, frame.span.start, frame.cursor);
      stack.pop();
      continue;
    }
    const child = children[at];
    const childEnd = child.end < frame.cursor ? child.end : frame.cursor;
    add(frame.span, childEnd, frame.cursor);
    frame.cursor = child.start > frame.span.start ? child.start : frame.span.start;
    frame.next = at + 1;
    stack.push({ span: child, cursor: childEnd, next: 0 });
  }
  return on;
}

/** Every span of Tempo's `batches` with its service and resource, ids in hex, times as BigInt. */
function flatten(body) {
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
        });
      }
    }
  }
  return spans;
}

/**
 * Depth-first from the roots, children by start time. A span whose parent is not in the trace
 * (not arrived yet, or dropped) is drawn as a root. Spans caught in a parent cycle, which only a
 * broken or hostile sender produces, are still drawn, as roots at the end.
 */
function treeOrder(spans) {
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
    const stack = [[top, 0]];
    while (stack.length) {
      const [span, depth] = stack.pop();
      if (seen.has(span)) continue;
      seen.add(span);
      span.depth = depth;
      ordered.push(span);
      const kids = (children.get(span.id) || []).slice().sort(byStart).reverse();
      for (const kid of kids) stack.push([kid, depth + 1]);
    }
  };
  roots.sort(byStart).forEach(walk);
  spans.filter((s) => !seen.has(s)).sort(byStart).forEach(walk);
  return ordered;
}

function header(trace, services) {
  const errors = trace.spans.filter((s) => s.error).length;
  return el('section', { class: 'trace-header', id: 'trace-header', 'data-trace-id': trace.id },
    el('h1', {}, 'Trace ', el('span', { class: 'mono' }, trace.id)),
    el('dl', { class: 'facts' },
      fact('Duration', formatDuration(trace.duration), 'trace-duration'),
      fact('Spans', String(trace.spans.length), 'span-count'),
      fact('Started', formatTime(trace.start.toString()), 'trace-start'),
      fact('Services', services.map((name, i) =>
        el('span', { class: `chip c${i % 8}` }, name)), 'trace-services'),
      errors ? fact('Errors', el('span', { class: 'error-mark' }, `✗ ${errors} error span${errors > 1 ? 's' : ''}`), 'error-count') : null));
}

function fact(term, value, id) {
  return el('div', { class: 'fact', id }, el('dt', {}, term), el('dd', {}, value));
}

/** The time axis above the bars: offsets from the trace start at every quarter. */
function axis(trace) {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = el('span', { class: 'tick' }, formatDuration(trace.duration * f));
    tick.style.left = `${f * 100}%`;
    return tick;
  });
  return el('div', { class: 'row axis', 'aria-hidden': 'true' },
    el('span', { class: 'col-service' }, 'Service'),
    el('span', { class: 'col-name' }, 'Span'),
    el('span', { class: 'col-track' }, ticks),
    el('span', { class: 'col-duration' }, 'Duration'));
}

function spanRow(span, trace) {
  const offset = Number(span.start - trace.start);
  const length = Number(span.end - span.start);
  const scale = trace.duration > 0 ? 100 / trace.duration : 0;
  const bar = el('span', { class: `bar c${span.colour}` });
  // Styles set through the CSSOM are allowed by the page's CSP (style attributes are not).
  bar.style.left = `${Math.min(offset * scale, 100)}%`;
  bar.style.width = `max(2px, ${Math.min(length * scale, 100)}%)`;
  const name = el('span', { class: 'col-name', title: span.raw.name || '' },
    el('span', { class: 'span-name' }, span.raw.name || '(no name)'),
    span.error ? el('span', { class: 'error-mark' }, '✗ error') : null,
    span.critical > 0n
      ? el('span', {
        class: 'critical-mark',
        title: `${formatDuration(Number(span.critical))} of its own time on the critical path`,
      }, `◆ ${formatDuration(Number(span.critical))}`)
      : null);
  name.style.paddingLeft = `${0.25 + span.depth * 1.1}rem`;
  return el('div', {
    class: `row span-row${span.error ? ' error' : ''}${span.critical > 0n ? ' critical' : ''}`,
    role: 'button',
    tabindex: '0',
    'data-span-id': span.id,
    'data-parent-id': span.parent,
    'data-service': span.service,
    'data-name': span.raw.name || '',
    'data-depth': String(span.depth),
    'data-error': String(span.error),
    'data-critical-ns': String(span.critical),
  },
  el('span', { class: `col-service c${span.colour}` }, span.service),
  name,
  el('span', { class: 'col-track' }, bar),
  el('span', { class: 'col-duration' }, formatDuration(length)));
}
