// The detail panel of the trace view: everything about one span, in the order people look
// for it (what and where, when, did it fail, then attributes, events, resource, links).

import { anyValue, base64ToHex, el, formatDuration, formatTime, nanos } from './util.js';

/** `SPAN_KIND_SERVER` → `server`. */
export function kindName(kind) {
  return kind ? String(kind).replace(/^SPAN_KIND_/, '').toLowerCase() : 'unspecified';
}

/** `STATUS_CODE_ERROR` → `error`; Tempo writes an unset status as `{}`. */
function statusName(status) {
  const code = status && status.code;
  return code ? String(code).replace(/^STATUS_CODE_/, '').toLowerCase() : 'unset';
}

export function renderDetail(panel, span, trace) {
  const raw = span.raw;
  const status = statusName(raw.status);
  const statusText = raw.status && raw.status.message
    ? [el('span', { class: `status-${status}` }, status), ': ', raw.status.message]
    : [el('span', { class: `status-${status}` }, status)];
  const scope = span.scope.name
    ? `${span.scope.name}${span.scope.version ? ` ${span.scope.version}` : ''}`
    : '—';
  panel.replaceChildren(
    el('h2', {}, el('span', { class: `chip c${span.colour}` }, span.service), ' ', raw.name || '(no name)'),
    table('Span', 'span-facts', [
      ['kind', kindName(raw.kind)],
      ['status', statusText],
      ['span ID', mono(span.id)],
      ['parent ID', span.parent ? mono(span.parent) : '— (root)'],
      ['trace ID', mono(trace.id)],
      ['start', `+${formatDuration(Number(span.start - trace.start))} · ${formatTime(span.start.toString())}`],
      ['duration', formatDuration(Number(span.end - span.start))],
      ['scope', scope],
    ]),
    attributes('Attributes', 'span-attributes', raw.attributes),
    events(raw.events || [], span),
    attributes('Resource', 'resource-attributes', span.resource),
    links(raw.links || []),
  );
  panel.dataset.spanId = span.id;
}

function mono(text) {
  return el('span', { class: 'mono' }, text);
}

/** A titled two-column table of [key, value] rows. */
function table(title, id, rows, keyClass) {
  return el('section', { class: 'block', id },
    el('h3', {}, title),
    el('table', { class: 'kv' },
      el('tbody', {}, rows.map(([key, value]) =>
        el('tr', {}, el('th', { class: keyClass }, key), el('td', {}, value))))));
}

/** Attributes with their OTLP types, sorted by key for scanning. */
function attributes(title, id, list) {
  const rows = (list || [])
    .slice()
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((kv) => {
      const [type, text] = anyValue(kv.value);
      return [kv.key, [el('span', { class: `value t-${type}` }, text), el('span', { class: 'type' }, type)]];
    });
  if (rows.length === 0) {
    return el('section', { class: 'block', id }, el('h3', {}, title), el('p', { class: 'none' }, 'none'));
  }
  return table(`${title} (${rows.length})`, id, rows, 'mono');
}

function events(list, span) {
  const block = el('section', { class: 'block', id: 'span-events' }, el('h3', {}, `Events (${list.length})`));
  if (list.length === 0) {
    block.append(el('p', { class: 'none' }, 'none'));
    return block;
  }
  for (const event of list) {
    const offset = Number(nanos(event.timeUnixNano) - span.start);
    const name = event.name || '(no name)';
    block.append(el('div', { class: `event${name === 'exception' ? ' error' : ''}`, 'data-event': name },
      el('div', { class: 'event-head' },
        el('strong', {}, name),
        el('span', { class: 'offset' }, `${offset < 0 ? '−' : '+'}${formatDuration(Math.abs(offset))} into the span`)),
      (event.attributes || []).length
        ? el('table', { class: 'kv' }, el('tbody', {}, event.attributes.map((kv) => {
          const [type, text] = anyValue(kv.value);
          return el('tr', {}, el('th', { class: 'mono' }, kv.key),
            el('td', {}, el('span', { class: `value t-${type}` }, text), el('span', { class: 'type' }, type)));
        })))
        : null));
  }
  return block;
}

function links(list) {
  if (list.length === 0) return null;
  return table(`Links (${list.length})`, 'span-links', list.map((link) => [
    'link',
    [
      el('a', { href: `#/trace/${base64ToHex(link.traceId)}?span=${base64ToHex(link.spanId)}`, class: 'mono' },
        base64ToHex(link.traceId)),
      ' / ',
      mono(base64ToHex(link.spanId)),
    ],
  ]));
}
