//! Malformed, oversized, repeated, non-ASCII and random trace-context
//! headers: never a 5xx or a panic, and invalid context is ignored as the
//! W3C spec says (generated with proptest).

use std::sync::Once;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::get;
use common::http_server::{Readiness, with_tracing_and_health};
use common::propagation::{extract, is_valid_traceparent};
use common::telemetry::ExportStats;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use proptest::prelude::*;
use tower::ServiceExt;
use tracing_subscriber::prelude::*;

/// The process-wide propagator and tracing pipeline, as a service has them.
fn install_telemetry() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        tracing_subscriber::registry().with(layer).init();
    });
}

fn app() -> Router {
    let routes = Router::new().route("/", get(|| async { "I'm app-c" }));
    with_tracing_and_health(
        routes,
        Readiness::new(),
        std::sync::Arc::new(ExportStats::default()),
    )
}

/// Bytes an HTTP header value may hold: visible ASCII, space, tab, obs-text.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![0x20u8..=0x7e, Just(b'\t'), 0x80u8..=0xff],
        0..300,
    )
}

/// Values close to a valid `traceparent`: each field right or wrong in
/// the ways that matter (length, case, zeros, version rules), so both the
/// accepted and the refused branches are exercised.
fn near_traceparent() -> impl Strategy<Value = String> {
    let version = prop_oneof![Just("00"), Just("cc"), Just("ff"), Just("0"), Just("0g")];
    let trace_id = prop_oneof![
        3 => "[0-9a-f]{32}",
        1 => "[0-9a-f]{31}",
        1 => "[0-9a-f]{33}",
        1 => "[0-9A-F]{32}",
        1 => Just("0".repeat(32)),
    ];
    let parent_id =
        prop_oneof![3 => "[0-9a-f]{16}", 1 => "[0-9a-f]{15}", 1 => Just("0".repeat(16))];
    let flags = prop_oneof![3 => "[0-9a-f]{2}", 1 => "[0-9a-f]{1,3}"];
    let rest = prop_oneof![3 => Just(""), 1 => Just("-x"), 1 => Just("x")];
    (version, trace_id, parent_id, flags, rest)
        .prop_map(|(v, t, p, f, rest)| format!("{v}-{t}-{p}-{f}{rest}"))
}

fn respond(headers: Vec<(&'static str, Vec<u8>)>) -> StatusCode {
    install_telemetry();
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            request.headers_mut().append(name, value);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(app().oneshot(request)).unwrap().status()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_trace_headers_are_served(
        traceparent in header_value(),
        tracestate in header_value(),
        baggage in header_value(),
        repeats in 1usize..3,
    ) {
        let mut headers = vec![("tracestate", tracestate), ("baggage", baggage)];
        headers.extend(std::iter::repeat_n(("traceparent", traceparent), repeats));
        prop_assert_eq!(respond(headers), StatusCode::OK);
    }

    #[test]
    fn near_valid_traceparents_are_continued_only_when_valid(value in near_traceparent()) {
        install_telemetry();
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_str(&value).unwrap());
        let cx = extract(&headers);
        let remote = cx.span().span_context().clone();
        if is_valid_traceparent(&value) {
            prop_assert!(remote.is_valid() && remote.is_remote());
            prop_assert_eq!(remote.trace_id().to_string(), value.split('-').nth(1).unwrap());
        } else {
            prop_assert!(!remote.is_valid(), "{:?} was accepted", value);
        }
        prop_assert_eq!(respond(vec![("traceparent", value.into_bytes())]), StatusCode::OK);
    }
}

/// Oversized headers (64 KiB each) are served, not failed.
#[test]
fn oversized_trace_headers_are_served() {
    let big = vec![b'a'; 64 * 1024];
    let headers = vec![
        ("traceparent", big.clone()),
        ("tracestate", big.clone()),
        ("baggage", big),
    ];
    assert_eq!(respond(headers), StatusCode::OK);
}
