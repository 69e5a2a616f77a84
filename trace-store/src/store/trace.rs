//! What the store hands out: a [`Trace`] is a snapshot of one trace's spans, each a compact
//! [`SpanRecord`] (see [`super::span`]) that shares its strings and its resource and scope with
//! the store.
//!
//! These are plain owned values, so readers (the query API, the waterfall, the TraceQL engine,
//! the web viewer) work on them without holding the store's lock. Cloning one copies the
//! records and bumps reference counts; no string is copied.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, TracesData};
use prost::Message;

use super::InsertError;
use super::batch::refused;
use super::interner::Interner;
pub use super::span::{AttrValue, Attribute, Source, SpanRecord};
use super::walk::{RawRequest, walk};
use crate::model::TraceId;

/// A snapshot of one trace: every span the store holds for `id`, sorted by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace id shared by all spans.
    pub id: TraceId,
    /// The spans, sorted by start time (ties keep arrival order).
    pub spans: Vec<SpanRecord>,
}

impl Trace {
    /// The spans of trace `id` in a protobuf `TracesData` (what `/api/traces/{id}` answers with
    /// `Accept: application/protobuf`), as a [`Trace`]; spans of other traces are left out. The
    /// inverse of [`Trace::to_traces_data`], for clients of the query API. It takes the store's
    /// own walk (`walk.rs`), so a trace read back is built exactly as an ingested one, and a
    /// body the store would refuse is refused with the same error.
    pub fn from_protobuf(id: TraceId, body: Bytes) -> Result<Trace, InsertError> {
        // A table of its own: the strings are shared within this trace only. Both steps of the
        // walk intern, hence the cell.
        let strings = std::cell::RefCell::new(Interner::default());
        let mut spans = Vec::new();
        walk::<_, InsertError>(
            RawRequest::decode(body)?,
            |origin| {
                strings.borrow_mut().source(
                    origin.resource,
                    origin.resource_schema_url,
                    origin.scope,
                    origin.scope_schema_url,
                )
            },
            |source, first, decoded| {
                let strings = &mut *strings.borrow_mut();
                for (i, span) in decoded.into_iter().enumerate() {
                    if span.trace_id == id.0[..] {
                        let (_, record) = SpanRecord::from_raw(span, Arc::clone(source), strings)
                            .map_err(|bad| refused(bad, first, i))?;
                        spans.push(record);
                    }
                }
                Ok(())
            },
        )?;
        spans.sort_by_key(SpanRecord::start_unix_nano);
        Ok(Trace { id, spans })
    }

    /// The root span: the earliest-starting span without a parent, if one has arrived.
    pub fn root(&self) -> Option<&SpanRecord> {
        self.spans.iter().find(|s| s.parent_span_id().is_none())
    }

    /// Whether nothing is known to be missing: exactly one span lacks its
    /// parent here (the entry span: a root, or the first span of a trace
    /// continued from a caller that is not traced into this store), that
    /// span started first, and every other span's parent is present.
    /// A trace can look complete and still grow.
    pub fn is_complete(&self) -> bool {
        let parents = self.parents();
        let mut entries = self
            .spans
            .iter()
            .zip(parents)
            .filter_map(|(span, parent)| parent.is_none().then_some(span));
        match (entries.next(), entries.next()) {
            (Some(entry), None) => entry.start_unix_nano() == self.start_unix_nano(),
            _ => false,
        }
    }

    /// Each span's parent as an index into `spans` (`None` for a root and for a span whose parent
    /// is not held), from [`traceql::parent_indexes`], the one builder of parent links.
    pub fn parents(&self) -> Vec<Option<usize>> {
        traceql::parent_indexes(&self.spans)
    }

    /// The earliest span start, in Unix nanoseconds (0 for a trace without spans).
    pub fn start_unix_nano(&self) -> u64 {
        // Spans are sorted by start time, so the first one starts first.
        self.spans.first().map_or(0, SpanRecord::start_unix_nano)
    }

    /// The latest span end, in Unix nanoseconds (0 for a trace without spans).
    pub fn end_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(SpanRecord::end_unix_nano)
            .max()
            .unwrap_or(0)
    }

    /// Latest end − earliest start; zero if that would be negative.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nano().saturating_sub(self.start_unix_nano()))
    }

    /// The trace as OTLP `TracesData`, regrouped by resource and scope.
    ///
    /// Lossless: every span, resource, scope and schema URL comes back as received. Spans whose
    /// resource (or scope) is equal are grouped together even if they arrived in different
    /// batches; groups appear in the order of their earliest span.
    pub fn to_traces_data(&self) -> TracesData {
        let mut resource_spans: Vec<ResourceSpans> = Vec::new();
        for record in &self.spans {
            let source = record.source();
            let resource_group = match resource_spans.iter_mut().position(|rs| {
                rs.schema_url == source.resource_schema_url
                    && rs.resource.as_ref() == Some(&source.resource)
            }) {
                Some(index) => &mut resource_spans[index],
                None => {
                    resource_spans.push(ResourceSpans {
                        resource: Some(source.resource.clone()),
                        scope_spans: Vec::new(),
                        schema_url: source.resource_schema_url.clone(),
                    });
                    resource_spans.last_mut().expect("just pushed")
                }
            };
            let scopes = &mut resource_group.scope_spans;
            let scope_group = match scopes.iter().position(|ss| {
                ss.schema_url == source.scope_schema_url && ss.scope.as_ref() == Some(&source.scope)
            }) {
                Some(index) => &mut scopes[index],
                None => {
                    scopes.push(ScopeSpans {
                        scope: Some(source.scope.clone()),
                        spans: Vec::new(),
                        schema_url: source.scope_schema_url.clone(),
                    });
                    scopes.last_mut().expect("just pushed")
                }
            };
            scope_group.spans.push(record.to_proto(self.id));
        }
        TracesData { resource_spans }
    }
}
