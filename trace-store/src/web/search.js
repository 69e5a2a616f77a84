// The search view: runs a TraceQL query against /api/search and lists the traces it finds,
// each linking to its trace view, with span and error counts (Tempo's `serviceStats`), sortable
// columns, a duration histogram, a time range, and service and span-name pickers filled from
// the tag-values API. A 400 from the store (a query it cannot run) is shown as the store wrote
// it, since Tempo's error texts say exactly what is wrong with the query.
//
// Everything the view shows is in the URL (#/search?q=&limit=&since=|start=&end=&sort=&dir=),
// so a sorted, filtered result can be shared or reloaded as is.

import { el, formatDuration, formatTime, getJson, padTraceId, tokenForm } from './util.js';
import { histogram } from './chart.js';
import { searchHash } from './nav.js';

/** Presets of the time-range picker: `since` values, resolved against the clock when run. */
const RANGES = [['', 'any time'], ['5m', 'last 5 minutes'], ['15m', 'last 15 minutes'],
  ['1h', 'last hour'], ['6h', 'last 6 hours'], ['24h', 'last 24 hours'], ['custom', 'custom…']];

/** Sortable columns: hash name, header, the value sorted on, default direction. */
const COLUMNS = [
  ['service', 'Root service', (t) => t.rootServiceName || '', 'asc'],
  ['name', 'Root span', (t) => t.rootTraceName || '', 'asc'],
  ['start', 'Start (local time)', (t) => Number(t.startTimeUnixNano || 0), 'desc'],
  ['spans', 'Spans', (t) => t.spans, 'desc'],
  ['errors', 'Errors', (t) => t.errors, 'desc'],
  ['duration', 'Duration', (t) => t.durationMs || 0, 'desc'],
];

/** Seconds in a `since` preset (5m, 1h, …), or 0. */
export function sinceSeconds(since) {
  const m = /^(\d+)([smhd])$/.exec(since || '');
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 0;
}

/** The search's [start, end] in unix seconds from the URL, or null for "any time". */
function timeRange(params) {
  const since = sinceSeconds(params.get('since'));
  if (since) {
    const now = Math.ceil(Date.now() / 1000);
    return [now - since, now];
  }
  const start = Number.parseInt(params.get('start') || '', 10);
  const end = Number.parseInt(params.get('end') || '', 10);
  return start > 0 && end > start ? [start, end] : null;
}

export async function renderSearch(ctx, params) {
  const q = params.get('q') || '{}';
  const limit = Number.parseInt(params.get('limit') || '', 10) || 20;
  const status = el('p', { class: 'status', id: 'search-status' }, 'Searching…');
  const filters = filterBar(params, ctx);
  ctx.view.append(el('h1', {}, 'Traces ', el('code', { class: 'query-echo' }, q)), filters, status);

  const query = { q, limit: String(limit) };
  const range = timeRange(params);
  if (range) [query.start, query.end] = range.map(String);
  let body;
  try {
    body = await getJson(`/api/search?${new URLSearchParams(query)}`);
  } catch (error) {
    if (!ctx.current()) return;
    status.replaceWith(error.status === 401 ? tokenForm(error) : searchError(error));
    ctx.done(error.status === 401 ? 'auth' : 'error');
    return;
  }
  if (!ctx.current()) return;

  const traces = Array.isArray(body.traces) ? body.traces : [];
  if (traces.length === 0) {
    status.textContent = 'No traces match. Send a request through the chain (curl localhost:5000) and run the query again.';
    status.id = 'search-empty';
    ctx.done('ready');
    return;
  }
  for (const trace of traces) {
    const stats = Object.values(trace.serviceStats || {});
    // Without serviceStats (a tag search) the counts are unknown, not zero.
    trace.spans = stats.length ? stats.reduce((n, s) => n + (s.spanCount || 0), 0) : null;
    trace.errors = stats.length ? stats.reduce((n, s) => n + (s.errorCount || 0), 0) : null;
  }
  status.textContent = traces.length === 1 ? '1 trace' : `${traces.length} traces`;
  if (traces.length >= limit) status.textContent += ` (the limit; raise it to see more)`;
  const durations = traces.map((t) => (t.durationMs || 0) * 1e6);
  ctx.view.append(
    el('figure', { class: 'histogram', id: 'duration-histogram' },
      el('figcaption', {}, 'Durations of these traces'), histogram(durations)),
    resultsTable(sorted(traces, params), params));
  ctx.done('ready');
}

/** The traces in the URL's order (`sort`, `dir`); the store's order when none is given. */
function sorted(traces, params) {
  const column = COLUMNS.find((c) => c[0] === params.get('sort'));
  if (!column) return traces;
  const dir = (params.get('dir') || column[3]) === 'asc' ? 1 : -1;
  const key = column[2];
  const cmp = (a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === y) return 0;
    if (x === null) return 1; // Unknown counts last, either way.
    if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  };
  // Stable: equal keys keep the store's order.
  return traces.map((t, i) => [t, i]).sort((a, b) => cmp(a[0], b[0]) || a[1] - b[1]).map((p) => p[0]);
}

/** Time range, service and span-name pickers; any change runs the search again. */
function filterBar(params, ctx) {
  const since = params.get('since') || (params.get('start') ? 'custom' : '');
  const rangeSelect = el('select', { id: 'range', 'aria-label': 'Time range' },
    RANGES.map(([value, text]) => el('option', { value, selected: value === since }, text)));
  const local = (secs) => {
    if (!secs) return '';
    const d = new Date(Number(secs) * 1000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  };
  const startInput = el('input', { id: 'range-start', type: 'datetime-local', value: local(params.get('start')) });
  const endInput = el('input', { id: 'range-end', type: 'datetime-local', value: local(params.get('end')) });
  const custom = el('span', { class: 'custom-range', 'data-custom-range': '', hidden: since !== 'custom' },
    el('label', { for: 'range-start' }, 'from'), startInput,
    el('label', { for: 'range-end' }, 'to'), endInput);
  // The pickers show the values of a query they wrote (or one written the same way).
  const q = params.get('q') || '';
  const current = (field) => {
    const m = new RegExp(`(?:^|[{&\\s])${field.replaceAll('.', '\\.')}\\s*=\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(q);
    try {
      return m ? JSON.parse(m[1]) : '';
    } catch {
      return '';
    }
  };
  const service = picker('service-picker', 'service', 'resource.service.name', current('resource.service.name'));
  const name = picker('name-picker', 'span name', 'name', current('name'));

  const go = () => {
    const next = new URLSearchParams(params);
    for (const key of ['since', 'start', 'end']) next.delete(key);
    if (rangeSelect.value === 'custom') {
      const secs = (input) => Math.floor(new Date(input.value).getTime() / 1000);
      if (startInput.value && endInput.value) {
        next.set('start', String(secs(startInput)));
        next.set('end', String(secs(endInput)));
      }
    } else if (rangeSelect.value) {
      next.set('since', rangeSelect.value);
    }
    const parts = [];
    if (service.value) parts.push(`resource.service.name = ${JSON.stringify(service.value)}`);
    if (name.value) parts.push(`name = ${JSON.stringify(name.value)}`);
    if (parts.length) next.set('q', `{ ${parts.join(' && ')} }`);
    ctx.navigate(searchHash(next));
  };
  rangeSelect.addEventListener('change', () => {
    custom.hidden = rangeSelect.value !== 'custom';
    if (rangeSelect.value !== 'custom') go();
  });
  for (const input of [startInput, endInput]) input.addEventListener('change', go);
  for (const select of [service, name]) select.addEventListener('change', go);
  return el('div', { class: 'filters', id: 'filters' },
    el('label', { for: 'range' }, 'Time'), rangeSelect, custom,
    el('label', { for: 'service-picker' }, 'Service'), service,
    el('label', { for: 'name-picker' }, 'Span name'), name);
}

/** A select filled from /api/v2/search/tag/{tag}/values; choosing a value writes the query. */
function picker(id, what, tag, selected) {
  const select = el('select', { id, 'data-tag': tag }, el('option', { value: '' }, `any ${what}`));
  getJson(`/api/v2/search/tag/${encodeURIComponent(tag)}/values`).then((body) => {
    const values = (body.tagValues || []).map((v) => (typeof v === 'string' ? v : v.value));
    values.sort().forEach((v) => select.append(
      el('option', { value: v, 'data-option': v, selected: v === selected }, v)));
    select.dataset.loaded = String(values.length);
  }).catch((error) => {
    select.dataset.loaded = 'error';
    select.title = `Could not list values: ${error.message}`;
  });
  return select;
}

function searchError(error) {
  const what = error.status === 400 ? 'The store rejected this query' : 'The search failed';
  return el(
    'div',
    { class: 'error-box', id: 'search-error', role: 'alert', 'data-status': error.status || '' },
    el('strong', {}, error.status ? `${what} (HTTP ${error.status}):` : `${what}:`),
    el('pre', { class: 'error-text' }, error.message),
  );
}

/** A column header: a link that sorts by it, or flips the direction if it is the sort. */
function sortHeader([key, text, , defaultDir], params) {
  const current = params.get('sort') === key;
  const dir = current ? (params.get('dir') || defaultDir) : null;
  const next = new URLSearchParams(params);
  next.set('sort', key);
  next.set('dir', current ? (dir === 'asc' ? 'desc' : 'asc') : defaultDir);
  const arrow = current ? (dir === 'asc' ? ' ▲' : ' ▼') : '';
  const numeric = ['spans', 'errors', 'duration'].includes(key);
  return el('th', {
    class: numeric ? 'num' : null,
    'data-sort': key,
    'aria-sort': current ? (dir === 'asc' ? 'ascending' : 'descending') : null,
  }, el('a', { href: searchHash(next), class: 'sort-link' }, text + arrow));
}

function resultsTable(traces, params) {
  const head = el('thead', {},
    el('tr', {}, COLUMNS.map((c) => sortHeader(c, params)), el('th', {}, 'Trace ID')));
  const rows = traces.map((trace) => {
    const id = padTraceId(trace.traceID);
    const href = `#/trace/${id}`;
    const duration = formatDuration((trace.durationMs || 0) * 1e6);
    // Present once the store runs TraceQL: how many spans matched the query.
    const matched = trace.spanSet && trace.spanSet.matched;
    const count = (n) => (n === null ? '—' : String(n));
    return el(
      'tr',
      {
        class: `result${trace.errors ? ' has-errors' : ''}`,
        'data-trace-id': id,
        'data-root-service': trace.rootServiceName || '',
        'data-spans': count(trace.spans),
        'data-errors': count(trace.errors),
        'data-duration-ms': String(trace.durationMs || 0),
        'data-start': String(trace.startTimeUnixNano || ''),
      },
      el('td', {}, el('a', { href }, trace.rootServiceName || '—')),
      el('td', {}, el('a', { href }, trace.rootTraceName || '—')),
      el('td', {}, formatTime(trace.startTimeUnixNano)),
      el('td', { class: 'num col-spans' }, count(trace.spans)),
      el('td', { class: `num col-errors${trace.errors ? ' error-mark' : ''}` }, count(trace.errors)),
      el('td', { class: 'num' }, trace.durationMs ? duration : '< 1 ms'),
      el('td', {},
        el('a', { href, class: 'mono trace-link' }, id),
        matched ? matchedLink(id, trace.spanSet, matched) : null),
    );
  });
  return el('table', { class: 'results', id: 'results' }, head, el('tbody', {}, rows));
}

/** "N matched", opening the trace at the first span that matched. */
function matchedLink(id, spanSet, matched) {
  const first = (spanSet.spans || [])[0];
  const text = `${matched} span${matched > 1 ? 's' : ''} matched`;
  if (!first || !first.spanID) return el('span', { class: 'matched' }, text);
  const span = String(first.spanID).toLowerCase().padStart(16, '0');
  return el('a', { class: 'matched', href: `#/trace/${id}?span=${span}` }, text);
}
