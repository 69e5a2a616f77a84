//! End to end: the store and the three services as real processes, one
//! request, and the whole trace read back from the store.

mod support;

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use support::{Chain, ChainOptions, FlatSpan, Next, chain_order, i, s};

const SERVER: i32 = SpanKind::Server as i32;
const CLIENT: i32 = SpanKind::Client as i32;

fn status(span: &FlatSpan) -> i32 {
    span.span.status.as_ref().map_or(0, |s| s.code)
}

/// One GET to app-a makes exactly the seed's five spans, in one trace,
/// parent to child across three services, with stable semconv attributes.
#[tokio::test(flavor = "multi_thread")]
async fn one_request_makes_one_trace_of_five_spans_across_three_services() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 300,
        ..Default::default()
    });

    let (code, body, _) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (200, "I'm app-a I'm app-b I'm app-c")
    );

    // The shape of the whole trace lives once, in tests/shapes/chain.yaml, checked the way a
    // CI script would check it: `tracelab expect` against the store.
    let trace_id = chain.store.only_trace_id().await;
    chain.store.assert_shape("chain.yaml", &trace_id);

    // What a shape file cannot say: values that depend on this run (ports, versions).
    let spans = chain.store.wait_for_trace(&trace_id, 5).await;
    let chain_spans = chain_order(&spans);
    for (n, span) in chain_spans.iter().enumerate() {
        assert_eq!(status(span), StatusCode::Unset as i32, "span {n} status");
        assert_eq!(
            span.attr("http.request.method"),
            Some(&s("GET")),
            "span {n}"
        );
        assert_eq!(
            span.attr("http.response.status_code"),
            Some(&i(200)),
            "span {n}"
        );
        assert!(
            matches!(span.resource.get("service.instance.id"), Some(v) if *v != s("")),
            "span {n}"
        );
        assert_eq!(
            span.resource.get("service.version"),
            Some(&s(env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(
            span.resource.get("telemetry.sdk.language"),
            Some(&s("rust"))
        );
    }

    // Server spans: the attributes stable semconv asks for.
    let addrs = [chain.a.addr, chain.b.addr, chain.c.as_ref().unwrap().addr];
    for (span, addr) in [&chain_spans[0], &chain_spans[2], &chain_spans[4]]
        .into_iter()
        .zip(addrs)
    {
        assert_eq!(span.attr("url.path"), Some(&s("/")));
        assert_eq!(span.attr("url.scheme"), Some(&s("http")));
        assert_eq!(span.attr("http.route"), Some(&s("/")));
        assert_eq!(span.attr("server.address"), Some(&s("127.0.0.1")));
        assert_eq!(span.attr("server.port"), Some(&i(i64::from(addr.port()))));
        assert_eq!(span.attr("client.address"), Some(&s("127.0.0.1")));
        assert_eq!(span.attr("network.protocol.version"), Some(&s("1.1")));
    }
    assert_eq!(
        chain_spans[0].attr("user_agent.original"),
        Some(&s("tracelab-test"))
    );
    let ours = s(concat!("tracelab/", env!("CARGO_PKG_VERSION")));
    assert_eq!(chain_spans[2].attr("user_agent.original"), Some(&ours));
    assert_eq!(chain_spans[4].attr("user_agent.original"), Some(&ours));

    // Client spans: where they called.
    for (span, addr) in [&chain_spans[1], &chain_spans[3]]
        .into_iter()
        .zip([chain.b.addr, addrs[2]])
    {
        assert_eq!(
            span.attr("url.full"),
            Some(&s(&format!("http://127.0.0.1:{}/", addr.port())))
        );
        assert_eq!(span.attr("server.address"), Some(&s("127.0.0.1")));
        assert_eq!(span.attr("server.port"), Some(&i(i64::from(addr.port()))));
    }

    // app-b's SERVER span includes the wait; each parent covers its child.
    let b_server = &chain_spans[2].span;
    assert!(b_server.end_time_unix_nano - b_server.start_time_unix_nano >= 300_000_000);
    for pair in chain_spans.windows(2) {
        let (parent, child) = (&pair[0].span, &pair[1].span);
        assert!(
            parent.start_time_unix_nano <= child.start_time_unix_nano,
            "{parent:?} starts after {child:?}"
        );
        assert!(
            parent.end_time_unix_nano >= child.end_time_unix_nano,
            "{parent:?} ends before {child:?}"
        );
    }
}

/// An incoming `traceparent` is continued: same trace id, the caller's span
/// as the root's parent. Flags `03` (sent by Python SDK 1.45) are accepted.
#[tokio::test(flavor = "multi_thread")]
async fn an_incoming_traceparent_is_continued() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";

    let (code, _, _) = chain
        .get(&[("traceparent", &format!("00-{trace_id}-{parent_id}-03"))])
        .await;
    assert_eq!(code, 200);

    let spans = chain.store.wait_for_trace(trace_id, 5).await;
    let root = spans
        .iter()
        .find(|s| s.service == "app-a" && s.span.kind == SERVER)
        .unwrap();
    assert_eq!(hex::encode(&root.span.parent_span_id), parent_id);
    assert_eq!(spans.len(), 5);
}

/// A malformed `traceparent` is ignored as the W3C spec says: the request
/// is served and a new root trace begins.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_traceparent_starts_a_new_root() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let bad = "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"; // 31 hex digits

    let (code, body, _) = chain.get(&[("traceparent", bad)]).await;
    assert_eq!(
        (code, body.as_str()),
        (200, "I'm app-a I'm app-b I'm app-c")
    );

    let trace_id = chain.store.only_trace_id().await;
    assert_ne!(trace_id, "04bf92f3577b34da6a3ce929d0e0e473");
    let spans = chain.store.wait_for_trace(&trace_id, 5).await;
    let root = chain_order(&spans)[0].clone();
    assert!(root.span.parent_span_id.is_empty());
}

/// app-c down: app-a answers 502 with app-b's words, and exactly the spans
/// that saw an error carry Error statuses.
#[tokio::test(flavor = "multi_thread")]
async fn app_c_down_gives_502_and_error_statuses_on_the_right_spans() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        app_c: Next::Down,
        ..Default::default()
    });

    let (code, body, _) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a I'm app-b Error calling Service C")
    );

    // Four spans, no app-c: statuses, error types and the exception event, as the shape says.
    let trace_id = chain.store.only_trace_id().await;
    chain.store.assert_shape("chain-app-c-down.yaml", &trace_id);
    let spans = chain_order(&chain.store.wait_for_trace(&trace_id, 4).await);
    let exception = spans[3]
        .span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("an exception event");
    assert!(
        exception
            .attributes
            .iter()
            .any(|kv| kv.key == "exception.message")
    );

    // app-b's log line about it carries the trace id.
    let line = chain
        .b
        .process
        .stderr_line(|l| l.contains("Error while calling Service C"));
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["trace_id"], trace_id);
    assert_eq!(line["level"], "WARN");
}

/// app-b down: app-a answers 502 with its own words.
#[tokio::test(flavor = "multi_thread")]
async fn app_b_down_gives_502_from_app_a() {
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    chain.b.process.signal("KILL");
    chain.b.process.wait_exit(Duration::from_secs(5));

    let (code, body, _) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a Error calling Service B")
    );
}

/// app-c hanging: app-b gives up after its timeout, and the chain answers
/// 502 well within the time a hung request would take.
#[tokio::test(flavor = "multi_thread")]
async fn app_c_hanging_times_out_within_the_timeout() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        timeout_ms: 500,
        app_c: Next::Hanging,
        ..Default::default()
    });

    let (code, body, took) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a I'm app-b Error calling Service C")
    );
    assert!(
        took >= Duration::from_millis(500),
        "answered before the timeout: {took:?}"
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}");

    let trace_id = chain.store.only_trace_id().await;
    let spans = chain_order(&chain.store.wait_for_trace(&trace_id, 4).await);
    assert_eq!(spans[3].attr("error.type"), Some(&s("timeout")));
}

/// The store down: requests are unaffected (the exporter never sits on the
/// request path), and the failure is reported in the log.
#[tokio::test(flavor = "multi_thread")]
async fn the_chain_answers_normally_with_the_store_down() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 100,
        store_down: true,
        ..Default::default()
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let (code, body, took) = chain.get(&[]).await;
        assert_eq!(
            (code, body.as_str()),
            (200, "I'm app-a I'm app-b I'm app-c")
        );
        slowest = slowest.max(took);
    }
    // 100 ms wait plus loopback hops; an exporter on the path would add its
    // connect attempts and retries (around a second).
    assert!(
        slowest < Duration::from_millis(800),
        "slowest request {slowest:?}"
    );
    chain
        .a
        .process
        .stderr_line(|l| l.contains("span export failed"));
}

/// SIGTERM while a request waits inside app-b: the request completes, its
/// spans reach the store, and app-b exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_request_finishes_it_and_flushes_its_spans() {
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 1500,
        ..Default::default()
    });
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let traceparent = format!("00-{trace_id}-b7ad6b7169203331-01");

    let request = {
        let url = format!("http://{}/", chain.a.addr);
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("traceparent", traceparent)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    // app-b logs when the request arrives; it is then inside the wait.
    chain
        .b
        .process
        .stderr_line(|l| l.contains("request started") && l.contains(trace_id));
    chain.b.process.signal("TERM");

    let (code, body) = request.await.unwrap();
    assert_eq!(
        (code, body.as_str()),
        (200, "I'm app-a I'm app-b I'm app-c")
    );
    let exit = chain.b.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", chain.b.process.stderr_text());
    let spans = chain.store.wait_for_trace(trace_id, 5).await;
    assert_eq!(spans.iter().filter(|s| s.service == "app-b").count(), 2);
}

/// `OTEL_SDK_DISABLED=true` on app-b: it records nothing, yet the trace
/// context passes through it, so app-c's span joins app-a's trace as the
/// child of app-a's CLIENT span.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_sdk_passes_the_trace_context_through() {
    let b_env = vec![("OTEL_SDK_DISABLED", "true".to_owned())];
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        b_env,
        ..Default::default()
    });

    let (code, _, _) = chain.get(&[]).await;
    assert_eq!(code, 200);

    let trace_id = chain.store.only_trace_id().await;
    let spans = chain.store.wait_for_trace(&trace_id, 3).await;
    let services: Vec<_> = spans.iter().map(|s| s.service.as_str()).collect();
    assert!(!services.contains(&"app-b"), "{services:?}");
    let a_client = spans.iter().find(|s| s.span.kind == CLIENT).unwrap();
    let c_server = spans.iter().find(|s| s.service == "app-c").unwrap();
    assert_eq!(c_server.span.parent_span_id, a_client.span.span_id);
}

/// Exporting over OTLP/gRPC (the Collector's default protocol) reaches the
/// store's gRPC receiver whole.
#[tokio::test(flavor = "multi_thread")]
async fn grpc_exports_reach_the_store() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        grpc: true,
        ..Default::default()
    });
    let (code, _, _) = chain.get(&[]).await;
    assert_eq!(code, 200);
    let trace_id = chain.store.only_trace_id().await;
    chain.store.assert_shape("chain.yaml", &trace_id);
}

/// The other OTLP encodings the services can export with reach the store
/// whole: http/json, and http/protobuf compressed with gzip.
#[tokio::test(flavor = "multi_thread")]
async fn json_and_gzip_exports_reach_the_store() {
    for env in [
        vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_owned())],
        vec![("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned())],
    ] {
        let chain = Chain::start(ChainOptions {
            delay_ms: 0,
            env: env.clone(),
            ..Default::default()
        });
        let (code, _, _) = chain.get(&[]).await;
        assert_eq!(code, 200);
        let trace_id = chain.store.only_trace_id().await;
        chain.store.assert_shape("chain.yaml", &trace_id);
    }
}
