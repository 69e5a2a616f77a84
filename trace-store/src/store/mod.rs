//! The bounded, in-memory span store that ingest writes to and the query API reads from.
//!
//! Shape: traces in blocks of consecutive arrivals, each block with the time range of its traces
//! (a small time index, after Tempo's blocks), plus a map from trace id to arrival number for
//! O(1) lookups (`blocks.rs`). Arrival order is eviction order; the bound counts spans, not
//! traces, because spans are what cost memory.
//!
//! # Locking: readers never hold ingest back
//!
//! One mutex guards the blocks and the index. Writers hold it for the insert itself: finding
//! each trace, appending its new spans, evicting. Readers (search, tags, metrics, trace by id,
//! the web viewer, the lab's watch) hold it only to copy one block's `Arc<Trace>` pointers at a
//! time (1,024 of them, microseconds) and then evaluate, filter and build JSON on those
//! immutable snapshots without any lock (`read.rs`). A trace that gets spans while a reader holds
//! it is copied first, so a reader never sees a torn trace. So searches run in parallel with
//! each other and with ingest; the API runs them on tokio's blocking pool so they don't occupy
//! the async workers that accept exports either.
//!
//! Converting a request (interning strings, checking ids) happens before the lock, under the
//! interner's own lock (`interner.rs`). Spans are kept compact (`span.rs`): strings, attribute
//! lists and resources are interned, so memory per span is a couple of hundred bytes.

mod attribute;
mod batch;
mod blocks;
mod interner;
mod raw_span;
mod read;
mod source;
mod span;
mod stats;
mod summary;
mod trace;
mod traceql_view;
mod walk;

use foldhash::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

pub(crate) use self::batch::SpanBatch;
use self::blocks::State;
pub(crate) use self::interner::Interner;
pub use self::read::{Searched, Traces};
use self::stats::Counters;
pub use self::stats::{RejectReason, Totals};
pub use self::summary::Scan;
pub use self::trace::{AttrValue, Attribute, Source, SpanRecord, Trace};
pub(crate) use self::walk::RawRequest;
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
    /// A string field of a span (its name, an attribute key or a string value) is not UTF-8,
    /// which protobuf forbids.
    #[error("span {span} of scope {scope} of resource {resource}: a string field is not UTF-8")]
    NotUtf8 {
        /// Index of the `ResourceSpans`.
        resource: usize,
        /// Index of the `ScopeSpans` inside it.
        scope: usize,
        /// Index of the span inside that.
        span: usize,
    },
    /// The body is not an OTLP protobuf `ExportTraceServiceRequest`.
    #[error("invalid OTLP protobuf body: {0}")]
    Malformed(#[from] prost::DecodeError),
    /// The request alone holds more spans than the store may ever hold.
    #[error("request has {spans} spans, more than this store's bound of {max_spans}")]
    TooManySpans {
        /// Spans in the request.
        spans: usize,
        /// The store's bound.
        max_spans: usize,
    },
}

impl InsertError {
    /// The reason `/metrics` counts this refusal under.
    pub fn reason(&self) -> RejectReason {
        match self {
            InsertError::BadIdLength { .. } => RejectReason::BadId,
            InsertError::Malformed(_) | InsertError::NotUtf8 { .. } => RejectReason::Malformed,
            InsertError::TooManySpans { .. } => RejectReason::TooManySpans,
        }
    }
}

/// A cheap-to-clone handle to one shared store.
///
/// Bounded: it never holds more than `max_spans` spans. When an insert would pass the bound it
/// evicts whole traces, oldest first (by arrival of their first span), until the new spans fit.
/// That can evict a trace the same request adds to; its older spans are then gone and the new
/// ones start it afresh. A request with more than `max_spans` spans is refused outright
/// ([`InsertError::TooManySpans`]) rather than truncated, so an insert is all or nothing.
///
/// A span whose trace already holds a span with the same id is dropped and counted as a
/// duplicate: an exporter that retries a request it thinks failed, or a file imported twice,
/// does not double a trace.
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
    counters: Counters,
    // The service graph and span metrics, counted at ingest so eviction never lowers them.
    live: crate::analysis::live::Live,
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
                counters: Counters::default(),
                live: Default::default(),
            }),
        }
    }

    /// The bound given to [`Store::new`].
    pub fn max_spans(&self) -> usize {
        self.shared.max_spans
    }

    /// Stores every span of `batch` or none (see [`SpanBatch`] for how one is built), less the
    /// duplicates. Returns the number stored.
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
        // Grouped by trace before taking the lock, so the insert under it is only appends.
        let mut groups: Vec<(TraceId, Vec<SpanRecord>)> = Vec::new();
        let mut group_of: HashMap<TraceId, usize> = HashMap::default();
        for (id, record) in records {
            let next = groups.len();
            let at = *group_of.entry(id).or_insert(next);
            if at == next {
                groups.push((id, Vec::new()));
            }
            groups[at].1.push(record);
        }
        let traces = groups.len();
        // Before the state lock, under its own: pairing halves is the metrics' business only.
        self.shared.live.observe(&groups);
        // Hashing every value before the lock leaves only setting bits under it.
        let values = groups
            .iter()
            .map(|(_, spans)| summary::value_hashes(spans))
            .collect();
        let done = self
            .lock()
            .insert(groups, values, count, self.shared.max_spans);
        // After the state lock is released: eviction may have left strings unused.
        self.strings().sweep_if_due();

        let counters = &self.shared.counters;
        Counters::add(&counters.received, count);
        Counters::add(&counters.stored, done.stored);
        Counters::add(&counters.duplicates, done.duplicates);
        Counters::add(&counters.evicted, done.evicted);
        tracing::debug!(
            spans = done.stored,
            traces,
            duplicates = done.duplicates,
            "stored spans"
        );
        for id in done.touched {
            // An error only means nobody is subscribed right now.
            let _ = self.shared.new_spans.send(id);
        }
        Ok(done.stored)
    }

    /// Counts a request the receiver refused (see [`Store::totals`]).
    pub(crate) fn count_rejected(&self, reason: RejectReason) {
        self.shared.counters.reject(reason);
    }

    /// What happened to the spans sent to this store since it was made.
    pub fn totals(&self) -> Totals {
        self.shared.counters.snapshot()
    }

    /// The service graph and span metrics, in Prometheus text format, appended to `out`.
    pub(crate) fn render_live_metrics(&self, out: &mut String) {
        self.shared.live.render(out);
    }

    /// How many spans the store holds.
    pub fn span_count(&self) -> usize {
        self.lock().span_count
    }

    /// How many traces the store holds.
    pub fn trace_count(&self) -> usize {
        self.lock().trace_count()
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod concurrency_tests;
