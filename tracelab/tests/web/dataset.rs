//! Traces with known shapes, times, counts and errors, posted to a real store as OTLP JSON, so
//! the browser tests can say exactly what each view must show.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::StoreProcess;

/// OTLP span kinds, as the JSON encoding numbers them.
pub(crate) const INTERNAL: u8 = 1;
pub(crate) const SERVER: u8 = 2;
pub(crate) const CLIENT: u8 = 3;

/// One span: its number in the trace, its parent's, where it runs, and when (µs from the
/// trace's start, so spans of microseconds sit beside spans of seconds).
pub(crate) struct Span {
    pub(crate) n: u8,
    pub(crate) parent: Option<u8>,
    pub(crate) service: &'static str,
    pub(crate) name: &'static str,
    pub(crate) kind: u8,
    pub(crate) start_us: u64,
    pub(crate) end_us: u64,
    pub(crate) error: bool,
}

pub(crate) const fn span(n: u8, parent: Option<u8>, service: &'static str, kind: u8) -> Span {
    Span {
        n,
        parent,
        service,
        name: "work",
        kind,
        start_us: 0,
        end_us: 0,
        error: false,
    }
}

impl Span {
    pub(crate) const fn at(mut self, start_us: u64, end_us: u64) -> Self {
        self.start_us = start_us;
        self.end_us = end_us;
        self
    }
    pub(crate) const fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
    pub(crate) const fn failed(mut self) -> Self {
        self.error = true;
        self
    }
}

/// Trace `n`'s id: 32 hex digits.
pub(crate) fn trace_id(n: u8) -> String {
    format!("5eed{n:028x}")
}

/// Span `s` of trace `t`: 16 hex digits.
pub(crate) fn span_id(t: u8, s: u8) -> String {
    format!("{t:02x}{s:014x}")
}

/// Unix nanoseconds `ago` before now.
pub(crate) fn unix_nanos_ago(ago: Duration) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from((now - ago).as_nanos()).unwrap()
}

/// Post trace `t`, which starts at `start_ns`, and wait until the store has all its spans.
pub(crate) async fn post(store: &StoreProcess, t: u8, start_ns: u64, spans: &[Span]) {
    let mut by_service: Vec<(&str, Vec<Value>)> = Vec::new();
    for s in spans {
        let mut json = json!({
            "traceId": trace_id(t),
            "spanId": span_id(t, s.n),
            "name": s.name,
            "kind": s.kind,
            "startTimeUnixNano": (start_ns + s.start_us * 1000).to_string(),
            "endTimeUnixNano": (start_ns + s.end_us * 1000).to_string(),
            "status": if s.error { json!({"code": 2, "message": "failed"}) } else { json!({}) },
        });
        if let Some(parent) = s.parent {
            json["parentSpanId"] = json!(span_id(t, parent));
        }
        match by_service.iter_mut().find(|(name, _)| *name == s.service) {
            Some((_, list)) => list.push(json),
            None => by_service.push((s.service, vec![json])),
        }
    }
    let resource_spans: Vec<Value> = by_service
        .into_iter()
        .map(|(service, spans)| {
            json!({
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": spans}],
            })
        })
        .collect();
    let body = json!({ "resourceSpans": resource_spans });
    let sent = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", store.otlp))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
    store.wait_for_trace(&trace_id(t), spans.len()).await;
}

/// The trace the trace-view tests read (number 5), 2 s long with a 5 µs span inside:
///
/// ```text
/// 1 root   svc-x server [0 ms, 2000 ms]
/// ├ 2      svc-x client [0, 800]            critical (runs until 3 starts)
/// ├ 3      svc-x internal [200, 700]        not critical: beside 2, ends first
/// └ 4      svc-y server [900, 1800]         critical (ends last under 1)
///   ├ 5    svc-y client [1000, 1200]        critical (ends before 6 starts)
///   │ └ 7  svc-y internal [1100, 1100.005]  critical, 5 µs
///   └ 6    svc-y client [1400, 1760]        critical
/// ```
pub(crate) fn tree_trace() -> Vec<Span> {
    let ms = 1000;
    vec![
        span(1, None, "svc-x", SERVER)
            .at(0, 2000 * ms)
            .named("GET /tree"),
        span(2, Some(1), "svc-x", CLIENT)
            .at(0, 800 * ms)
            .named("call a"),
        span(3, Some(1), "svc-x", INTERNAL)
            .at(200 * ms, 700 * ms)
            .named("side work"),
        span(4, Some(1), "svc-y", SERVER)
            .at(900 * ms, 1800 * ms)
            .named("handle"),
        span(5, Some(4), "svc-y", CLIENT)
            .at(1000 * ms, 1200 * ms)
            .named("query"),
        span(6, Some(4), "svc-y", CLIENT)
            .at(1400 * ms, 1760 * ms)
            .named("publish"),
        span(7, Some(5), "svc-y", INTERNAL)
            .at(1100 * ms, 1100 * ms + 5)
            .named("tiny"),
    ]
}

/// Five traces in one store, a minute old, except trace 4, two days old:
///
/// | trace | root service | spans | errors | duration |
/// |---|---|---|---|---|
/// | 1 | svc-x | 3 | 0 | 200 ms |
/// | 2 | svc-y | 5 | 2 | 50 ms |
/// | 3 | svc-x | 1 | 0 | 3 s |
/// | 4 | svc-x | 2 | 1 | 10 ms (two days old) |
/// | 5 | svc-x | 7 | 0 | 2 s ([`tree_trace`]) |
pub(crate) async fn load(store: &StoreProcess) -> u64 {
    let recent = unix_nanos_ago(Duration::from_secs(60));
    let old = unix_nanos_ago(Duration::from_secs(2 * 86_400));
    let ms = 1000;
    let t1 = [
        span(1, None, "svc-x", SERVER)
            .at(0, 200 * ms)
            .named("GET /one"),
        span(2, Some(1), "svc-x", CLIENT).at(10 * ms, 150 * ms),
        span(3, Some(2), "svc-y", SERVER).at(20 * ms, 140 * ms),
    ];
    let t2 = [
        span(1, None, "svc-y", SERVER)
            .at(0, 50 * ms)
            .named("GET /two")
            .failed(),
        span(2, Some(1), "svc-y", CLIENT).at(ms, 40 * ms).failed(),
        span(3, Some(1), "svc-y", INTERNAL).at(2 * ms, 3 * ms),
        span(4, Some(2), "svc-x", SERVER).at(5 * ms, 30 * ms),
        span(5, Some(2), "svc-x", INTERNAL).at(31 * ms, 35 * ms),
    ];
    let t3 = [span(1, None, "svc-x", SERVER)
        .at(0, 3000 * ms)
        .named("GET /three")];
    let t4 = [
        span(1, None, "svc-x", SERVER)
            .at(0, 10 * ms)
            .named("GET /four"),
        span(2, Some(1), "svc-x", CLIENT).at(ms, 9 * ms).failed(),
    ];
    post(store, 1, recent, &t1).await;
    post(store, 2, recent + 1_000_000, &t2).await;
    post(store, 3, recent + 2_000_000, &t3).await;
    post(store, 4, old, &t4).await;
    post(store, 5, recent + 3_000_000, &tree_trace()).await;
    old
}
