// URL helpers shared by the views. State lives in the hash, in one canonical form per view, so
// equal views compare equal and a view can be shared or reloaded as is.

/** The hash for a search from its parameters (q, limit, since, start, end, sort, dir). */
export function searchHash(params) {
  const order = ['q', 'limit', 'since', 'start', 'end', 'sort', 'dir'];
  const out = new URLSearchParams();
  for (const key of order) {
    const value = params.get(key);
    if (value) out.set(key, value);
  }
  if (!out.has('q')) out.set('q', '{}');
  if (!out.has('limit')) out.set('limit', '20');
  return `#/search?${out}`;
}
