//! Unit tests of the analysis: hand-built traces whose figures the tests compute themselves.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::*;
use crate::testing::{attr, request, span};

const MS: u64 = 1_000_000;

/// A span of `kind`, failed or not, with extra attributes.
fn sp(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    kind: SpanKind,
    (start, end): (u64, u64),
    error: bool,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        kind: kind as i32,
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        }),
        attributes,
        ..span(trace, id, parent, "GET /", start, end)
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// One chain trace a → b → c starting at `t`: a SERVER, a CLIENT, b SERVER, b CLIENT, c SERVER.
/// b waits `b_own` before calling c; c takes `c_ms`; c fails when `c_fails` (and the failure is
/// relayed up). Durations are in ms.
fn chain(store: &Store, trace: u8, t: u64, b_own: u64, c_ms: u64, c_fails: bool) {
    let c_end = t + (2 + b_own + c_ms) * MS;
    let status = int("http.response.status_code", if c_fails { 500 } else { 200 });
    let at = |from: u64, to: u64| (from, to);
    store
        .insert(request(
            "app-a",
            vec![
                sp(
                    trace,
                    1,
                    None,
                    SpanKind::Server,
                    at(t, c_end + 2 * MS),
                    c_fails,
                    vec![],
                ),
                sp(
                    trace,
                    2,
                    Some(1),
                    SpanKind::Client,
                    at(t + MS / 2, c_end + MS + MS / 2),
                    c_fails,
                    vec![],
                ),
            ],
        ))
        .unwrap();
    store
        .insert(request(
            "app-b",
            vec![
                sp(
                    trace,
                    3,
                    Some(2),
                    SpanKind::Server,
                    at(t + MS, c_end + MS),
                    c_fails,
                    vec![],
                ),
                sp(
                    trace,
                    4,
                    Some(3),
                    SpanKind::Client,
                    at(t + (1 + b_own) * MS, c_end + MS / 2),
                    c_fails,
                    vec![],
                ),
            ],
        ))
        .unwrap();
    store
        .insert(request(
            "app-c",
            vec![sp(
                trace,
                5,
                Some(4),
                SpanKind::Server,
                at(c_end - c_ms * MS, c_end),
                c_fails,
                vec![status],
            )],
        ))
        .unwrap();
}

/// Ten chain traces, app-c failing in three: RED per service and per edge as computed here.
#[test]
fn red_per_service_and_edge() {
    let store = Store::new(1000);
    let failing = [0u8, 3, 6];
    let mut c_durations = Vec::new();
    for n in 0..10u8 {
        let c_ms = 5 + u64::from(n) * 3;
        chain(
            &store,
            n + 1,
            u64::from(n) * 1000 * MS,
            100,
            c_ms,
            failing.contains(&n),
        );
        c_durations.push(c_ms * MS);
    }
    let stats = stats(&store, TimeWindow::ALL);
    assert_eq!(stats.traces, 10);
    let names: Vec<&str> = stats.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, ["app-a", "app-b", "app-c"]);
    let c = &stats.services[2];
    c_durations.sort_unstable();
    let ms = |n: u64| n as f64 / 1e6;
    assert_eq!((c.requests, c.errors), (10, 3));
    assert!((c.error_rate - 0.3).abs() < 1e-12);
    // Nearest rank of 10 samples: p50 is the 5th, p90 the 9th, p99 the 10th.
    assert_eq!(
        (c.p50_ms, c.p90_ms, c.p99_ms),
        (ms(c_durations[4]), ms(c_durations[8]), ms(c_durations[9]))
    );
    let edges: Vec<(&str, &str, u64, u64)> = stats
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str(), e.requests, e.errors))
        .collect();
    assert_eq!(
        edges,
        [("app-a", "app-b", 10, 3), ("app-b", "app-c", 10, 3)]
    );
}

/// Overlapping children and a child that outlives its parent: every instant counted once,
/// the later-finishing child chosen first.
#[test]
fn critical_path_handles_overlap_and_late_children() {
    let store = Store::new(100);
    store
        .insert(request(
            "svc",
            vec![
                span(1, 1, None, "root", 0, 100),
                span(1, 2, Some(1), "a", 10, 60),
                span(1, 3, Some(1), "b", 40, 90),
                span(1, 4, Some(1), "late", 95, 120),
                span(1, 5, Some(3), "b-child", 50, 70),
            ],
        ))
        .unwrap();
    let trace = store.trace(&store.recent_traces(1)[0].id).unwrap();
    let name = |i: usize| trace.spans[i].name().to_owned();
    let path: Vec<(String, u64, u64)> = critical_path(&trace)
        .iter()
        .map(|s| (name(s.span), s.start, s.end))
        .collect();
    let expect = [
        ("root", 0, 10),
        ("a", 10, 40),
        ("b", 40, 50),
        ("b-child", 50, 70),
        ("b", 70, 90),
        ("root", 90, 95),
        ("late", 95, 100),
    ];
    let expect: Vec<(String, u64, u64)> = expect
        .iter()
        .map(|(n, s, e)| (n.to_string(), *s, *e))
        .collect();
    assert_eq!(path, expect);
    assert_eq!(path.iter().map(|(_, s, e)| e - s).sum::<u64>(), 100);
}

/// A chain of 200 000 spans, each the parent of the next: no stack overflow.
#[test]
fn critical_path_of_a_deep_trace() {
    let depth = 200_000u64;
    let spans: Vec<SpanRecordInput> = (0..depth).map(|i| (i, i * 2, depth * 4 - i * 2)).collect();
    let trace = deep_trace(&spans);
    let path = critical_path(&trace);
    assert_eq!(path.iter().map(Segment::nanos).sum::<u64>(), depth * 4);
}

type SpanRecordInput = (u64, u64, u64);

fn deep_trace(spans: &[SpanRecordInput]) -> Trace {
    let to_id = |n: u64| {
        let mut id = vec![0xb0, 0, 0];
        id.extend_from_slice(&(n as u32 + 1).to_be_bytes());
        id.push(1);
        id
    };
    let otlp: Vec<Span> = spans
        .iter()
        .map(|&(i, start, end)| Span {
            span_id: to_id(i),
            parent_span_id: if i == 0 { Vec::new() } else { to_id(i - 1) },
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..span(1, 1, None, "deep", 0, 0)
        })
        .collect();
    let store = Store::new(spans.len());
    store.insert(request("svc", otlp)).unwrap();
    Arc::unwrap_or_clone(store.recent_traces(1).remove(0))
}

/// app-c slow: the slowest hop is app-c, with its share computed from the traces' times.
#[test]
fn the_slowest_hop_and_its_share() {
    let store = Store::new(1000);
    for n in 0..4u8 {
        chain(&store, n + 1, u64::from(n) * 1000 * MS, 10, 300, false);
    }
    let stats = stats(&store, TimeWindow::ALL);
    let slow = stats
        .findings
        .iter()
        .find(|f| f.kind == "slowest_hop")
        .unwrap();
    // Per trace: a root of 2 + 10 + 300 + 2 ms; app-c's own work is its 300 ms.
    let share = 300.0 * 100.0 / 314.0;
    let expect = format!(
        "app-c is the slowest hop: its own work is {share:.0} % of the end-to-end time (on \
         average 300.0 ms of 314.0 ms per trace on the critical path, over 4 traces)"
    );
    assert_eq!(slow.message, expect);
}

/// app-c failing in 3 of 10: the failing hop is app-c's SERVER span, relayed by a and b.
#[test]
fn the_failing_hop_and_who_relays_it() {
    let store = Store::new(1000);
    for n in 0..10u8 {
        chain(
            &store,
            n + 1,
            u64::from(n) * 1000 * MS,
            1,
            1,
            n % 3 == 0 && n < 9,
        );
    }
    let stats = stats(&store, TimeWindow::ALL);
    let failing = stats
        .findings
        .iter()
        .find(|f| f.kind == "failing_hop")
        .unwrap();
    assert_eq!(
        failing.message,
        "errors start in app-c: its SERVER span \"GET /\" answered 500 in 3 of 10 traces (30 %); \
         app-a and app-b only relay the failure"
    );
}

/// app-b's call carries no context: app-c's span roots a trace of its own during the call.
/// A concurrent request's app-a root during the same call is not taken for it (app-a is
/// upstream of app-b), and a call with neither answer nor peer makes no edge.
#[test]
fn broken_propagation_is_found() {
    let store = Store::new(1000);
    let address = || {
        vec![
            attr("server.address", "127.0.0.1"),
            int("server.port", 5002),
        ]
    };
    for n in 0..5u8 {
        let t = u64::from(n) * 1000 * MS;
        let trace = n * 3 + 1;
        store
            .insert(request(
                "app-a",
                vec![
                    sp(
                        trace,
                        1,
                        None,
                        SpanKind::Server,
                        (t, t + 50 * MS),
                        false,
                        vec![],
                    ),
                    sp(
                        trace,
                        2,
                        Some(1),
                        SpanKind::Client,
                        (t + MS, t + 49 * MS),
                        false,
                        vec![],
                    ),
                    // Another request arriving while app-b waits on app-c.
                    sp(
                        trace + 2,
                        1,
                        None,
                        SpanKind::Server,
                        (t + 11 * MS, t + 12 * MS),
                        false,
                        vec![],
                    ),
                ],
            ))
            .unwrap();
        store
            .insert(request(
                "app-b",
                vec![
                    sp(
                        trace,
                        3,
                        Some(2),
                        SpanKind::Server,
                        (t + 2 * MS, t + 48 * MS),
                        false,
                        vec![],
                    ),
                    sp(
                        trace,
                        4,
                        Some(3),
                        SpanKind::Client,
                        (t + 10 * MS, t + 47 * MS),
                        false,
                        address(),
                    ),
                    sp(
                        trace,
                        6,
                        Some(3),
                        SpanKind::Client,
                        (t + 3 * MS, t + 4 * MS),
                        false,
                        vec![],
                    ),
                ],
            ))
            .unwrap();
        store
            .insert(request(
                "app-c",
                vec![sp(
                    trace + 1,
                    5,
                    None,
                    SpanKind::Server,
                    (t + 13 * MS, t + 46 * MS),
                    false,
                    vec![],
                )],
            ))
            .unwrap();
    }
    let stats = stats(&store, TimeWindow::ALL);
    let broken = stats
        .findings
        .iter()
        .find(|f| f.kind == "broken_propagation")
        .unwrap();
    assert!(
        broken.message.starts_with(
            "app-b called app-c, but app-c's spans start new traces: 5 of app-b's 10 calls"
        ),
        "{}",
        broken.message
    );
    let edges: Vec<(&str, &str, u64)> = stats
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str(), e.requests))
        .collect();
    assert_eq!(
        edges,
        [("app-a", "app-b", 5), ("app-b", "127.0.0.1:5002", 5)]
    );
    // The slowest hop leaves out app-c's cut-off traces: app-a's and the stray roots only.
    let slow = stats
        .findings
        .iter()
        .find(|f| f.kind == "slowest_hop")
        .unwrap();
    assert!(slow.message.contains("over 10 traces"), "{}", slow.message);
}

/// A healthy chain makes no broken-propagation or failing-hop finding.
#[test]
fn a_healthy_chain_has_only_its_slowest_hop() {
    let store = Store::new(1000);
    for n in 0..5u8 {
        chain(&store, n + 1, u64::from(n) * 1000 * MS, 300, 1, false);
    }
    let kinds: Vec<&str> = stats(&store, TimeWindow::ALL)
        .findings
        .iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, ["slowest_hop"]);
}

/// The window leaves out older traces; `since` is parsed or refused with a clear message.
#[test]
fn the_window_and_since() {
    let store = Store::new(1000);
    chain(&store, 1, 1_000 * MS, 1, 1, false);
    chain(&store, 2, 100_000 * MS, 1, 1, true);
    let recent = stats(
        &store,
        TimeWindow {
            start: Some(50_000 * MS),
            end: None,
        },
    );
    assert_eq!((recent.traces, recent.services[2].errors), (1, 1));

    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    assert_eq!(
        route::window(Some("5m"), now).unwrap().start,
        Some(700 * 1_000_000_000)
    );
    assert_eq!(route::window(Some("all"), now).unwrap(), TimeWindow::ALL);
    assert_eq!(
        route::window(None, now).unwrap().start,
        Some(700 * 1_000_000_000)
    );
    let e = route::window(Some("soon"), now).unwrap_err();
    assert!(e.contains("invalid since \"soon\""), "{e}");
    assert_eq!(percentile(&[], 0.5), 0);
}

/// A call that timed out while its callee's callee hung: the error starts at the caller's
/// CLIENT span, and the finding says whose work the time went to.
#[test]
fn a_timeout_names_what_it_waited_on() {
    let store = Store::new(1000);
    let timeout = || vec![attr("error.type", "timeout")];
    for n in 0..2u8 {
        let t = u64::from(n) * 10_000 * MS;
        let trace = n + 1;
        store
            .insert(request(
                "app-a",
                vec![
                    sp(
                        trace,
                        1,
                        None,
                        SpanKind::Server,
                        (t, t + 3002 * MS),
                        true,
                        vec![],
                    ),
                    sp(
                        trace,
                        2,
                        Some(1),
                        SpanKind::Client,
                        (t + MS, t + 3001 * MS),
                        true,
                        timeout(),
                    ),
                ],
            ))
            .unwrap();
        store
            .insert(request(
                "app-b",
                vec![
                    sp(
                        trace,
                        3,
                        Some(2),
                        SpanKind::Server,
                        (t + 2 * MS, t + 3003 * MS),
                        false,
                        vec![],
                    ),
                    sp(
                        trace,
                        4,
                        Some(3),
                        SpanKind::Client,
                        (t + 3 * MS, t + 3003 * MS),
                        false,
                        vec![],
                    ),
                ],
            ))
            .unwrap();
        store
            .insert(request(
                "app-c",
                vec![sp(
                    trace,
                    5,
                    Some(4),
                    SpanKind::Server,
                    (t + 4 * MS, t + 3003 * MS),
                    false,
                    vec![],
                )],
            ))
            .unwrap();
    }
    let stats = stats(&store, TimeWindow::ALL);
    let failing = stats
        .findings
        .iter()
        .find(|f| f.kind == "failing_hop")
        .unwrap();
    assert_eq!(
        failing.message,
        "errors start in app-a: its calls to app-b failed (timeout) while waiting on app-c in 2 \
         of 2 traces (100 %)"
    );
}
