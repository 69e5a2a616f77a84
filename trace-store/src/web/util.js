// Small helpers shared by the views: safe element building, formatting, and Tempo's encodings.
//
// Everything shown on this page may come from an untrusted OTLP sender, so text only ever
// reaches the document through textContent (see el below), never as markup.

/**
 * Build an element. `attrs` are set with setAttribute (never on* handlers); `children` are
 * nodes or strings, and strings become text nodes, so data can never become markup.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) throw new Error(`el: event handler attribute ${key}`);
    node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Tempo's JSON carries ids as base64 of the raw bytes; people read them as hex. */
export function base64ToHex(b64) {
  if (!b64) return '';
  try {
    const raw = atob(b64);
    let hex = '';
    for (let i = 0; i < raw.length; i++) hex += raw.charCodeAt(i).toString(16).padStart(2, '0');
    return hex;
  } catch {
    return String(b64);
  }
}

/** Search strips leading zeros from trace ids; links and headers use the full 32 digits. */
export function padTraceId(id) {
  return String(id || '').toLowerCase().padStart(32, '0');
}

/** Unix nanoseconds arrive as decimal strings, beyond a double's exact range: use BigInt. */
export function nanos(value) {
  try {
    return BigInt(value || 0);
  } catch {
    return 0n;
  }
}

/** A duration in nanoseconds (Number or BigInt) the way the terminal waterfall writes it. */
export function formatDuration(ns) {
  const n = Number(ns);
  if (!Number.isFinite(n) || n <= 0) return '0';
  const units = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs']];
  for (const [size, unit] of units) {
    if (n >= size) return `${trim(n / size)} ${unit}`;
  }
  return `${Math.round(n)} ns`;
}

function trim(x) {
  // Three significant digits: 2.01 s, 12.3 ms, 405 µs.
  const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
  return String(Number(x.toFixed(digits)));
}

/** Unix nanoseconds as local date and time, with milliseconds. */
export function formatTime(unixNanos) {
  const ms = Number(nanos(unixNanos) / 1000000n);
  if (!ms) return '—';
  const date = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    + `.${pad(date.getMilliseconds(), 3)}`;
}

/**
 * An OTLP AnyValue in Tempo's JSON as [type, display text]. Ints are strings in that JSON
 * (64-bit), so they are shown as sent rather than through a lossy Number.
 */
export function anyValue(value) {
  if (!value || typeof value !== 'object') return ['empty', ''];
  if ('stringValue' in value) return ['string', value.stringValue];
  if ('intValue' in value) return ['int', String(value.intValue)];
  if ('boolValue' in value) return ['bool', String(value.boolValue)];
  if ('doubleValue' in value) return ['double', String(value.doubleValue)];
  if ('bytesValue' in value) return ['bytes', base64ToHex(value.bytesValue)];
  if ('arrayValue' in value) {
    const items = (value.arrayValue.values || []).map((v) => anyValue(v)[1]);
    return ['array', `[${items.join(', ')}]`];
  }
  if ('kvlistValue' in value) {
    const pairs = (value.kvlistValue.values || []).map((kv) => `${kv.key}=${anyValue(kv.value)[1]}`);
    return ['map', `{${pairs.join(', ')}}`];
  }
  return ['empty', ''];
}

/** The string value of attribute `key`, or ''. */
export function attr(attributes, key) {
  const found = (attributes || []).find((kv) => kv.key === key);
  return found ? anyValue(found.value)[1] : '';
}

// A store bound off loopback requires `Authorization: Bearer <token>` on its API (not on this
// page). The token is asked for once and kept in sessionStorage: per tab, gone when it closes,
// and never in the URL, where it would end up in history and shared links.
const TOKEN_KEY = 'tracelab.token';

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return ''; // Storage disabled: ask every time.
  }
}

/**
 * GET a URL (with the token, if one was given); a non-2xx answer becomes an Error carrying the
 * status and the body's text.
 */
export async function getJson(url) {
  const headers = { Accept: 'application/json' };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers });
  if (!response.ok) {
    const text = (await response.text()).trim();
    const error = new Error(text || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

/**
 * The form shown on a 401: asks for the store's token, keeps it for this tab, and reloads the
 * current view with it. A wrong token just brings the form back, with the store's answer.
 */
export function tokenForm(error) {
  const input = el('input', {
    id: 'token', type: 'password', autocomplete: 'off', placeholder: 'TRACELAB_TOKEN',
  });
  const form = el('form', { class: 'error-box token-form', id: 'token-form' },
    el('strong', {}, 'This store needs its access token.'),
    el('p', {}, 'It was started with --token or TRACELAB_TOKEN. The token is kept in this tab only.'),
    el('label', { for: 'token', class: 'sr' }, 'Token'),
    input,
    el('button', { type: 'submit' }, 'Use token'),
    el('pre', { class: 'error-text' }, error.message));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    } catch {
      // Without storage the token cannot outlive this form; nothing more to do.
    }
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
  return form;
}
