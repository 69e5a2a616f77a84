// SVG charts drawn in the browser with no library: the search page's duration histogram and the
// metrics panel's line charts. Only geometry and numbers go into attributes; labels are text
// nodes, so data from senders never becomes markup here either.

import { el, formatDuration } from './util.js';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (no event handlers) and children. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('on')) throw new Error(`svg: event handler attribute ${key}`);
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Bucket edges for durations in nanoseconds: powers of two from the smallest to the largest,
 * so microseconds and seconds fit on one axis (traces' durations span orders of magnitude).
 */
function logBuckets(values) {
  const positive = values.map((v) => Math.max(v, 1));
  let low = 2 ** Math.floor(Math.log2(Math.min(...positive)));
  const high = Math.max(...positive);
  const edges = [low];
  while (low <= high) {
    low *= 2;
    edges.push(low);
  }
  return edges;
}

/** A histogram of durations (ns): one bar per power-of-two bucket, each with `data-count`. */
export function histogram(durations) {
  const edges = logBuckets(durations);
  const counts = new Array(edges.length - 1).fill(0);
  for (const d of durations) {
    const v = Math.max(d, 1);
    const i = edges.findIndex((e, k) => k + 1 < edges.length && v >= e && v < edges[k + 1]);
    counts[i >= 0 ? i : counts.length - 1] += 1;
  }
  const width = 640;
  const height = 120;
  const pad = 18;
  const barWidth = width / counts.length;
  const top = Math.max(...counts);
  const bars = counts.map((count, i) => {
    const h = top ? ((height - 2 * pad) * count) / top : 0;
    const label = `${formatDuration(edges[i])} – ${formatDuration(edges[i + 1])}: ${count}`;
    return svg('g', {},
      svg('rect', {
        class: 'hist-bar',
        x: (i * barWidth + 1).toFixed(1),
        y: (height - pad - h).toFixed(1),
        width: Math.max(barWidth - 2, 1).toFixed(1),
        height: h.toFixed(1),
        'data-count': count,
        'data-from-ns': edges[i],
        'data-to-ns': edges[i + 1],
      }, svg('title', {}, label)),
      count ? svg('text', { class: 'hist-count', x: ((i + 0.5) * barWidth).toFixed(1), y: (height - pad - h - 3).toFixed(1) }, count) : null);
  });
  const first = svg('text', { class: 'axis-label', x: 0, y: height - 4 }, formatDuration(edges[0]));
  const last = svg('text', { class: 'axis-label end', x: width, y: height - 4 }, formatDuration(edges[edges.length - 1]));
  return svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Histogram of trace durations',
  }, bars, first, last);
}

/**
 * A line chart of `series` ([{ label, points: [[ms, value], …], exemplars: [{ ms, value, href }] }]),
 * one `<path class="series">` each, with a legend. Time on x (local clock), values on y from 0.
 * Each exemplar is a dot on its series' line linking to its trace.
 */
export function lineChart(series) {
  const width = 800;
  const height = 260;
  const left = 56;
  const bottom = 24;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(...ys, 0) || 1;
  const x = (t) => left + ((width - left - 8) * (t - x0)) / (x1 - x0);
  const y = (v) => 8 + (height - bottom - 8) * (1 - v / y1);
  const paths = series.map((s, i) => {
    const d = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p, k) => `${k ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
      .join('');
    return svg('path', { class: `series c${i % 8}`, d: d || 'M0,0', 'data-series': i, 'data-points': s.points.length },
      svg('title', {}, s.label));
  });
  // An exemplar sits on its series' line, at the sample of the step it fell in (a sample's
  // time is its step's end): its own value is in another unit for most functions (a span's
  // duration under quantile_over_time, none under rate()).
  const onLine = (points, ms) => {
    const sample = points.find(([t]) => t > ms) || points[points.length - 1];
    return sample && Number.isFinite(sample[1]) ? sample[1] : 0;
  };
  const about = (e) => (Number.isFinite(e.value) ? ` (${formatNumber(e.value)})` : '');
  const dots = series.flatMap((s, i) => (s.exemplars || []).map((e) => svg('a', { href: e.href, class: 'exemplar' },
    svg('circle', { class: `c${i % 8}`, r: 3.5, cx: x(e.ms).toFixed(1), cy: y(onLine(s.points, e.ms)).toFixed(1) }),
    svg('title', {}, `${s.label}: exemplar${about(e)}, open its trace`))));
  const time = (ms) => new Date(ms).toLocaleTimeString();
  const grid = [0, 0.5, 1].map((f) => svg('g', {},
    svg('line', { class: 'grid', x1: left, x2: width - 8, y1: y(y1 * f), y2: y(y1 * f) }),
    svg('text', { class: 'axis-label end', x: left - 6, y: y(y1 * f) + 4 }, formatNumber(y1 * f))));
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'line-chart', role: 'img', 'aria-label': 'Metrics over time' },
    grid,
    svg('text', { class: 'axis-label', x: left, y: height - 6 }, time(x0)),
    svg('text', { class: 'axis-label end', x: width - 8, y: height - 6 }, time(x1)),
    paths, dots);
  const legend = el('ul', { class: 'legend', id: 'legend' }, series.map((s, i) =>
    el('li', { 'data-series': String(i) }, el('span', { class: `swatch c${i % 8}` }), s.label)));
  return [chart, legend];
}

/** A value for an axis: three significant digits, no exponent for everyday sizes. */
export function formatNumber(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000 || Math.abs(v) < 0.01) return v.toPrecision(3);
  return String(Number(v.toPrecision(3)));
}
