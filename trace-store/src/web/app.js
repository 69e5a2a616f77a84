// The viewer's entry point: hash routing between the search view and the trace view.
//
//   #/search?q=<TraceQL>&limit=<n>   search (also the default for an empty hash)
//   #/trace/<32 hex>[?span=<16 hex>]  one trace, optionally with a span selected
//
// State lives in the URL so that any view can be shared or reloaded as is. The hash (not the
// path) carries it because the server only serves `/`, and a hash change never reloads.

import { renderSearch } from './search.js';
import { renderTrace } from './trace.js';

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

/** The hash for a search, in one canonical form so equal searches compare equal. */
function searchHash(q, limit) {
  const params = new URLSearchParams({ q, limit: String(limit) });
  return `#/search?${params}`;
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
  };
}

function route() {
  const { path, params } = parseHash();
  const trace = path.match(/^\/trace\/([0-9a-fA-F]{1,32})$/);
  if (trace) {
    document.title = `trace ${trace[1]} · tracelab`;
    renderTrace(context('trace'), trace[1], params.get('span') || '');
    return;
  }
  const q = params.get('q') || '{}';
  const limit = Number.parseInt(params.get('limit') || '', 10) || 20;
  queryInput.value = q;
  limitInput.value = String(limit);
  document.title = 'search · tracelab';
  lastSearch = searchHash(q, limit);
  renderSearch(context('search'), q, limit);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const hash = searchHash(queryInput.value.trim() || '{}', limitInput.value || 20);
  if (location.hash === hash) {
    route(); // Same search again: the hash does not change, so run it by hand.
  } else {
    location.hash = hash;
  }
});

window.addEventListener('hashchange', route);
route();
