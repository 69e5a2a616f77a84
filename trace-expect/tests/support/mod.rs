//! Builders for the kit's tests: the seed's five-span chain as OTLP, with knobs to break it.

#![allow(dead_code, unreachable_pub)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use trace_store::TraceId;

/// One span to build: ids are small numbers, times are milliseconds.
#[derive(Debug, Clone)]
pub struct S {
    pub id: u8,
    pub parent: Option<u8>,
    pub service: &'static str,
    pub name: &'static str,
    pub kind: SpanKind,
    pub status: i32,
    pub attrs: Vec<KeyValue>,
    pub start_ms: u64,
    pub end_ms: u64,
    pub events: Vec<&'static str>,
}

pub fn trace_id(n: u8) -> TraceId {
    let mut id = [0xab; 16];
    id[15] = n;
    TraceId(id)
}

pub fn str_attr(key: &str, value: &str) -> KeyValue {
    attr(key, any_value::Value::StringValue(value.to_owned()))
}

pub fn int_attr(key: &str, value: i64) -> KeyValue {
    attr(key, any_value::Value::IntValue(value))
}

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// The seed's chain: app-a SERVER → app-a CLIENT → app-b SERVER → app-b CLIENT → app-c SERVER.
pub fn chain() -> Vec<S> {
    let hop = |id: u8, service, name, kind| S {
        id,
        parent: id.checked_sub(1).filter(|p| *p > 0),
        service,
        name,
        kind,
        status: 0,
        attrs: vec![
            str_attr("http.request.method", "GET"),
            int_attr("http.response.status_code", 200),
        ],
        start_ms: u64::from(id),
        end_ms: 400 - u64::from(id),
        events: Vec::new(),
    };
    vec![
        hop(1, "app-a", "GET /", SpanKind::Server),
        hop(2, "app-a", "GET", SpanKind::Client),
        hop(3, "app-b", "GET /", SpanKind::Server),
        hop(4, "app-b", "GET", SpanKind::Client),
        hop(5, "app-c", "GET /", SpanKind::Server),
    ]
}

/// One export of `spans` of trace `trace`, one resource per service.
pub fn request(trace: TraceId, spans: &[S]) -> ExportTraceServiceRequest {
    let base = 1_700_000_000_000_000_000u64;
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    for s in spans {
        let span = Span {
            trace_id: trace.0.to_vec(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, s.id],
            parent_span_id: s
                .parent
                .map(|p| vec![0, 0, 0, 0, 0, 0, 0, p])
                .unwrap_or_default(),
            name: s.name.to_owned(),
            kind: s.kind as i32,
            start_time_unix_nano: base + s.start_ms * 1_000_000,
            end_time_unix_nano: base + s.end_ms * 1_000_000,
            attributes: s.attrs.clone(),
            events: s
                .events
                .iter()
                .map(|name| Event {
                    name: (*name).to_owned(),
                    time_unix_nano: base + s.start_ms * 1_000_000,
                    ..Default::default()
                })
                .collect(),
            status: Some(Status {
                code: s.status,
                message: String::new(),
            }),
            ..Default::default()
        };
        let at = resource_spans.iter().position(|rs| {
            rs.resource.as_ref().unwrap().attributes[0] == str_attr("service.name", s.service)
        });
        let at = at.unwrap_or_else(|| {
            resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![str_attr("service.name", s.service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "test".to_owned(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                schema_url: String::new(),
            });
            resource_spans.len() - 1
        });
        resource_spans[at].scope_spans[0].spans.push(span);
    }
    ExportTraceServiceRequest { resource_spans }
}

/// The chain's shape, as a test would keep it in a file.
pub const CHAIN_SHAPE: &str = r#"
root:
  service: app-a
  name: GET /
  kind: server
  status: unset
  attributes:
    http.response.status_code: 200
    http.request.method: { regex: "^GET$" }
    error.type: { absent: true }
  duration: { min: 100ms, max: 5s }
  children:
    - service: app-a
      kind: client
      children:
        - service: app-b
          name: GET /
          kind: server
          children:
            - service: app-b
              kind: client
              children:
                - service: app-c
                  name: GET /
                  kind: server
                  status: unset
"#;
