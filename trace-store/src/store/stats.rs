//! Running totals of what happened to the spans sent to a store, for `GET /metrics`: how many
//! arrived, were stored, were dropped as duplicates or evicted, and how many requests were
//! refused and why. Atomics, so counting never takes the store's lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why the receiver refused a whole request (nothing of it is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The body is not valid protobuf, OTLP/JSON or gzip.
    Malformed,
    /// A trace, span or parent span id has the wrong length.
    BadId,
    /// The body, sent or decompressed, is past the receiver's limits.
    TooLarge,
    /// The request holds more spans than the store may ever hold.
    TooManySpans,
    /// A `Content-Type` or `Content-Encoding` the receiver does not speak.
    Unsupported,
}

impl RejectReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Malformed,
        RejectReason::BadId,
        RejectReason::TooLarge,
        RejectReason::TooManySpans,
        RejectReason::Unsupported,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::BadId => "bad_id",
            RejectReason::TooLarge => "too_large",
            RejectReason::TooManySpans => "too_many_spans",
            RejectReason::Unsupported => "unsupported",
        }
    }
}

/// The totals since the store was made.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) received: AtomicU64,
    pub(super) stored: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) evicted: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(super) fn reject(&self, reason: RejectReason) {
        self.rejected[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Totals {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Totals {
            received: get(&self.received),
            stored: get(&self.stored),
            duplicates: get(&self.duplicates),
            evicted: get(&self.evicted),
            rejected: RejectReason::ALL.map(|r| (r, get(&self.rejected[r as usize]))),
        }
    }
}

/// A copy of a store's totals (see [`super::Store::totals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Spans in requests that were accepted (stored or dropped as duplicates).
    pub received: u64,
    /// Spans stored.
    pub stored: u64,
    /// Spans dropped because their trace already held a span with the same id (an exporter's
    /// retry, a file imported twice).
    pub duplicates: u64,
    /// Spans evicted, with their whole trace, to stay under the bound.
    pub evicted: u64,
    /// Requests refused, by reason.
    pub rejected: [(RejectReason, u64); RejectReason::ALL.len()],
}
