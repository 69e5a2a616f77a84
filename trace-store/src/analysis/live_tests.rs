//! Tests of the live service-graph and span metrics: pairing across requests in either order,
//! expiry to a named peer, and counters that eviction does not lower.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::*;
use crate::store::Store;
use crate::testing::{attr, request, span};

fn kind(span: Span, kind: SpanKind, error: bool) -> Span {
    Span {
        kind: kind as i32,
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        }),
        ..span
    }
}

fn metrics(store: &Store) -> String {
    let mut out = String::new();
    store.render_live_metrics(&mut out);
    out
}

/// The value of the sample line that starts with `series` followed by a space.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Client first in one trace, server first in the other; one of the two calls fails.
#[test]
fn calls_pair_across_requests_in_either_order() {
    let store = Store::new(100);
    let client = |t| {
        kind(
            span(t, 1, None, "GET", 0, 3_000_000),
            SpanKind::Client,
            false,
        )
    };
    let server = |t, error| {
        kind(
            span(t, 2, Some(1), "GET /", 1_000_000, 2_000_000),
            SpanKind::Server,
            error,
        )
    };
    store.insert(request("app-a", vec![client(1)])).unwrap();
    store
        .insert(request("app-b", vec![server(1, false)]))
        .unwrap();
    store
        .insert(request("app-b", vec![server(2, true)]))
        .unwrap();
    store.insert(request("app-a", vec![client(2)])).unwrap();
    let text = metrics(&store);
    let edge = "{client=\"app-a\",server=\"app-b\"}";
    assert_eq!(
        value(&text, &format!("traces_service_graph_request_total{edge}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("traces_service_graph_request_failed_total{edge}")
        ),
        Some(1.0)
    );
    let server_le = |le: &str| {
        value(
            &text,
            &format!(
                "traces_service_graph_request_server_seconds_bucket{{client=\"app-a\",server=\"app-b\",le=\"{le}\"}}"
            ),
        )
    };
    // 1 ms each: in the 2 ms bucket and every one above.
    assert_eq!(
        (server_le("0.002"), server_le("+Inf")),
        (Some(2.0), Some(2.0))
    );
    assert_eq!(
        value(
            &text,
            &format!("traces_service_graph_request_server_seconds_sum{edge}")
        ),
        Some(0.002)
    );
    let calls = |status: &str| {
        value(
            &text,
            &format!(
                "traces_spanmetrics_calls_total{{service=\"app-b\",span_name=\"GET /\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(
        (calls("STATUS_CODE_UNSET"), calls("STATUS_CODE_ERROR")),
        (Some(1.0), Some(1.0))
    );
    assert!(
        text.contains("# TYPE traces_spanmetrics_latency histogram\n"),
        "{text}"
    );
    assert!(
        text.contains("traces_spanmetrics_latency_bucket{service=\"app-a\""),
        "{text}"
    );
}

/// A CLIENT span that nobody answers becomes, once it has waited, a call to the peer it names;
/// one that names none is only counted as expired.
#[test]
fn an_unanswered_call_expires_to_its_peer() {
    let store = Store::new(100);
    let named = Span {
        attributes: vec![attr("peer.service", "payments")],
        ..kind(span(1, 1, None, "GET", 0, 10), SpanKind::Client, true)
    };
    let anonymous = kind(span(2, 1, None, "GET", 0, 10), SpanKind::Client, false);
    let live = Live::default();
    let start = Instant::now();
    store
        .insert(request("app-b", vec![named, anonymous]))
        .unwrap();
    let groups: Vec<(TraceId, Vec<SpanRecord>)> = store
        .recent_traces(10)
        .iter()
        .map(|t| (t.id, t.spans.clone()))
        .collect();
    live.observe_at(&groups, start);
    let render = || {
        let mut out = String::new();
        live.inner.lock().unwrap().render(&mut out);
        out
    };
    assert!(!render().contains("server=\"payments\""));
    // Nothing expires before its time, everything after.
    live.observe_at(&[], start + PAIR_WAIT / 2);
    assert!(!render().contains("server=\"payments\""));
    live.observe_at(&[], start + PAIR_WAIT);
    let text = render();
    let edge = "{client=\"app-b\",server=\"payments\"}";
    assert_eq!(
        value(&text, &format!("traces_service_graph_request_total{edge}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("traces_service_graph_request_failed_total{edge}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "tracelab_store_service_graph_expired_total"),
        Some(2.0)
    );
}

/// A store that holds one trace at a time still counts every call it was sent.
#[test]
fn eviction_does_not_lower_the_counters() {
    let store = Store::new(2);
    for t in 1..=20u8 {
        store
            .insert(request(
                "app-a",
                vec![
                    kind(span(t, 1, None, "GET", 0, 10), SpanKind::Client, false),
                    kind(span(t, 2, Some(1), "GET /", 1, 9), SpanKind::Server, false),
                ],
            ))
            .unwrap();
    }
    assert_eq!(store.trace_count(), 1);
    let text = metrics(&store);
    let edge = "traces_service_graph_request_total{client=\"app-a\",server=\"app-a\"}";
    assert_eq!(value(&text, edge), Some(20.0), "{text}");
}

/// Past the bound on label sets, new ones are counted as dropped, not kept.
#[test]
fn label_sets_are_bounded() {
    let live = Live::default();
    let store = Store::new(MAX_SERIES + 10);
    let spans: Vec<Span> = (0..MAX_SERIES + 5)
        .map(|i| {
            let mut s = span(1, 1, None, &format!("name {i}"), 0, 1);
            s.span_id = (i as u64 + 1).to_be_bytes().to_vec();
            s
        })
        .collect();
    store.insert(request("svc", spans)).unwrap();
    let trace = store.recent_traces(1).remove(0);
    live.observe_at(&[(trace.id, trace.spans.clone())], Instant::now());
    let mut out = String::new();
    live.inner.lock().unwrap().render(&mut out);
    assert_eq!(
        value(&out, "tracelab_store_metrics_series_dropped_total"),
        Some(5.0)
    );
}

/// Halves that pair leave queue entries behind; the queue is compacted, so it stays within a
/// bound however many calls pair within the wait.
#[test]
fn the_expiry_queue_stays_bounded_when_halves_pair() {
    let calls = 2 * MAX_PENDING + 500;
    let store = Store::new(2 * calls);
    let live = Live::default();
    let now = Instant::now();
    for n in 0..calls {
        let mut trace = vec![0xab; 16];
        trace[..8].copy_from_slice(&(n as u64).to_be_bytes());
        let client = Span {
            trace_id: trace.clone(),
            ..kind(span(1, 1, None, "GET", 0, 3), SpanKind::Client, false)
        };
        let server = Span {
            trace_id: trace.clone(),
            ..kind(span(1, 2, Some(1), "GET /", 1, 2), SpanKind::Server, false)
        };
        store
            .insert(request("app-a", vec![client, server]))
            .unwrap();
        let id = crate::model::TraceId::from_bytes(&trace).unwrap();
        let stored = store.trace(&id).unwrap();
        // The client alone first, so it waits; then its server, which pairs with it.
        live.observe_at(&[(id, vec![stored.spans[0].clone()])], now);
        live.observe_at(&[(id, vec![stored.spans[1].clone()])], now);
    }
    let inner = live.inner.lock().unwrap();
    assert!(
        inner.queue.len() <= 2 * MAX_PENDING + 1,
        "{}",
        inner.queue.len()
    );
    assert!(inner.clients.is_empty() && inner.servers.is_empty());
    let requests = inner.edges.values().map(|e| e.requests).sum::<u64>();
    assert_eq!(requests, calls as u64, "every call paired and counted");
}
