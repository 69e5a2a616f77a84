//! Decoding an OTLP protobuf export request a few spans at a time.
//!
//! Decoded, a span takes several times its encoded size (a `String` or `Vec` per id, name, key
//! and value). Decoding a 1,000-span request whole made about 1 MB of short-lived allocations per
//! request, and the allocator kept much of it resident between the records that stay: the store
//! used a third more memory per span with 1,000-span requests than with 200-span ones.
//!
//! So the outer messages are decoded with their repeated fields left as bytes (`Raw*` below, the
//! same wire format as the real messages), and spans are decoded and stored in groups of
//! [`SPANS_PER_GROUP`]. The bytes are slices of the body, not copies. Everything is still all or
//! nothing: records go into one [`SpanBatch`] that is stored only when the whole body is read.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::ExportError;
use super::codec::BodyError;
use crate::store::{SpanBatch, SpanPosition, Store};

/// Spans decoded before they are converted into records and dropped.
const SPANS_PER_GROUP: usize = 64;

/// `ExportTraceServiceRequest` with each `ResourceSpans` left encoded. The gRPC receiver has
/// tonic decode this instead of the whole request, so gRPC exports take the same walk.
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

/// Decodes a protobuf `ExportTraceServiceRequest` and stores its spans, all or none. Returns the
/// number stored.
pub(crate) fn insert_protobuf(store: &Store, body: Bytes) -> Result<usize, ExportError> {
    insert_raw(store, decode::<RawRequest>(body)?)
}

/// Stores the spans of a request whose outer message is decoded, all or none.
pub(crate) fn insert_raw(store: &Store, request: RawRequest) -> Result<usize, ExportError> {
    let mut batch = SpanBatch::default();
    for (r, resource_spans) in request.resource_spans.into_iter().enumerate() {
        let resource_spans = decode::<RawResourceSpans>(resource_spans)?;
        let resource = resource_spans.resource.unwrap_or_default();
        for (s, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            let scope_spans = decode::<RawScopeSpans>(scope_spans)?;
            let source = store.source(
                resource.clone(),
                resource_spans.schema_url.clone(),
                scope_spans.scope.unwrap_or_default(),
                scope_spans.schema_url,
            );
            for (g, group) in scope_spans.spans.chunks(SPANS_PER_GROUP).enumerate() {
                let spans = group
                    .iter()
                    .map(|span| decode::<Span>(span.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                let first = SpanPosition {
                    resource: r,
                    scope: s,
                    span: g * SPANS_PER_GROUP,
                };
                store.add_spans(&mut batch, first, &source, spans)?;
            }
        }
    }
    Ok(store.insert_batch(batch)?)
}

fn decode<M: Message + Default>(bytes: Bytes) -> Result<M, BodyError> {
    Ok(M::decode(bytes)?)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    use super::*;
    use crate::store::InsertError;

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("span {id}"),
            start_time_unix_nano: u64::from(id),
            end_time_unix_nano: u64::from(id) + 1,
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "scope".into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn stores_the_same_spans_as_decoding_the_whole_request() {
        // More spans than one group, over two traces.
        let spans: Vec<Span> = (0..150).map(|i| span(1 + i % 2, i)).collect();
        let request = request(spans);

        let whole = Store::new(1_000);
        whole.insert(request.clone()).unwrap();
        let streamed = Store::new(1_000);
        let body = Bytes::from(request.encode_to_vec());
        assert_eq!(insert_protobuf(&streamed, body).unwrap(), 150);

        for trace in [1u8, 2] {
            let id = crate::model::TraceId::from_bytes(&[trace; 16]).unwrap();
            let (a, b) = (whole.trace(&id).unwrap(), streamed.trace(&id).unwrap());
            assert_eq!(a.to_traces_data(), b.to_traces_data());
            assert_eq!(b.spans.len(), 75);
        }
    }

    #[test]
    fn a_bad_span_after_the_first_group_is_named_and_nothing_is_stored() {
        let mut spans: Vec<Span> = (0..100).map(|i| span(1, i)).collect();
        spans[70].span_id = vec![7; 3];
        let store = Store::new(1_000);
        let body = Bytes::from(request(spans).encode_to_vec());
        let err = insert_protobuf(&store, body).unwrap_err();
        assert!(
            matches!(
                err,
                ExportError::Insert(InsertError::BadIdLength {
                    resource: 0,
                    scope: 0,
                    span: 70,
                    len: 3,
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(store.span_count(), 0);
    }

    #[test]
    fn a_truncated_body_is_a_protobuf_error_and_nothing_is_stored() {
        let body = request((0..10).map(|i| span(1, i)).collect()).encode_to_vec();
        let store = Store::new(1_000);
        let err = insert_protobuf(&store, Bytes::from(body[..body.len() - 5].to_vec()));
        assert!(
            matches!(err, Err(ExportError::Body(BodyError::Protobuf(_)))),
            "{err:?}"
        );
        assert_eq!(store.span_count(), 0);
    }
}
