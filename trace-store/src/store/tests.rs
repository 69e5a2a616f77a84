//! Unit tests for the store: validation, the bound and eviction order, snapshots, subscribers.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use prost::Message;

use super::*;
use crate::model::TimeWindow;
use crate::testing::{attr, request, span, trace_id};

fn id(n: u8) -> TraceId {
    TraceId::from_bytes(&trace_id(n)).unwrap()
}

/// Three spans per trace, all from `svc`.
fn three_span_trace(trace: u8, start: u64) -> ExportTraceServiceRequest {
    request(
        "svc",
        vec![
            span(trace, 1, None, "root", start, start + 100),
            span(trace, 2, Some(1), "child", start + 10, start + 50),
            span(trace, 3, Some(2), "grandchild", start + 20, start + 30),
        ],
    )
}

#[test]
fn insert_then_read_back_sorted_by_start() {
    let store = Store::new(100);
    // Deliberately out of order: the store sorts by start time.
    let req = request(
        "svc",
        vec![
            span(1, 2, Some(1), "late", 50, 60),
            span(1, 1, None, "early", 10, 90),
        ],
    );
    assert_eq!(store.insert(req), Ok(2));

    let trace = store.trace(&id(1)).expect("trace is stored");
    let names: Vec<&str> = trace.spans.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["early", "late"]);
    assert_eq!(trace.root().map(|s| s.name()), Some("early"));
    assert!(trace.is_complete());
    assert_eq!((trace.start_unix_nano(), trace.end_unix_nano()), (10, 90));
    assert_eq!(trace.duration(), Duration::from_nanos(80));
    assert_eq!((store.span_count(), store.trace_count()), (2, 1));
}

#[test]
fn a_bad_id_anywhere_stores_nothing() {
    let store = Store::new(100);
    let mut bad = span(1, 4, None, "bad", 0, 1);
    bad.trace_id.pop();
    let req = request(
        "svc",
        vec![
            span(1, 1, None, "ok", 0, 1),
            span(1, 2, None, "ok", 0, 1),
            span(1, 3, None, "ok", 0, 1),
            bad,
        ],
    );

    let err = store.insert(req).unwrap_err();
    assert_eq!(
        err.to_string(),
        "span 3 of scope 0 of resource 0: trace id is 15 bytes, want 16"
    );
    assert_eq!(store.span_count(), 0, "all or nothing");
}

#[test]
fn span_and_parent_ids_are_checked() {
    let store = Store::new(100);
    let mut no_span_id = span(1, 1, None, "x", 0, 1);
    no_span_id.span_id.clear();
    let err = store.insert(request("svc", vec![no_span_id])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "span 0 of scope 0 of resource 0: span id is 0 bytes, want 8"
    );

    let mut short_parent = span(1, 1, None, "x", 0, 1);
    short_parent.parent_span_id = vec![1, 2, 3];
    let err = store
        .insert(request("svc", vec![short_parent]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "span 0 of scope 0 of resource 0: parent span id is 3 bytes, want 0 or 8"
    );
}

#[test]
fn the_bound_evicts_whole_traces_oldest_first() {
    let store = Store::new(7);
    // Arrival order 1, 2; trace 2 *starts* earlier, to show eviction goes by arrival.
    store.insert(three_span_trace(1, 1_000)).unwrap();
    store.insert(three_span_trace(2, 500)).unwrap();
    assert_eq!(store.span_count(), 6);

    // Two more spans for a third trace: 8 > 7, so trace 1 (first to arrive) goes, whole.
    store
        .insert(request(
            "svc",
            vec![span(3, 1, None, "a", 0, 1), span(3, 2, Some(1), "b", 0, 1)],
        ))
        .unwrap();
    assert!(store.trace(&id(1)).is_none());
    assert_eq!(store.trace(&id(2)).map(|t| t.spans.len()), Some(3));
    assert_eq!(store.trace(&id(3)).map(|t| t.spans.len()), Some(2));
    assert_eq!((store.span_count(), store.trace_count()), (5, 2));
}

#[test]
fn adding_to_an_old_trace_keeps_its_place_in_the_eviction_order() {
    let store = Store::new(6);
    store.insert(three_span_trace(1, 0)).unwrap();
    store
        .insert(request("svc", vec![span(2, 1, None, "a", 0, 1)]))
        .unwrap();
    // A late span for trace 1 does not make it younger than trace 2.
    store
        .insert(request("svc", vec![span(1, 9, Some(1), "late", 0, 1)]))
        .unwrap();
    assert_eq!(store.span_count(), 5);

    store
        .insert(request(
            "svc",
            vec![span(3, 1, None, "a", 0, 1), span(3, 2, None, "b", 0, 1)],
        ))
        .unwrap();
    assert!(
        store.trace(&id(1)).is_none(),
        "trace 1 arrived first, so it is evicted first"
    );
    assert!(store.trace(&id(2)).is_some());
}

#[test]
fn a_request_larger_than_the_bound_is_refused() {
    let store = Store::new(2);
    store
        .insert(request("svc", vec![span(1, 1, None, "keep", 0, 1)]))
        .unwrap();
    let err = store.insert(three_span_trace(2, 0)).unwrap_err();
    assert_eq!(
        err,
        InsertError::TooManySpans {
            spans: 3,
            max_spans: 2
        }
    );
    assert_eq!(
        store.span_count(),
        1,
        "nothing was evicted for a refused request"
    );
}

#[test]
fn recent_traces_are_newest_first_by_start_time() {
    let store = Store::new(100);
    for (trace, start) in [(1, 300), (2, 100), (3, 200)] {
        store.insert(three_span_trace(trace, start)).unwrap();
    }
    let ids: Vec<TraceId> = store.recent_traces(2).into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [id(1), id(3)]);

    let found = store.search(TimeWindow::ALL, 10, |t| (t.id != id(3)).then_some(t.id));
    assert_eq!(found.results, [id(1), id(2)]);
    assert_eq!(found.inspected, 3);
}

#[test]
fn span_records_answer_questions_about_their_span() {
    let store = Store::new(100);
    let mut failing = span(1, 2, Some(1), "call", 0, 10);
    failing.kind = 3;
    failing.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "boom".into(),
    });
    failing.attributes.push(attr("http.route", "/x"));
    store
        .insert(request(
            "app-b",
            vec![span(1, 1, None, "root", 0, 10), failing],
        ))
        .unwrap();

    let trace = store.trace(&id(1)).unwrap();
    let call = &trace.spans[1];
    assert_eq!(call.service_name(), "app-b");
    assert_eq!(
        call.kind(),
        opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client
    );
    assert!(call.is_error() && !trace.spans[0].is_error());
    assert_eq!(call.parent_span_id(), Some(trace.spans[0].span_id()));
    assert!(call.attribute("http.route").is_some());
    assert!(
        call.attribute("service.name").is_none(),
        "resource attributes are not span attributes"
    );
}

#[test]
fn missing_service_name_reads_unknown_service() {
    let store = Store::new(10);
    let mut req = request("x", vec![span(1, 1, None, "a", 0, 1)]);
    req.resource_spans[0].resource = None;
    store.insert(req).unwrap();
    assert_eq!(
        store.trace(&id(1)).unwrap().spans[0].service_name(),
        "unknown_service"
    );
}

#[test]
fn completeness_needs_one_entry_span_and_every_other_parent() {
    let store = Store::new(10);
    // Two spans whose parents are missing: something has not arrived.
    store
        .insert(request(
            "svc",
            vec![
                span(1, 2, Some(1), "continued", 0, 9),
                span(1, 3, Some(7), "early child", 2, 3),
            ],
        ))
        .unwrap();
    assert!(!store.trace(&id(1)).unwrap().is_complete());
    // Span 7 arrives: one entry span left (its parent is a remote caller).
    store
        .insert(request("svc", vec![span(1, 7, Some(2), "middle", 1, 4)]))
        .unwrap();
    assert!(store.trace(&id(1)).unwrap().is_complete());
    // A lone span that started after another orphan is not an entry.
    store
        .insert(request(
            "svc",
            vec![
                span(2, 5, Some(6), "late", 5, 6),
                span(2, 8, None, "root", 1, 9),
            ],
        ))
        .unwrap();
    assert!(!store.trace(&id(2)).unwrap().is_complete());
}

#[test]
fn to_traces_data_regroups_by_resource_and_scope() {
    let store = Store::new(10);
    // Two batches from app-a with the same resource and one from app-b.
    store
        .insert(request("app-a", vec![span(1, 1, None, "a1", 0, 10)]))
        .unwrap();
    store
        .insert(request("app-b", vec![span(1, 2, Some(1), "b1", 1, 9)]))
        .unwrap();
    store
        .insert(request("app-a", vec![span(1, 3, Some(1), "a2", 2, 8)]))
        .unwrap();

    let data = store.trace(&id(1)).unwrap().to_traces_data();
    let shape: Vec<(String, Vec<String>)> = data
        .resource_spans
        .iter()
        .map(|rs| {
            let service = format!("{:?}", rs.resource.as_ref().unwrap().attributes[0].value);
            let names = rs
                .scope_spans
                .iter()
                .flat_map(|ss| ss.spans.iter().map(|s| s.name.clone()))
                .collect();
            (service, names)
        })
        .collect();
    assert_eq!(shape.len(), 2);
    assert!(shape[0].0.contains("app-a") && shape[0].1 == ["a1", "a2"]);
    assert!(shape[1].0.contains("app-b") && shape[1].1 == ["b1"]);
}

#[test]
fn subscribers_hear_each_trace_once_per_insert() {
    let store = Store::new(10);
    let mut rx = store.subscribe();
    store
        .insert(request(
            "svc",
            vec![
                span(1, 1, None, "a", 0, 1),
                span(2, 1, None, "b", 0, 1),
                span(1, 2, None, "c", 0, 1),
            ],
        ))
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), id(1));
    assert_eq!(rx.try_recv().unwrap(), id(2));
    assert!(rx.try_recv().is_err(), "trace 1 is announced once");
}

/// The walk decodes 64 spans at a time: a bad span in a later group is named by its place, and
/// nothing of the request is stored.
#[test]
fn a_bad_span_after_the_first_group_is_named_and_nothing_is_stored() {
    let mut spans: Vec<_> = (0..100).map(|i| span(1, i, None, "s", 1, 2)).collect();
    spans[70].span_id = vec![7; 3];
    let store = Store::new(1_000);
    let body = request("svc", spans).encode_to_vec();
    let err = store.insert_protobuf(body.into()).unwrap_err();
    assert!(
        matches!(
            err,
            InsertError::BadIdLength {
                resource: 0,
                scope: 0,
                span: 70,
                len: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.span_count(), 0);
}

#[test]
fn a_truncated_body_is_malformed_and_nothing_is_stored() {
    let body = request(
        "svc",
        (0..10).map(|i| span(1, i, None, "s", 1, 2)).collect(),
    )
    .encode_to_vec();
    let store = Store::new(1_000);
    let err = store.insert_protobuf(body[..body.len() - 5].to_vec().into());
    assert!(matches!(err, Err(InsertError::Malformed(_))), "{err:?}");
    assert_eq!(err.unwrap_err().reason(), RejectReason::Malformed);
    assert_eq!(store.span_count(), 0);
}

/// Text that is not UTF-8, in a name, a key or a string value, is refused as prost refuses a
/// `string` field, even where the same bytes were valid text elsewhere ("caf" is interned
/// first, then sent with a bad byte after it).
#[test]
fn text_that_is_not_utf8_is_refused_wherever_it_is() {
    for (place, at) in [("name", 3), ("key", 5), ("value", 7)] {
        let mut spans: Vec<_> = (0..10).map(|i| span(1, i, None, "caf", 1, 2)).collect();
        spans[at].name = if place == "name" { "caf\u{e9}" } else { "caf" }.into();
        spans[at].attributes = vec![match place {
            "key" => attr("caf\u{e9}", "v"),
            "value" => attr("k", "caf\u{e9}"),
            _ => attr("k", "v"),
        }];
        // "é" is C3 A9 in UTF-8; FF FE is not UTF-8 at all, and of the same length.
        let mut body = request("svc", spans).encode_to_vec();
        let at_e = body.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
        body[at_e..at_e + 2].copy_from_slice(&[0xff, 0xfe]);
        let store = Store::new(1_000);
        store
            .insert(request("svc", vec![span(2, 1, None, "caf", 1, 2)]))
            .unwrap();
        let err = store.insert_protobuf(body.into()).unwrap_err();
        assert_eq!(
            err,
            InsertError::NotUtf8 {
                resource: 0,
                scope: 0,
                span: at
            },
            "{place}"
        );
        assert_eq!(err.reason(), RejectReason::Malformed);
        assert_eq!(
            store.span_count(),
            1,
            "{place}: nothing of the request is stored"
        );
    }
}

/// A decoded request, a protobuf body and a trace read back take the same walk and agree.
#[test]
fn every_entry_point_builds_the_same_trace() {
    let spans: Vec<_> = (0..150u8)
        .map(|i| span(1 + i % 2, i, None, "s", u64::from(i), 1_000))
        .collect();
    let sent = request("svc", spans);
    let decoded = Store::new(1_000);
    decoded.insert(sent.clone()).unwrap();
    let bytes = Store::new(1_000);
    assert_eq!(bytes.insert_protobuf(sent.encode_to_vec().into()), Ok(150));
    for n in [1u8, 2] {
        let (a, b) = (decoded.trace(&id(n)).unwrap(), bytes.trace(&id(n)).unwrap());
        assert_eq!(a.to_traces_data(), b.to_traces_data());
        assert_eq!(b.spans.len(), 75);
        let read_back =
            Trace::from_protobuf(id(n), b.to_traces_data().encode_to_vec().into()).unwrap();
        assert_eq!(read_back.to_traces_data(), b.to_traces_data());
    }
}
