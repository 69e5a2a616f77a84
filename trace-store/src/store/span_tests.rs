//! Tests of the compact span: its size, and that nothing OTLP can say is lost on the way in
//! and out of the store.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

use prost::Message;

use super::*;
use crate::store::{Store, Trace};
use crate::testing::{attr, request, span, trace_id};

/// The compact form stays small: this is what the memory budget per span rests on.
#[test]
fn records_and_attributes_are_small() {
    assert!(std::mem::size_of::<SpanRecord>() <= 96);
    assert_eq!(std::mem::size_of::<Attribute>(), 24);
}

fn kv(key: &str, value: Option<any_value::Value>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.map(|v| AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A span that uses every field OTLP has, and every kind of attribute value.
fn everything() -> Span {
    use any_value::Value as V;
    let mut span = span(1, 2, Some(1), "everything", 100, 250);
    span.trace_state = "vendor=1".into();
    span.flags = 0x301;
    span.kind = 99; // unknown kinds are kept as sent
    span.attributes = vec![
        kv("s", Some(V::StringValue("text".into()))),
        kv("empty", Some(V::StringValue(String::new()))),
        kv("i", Some(V::IntValue(-7))),
        kv("f", Some(V::DoubleValue(0.5))),
        kv("b", Some(V::BoolValue(true))),
        kv("bytes", Some(V::BytesValue(vec![0, 1, 2]))),
        kv(
            "array",
            Some(V::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(V::IntValue(1)),
                }],
            })),
        ),
        kv(
            "map",
            Some(V::KvlistValue(KeyValueList {
                values: vec![attr("k", "v")],
            })),
        ),
        kv("no value", None),
        KeyValue {
            key: "empty value".into(),
            value: Some(AnyValue { value: None }),
            ..Default::default()
        },
        attr("s", "a repeated key is kept too"),
    ];
    span.dropped_attributes_count = 1;
    span.events = vec![Event {
        time_unix_nano: 200,
        name: "exception".into(),
        attributes: vec![attr("exception.message", "boom")],
        dropped_attributes_count: 2,
    }];
    span.dropped_events_count = 3;
    span.links = vec![Link {
        trace_id: trace_id(9),
        span_id: vec![1; 8],
        trace_state: "x=y".into(),
        attributes: vec![attr("link", "yes")],
        dropped_attributes_count: 4,
        flags: 1,
    }];
    span.dropped_links_count = 5;
    span.status = Some(Status {
        message: "it broke".into(),
        code: 2,
    });
    span
}

#[test]
fn a_stored_trace_comes_back_exactly_as_sent() {
    let mut sent = request("svc", vec![span(1, 1, None, "root", 0, 300), everything()]);
    sent.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
    sent.resource_spans[0].scope_spans[0].schema_url = "scope-schema".into();
    // An explicit `Unset` status is not the same as no status.
    sent.resource_spans[0].scope_spans[0].spans[0].status = Some(Status::default());
    let store = Store::new(10);
    store.insert(sent.clone()).unwrap();

    let id = TraceId::from_bytes(&trace_id(1)).unwrap();
    let back = store.trace(&id).unwrap().to_traces_data();
    assert_eq!(back.resource_spans, sent.resource_spans);

    // And the client-side inverse gives the same records.
    let again = Trace::from_protobuf(id, back.encode_to_vec().into()).unwrap();
    assert_eq!(again.to_traces_data().resource_spans, sent.resource_spans);
}

#[test]
fn records_answer_from_the_compact_form() {
    let record = Trace::from_protobuf(
        TraceId::from_bytes(&trace_id(1)).unwrap(),
        request("svc", vec![everything()]).encode_to_vec().into(),
    )
    .unwrap()
    .spans
    .remove(0);
    assert_eq!(record.name(), "everything");
    assert_eq!(record.kind(), SpanKind::Unspecified);
    assert_eq!(record.kind_number(), 99);
    assert!(record.is_error());
    assert_eq!(record.status_message(), "it broke");
    assert_eq!(record.parent_span_id_bytes().len(), 8);
    assert_eq!(record.attribute("s"), Some(&AttrValue::Str("text".into())));
    assert_eq!(record.attribute("i"), Some(&AttrValue::Int(-7)));
    assert_eq!(record.attribute("no value"), Some(&AttrValue::Other(None)));
    assert_eq!(record.attribute("missing"), None);
    assert_eq!(record.events()[0].name, "exception");
    assert_eq!(record.links().len(), 1);
    assert_eq!(record.duration(), Duration::from_nanos(150));
    assert_eq!(record.service_name(), "svc");
}

#[test]
fn spans_without_rare_fields_carry_no_box() {
    let store = Store::new(10);
    store
        .insert(request("svc", vec![span(1, 1, None, "plain", 0, 1)]))
        .unwrap();
    let trace = store
        .trace(&TraceId::from_bytes(&trace_id(1)).unwrap())
        .unwrap();
    assert!(trace.spans[0].rare.is_none());
    assert!(trace.spans[0].parent_span_id_bytes().is_empty());
}

/// Unique strings of evicted spans leave the interner; shared ones stay shared.
#[test]
fn eviction_lets_the_interner_forget_unused_strings() {
    let store = Store::new(1_000);
    for n in 0..20_000u32 {
        let mut s = span((n % 250) as u8, 1, None, "GET /", 0, 1);
        s.trace_id[..4].copy_from_slice(&n.to_be_bytes());
        s.attributes = vec![attr("request.id", &format!("req-{n}"))];
        store
            .insert(ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![s],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })
            .unwrap();
    }
    assert_eq!(store.span_count(), 1_000);
    let (strings, sources, lists) = store.interned();
    // 20,000 unique values went in; 1,000 are live. Sweeps keep the table under the size at
    // which it is next swept.
    assert!(
        strings < super::super::interner::MIN_SWEEP,
        "{strings} strings"
    );
    assert!(strings >= 1_000, "{strings} strings");
    assert_eq!(
        sources, 1,
        "every request had the same (empty) resource and scope"
    );
    assert!(
        lists < super::super::interner::MIN_SWEEP,
        "{lists} attribute lists"
    );
    assert!(lists >= 1_000, "{lists} attribute lists");
}
