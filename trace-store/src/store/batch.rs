//! Turning OTLP spans into the store's records before an insert: the entry points
//! ([`Store::insert`], [`Store::insert_protobuf`]) walk the request (`walk.rs`), every id is checked
//! (an error names the span's place in its request) and strings are interned; the records are
//! stored all together, or none.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::walk::{Origin, RawRequest, SpanPosition, walk};
use super::{InsertError, Source, SpanRecord, Store};
use crate::model::TraceId;

/// Spans converted and checked, waiting to be stored all together by [`Store::insert_batch`].
#[derive(Debug, Default)]
pub(crate) struct SpanBatch {
    pub(super) records: Vec<(TraceId, SpanRecord)>,
}

impl Store {
    /// Checks every id (trace id 16 bytes, span id 8, parent span id empty or 8), then stores all
    /// spans of the request or none, less the duplicates. Returns the number stored.
    ///
    /// The request is encoded and takes the same walk as a protobuf body
    /// ([`Store::insert_protobuf`]): one path for every way spans come in.
    pub fn insert(&self, request: ExportTraceServiceRequest) -> Result<usize, InsertError> {
        let body = Bytes::from(request.encode_to_vec());
        drop(request);
        self.insert_protobuf(body)
    }

    /// [`Store::insert`] for a protobuf `ExportTraceServiceRequest` as sent, decoded a few spans
    /// at a time (see `walk.rs`).
    pub fn insert_protobuf(&self, body: Bytes) -> Result<usize, InsertError> {
        self.insert_raw(RawRequest::decode(body)?)
    }

    /// Stores the spans of a request whose outer message is decoded, all or none.
    pub(crate) fn insert_raw(&self, request: RawRequest) -> Result<usize, InsertError> {
        let mut batch = SpanBatch::default();
        walk(
            request,
            |origin| self.source(origin),
            |source, first, spans| self.add_spans(&mut batch, first, source, spans),
        )?;
        self.insert_batch(batch)
    }

    /// The shared [`Source`] for spans of this resource and scope.
    fn source(&self, origin: Origin) -> Arc<Source> {
        self.strings().source(
            origin.resource,
            origin.resource_schema_url,
            origin.scope,
            origin.scope_schema_url,
        )
    }

    /// Checks the ids of `spans` (the first at `first`, the rest after it in the same scope) and
    /// adds them to `batch`, interning their strings.
    fn add_spans(
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
