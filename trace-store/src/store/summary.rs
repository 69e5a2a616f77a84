//! Per-block summaries of the values spans hold, so a search for a value skips the blocks that
//! cannot have it, as Tempo skips blocks with their bloom filters and column dictionaries.
//!
//! Each block keeps a [`ValueSummary`]: a fixed-size bloom filter over every
//! (where, key, value) its spans have held: span attributes, resource attributes and span
//! names. A TraceQL query says which values every trace it matches must hold
//! ([`traceql::Query::required_values`]); a [`Scan`] turns those into hashes once per query, and
//! a block whose filter has not seen one of them is skipped without copying or evaluating
//! anything. A bloom filter can say "maybe" for a value it never saw (then the block is
//! evaluated as before) but never "no" for one it saw, so skipping never loses a match.
//!
//! Values are hashed as `=` compares them: numbers by their value as a double (so `599` finds
//! an attribute `599.0`, and two integers that round to the same double share a hash, which
//! only costs a "maybe"); an array or map attribute records its key with a wildcard, since `=`
//! looks inside arrays. The hashes of a request's spans are computed before the store's lock
//! (see [`value_hashes`]); under it, adding them is setting bits.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use foldhash::fast::FixedState;
use opentelemetry_proto::tonic::common::v1::any_value;
use traceql::{Query, RequiredValue, Value, ValueSite};

use super::{AttrValue, SpanRecord};
use crate::model::TimeWindow;

/// Bits per block: 8 KiB. A block holds 1,024 traces; seed-shaped traces put a few hundred
/// distinct values in it, for which two bits each give well under one false "maybe" in a
/// thousand. A block of all-distinct values fills it and stops skipping, never more memory.
const BITS: usize = 1 << 16;
const WORDS: usize = BITS / 64;

/// The same hash at ingest and at query time, in every process (a fixed seed: a crafted value
/// could at worst make a block look like it may hold another, which costs a scan, not a result).
const HASHER: FixedState = FixedState::with_seed(0x7472_6163_656c_6162);

/// A bloom filter over the value hashes of one block's spans (see the module docs).
#[derive(Debug, Clone)]
pub(super) struct ValueSummary {
    words: Box<[u64]>,
}

impl Default for ValueSummary {
    fn default() -> Self {
        ValueSummary {
            words: vec![0; WORDS].into_boxed_slice(),
        }
    }
}

impl ValueSummary {
    /// Records one value hash.
    pub(super) fn add(&mut self, hash: u64) {
        for bit in bits(hash) {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// Whether a value with this hash may have been recorded.
    fn may_hold(&self, hash: u64) -> bool {
        bits(hash)
            .into_iter()
            .all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// The two bits a hash sets: its low and high halves, each reduced to an index.
fn bits(hash: u64) -> [usize; 2] {
    // Truncation intended: each half of the hash is one index.
    [(hash as usize) % BITS, ((hash >> 32) as usize) % BITS]
}

/// Where a value sits, part of its hash: the same key on a span and a resource are different.
#[derive(Hash)]
enum Site {
    Span,
    Resource,
    Name,
}

/// A value as `=` compares it (see the module docs).
#[derive(Clone, Copy, Hash)]
enum Canonical<'a> {
    Str(&'a str),
    Number(u64),
    Bool(bool),
    /// An array or map: it may hold anything.
    Any,
}

fn number(x: f64) -> Option<Canonical<'static>> {
    // NaN equals nothing; -0.0 equals 0.0.
    (!x.is_nan()).then(|| Canonical::Number(if x == 0.0 { 0 } else { x.to_bits() }))
}

fn hash(site: Site, key: &str, value: Canonical<'_>) -> u64 {
    let mut hasher = HASHER.build_hasher();
    site.hash(&mut hasher);
    key.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

/// The hashes of every value `spans` hold, for [`ValueSummary::add`].
pub(super) fn value_hashes(spans: &[SpanRecord]) -> Vec<u64> {
    let mut hashes = Vec::new();
    let mut last_source = None;
    for span in spans {
        hashes.push(hash(Site::Name, "", Canonical::Str(span.name())));
        for attribute in span.attributes() {
            let value = match &attribute.value {
                AttrValue::Str(s) => Some(Canonical::Str(s)),
                AttrValue::Int(i) => number(*i as f64),
                AttrValue::Float(x) => number(*x),
                AttrValue::Bool(b) => Some(Canonical::Bool(*b)),
                AttrValue::Other(Some(_)) => Some(Canonical::Any),
                AttrValue::Other(None) => None,
            };
            hashes.extend(value.map(|v| hash(Site::Span, &attribute.key, v)));
        }
        // The spans of one trace and service share their resource: hash it once.
        if last_source.is_some_and(|s| Arc::ptr_eq(s, span.source())) {
            continue;
        }
        last_source = Some(span.source());
        for kv in &span.resource().attributes {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => Some(Canonical::Str(s)),
                Some(any_value::Value::IntValue(i)) => number(*i as f64),
                Some(any_value::Value::DoubleValue(x)) => number(*x),
                Some(any_value::Value::BoolValue(b)) => Some(Canonical::Bool(*b)),
                Some(_) => Some(Canonical::Any),
                None => None,
            };
            hashes.extend(value.map(|v| hash(Site::Resource, &kv.key, v)));
        }
    }
    // Repeats are left in: setting a bit twice under the lock costs less than sorting here.
    hashes
}

/// Which traces a read looks at: a time window, and the values a trace must hold to be worth
/// evaluating (from a TraceQL query; none for a plain window).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Traces outside it are left out.
    pub window: TimeWindow,
    /// For each required value, the hashes of which a block must hold at least one.
    required: Vec<Vec<u64>>,
}

impl From<TimeWindow> for Scan {
    fn from(window: TimeWindow) -> Self {
        Scan {
            window,
            required: Vec::new(),
        }
    }
}

impl Scan {
    /// The traces in `window` that may match `query`: blocks without a value the query
    /// requires are skipped.
    pub fn for_query(window: TimeWindow, query: &Query) -> Self {
        let required = query.required_values().iter().filter_map(any_of).collect();
        Scan { window, required }
    }

    /// Whether a block with this summary may hold a trace the scan wants.
    pub(super) fn may_want(&self, summary: &ValueSummary) -> bool {
        self.required
            .iter()
            .all(|any| any.iter().any(|&h| summary.may_hold(h)))
    }
}

/// The hashes under which a span holding `required` would have been recorded; `None` for a
/// value this summary does not record (the scan then does not use it).
fn any_of(required: &RequiredValue<'_>) -> Option<Vec<u64>> {
    let value = match required.value {
        Value::Str(s) => Canonical::Str(s),
        Value::Int(i) | Value::Duration(i) => number(i as f64)?,
        Value::Float(x) => number(x)?,
        Value::Bool(b) => Canonical::Bool(b),
        _ => return None,
    };
    let key = required.key;
    let span = [
        hash(Site::Span, key, value),
        hash(Site::Span, key, Canonical::Any),
    ];
    let resource = [
        hash(Site::Resource, key, value),
        hash(Site::Resource, key, Canonical::Any),
    ];
    Some(match required.site {
        ValueSite::Span => span.to_vec(),
        ValueSite::Resource => resource.to_vec(),
        ValueSite::SpanOrResource => [span, resource].concat(),
        ValueSite::Name => vec![hash(Site::Name, "", value)],
    })
}
