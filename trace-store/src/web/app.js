// The viewer's entry point: hash routing between the search view and the trace view.
//
//   #/search?q=<TraceQL>&limit=<n>[&since=|&start=&end=][&sort=&dir=]
//                                    search (also the default for an empty hash)
//   #/trace/<32 hex>[?span=<16 hex>][&collapse=<ids>][&zoom=<from>-<to>]
//                                    one trace, optionally with a span selected
//   #/metrics?q=<TraceQL metrics>[&since=1h][&step=<duration>]
//                                    a TraceQL metrics query drawn as line charts
//
// `?text=large` (or the "A+" button, remembered per browser) sets larger text for projectors.
//
// State lives in the URL so that any view can be shared or reloaded as is. The hash (not the
// path) carries it because the server only serves `/`, and a hash change never reloads.

import { renderSearch } from './search.js';
import { renderTrace } from './trace.js';
import { renderMetrics } from './metrics.js';
import { searchHash } from './nav.js';

const view = document.getElementById('view');
const form = document.getElementById('search-form');
const queryInput = document.getElementById('q');
const limitInput = document.getElementById('limit');

// Each navigation gets a number; a view that finishes loading after the user has moved on
// sees a newer number and drops its result instead of drawing over the current view.
let generation = 0;
// The last search shown, so "← Search" on a trace goes back to those results.
let lastSearch = '#/search';

/** The current hash as { path, params }. */
function parseHash() {
  const hash = location.hash.replace(/^#/, '');
  const [path, query = ''] = hash.split('?', 2);
  return { path: path || '/search', params: new URLSearchParams(query) };
}

const LARGE_KEY = 'tracelab.large-text';
const largeButton = document.getElementById('large-text');

/** Larger text for projectors: a class on <html> that the style sheet scales everything by. */
function setLarge(on, remember) {
  document.documentElement.classList.toggle('large', on);
  largeButton.setAttribute('aria-pressed', String(on));
  if (!remember) return;
  try {
    localStorage.setItem(LARGE_KEY, on ? '1' : '');
  } catch {
    // Storage disabled: the setting lasts until the page reloads.
  }
}

/** Swap the content of <main> and tell tests and CSS what it shows. */
function context(name) {
  const mine = ++generation;
  view.replaceChildren();
  view.dataset.view = name;
  view.dataset.state = 'loading';
  return {
    view,
    current: () => mine === generation,
    lastSearch,
    done(state) {
      if (mine === generation) view.dataset.state = state;
    },
    // Trace rows update the URL on click without a reload or a new history entry.
    replaceHash(hash) {
      history.replaceState(null, '', hash);
    },
    // Controls that change what a view shows (sort, filters, zoom) go through the URL.
    navigate(hash) {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
}

function route() {
  const { path, params } = parseHash();
  if (params.get('text') === 'large') setLarge(true, false);
  for (const link of document.querySelectorAll('.nav a')) {
    link.classList.toggle('current', link.dataset.view === path.replace(/^\//, '').split('/')[0]);
  }
  const trace = path.match(/^\/trace\/([0-9a-fA-F]{1,32})$/);
  if (trace) {
    document.title = `trace ${trace[1]} · tracelab`;
    renderTrace(context('trace'), trace[1], params);
    return;
  }
  if (path === '/metrics') {
    document.title = 'metrics · tracelab';
    renderMetrics(context('metrics'), params);
    return;
  }
  queryInput.value = params.get('q') || '{}';
  limitInput.value = params.get('limit') || '20';
  document.title = 'search · tracelab';
  lastSearch = searchHash(params);
  renderSearch(context('search'), params);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  // A new query keeps the time range and the sort of the search on screen.
  const { path, params } = parseHash();
  const next = path === '/search' ? params : new URLSearchParams();
  next.set('q', queryInput.value.trim() || '{}');
  next.set('limit', limitInput.value || '20');
  const hash = searchHash(next);
  if (location.hash === hash) {
    route(); // Same search again: the hash does not change, so run it by hand.
  } else {
    location.hash = hash;
  }
});

largeButton.addEventListener('click', () => {
  setLarge(!document.documentElement.classList.contains('large'), true);
});
try {
  if (localStorage.getItem(LARGE_KEY)) setLarge(true, false);
} catch {
  // Storage disabled: normal text.
}

window.addEventListener('hashchange', route);
route();
