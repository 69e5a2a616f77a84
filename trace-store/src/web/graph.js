// The service graph of the metrics page: edges from CLIENT spans to the SERVER spans they
// parent (the rule Tempo's service-graph processor uses), counted over the newest traces of the
// range, which the browser reads through /api/search and /api/traces/{id}. Drawn as SVG: one
// column per call depth, one arrow per edge with its calls and errors.

import { el, getJson, padTraceId } from './util.js';
import { flatten } from './tree.js';
import { svg } from './chart.js';

/** How many traces the graph reads: enough for a lab's shape, few enough to fetch at once. */
export const GRAPH_TRACES = 50;

/** Edges `from→to` with calls and errors (either side's status error) over `traces`. */
export function edgesOf(traces) {
  const edges = new Map();
  for (const spans of traces) {
    const byId = new Map(spans.map((s) => [s.id, s]));
    for (const server of spans) {
      const client = byId.get(server.parent);
      if (server.raw.kind !== 'SPAN_KIND_SERVER' || !client || client.raw.kind !== 'SPAN_KIND_CLIENT') continue;
      const key = `${client.service}\u0000${server.service}`;
      if (!edges.has(key)) edges.set(key, { from: client.service, to: server.service, calls: 0, errors: 0 });
      const edge = edges.get(key);
      edge.calls += 1;
      if (client.error || server.error) edge.errors += 1;
    }
  }
  return [...edges.values()].sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
}

/** The graph over [start, end] (unix seconds), or why there is none, as an element. */
export async function serviceGraph(start, end) {
  let traces;
  try {
    const params = new URLSearchParams({ q: '{}', limit: String(GRAPH_TRACES), start: String(start), end: String(end) });
    const found = (await getJson(`/api/search?${params}`)).traces || [];
    traces = await Promise.all(found.map((t) => getJson(`/api/traces/${padTraceId(t.traceID)}`).then(flatten)));
  } catch (error) {
    return el('div', { class: 'error-box', id: 'graph-error', role: 'alert' }, `The service graph could not be drawn: ${error.message}`);
  }
  const edges = edgesOf(traces);
  const caption = `From ${traces.length} trace${traces.length === 1 ? '' : 's'} (the newest, at most ${GRAPH_TRACES}).`;
  if (edges.length === 0) {
    return el('p', { class: 'status', id: 'graph-empty' }, `${caption} No client span calls a server span in them.`);
  }
  return el('figure', { class: 'graph', id: 'service-graph', 'data-traces': String(traces.length) },
    el('figcaption', {}, caption), draw(edges));
}

/** Columns by call depth (longest path from a service nobody calls; cycles cut), then SVG. */
function draw(edges) {
  const names = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  const depth = new Map(names.map((n) => [n, 0]));
  // Longest-path relaxation, at most |names| rounds, so a cycle cannot loop forever.
  for (let round = 0; round < names.length; round++) {
    for (const e of edges) {
      if (e.from !== e.to && depth.get(e.to) < depth.get(e.from) + 1 && depth.get(e.from) + 1 < names.length) {
        depth.set(e.to, depth.get(e.from) + 1);
      }
    }
  }
  const columns = [];
  for (const n of names) (columns[depth.get(n)] ||= []).push(n);
  const boxW = 130;
  const boxH = 34;
  const gapX = 120;
  const gapY = 30;
  const at = new Map();
  columns.forEach((column, c) => column.forEach((n, r) => at.set(n, { x: 10 + c * (boxW + gapX), y: 10 + r * (boxH + gapY) })));
  const width = 20 + columns.length * boxW + (columns.length - 1) * gapX;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (boxH + gapY) - gapY;
  const arrows = edges.map((e) => {
    const a = at.get(e.from);
    const b = at.get(e.to);
    // Forward calls go right, box side to box side; calls back (or to itself) loop under.
    const back = depth.get(e.to) <= depth.get(e.from);
    let d;
    let label = [0, 0];
    if (back) {
      const [x1, y1] = [a.x + boxW / 2 + 12, a.y + boxH];
      const [x2, y2] = [b.x + boxW / 2 - 12, b.y + boxH];
      const dip = Math.max(y1, y2) + 48;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`;
      label = [(x1 + x2) / 2, dip - 4];
    } else {
      const [x1, y1] = [a.x + boxW, a.y + boxH / 2];
      const [x2, y2] = [b.x, b.y + boxH / 2];
      d = `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
      label = [(x1 + x2) / 2, (y1 + y2) / 2 - 6];
    }
    const text = `${e.calls} call${e.calls === 1 ? '' : 's'}${e.errors ? `, ${e.errors} failed` : ''}`;
    return svg('g', {
      class: `edge${e.errors ? ' failed' : ''}`, 'data-from': e.from, 'data-to': e.to, 'data-calls': e.calls, 'data-errors': e.errors,
    },
    svg('path', { d, 'marker-end': 'url(#arrow)' }),
    svg('text', { x: label[0], y: label[1], class: 'edge-label' }, text));
  });
  const nodes = names.map((n, i) => {
    const p = at.get(n);
    return svg('g', { class: `node c${i % 8}`, 'data-node': n },
      svg('rect', { x: p.x, y: p.y, width: boxW, height: boxH, rx: 8 }),
      svg('text', { x: p.x + boxW / 2, y: p.y + boxH / 2 + 4, class: 'node-label' }, n));
  });
  const defs = svg('defs', {}, svg('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse',
  }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' })));
  return svg('svg', {
    viewBox: `0 0 ${width} ${height + 60}`, class: 'graph-svg', role: 'img', 'aria-label': 'Service graph',
  }, defs, arrows, nodes);
}
