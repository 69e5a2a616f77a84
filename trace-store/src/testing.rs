//! Builders for the unit tests: small OTLP spans and requests with readable ids and times.
//! (Integration tests under `tests/` have their own copy; they cannot see `cfg(test)` items.)

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// A 16-byte trace id ending in `n`.
pub(crate) fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0xc0, 0xff, 0xee];
    id.resize(15, 0);
    id.push(n);
    id
}

/// An 8-byte span id ending in `n`.
pub(crate) fn span_id(n: u8) -> Vec<u8> {
    vec![0xb0, 0, 0, 0, 0, 0, 0, n]
}

/// A span of trace `trace`, id `id`, child of `parent` (if any), from `start` to `end` ns.
pub(crate) fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    start: u64,
    end: u64,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Default::default()
    }
}

/// A string attribute.
pub(crate) fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// One request: all `spans` from `service`, under scope `test`.
pub(crate) fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
