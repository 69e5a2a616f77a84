//! Turning OTLP spans into the store's records before an insert: the entry points
//! ([`Store::insert`], [`Store::insert_protobuf`]) walk the request (`walk.rs`), every id and
//! string is checked (an error names the span's place in its request) and strings are interned; the records are
//! stored all together, or none.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::raw_span::RawSpan;
use super::span::BadSpan;
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

    /// Checks the ids and strings of `spans` (the first at `first`, the rest after it in the
    /// same scope) and adds them to `batch`, interning their strings.
    fn add_spans(
        &self,
        batch: &mut SpanBatch,
        first: SpanPosition,
        source: &Arc<Source>,
        spans: Vec<RawSpan>,
    ) -> Result<(), InsertError> {
        // The interner's lock is taken for a few spans at a time, not for the whole group: two
        // requests converted at once then take turns within microseconds, where a thread that
        // waited a whole group's conversion would give up spinning and sleep.
        const SPANS_PER_LOCK: usize = 8;
        let mut spans = spans.into_iter().enumerate().peekable();
        while spans.peek().is_some() {
            let mut strings = self.strings();
            for (i, span) in spans.by_ref().take(SPANS_PER_LOCK) {
                let record = SpanRecord::from_raw(span, Arc::clone(source), &mut strings)
                    .map_err(|bad| refused(bad, first, i))?;
                batch.records.push(record);
            }
        }
        Ok(())
    }
}

/// The error for a span refused by [`SpanRecord::from_raw`], the `offset`th after `first`.
pub(super) fn refused(bad: BadSpan, first: SpanPosition, offset: usize) -> InsertError {
    let (resource, scope, span) = (first.resource, first.scope, first.span + offset);
    match bad {
        BadSpan::IdLength { field, len, want } => InsertError::BadIdLength {
            resource,
            scope,
            span,
            field,
            len,
            want,
        },
        BadSpan::NotUtf8 => InsertError::NotUtf8 {
            resource,
            scope,
            span,
        },
    }
}
