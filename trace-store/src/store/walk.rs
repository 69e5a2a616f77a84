//! The one walk over OTLP's resource → scope → span nesting, from protobuf bytes, a few spans at
//! a time. Every way spans reach the store takes it: OTLP/HTTP protobuf bodies, OTLP/gRPC
//! messages (tonic decodes only the outer message, see `ingest/grpc.rs`), OTLP/JSON (turned into
//! protobuf a span at a time, see `ingest/json.rs`), [`Store::insert`],
//! and a client reading a trace back ([`Trace::from_protobuf`]).
//!
//! Why bytes and groups: decoded, a span takes several times its encoded size (a `String` or
//! `Vec` per id, name, key and value). Decoding a 1,000-span request whole made about 1 MB of
//! short-lived allocations per request, and the allocator kept much of it resident between the
//! records that stay: the store used a third more memory per span with 1,000-span requests than
//! with 200-span ones. So the outer messages are decoded with their repeated fields left as bytes
//! (`Raw*` below, the same wire format as the real messages; the bytes are slices of the body,
//! not copies), and spans are decoded in groups of [`SPANS_PER_GROUP`], as [`RawSpan`]s whose text
//! is still a slice of the body (see `raw_span.rs`).
//!
//! [`Store::insert`]: super::Store::insert
//! [`Trace::from_protobuf`]: super::Trace::from_protobuf

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::{DecodeError, Message};

use super::raw_span::RawSpan;

/// Spans decoded at a time, before they are converted into records and dropped.
const SPANS_PER_GROUP: usize = 64;

/// `ExportTraceServiceRequest` (and `TracesData`, the same wire format) with each
/// `ResourceSpans` left encoded.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawRequest {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    resource_spans: Vec<Bytes>,
}

/// `ResourceSpans` with each `ScopeSpans` left encoded.
#[derive(Clone, PartialEq, Message)]
struct RawResourceSpans {
    #[prost(message, optional, tag = "1")]
    resource: Option<Resource>,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    scope_spans: Vec<Bytes>,
    #[prost(string, tag = "3")]
    schema_url: String,
}

/// `ScopeSpans` with each `Span` left encoded.
#[derive(Clone, PartialEq, Message)]
struct RawScopeSpans {
    #[prost(message, optional, tag = "1")]
    scope: Option<InstrumentationScope>,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    spans: Vec<Bytes>,
    #[prost(string, tag = "3")]
    schema_url: String,
}

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

/// What a `ScopeSpans` says about where its spans come from.
pub(crate) struct Origin {
    pub(crate) resource: Resource,
    pub(crate) resource_schema_url: String,
    pub(crate) scope: InstrumentationScope,
    pub(crate) scope_schema_url: String,
}

/// Walks `request`: `origin` is called once per `ScopeSpans` and makes what its spans share;
/// `spans` gets the decoded spans in groups, with the position of the first. Stops at the first
/// error, a decoding one or one of `spans`.
pub(crate) fn walk<S, E: From<DecodeError>>(
    request: RawRequest,
    mut origin: impl FnMut(Origin) -> S,
    mut spans: impl FnMut(&S, SpanPosition, Vec<RawSpan>) -> Result<(), E>,
) -> Result<(), E> {
    for (r, resource_spans) in request.resource_spans.into_iter().enumerate() {
        let resource_spans = RawResourceSpans::decode(resource_spans)?;
        let resource = resource_spans.resource.unwrap_or_default();
        for (s, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            let scope_spans = RawScopeSpans::decode(scope_spans)?;
            let shared = origin(Origin {
                resource: resource.clone(),
                resource_schema_url: resource_spans.schema_url.clone(),
                scope: scope_spans.scope.unwrap_or_default(),
                scope_schema_url: scope_spans.schema_url,
            });
            for (g, group) in scope_spans.spans.chunks(SPANS_PER_GROUP).enumerate() {
                let decoded = group
                    .iter()
                    .map(|span| RawSpan::decode(span.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                let first = SpanPosition {
                    resource: r,
                    scope: s,
                    span: g * SPANS_PER_GROUP,
                };
                spans(&shared, first, decoded)?;
            }
        }
    }
    Ok(())
}
