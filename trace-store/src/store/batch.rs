//! Turning OTLP spans into the store's records before an insert: every id is checked (an error
//! names the span's place in its request) and strings are interned.
//!
//! [`Store::insert`] converts a whole decoded request. The OTLP/HTTP receiver instead decodes a
//! protobuf body a few spans at a time and converts each group as it goes
//! (`crate::ingest::streamed`), so a large request never exists fully decoded: the decoded form
//! is several times the size of the bytes, and those short-lived allocations, interleaved with
//! the records that stay, are what made the store's resident memory grow with request size.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::{InsertError, Source, SpanRecord, Store};
use crate::model::TraceId;

/// Where a span sits in its request. Indexes count from 0 in request order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanPosition {
    /// Index of the `ResourceSpans`.
    pub resource: usize,
    /// Index of the `ScopeSpans` inside it.
    pub scope: usize,
    /// Index of the span inside that.
    pub span: usize,
}

/// Spans converted and checked, waiting to be stored all together by [`Store::insert_batch`].
#[derive(Debug, Default)]
pub(crate) struct SpanBatch {
    pub(super) records: Vec<(TraceId, SpanRecord)>,
}

impl Store {
    /// Checks every id (trace id 16 bytes, span id 8, parent span id empty or 8), then stores all
    /// spans of the request or none. Returns the number stored.
    pub fn insert(&self, request: ExportTraceServiceRequest) -> Result<usize, InsertError> {
        let mut batch = SpanBatch::default();
        for (r, resource_spans) in request.resource_spans.into_iter().enumerate() {
            let resource = resource_spans.resource.unwrap_or_default();
            for (s, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
                let source = self.source(
                    resource.clone(),
                    resource_spans.schema_url.clone(),
                    scope_spans.scope.unwrap_or_default(),
                    scope_spans.schema_url,
                );
                let first = SpanPosition {
                    resource: r,
                    scope: s,
                    span: 0,
                };
                self.add_spans(&mut batch, first, &source, scope_spans.spans)?;
            }
        }
        self.insert_batch(batch)
    }

    /// The shared [`Source`] for spans of this resource and scope.
    pub(crate) fn source(
        &self,
        resource: Resource,
        resource_schema_url: String,
        scope: InstrumentationScope,
        scope_schema_url: String,
    ) -> Arc<Source> {
        self.strings()
            .source(resource, resource_schema_url, scope, scope_schema_url)
    }

    /// Checks the ids of `spans` (the first at `first`, the rest after it in the same scope) and
    /// adds them to `batch`, interning their strings.
    pub(crate) fn add_spans(
        &self,
        batch: &mut SpanBatch,
        first: SpanPosition,
        source: &Arc<Source>,
        spans: impl IntoIterator<Item = Span>,
    ) -> Result<(), InsertError> {
        let mut strings = self.strings();
        for (i, span) in spans.into_iter().enumerate() {
            let bad = |field, len, want| InsertError::BadIdLength {
                resource: first.resource,
                scope: first.scope,
                span: first.span + i,
                field,
                len,
                want,
            };
            let Some(trace_id) = TraceId::from_bytes(&span.trace_id) else {
                return Err(bad("trace id", span.trace_id.len(), "16"));
            };
            let (span_len, parent_len) = (span.span_id.len(), span.parent_span_id.len());
            if span_len != 8 {
                return Err(bad("span id", span_len, "8"));
            }
            if !matches!(parent_len, 0 | 8) {
                return Err(bad("parent span id", parent_len, "0 or 8"));
            }
            let record = SpanRecord::from_proto(span, Arc::clone(source), &mut strings)
                .expect("ids checked above");
            batch.records.push((trace_id, record));
        }
        Ok(())
    }
}
