// The search view: runs a TraceQL query against /api/search and lists the traces it finds,
// each linking to its trace view. A 400 from the store (a query it cannot run) is shown as the
// store wrote it, since Tempo's error texts say exactly what is wrong with the query.

import { el, formatDuration, formatTime, getJson, padTraceId, tokenForm } from './util.js';

export async function renderSearch(ctx, q, limit) {
  const status = el('p', { class: 'status', id: 'search-status' }, 'Searching…');
  ctx.view.append(el('h1', {}, 'Traces ', el('code', { class: 'query-echo' }, q)), status);

  const url = `/api/search?${new URLSearchParams({ q, limit: String(limit) })}`;
  let body;
  try {
    body = await getJson(url);
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
  status.textContent = traces.length === 1 ? '1 trace' : `${traces.length} traces`;
  if (traces.length >= limit) status.textContent += ` (the limit; raise it to see more)`;
  ctx.view.append(resultsTable(traces));
  ctx.done('ready');
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

function resultsTable(traces) {
  const head = el(
    'thead',
    {},
    el('tr', {},
      el('th', {}, 'Root service'),
      el('th', {}, 'Root span'),
      el('th', {}, 'Start (local time)'),
      el('th', { class: 'num' }, 'Duration'),
      el('th', {}, 'Trace ID')),
  );
  const rows = traces.map((trace) => {
    const id = padTraceId(trace.traceID);
    const href = `#/trace/${id}`;
    const duration = formatDuration((trace.durationMs || 0) * 1e6);
    // Present once the store runs TraceQL: how many spans matched the query.
    const matched = trace.spanSet && trace.spanSet.matched;
    return el(
      'tr',
      { class: 'result', 'data-trace-id': id, 'data-root-service': trace.rootServiceName || '' },
      el('td', {}, el('a', { href }, trace.rootServiceName || '—')),
      el('td', {}, el('a', { href }, trace.rootTraceName || '—')),
      el('td', {}, formatTime(trace.startTimeUnixNano)),
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
