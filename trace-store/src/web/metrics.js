// The metrics panel: a TraceQL metrics query (`{ } | rate() by (resource.service.name)`) run
// against /api/metrics/query_range, drawn as a line chart with one SVG path per series and a
// legend from the series' labels. The store's error text (a 400 for a query it cannot run) is
// shown as written. Below it, the RED table per service (red.js) and the service graph
// (graph.js) over the same range.
// State is in the URL: #/metrics?q=&since=&step=.

import { el, anyValue, getJson, tokenForm } from './util.js';
import { lineChart } from './chart.js';
import { redTable } from './red.js';
import { serviceGraph } from './graph.js';
import { sinceSeconds } from './search.js';

export const DEFAULT_METRICS_QUERY = '{ } | rate() by (resource.service.name)';
const RANGES = [['5m', 'last 5 minutes'], ['15m', 'last 15 minutes'], ['1h', 'last hour'],
  ['6h', 'last 6 hours'], ['24h', 'last 24 hours']];

export async function renderMetrics(ctx, params) {
  const q = params.get('q') || DEFAULT_METRICS_QUERY;
  const since = sinceSeconds(params.get('since')) ? params.get('since') : '15m';
  const step = params.get('step') || '';

  const input = el('input', { id: 'metrics-q', type: 'text', spellcheck: 'false', value: q });
  const range = el('select', { id: 'metrics-range', 'aria-label': 'Time range' },
    RANGES.map(([value, text]) => el('option', { value, selected: value === since }, text)));
  const stepInput = el('input', { id: 'metrics-step', type: 'text', placeholder: 'auto', value: step, size: 6 });
  const form = el('form', { class: 'metrics-form', id: 'metrics-form', autocomplete: 'off' },
    el('label', { for: 'metrics-q' }, 'TraceQL metrics'), input,
    el('label', { for: 'metrics-range' }, 'Range'), range,
    el('label', { for: 'metrics-step' }, 'Step'), stepInput,
    el('button', { type: 'submit' }, 'Run'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ q: input.value.trim() || DEFAULT_METRICS_QUERY, since: range.value });
    if (stepInput.value.trim()) next.set('step', stepInput.value.trim());
    ctx.navigate(`#/metrics?${next}`);
  });
  const status = el('p', { class: 'status', id: 'metrics-status' }, 'Querying…');
  const chart = el('div', { class: 'chart-slot' });
  const red = el('section', { class: 'red-section', id: 'red' },
    el('h2', {}, 'RED per service (server spans in this range)'));
  const graph = el('section', { class: 'graph-section', id: 'graph' },
    el('h2', {}, 'Service graph (client spans calling server spans)'));
  ctx.view.append(el('h1', {}, 'Metrics'), form, status, chart, red, graph);

  const end = Math.ceil(Date.now() / 1000);
  const start = end - sinceSeconds(since);
  const redDone = redTable(start, end).then((table) => {
    if (ctx.current()) red.append(table);
  });
  const graphDone = serviceGraph(start, end).then((drawn) => {
    if (ctx.current()) graph.append(drawn);
  });
  const state = await drawQuery(ctx, { q, start, end, step }, status, chart);
  await Promise.all([redDone, graphDone]);
  if (state) ctx.done(state);
}

/** Runs the query and draws its chart into `chart`; the page's state, or null if moved on. */
async function drawQuery(ctx, { q, start, end, step }, status, chart) {
  const query = { q, start: String(start), end: String(end) };
  if (step) query.step = step;
  let body;
  try {
    body = await getJson(`/api/metrics/query_range?${new URLSearchParams(query)}`);
  } catch (error) {
    if (!ctx.current()) return null;
    status.replaceWith(error.status === 401 ? tokenForm(error) : el('div',
      { class: 'error-box', id: 'metrics-error', role: 'alert', 'data-status': error.status || '' },
      el('strong', {}, error.status ? `The query failed (HTTP ${error.status}):` : 'The query failed:'),
      el('pre', { class: 'error-text' }, error.message)));
    return error.status === 401 ? 'auth' : 'error';
  }
  if (!ctx.current()) return null;

  const series = (Array.isArray(body.series) ? body.series : []).map((s) => ({
    label: seriesLabel(s.labels),
    points: (s.samples || [])
      .map((p) => [Number(p.timestampMs), Number(p.value)])
      .filter((p) => Number.isFinite(p[0]))
      .sort((a, b) => a[0] - b[0]),
    exemplars: (s.exemplars || []).map(exemplar).filter(Boolean),
  }));
  const partial = body.status === 'partial' || body.status === 'PARTIAL';
  if (partial) {
    chart.append(el('div', { class: 'error-box', id: 'metrics-partial', role: 'status' },
      `Partial answer: ${body.message || 'the store cut the result'}`));
  }
  if (series.length === 0) {
    status.textContent = 'No series: no spans matched in this range.';
    status.id = 'metrics-empty';
    return 'ready';
  }
  status.textContent = series.length === 1 ? '1 series' : `${series.length} series`;
  chart.append(el('figure', { class: 'metrics-chart', id: 'metrics-chart', 'data-series-count': String(series.length) },
    lineChart(series)));
  return 'ready';
}

/** An exemplar with its trace's link, or null without a usable trace id or time. */
function exemplar(e) {
  const label = (key) => {
    const found = (e.labels || []).find((kv) => kv.key === key);
    return found ? anyValue(found.value)[1] : '';
  };
  const trace = label('trace:id').toLowerCase();
  const span = label('span:id').toLowerCase();
  const ms = Number(e.timestampMs);
  if (!/^[0-9a-f]{1,32}$/.test(trace) || !Number.isFinite(ms)) return null;
  const href = `#/trace/${trace.padStart(32, '0')}${/^[0-9a-f]{16}$/.test(span) ? `?span=${span}` : ''}`;
  return { ms, value: e.value === null || e.value === undefined ? NaN : Number(e.value), href };
}

/** `{key="value", …}` from Tempo's labels (OTLP KeyValue JSON); `{}` for a series without. */
function seriesLabel(labels) {
  const parts = (labels || []).map((kv) => `${kv.key}=${JSON.stringify(anyValue(kv.value)[1])}`);
  return `{${parts.join(', ')}}`;
}
