// The RED table of the metrics page: requests, errors and latency per service, from the
// server spans in the chosen range, computed by the store with three TraceQL metrics instant
// queries (/api/metrics/query). Quantiles are the store's bucketed ones, as Tempo's.

import { anyValue, el, formatDuration, getJson } from './util.js';
import { formatNumber } from './chart.js';

const SERVER = '{ kind = server }';
const QUERIES = {
  requests: `${SERVER} | count_over_time() by (resource.service.name)`,
  errors: '{ kind = server && status = error } | count_over_time() by (resource.service.name)',
  latency: `${SERVER} | quantile_over_time(duration, .5, .9, .99) by (resource.service.name)`,
};

/** The series' labels as a map of key to text. */
function labelMap(labels) {
  return new Map((labels || []).map((kv) => [kv.key, anyValue(kv.value)[1]]));
}

/** The RED table over [start, end] (unix seconds), or the store's error as text. */
export async function redTable(start, end) {
  const ask = (q) => getJson(`/api/metrics/query?${new URLSearchParams({ q, start: String(start), end: String(end) })}`);
  let answers;
  try {
    answers = await Promise.all(Object.values(QUERIES).map(ask));
  } catch (error) {
    return el('div', { class: 'error-box', id: 'red-error', role: 'alert' },
      `The RED table could not be computed: ${error.message}`);
  }
  const [requests, errors, latency] = answers.map((body) => (Array.isArray(body.series) ? body.series : []));
  const services = new Map();
  const row = (name) => {
    if (!services.has(name)) services.set(name, { requests: 0, errors: 0, p: {} });
    return services.get(name);
  };
  for (const s of requests) row(labelMap(s.labels).get('resource.service.name') || '—').requests = Number(s.value) || 0;
  for (const s of errors) row(labelMap(s.labels).get('resource.service.name') || '—').errors = Number(s.value) || 0;
  for (const s of latency) {
    const labels = labelMap(s.labels);
    // Quantiles are in seconds, per Tempo; the `p` label says which.
    row(labels.get('resource.service.name') || '—').p[labels.get('p')] = Number(s.value) * 1e9;
  }
  const names = [...services.keys()].sort();
  if (names.length === 0) return el('p', { class: 'status', id: 'red-empty' }, 'No server spans in this range.');
  const quantile = (r, p) => (Number.isFinite(r.p[p]) ? formatDuration(r.p[p]) : '—');
  const rows = names.map((name) => {
    const r = services.get(name);
    const rate = r.requests ? r.errors / r.requests : 0;
    return el('tr', {
      'data-red-service': name, 'data-requests': String(r.requests), 'data-errors': String(r.errors),
    },
    el('td', {}, name),
    el('td', { class: 'num' }, String(r.requests)),
    el('td', { class: `num${r.errors ? ' error-mark' : ''}` }, String(r.errors)),
    el('td', { class: 'num' }, `${formatNumber(rate * 100)} %`),
    el('td', { class: 'num' }, quantile(r, '0.5')),
    el('td', { class: 'num' }, quantile(r, '0.9')),
    el('td', { class: 'num' }, quantile(r, '0.99')));
  });
  const head = el('tr', {}, ['Service', 'Requests', 'Errors', 'Error rate', 'p50', 'p90', 'p99']
    .map((h, i) => el('th', { class: i ? 'num' : null }, h)));
  return el('table', { class: 'results red', id: 'red-table' }, el('thead', {}, head), el('tbody', {}, rows));
}
