//! What identifies a series and bounds its exemplars: [`Part`], one `by` value (or histogram
//! bucket) as a hashable key, borrowed while a span is read and owned once a series stores it;
//! [`HashIsKey`], the hasher of the map from key hashes to series; [`ExemplarSlots`], Tempo's
//! spread of exemplars over the range.

use std::borrow::Cow;
use std::hash::Hasher;

use super::{LabelValue, Range};
use crate::Value;
use crate::syntax::display::{kind_name, status_name};

/// One `by` value (or histogram bucket) as a hashable key; borrowed on the hot path, owned
/// (`'static`) once stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(super) enum Part<'a> {
    #[default]
    Nil,
    Str(Cow<'a, str>),
    Int(i64),
    /// f64 bits.
    Float(u64),
    Bool(bool),
    Duration(i64),
}

impl Part<'_> {
    pub(super) fn of(value: Value<'_>) -> Part<'_> {
        match value {
            Value::Nil | Value::Array(_) => Part::Nil,
            Value::Bool(b) => Part::Bool(b),
            Value::Int(i) => Part::Int(i),
            Value::Float(x) => Part::Float(x.to_bits()),
            Value::Str(s) => Part::Str(Cow::Borrowed(s)),
            Value::Duration(d) => Part::Duration(d),
            Value::Status(s) => Part::Str(Cow::Borrowed(status_name(s))),
            Value::Kind(k) => Part::Str(Cow::Borrowed(kind_name(k))),
            Value::Id(id) => Part::Str(Cow::Owned(hex(id))),
        }
    }

    pub(super) fn owned(&self) -> Part<'static> {
        match self {
            Part::Nil => Part::Nil,
            Part::Str(s) => Part::Str(Cow::Owned(s.to_string())),
            Part::Int(i) => Part::Int(*i),
            Part::Float(x) => Part::Float(*x),
            Part::Bool(b) => Part::Bool(*b),
            Part::Duration(d) => Part::Duration(*d),
        }
    }

    pub(super) fn label(&self) -> LabelValue {
        match self {
            Part::Nil => LabelValue::Nil,
            Part::Str(s) => LabelValue::Str(s.to_string()),
            Part::Int(i) => LabelValue::Int(*i),
            Part::Float(x) => LabelValue::Float(f64::from_bits(*x)),
            Part::Bool(b) => LabelValue::Bool(*b),
            Part::Duration(d) => LabelValue::Str(crate::go_duration_string(*d)),
        }
    }
}

/// Lowercase hex of raw id bytes.
pub(super) fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hasher for keys that are hashes already: the `u64` is used as it is.
#[derive(Debug, Default)]
pub(super) struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the map's keys are `u64`); fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Tempo's exemplar spread: at most 2 per slice of the range, `limit` per series.
#[derive(Debug, Clone)]
pub(super) struct ExemplarSlots {
    limit: usize,
    used: Vec<u8>,
    start_ms: u64,
    width_ms: u64,
}

impl ExemplarSlots {
    pub(super) fn new(limit: usize, range: &Range) -> Self {
        let slices = (limit / 2).max(1);
        let (start_ms, end_ms) = (range.start() / 1_000_000, range.end() / 1_000_000);
        ExemplarSlots {
            limit: if range.is_instant() { 0 } else { limit },
            used: Vec::new(),
            start_ms,
            width_ms: ((end_ms - start_ms) / slices as u64).max(1),
        }
    }

    /// Whether an exemplar at `ts_ms` may be kept, given `kept` already; counts it if so.
    pub(super) fn take(&mut self, kept: usize, ts_ms: u64) -> bool {
        if kept >= self.limit {
            return false;
        }
        let slices = (self.limit / 2).max(1);
        if self.used.is_empty() {
            self.used = vec![0; slices];
        }
        let slice = (ts_ms.saturating_sub(self.start_ms) / self.width_ms).min(slices as u64 - 1);
        let used = &mut self.used[slice as usize];
        if *used >= 2 {
            return false;
        }
        *used += 1;
        true
    }
}
