//! Faults injected on demand, through real processes: each kind changes
//! the chain's answer as documented, and is named on the span it affects.
//! Faults are set at start (`FAULT_*`) or at run time (the control endpoint).

mod support;

use std::time::Duration;

use support::{Chain, ChainOptions, FlatSpan, ServiceProcess, i, s};

const OK: &str = "I'm app-a I'm app-b I'm app-c";

/// A chain whose services all have a fault control endpoint on loopback.
fn chain(options: ChainOptions) -> Chain {
    let mut options = options;
    options
        .env
        .push(("FAULT_CONTROL_ADDR", "127.0.0.1:0".to_owned()));
    Chain::start(options)
}

/// The `/faults` URL of a service, from its log.
fn faults_url(service: &ServiceProcess) -> String {
    let line = service
        .process
        .stderr_line(|l| l.contains("\"message\":\"fault control listening\""));
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    format!("http://{}/faults", json["address"].as_str().unwrap())
}

/// Set a service's faults at run time; the endpoint echoes what it took.
async fn set_faults(service: &ServiceProcess, faults: serde_json::Value) {
    let response = reqwest::Client::new()
        .put(faults_url(service))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn clear_faults(service: &ServiceProcess) {
    let response = reqwest::Client::new()
        .delete(faults_url(service))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A traceparent for trace `n`, so each request's trace can be fetched.
fn traceparent(n: u8) -> (String, String) {
    let id = format!("{n:02x}").repeat(16);
    (format!("00-{id}-eee19b7ec3c1b174-01"), id)
}

/// The spans of a chain trace from the root down, each the parent of the
/// next; the root's parent is the caller's (the test's traceparent).
fn chain_order(spans: &[FlatSpan]) -> Vec<FlatSpan> {
    let ids: Vec<&[u8]> = spans.iter().map(|s| s.span.span_id.as_slice()).collect();
    let mut next = spans
        .iter()
        .find(|s| !ids.contains(&s.span.parent_span_id.as_slice()));
    let mut ordered = Vec::new();
    while let Some(span) = next {
        ordered.push(span.clone());
        next = spans
            .iter()
            .find(|s| s.span.parent_span_id == span.span.span_id);
    }
    assert_eq!(ordered.len(), spans.len(), "not a chain: {spans:#?}");
    ordered
}

/// The `fault.injected` event of a span: its `fault.kind` and other attributes.
fn fault_event(span: &FlatSpan) -> Option<Vec<(String, support::Any)>> {
    let event = span
        .span
        .events
        .iter()
        .find(|e| e.name == "fault.injected")?;
    Some(
        event
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
            .collect(),
    )
}

fn event_attr(span: &FlatSpan, key: &str) -> Option<support::Any> {
    fault_event(span)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `FAULT_DELAY_MS` at start: app-b answers late, and its SERVER span says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_delay_set_at_start_slows_the_hop_and_is_named() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        b_env: vec![("FAULT_DELAY_MS", "300".to_owned())],
        ..Default::default()
    });
    let (header, id) = traceparent(1);
    let (code, body, took) = chain.get(&[("traceparent", &header)]).await;
    assert_eq!((code, body.as_str()), (200, OK));
    assert!(took >= Duration::from_millis(300), "{took:?}");

    let spans = chain_order(&chain.store.wait_for_trace(&id, 5).await);
    let b_server = &spans[2];
    assert_eq!(b_server.service, "app-b");
    assert_eq!(b_server.attr("fault.injected"), Some(&s("delay")));
    assert_eq!(
        event_attr(b_server, "fault.delay_ms").and_then(|v| v.value),
        Some(i(300))
    );
    // The other spans are not marked.
    for span in [&spans[0], &spans[1], &spans[3], &spans[4]] {
        assert_eq!(span.attr("fault.injected"), None, "{span:?}");
    }
}

/// Errors at run time: app-c answers the injected status, the chain
/// reports it, app-c's span names the fault; clearing restores the chain.
#[tokio::test(flavor = "multi_thread")]
async fn errors_set_at_run_time_fail_the_hop_and_clear() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let app_c = chain.c.as_ref().unwrap();
    set_faults(app_c, serde_json::json!({"error_rate": 1.0, "status": 503})).await;

    let (header, id) = traceparent(2);
    let (code, body, _) = chain.get(&[("traceparent", &header)]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a I'm app-b fault injected: 503")
    );
    let spans = chain_order(&chain.store.wait_for_trace(&id, 5).await);
    let c_server = &spans[4];
    assert_eq!(c_server.service, "app-c");
    assert_eq!(c_server.attr("http.response.status_code"), Some(&i(503)));
    assert_eq!(c_server.attr("fault.injected"), Some(&s("error")));
    assert_eq!(
        event_attr(c_server, "fault.status").and_then(|v| v.value),
        Some(i(503))
    );
    assert_eq!(spans[3].attr("error.type"), Some(&s("503")));

    clear_faults(app_c).await;
    assert_eq!(chain.get(&[]).await.1, OK);
}

/// An error rate fails about that share of requests, not all or none.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_rate_fails_a_share_of_requests() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    set_faults(
        chain.c.as_ref().unwrap(),
        serde_json::json!({"error_rate": 0.5}),
    )
    .await;
    let mut failed = 0;
    for _ in 0..60 {
        let (code, _, _) = chain.get(&[]).await;
        assert!(code == 200 || code == 502, "{code}");
        failed += usize::from(code == 502);
    }
    // Binomial(60, 0.5): outside 12..=48 with probability below 1e-5.
    assert!((12..=48).contains(&failed), "{failed} of 60 failed");
}

/// A hanging app-c: app-b gives up at its timeout, the chain answers 502,
/// and app-c's span (ended when app-b hung up) names the hang.
#[tokio::test(flavor = "multi_thread")]
async fn a_hang_is_cut_by_the_callers_timeout() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        timeout_ms: 800,
        ..Default::default()
    });
    set_faults(chain.c.as_ref().unwrap(), serde_json::json!({"hang": true})).await;
    let (header, id) = traceparent(3);
    let (code, body, took) = chain.get(&[("traceparent", &header)]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a I'm app-b Error calling Service C")
    );
    assert!(took >= Duration::from_millis(800), "{took:?}");
    let spans = chain_order(&chain.store.wait_for_trace(&id, 5).await);
    assert_eq!(spans[3].attr("error.type"), Some(&s("timeout")));
    assert_eq!(spans[4].service, "app-c");
    assert_eq!(spans[4].attr("fault.injected"), Some(&s("hang")));
}

/// app-c down: connections are refused (even a pooled one is cut), app-c
/// makes no span, and it serves again once the fault is cleared.
#[tokio::test(flavor = "multi_thread")]
async fn down_refuses_connections_until_cleared() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    // app-b now holds a keep-alive connection to app-c.
    assert_eq!(chain.get(&[]).await.1, OK);
    let app_c = chain.c.as_ref().unwrap();
    set_faults(app_c, serde_json::json!({"down": true})).await;
    let c_addr = app_c.addr;
    support::eventually("app-c refuses connections", || async move {
        std::net::TcpStream::connect(c_addr).is_err()
    })
    .await;

    for n in [4, 5] {
        let (header, id) = traceparent(n);
        let (code, body, _) = chain.get(&[("traceparent", &header)]).await;
        assert_eq!(
            (code, body.as_str()),
            (502, "I'm app-a I'm app-b Error calling Service C")
        );
        let spans = chain_order(&chain.store.wait_for_trace(&id, 4).await);
        assert_eq!(spans.len(), 4, "app-c made no span: {spans:?}");
        let error = spans[3].attr("error.type");
        // The first call may still catch app-b's pooled connection as it is
        // cut (a request error); after that, every call is refused.
        if n == 4 && error == Some(&s("request_error")) {
            continue;
        }
        assert_eq!(error, Some(&s("connection_error")));
    }

    clear_faults(app_c).await;
    support::eventually("app-c serves again", || async {
        chain.get(&[]).await.1 == OK
    })
    .await;
}

/// Broken propagation at app-b: the chain still answers, but app-c's span
/// starts a trace of its own, and app-b's CLIENT span says why.
#[tokio::test(flavor = "multi_thread")]
async fn broken_propagation_splits_the_trace_in_two() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        b_env: vec![("FAULT_NO_PROPAGATION", "true".to_owned())],
        ..Default::default()
    });
    let (header, id) = traceparent(6);
    let (code, body, _) = chain.get(&[("traceparent", &header)]).await;
    assert_eq!((code, body.as_str()), (200, OK));

    let spans = chain_order(&chain.store.wait_for_trace(&id, 4).await);
    assert_eq!(spans.len(), 4, "app-c's span is not in app-a's trace");
    assert_eq!(spans[3].attr("fault.injected"), Some(&s("no_propagation")));

    // app-c's SERVER span is the root of another trace: the store's long-poll answers as soon
    // as one matches.
    let newest = format!(
        "http://{}/tracelab/v1/search/newest?q={}&timeout=15s",
        chain.store.query, "%7B%20resource.service.name%20%3D%20%22app-c%22%20%7D"
    );
    let body: serde_json::Value = reqwest::get(&newest).await.unwrap().json().await.unwrap();
    let other = body["traceID"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace of app-c: {body}"))
        .to_owned();
    assert_ne!(other, id);
    let c_spans = chain.store.wait_for_trace(&other, 1).await;
    assert_eq!(c_spans.len(), 1);
    assert_eq!(c_spans[0].service, "app-c");
    assert!(c_spans[0].span.parent_span_id.is_empty(), "a root span");
}

/// The control endpoint refuses values out of range, and unknown fields.
#[tokio::test(flavor = "multi_thread")]
async fn the_control_endpoint_refuses_bad_settings() {
    let chain = chain(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let url = faults_url(&chain.b);
    let client = reqwest::Client::new();
    for bad in [
        serde_json::json!({"error_rate": 2.0}),
        serde_json::json!({"status": 200, "error_rate": 1.0}),
        serde_json::json!({"delay": 300}),
    ] {
        let response = client.put(&url).json(&bad).send().await.unwrap();
        assert!(
            response.status().is_client_error(),
            "{bad}: {}",
            response.status()
        );
    }
    let current: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["error_rate"], 0.0);
    assert_eq!(chain.get(&[]).await.1, OK);
}

/// Off loopback the control endpoint needs a token: without one the
/// service refuses to start; with one, callers must send it.
#[tokio::test(flavor = "multi_thread")]
async fn the_control_endpoint_needs_a_token_off_loopback() {
    let base = [
        ("BIND_ADDR", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("OTEL_TRACES_EXPORTER", "none".to_owned()),
    ];
    let mut env = base.to_vec();
    env.push(("FAULT_CONTROL_ADDR", "0.0.0.0:0".to_owned()));
    let mut refused = support::Process::start(&["serve", "app-c"], &env);
    assert_eq!(refused.wait_exit(Duration::from_secs(10)).code(), Some(64));
    assert!(
        refused
            .stderr_text()
            .contains("FAULT_CONTROL_ADDR=\"0.0.0.0:0\""),
        "{}",
        refused.stderr_text()
    );

    env.push(("FAULT_CONTROL_TOKEN", "s3cret".to_owned()));
    env.retain(|(k, _)| *k != "FAULT_CONTROL_ADDR");
    env.push(("FAULT_CONTROL_ADDR", "127.0.0.1:0".to_owned()));
    let service = ServiceProcess::start("app-c", &env);
    let url = faults_url(&service);
    let client = reqwest::Client::new();
    let body = serde_json::json!({"delay_ms": 10});
    let without = client.put(&url).json(&body).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let with = client
        .put(&url)
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
}

/// A hanging service still stops promptly: at SIGTERM the hang is lifted,
/// the request in flight is answered, and the service exits 0 well inside
/// its grace period.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_service_drains_at_sigterm() {
    let mut service = ServiceProcess::start(
        "app-c",
        &[
            ("BIND_ADDR", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "info,common::http_server=debug".to_owned()),
            ("OTEL_TRACES_EXPORTER", "none".to_owned()),
            ("SHUTDOWN_GRACE_MS", "20000".to_owned()),
            ("FAULT_HANG", "true".to_owned()),
        ],
    );
    let url = format!("http://{}/", service.addr);
    let request = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    service
        .process
        .stderr_line(|l| l.contains("request started"));
    let stopping = std::time::Instant::now();
    service.process.signal("TERM");
    assert_eq!(request.await.unwrap().unwrap(), "I'm app-c");
    let status = service.process.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}
