// The trace view: /api/traces/{id} (Tempo's JSON) drawn as a waterfall. Rows are in tree
// order (each child under its parent, earliest first), bars are positioned and scaled to the
// zoomed window (the whole trace by default), error spans and the critical path are marked,
// and subtrees collapse. Clicking a row shows the span in the detail panel; double-clicking
// zooms to it. Selection, collapsed spans and zoom are in the URL
// (#/trace/<id>?span=&collapse=<id>,<id>&zoom=<from ns>-<to ns>, offsets from the trace start).

import { kindName, renderDetail } from './detail.js';
import { criticalPath, flatten, treeOrder } from './tree.js';
import { el, formatDuration, formatTime, getJson, padTraceId, tokenForm } from './util.js';

export async function renderTrace(ctx, rawId, params) {
  const traceId = padTraceId(rawId);
  const selectedSpan = params.get('span') || '';
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
  trace.window = zoomWindow(params.get('zoom'), trace.duration);
  const critical = criticalPath(spans);
  for (const span of spans) span.critical = critical.has(span.id);
  const collapsed = new Set((params.get('collapse') || '').toLowerCase().split(',').filter(Boolean));
  let selectedId = '';
  // The URL for this view with the current selection, collapsed spans and zoom.
  const hashFor = (changes = {}) => {
    const next = new URLSearchParams();
    const span = changes.span ?? selectedId;
    if (span) next.set('span', span);
    if (collapsed.size) next.set('collapse', [...collapsed].join(','));
    const zoom = 'zoom' in changes ? changes.zoom : params.get('zoom');
    if (zoom) next.set('zoom', zoom);
    const query = String(next);
    return `#/trace/${traceId}${query ? `?${query}` : ''}`;
  };
  // Colours follow first appearance in tree order, so the root service is always the first colour.
  const services = [...new Set(spans.map((s) => s.service))];
  for (const span of spans) span.colour = services.indexOf(span.service) % 8;

  const detail = el('aside', { class: 'detail', id: 'detail' });
  const rows = spans.map((span) => spanRow(span, trace, collapsed.has(span.id)));
  const applyCollapse = () => {
    // Tree order puts a subtree right after its top, so one pass with a depth cut-off hides it.
    let hideBelow = Infinity;
    rows.forEach((row, i) => {
      const span = spans[i];
      if (span.depth <= hideBelow) hideBelow = Infinity;
      row.hidden = span.depth > hideBelow;
      if (!row.hidden && collapsed.has(span.id) && span.children.length) hideBelow = span.depth;
    });
  };
  const toggle = (span, row) => {
    if (collapsed.has(span.id)) collapsed.delete(span.id);
    else collapsed.add(span.id);
    const open = !collapsed.has(span.id);
    row.dataset.collapsed = String(!open);
    row.querySelector('.twisty').setAttribute('aria-expanded', String(open));
    row.querySelector('.twisty').textContent = open ? '▾' : '▸';
    applyCollapse();
    ctx.replaceHash(hashFor());
  };
  const select = (span) => {
    selectedId = span.id;
    for (const row of rows) row.classList.toggle('selected', row.dataset.spanId === span.id);
    renderDetail(detail, span, trace);
    ctx.replaceHash(hashFor());
  };
  const zoomTo = (span) => {
    const from = Number(span.start - trace.start);
    const to = Math.max(Number(span.end - trace.start), from + 1);
    ctx.navigate(hashFor({ span: span.id, zoom: `${from}-${to}` }));
  };
  rows.forEach((row, i) => {
    const twisty = row.querySelector('.twisty');
    if (twisty) {
      twisty.addEventListener('click', (event) => {
        event.stopPropagation();
        toggle(spans[i], row);
      });
    }
    row.addEventListener('click', () => select(spans[i]));
    row.addEventListener('dblclick', () => zoomTo(spans[i]));
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select(spans[i]);
      } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const next = rows[i + (event.key === 'ArrowDown' ? 1 : -1)];
        if (next) next.focus();
      } else if (event.key === 'z') {
        zoomTo(spans[i]);
      } else if ((event.key === 'ArrowLeft' || event.key === 'ArrowRight') && twisty) {
        event.preventDefault();
        if ((event.key === 'ArrowLeft') !== collapsed.has(spans[i].id)) toggle(spans[i], row);
      }
    });
  });

  applyCollapse();
  ctx.view.append(
    header(trace, services, critical.size),
    zoomBar(trace, params.get('zoom'), ctx, hashFor),
    el('div', { class: 'trace-layout' },
      el('section', { class: 'waterfall', id: 'waterfall', 'aria-label': 'Spans' },
        axis(trace, (zoom) => ctx.navigate(hashFor({ zoom }))), rows),
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

/** The zoomed window [from, to] in ns from the trace start, from `zoom=<from>-<to>`. */
function zoomWindow(zoom, duration) {
  const m = /^(\d+)-(\d+)$/.exec(zoom || '');
  if (m) {
    const from = Math.min(Number(m[1]), duration);
    const to = Math.min(Number(m[2]), duration);
    if (to > from) return { from, to, zoomed: true };
  }
  return { from: 0, to: Math.max(duration, 1), zoomed: false };
}

/** What is shown of the trace, a way back to all of it, and the keys that zoom. */
function zoomBar(trace, zoom, ctx, hashFor) {
  const { from, to, zoomed } = trace.window;
  const text = zoomed
    ? `Showing ${formatDuration(from)} – ${formatDuration(to)} of ${formatDuration(trace.duration)}`
    : 'Whole trace. Double-click a span (or press z on it) to zoom to it.';
  const reset = el('button', { type: 'button', id: 'zoom-reset', disabled: !zoomed }, 'Whole trace');
  reset.addEventListener('click', () => ctx.navigate(hashFor({ zoom: '' })));
  return el('p', { class: 'zoom-bar', id: 'zoom-bar', 'data-zoomed': String(zoomed) },
    el('span', {}, text), reset,
    el('span', { class: 'legend-critical' }, el('span', { class: 'critical-swatch' }), 'critical path'));
}

function header(trace, services, criticalCount) {
  const errors = trace.spans.filter((s) => s.error).length;
  return el('section', { class: 'trace-header', id: 'trace-header', 'data-trace-id': trace.id },
    el('h1', {}, 'Trace ', el('span', { class: 'mono' }, trace.id)),
    el('dl', { class: 'facts' },
      fact('Duration', formatDuration(trace.duration), 'trace-duration'),
      fact('Spans', String(trace.spans.length), 'span-count'),
      fact('Critical path', `${criticalCount} span${criticalCount === 1 ? '' : 's'}`, 'critical-count'),
      fact('Started', formatTime(trace.start.toString()), 'trace-start'),
      fact('Services', services.map((name, i) =>
        el('span', { class: `chip c${i % 8}` }, name)), 'trace-services'),
      errors ? fact('Errors', el('span', { class: 'error-mark' }, `✗ ${errors} error span${errors > 1 ? 's' : ''}`), 'error-count') : null));
}

function fact(term, value, id) {
  return el('div', { class: 'fact', id }, el('dt', {}, term), el('dd', {}, value));
}

/**
 * The time axis above the bars: offsets from the trace start at every quarter of the window.
 * Dragging across it zooms to the range dragged (`onZoom` gets `<from ns>-<to ns>`).
 */
function axis(trace, onZoom) {
  const { from, to, zoomed } = trace.window;
  // Zoomed in, three digits of the offset from the trace start would print one number five
  // times (1.1 s); the ticks after the first say how far past the window's start they are.
  const label = (f) => (zoomed && f > 0 ? `+${formatDuration((to - from) * f)}` : formatDuration(from + (to - from) * f));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = el('span', { class: 'tick' }, label(f));
    tick.style.left = `${f * 100}%`;
    return tick;
  });
  return el('div', { class: 'row axis', 'aria-hidden': 'true' },
    el('span', { class: 'col-service' }, 'Service'),
    el('span', { class: 'col-name' }, 'Span'),
    dragToZoom(el('span', { class: 'col-track', title: 'Drag to zoom' }, ticks), trace.window, onZoom),
    el('span', { class: 'col-duration' }, 'Duration'));
}

/** Mouse drag on `track` selects a range of the `shown` window; under 4 px is a click. */
function dragToZoom(track, shown, onZoom) {
  const band = el('span', { class: 'drag-band', hidden: true });
  track.append(band);
  let from = null;
  const at = (event) => {
    const box = track.getBoundingClientRect();
    return Math.min(Math.max(event.clientX - box.left, 0), box.width);
  };
  const draw = (a, b) => {
    band.hidden = false;
    band.style.left = `${Math.min(a, b)}px`;
    band.style.width = `${Math.abs(b - a)}px`;
  };
  track.addEventListener('mousedown', (event) => {
    event.preventDefault();
    from = at(event);
    draw(from, from);
  });
  track.addEventListener('mousemove', (event) => {
    if (from !== null) draw(from, at(event));
  });
  const finish = (event) => {
    if (from === null) return;
    const to = at(event);
    const width = track.getBoundingClientRect().width;
    band.hidden = true;
    const [a, b] = [Math.min(from, to), Math.max(from, to)];
    from = null;
    if (b - a < 4 || width <= 0) return;
    const span = shown.to - shown.from;
    const ns = (x) => Math.round(shown.from + (span * x) / width);
    onZoom(`${ns(a)}-${Math.max(ns(b), ns(a) + 1)}`);
  };
  track.addEventListener('mouseup', finish);
  track.addEventListener('mouseleave', finish);
  return track;
}

function spanRow(span, trace, collapsed) {
  const { from, to } = trace.window;
  // Offsets in ns as Numbers: exact to the nanosecond for traces under 104 days.
  const start = Math.max(Number(span.start - trace.start), from);
  const end = Math.min(Number(span.end - trace.start), to);
  const visible = end >= start && start <= to && end >= from;
  const length = Number(span.end - span.start);
  const scale = 100 / (to - from);
  const bar = el('span', { class: `bar c${span.colour}` });
  // Styles set through the CSSOM are allowed by the page's CSP (style attributes are not).
  bar.style.left = `${visible ? (start - from) * scale : 0}%`;
  bar.style.width = `max(2px, ${visible ? (end - start) * scale : 0}%)`;
  bar.hidden = !visible;
  bar.dataset.left = visible ? ((start - from) * scale).toFixed(2) : '';
  bar.dataset.width = visible ? ((end - start) * scale).toFixed(2) : '';
  const kind = kindName(span.raw.kind);
  const twisty = span.children.length
    ? el('button', {
      type: 'button', class: 'twisty', tabindex: '-1', 'aria-expanded': String(!collapsed),
      'aria-label': 'Collapse or expand the spans under this one',
    }, collapsed ? '▸' : '▾')
    : el('span', { class: 'twisty-space' });
  const name = el('span', { class: 'col-name', title: span.raw.name || '' },
    twisty,
    el('span', { class: `kind kind-${kind}`, title: `span kind: ${kind}` }, kind),
    el('span', { class: 'span-name' }, span.raw.name || '(no name)'),
    span.error ? el('span', { class: 'error-mark' }, '✗ error') : null);
  name.style.paddingLeft = `${0.25 + span.depth * 1.1}rem`;
  const classes = ['row', 'span-row'];
  if (span.error) classes.push('error');
  if (span.critical) classes.push('critical');
  if (!visible) classes.push('out-of-view');
  return el('div', {
    class: classes.join(' '),
    'data-kind': kind,
    'data-critical': String(span.critical),
    'data-collapsed': span.children.length ? String(collapsed) : null,
    'data-in-view': String(visible),
    role: 'button',
    tabindex: '0',
    'data-span-id': span.id,
    'data-parent-id': span.parent,
    'data-service': span.service,
    'data-name': span.raw.name || '',
    'data-depth': String(span.depth),
    'data-error': String(span.error),
  },
  el('span', { class: `col-service c${span.colour}` }, span.service),
  name,
  el('span', { class: 'col-track' }, bar),
  el('span', { class: 'col-duration' }, formatDuration(length)));
}
