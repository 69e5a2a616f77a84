//! The bounded, in-memory span store that ingest writes to and the query API reads from.
//!
//! Shape (after Jaeger's memory store): a map from trace id to [`Trace`] for O(1) lookups, plus
//! the trace ids in order of arrival of each trace's first span, which is the eviction order.
//! The bound counts spans, not traces, because spans are what cost memory.
//!
//! Readers get snapshot copies ([`Trace`]) so nothing outside this module holds the lock.
//!
//! Spans are kept compact ([`span`]): strings, attribute lists and resources are interned
//! ([`strings`]), so memory per span is a few hundred bytes at most rather than the 2 KB of the
//! decoded OTLP structure.

mod batch;
mod source;
mod span;
mod strings;
mod trace;
mod traceql_view;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

pub(crate) use self::batch::{SpanBatch, SpanPosition};
pub use self::strings::Interner;
pub use self::trace::{AttrValue, Attribute, Source, SpanRecord, Trace};
use crate::model::TraceId;

/// How many trace ids a [`Store::subscribe`] receiver may fall behind before it misses some.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Why [`Store::insert`] refused a request. Nothing of a refused request is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// An id has the wrong number of bytes. Indexes count from 0 in request order.
    #[error(
        "span {span} of scope {scope} of resource {resource}: {field} is {len} bytes, want {want}"
    )]
    BadIdLength {
        /// Index of the `ResourceSpans`.
        resource: usize,
        /// Index of the `ScopeSpans` inside it.
        scope: usize,
        /// Index of the span inside that.
        span: usize,
        /// `trace id`, `span id` or `parent span id`.
        field: &'static str,
        /// The length received.
        len: usize,
        /// The length expected (`16`, `8`, or `0 or 8`).
        want: &'static str,
    },
    /// The request alone holds more spans than the store may ever hold.
    #[error("request has {spans} spans, more than this store's bound of {max_spans}")]
    TooManySpans {
        /// Spans in the request.
        spans: usize,
        /// The store's bound.
        max_spans: usize,
    },
}

/// A cheap-to-clone handle to one shared store.
///
/// Bounded: it never holds more than `max_spans` spans. When an insert would pass the bound it
/// evicts whole traces, oldest first (by arrival of their first span), until the new spans fit.
/// That can evict a trace the same request adds to; its older spans are then gone and the new
/// ones start it afresh. A request with more than `max_spans` spans is refused outright
/// ([`InsertError::TooManySpans`]) rather than truncated, so an insert is all or nothing.
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    // A std Mutex, not tokio's: every critical section is short, CPU-only work and never holds
    // the lock across an `.await`, which is the case the tokio docs recommend std's lock for.
    state: Mutex<State>,
    // Its own lock, so converting a request (under this one) does not block readers (under
    // `state`). Never taken while `state` is held.
    strings: Mutex<Interner>,
    max_spans: usize,
    // Outside the lock: sending never blocks, and receivers need no lock to read.
    new_spans: broadcast::Sender<TraceId>,
}

#[derive(Debug, Default)]
struct State {
    traces: HashMap<TraceId, Trace>,
    /// Trace ids by arrival of their first span, oldest at the front. Each id in `traces` is in
    /// here exactly once, pushed when the trace is created and popped when it is evicted.
    arrival: VecDeque<TraceId>,
    span_count: usize,
}

impl Store {
    /// An empty store that holds at most `max_spans` spans (0 makes every non-empty insert fail).
    pub fn new(max_spans: usize) -> Self {
        let (new_spans, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Store {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                strings: Mutex::new(Interner::default()),
                max_spans,
                new_spans,
            }),
        }
    }

    /// The bound given to [`Store::new`].
    pub fn max_spans(&self) -> usize {
        self.shared.max_spans
    }

    /// Stores every span of `batch` or none (see [`SpanBatch`] for how one is built). Returns
    /// the number stored.
    pub(crate) fn insert_batch(&self, batch: SpanBatch) -> Result<usize, InsertError> {
        let records = batch.records;
        let count = records.len();
        if count > self.shared.max_spans {
            return Err(InsertError::TooManySpans {
                spans: count,
                max_spans: self.shared.max_spans,
            });
        }
        if count == 0 {
            return Ok(0);
        }

        // Ids in first-seen order for the broadcast, and how many spans each gets, so each
        // trace's span list grows once per insert, to its exact size.
        let mut touched = Vec::new();
        let mut per_trace: HashMap<TraceId, usize> = HashMap::new();
        for (id, _) in &records {
            *per_trace.entry(*id).or_insert_with(|| {
                touched.push(*id);
                0
            }) += 1;
        }
        {
            let mut guard = self.lock();
            // Reborrow once so the closure below can borrow `arrival` while `traces` is borrowed.
            let state = &mut *guard;
            state.make_room(count, self.shared.max_spans);
            for (id, record) in records {
                let trace = state.traces.entry(id).or_insert_with(|| {
                    state.arrival.push_back(id);
                    Trace {
                        id,
                        spans: Vec::new(),
                    }
                });
                if let Some(incoming) = per_trace.remove(&id) {
                    trace.spans.reserve_exact(incoming);
                }
                trace.spans.push(record);
            }
            for id in &touched {
                if let Some(trace) = state.traces.get_mut(id) {
                    // Stable sort: spans that start together keep their arrival order.
                    trace.spans.sort_by_key(SpanRecord::start_unix_nano);
                    // A trace can get spans from several requests, each growing its list;
                    // most traces are then complete, so trim what a quarter more would not use.
                    if trace.spans.capacity() > trace.spans.len() + trace.spans.len() / 4 + 1 {
                        trace.spans.shrink_to_fit();
                    }
                }
            }
            state.span_count += count;
        }
        // After the state lock is released: eviction may have left strings unused.
        self.strings().sweep_if_due();

        tracing::debug!(spans = count, traces = touched.len(), "stored spans");
        for id in touched {
            // An error only means nobody is subscribed right now.
            let _ = self.shared.new_spans.send(id);
        }
        Ok(count)
    }

    /// A copy of the trace with this id, if the store holds any of its spans.
    pub fn trace(&self, id: &TraceId) -> Option<Trace> {
        self.lock().traces.get(id).cloned()
    }

    /// Up to `limit` traces, newest first by trace start time.
    pub fn recent_traces(&self, limit: usize) -> Vec<Trace> {
        self.search(limit, |trace| Some(trace.clone())).results
    }

    /// Up to `limit` results of `select`, newest trace first, plus how many traces were looked at.
    /// `select` maps a trace to a result (or `None` to skip it) under the store's lock, so search
    /// shapes TraceQL results without copying traces; it must be quick and must not block.
    pub fn search<T>(
        &self,
        limit: usize,
        mut select: impl FnMut(&Trace) -> Option<T>,
    ) -> Searched<T> {
        let state = self.lock();
        let mut newest_first: Vec<&Trace> = state.traces.values().collect();
        newest_first.sort_unstable_by(|a, b| {
            b.start_unix_nano()
                .cmp(&a.start_unix_nano())
                .then(a.id.cmp(&b.id))
        });
        let mut searched = Searched {
            results: Vec::new(),
            inspected: 0,
        };
        for trace in newest_first {
            if searched.results.len() >= limit {
                break;
            }
            searched.inspected += 1;
            searched.results.extend(select(trace));
        }
        searched
    }

    /// Calls `visit` with every trace, in no particular order, under the store's lock (so it
    /// must be quick and must not block). Tag listings use it to read names and values in place.
    pub fn for_each_trace(&self, mut visit: impl FnMut(&Trace)) {
        let state = self.lock();
        for trace in state.traces.values() {
            visit(trace);
        }
    }

    /// How many spans the store holds.
    pub fn span_count(&self) -> usize {
        self.lock().span_count
    }

    /// How many traces the store holds.
    pub fn trace_count(&self) -> usize {
        self.lock().traces.len()
    }

    /// Told the id of every trace that received spans, once per insert call. Lagging receivers
    /// (more than 1024 ids behind) get `RecvError::Lagged` and just miss ids.
    pub fn subscribe(&self) -> broadcast::Receiver<TraceId> {
        self.shared.new_spans.subscribe()
    }

    /// How many distinct strings, sources and attribute lists the store's interner holds.
    #[cfg(test)]
    pub(crate) fn interned(&self) -> (usize, usize, usize) {
        self.strings().table_sizes()
    }

    fn strings(&self) -> MutexGuard<'_, Interner> {
        // The interner's tables stay consistent across a panic (each call adds or removes
        // whole entries), so a poisoned lock is still usable.
        self.shared
            .strings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way readers
        // would trip on (counts are updated last), so keep serving rather than poison forever.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The result of [`Store::search`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Searched<T> {
    /// What `select` returned for the matching traces, newest trace first.
    pub results: Vec<T>,
    /// How many traces were examined before the limit was reached.
    pub inspected: usize,
}

impl State {
    /// Evict whole traces, oldest first, until `incoming` more spans fit under `max_spans`.
    /// The caller guarantees `incoming <= max_spans`, so this always ends.
    fn make_room(&mut self, incoming: usize, max_spans: usize) {
        while self.span_count + incoming > max_spans {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(evicted) = self.traces.remove(&oldest) {
                self.span_count -= evicted.spans.len();
                tracing::debug!(trace_id = %oldest, spans = evicted.spans.len(), "evicted trace");
            }
        }
    }
}

#[cfg(test)]
mod tests;
