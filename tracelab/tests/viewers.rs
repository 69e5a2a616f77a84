//! The terminal viewers against a store that holds a real chain trace.

mod support;

use std::time::Duration;

use support::{Chain, ChainOptions, Next, Process, StoreProcess};

async fn chain_with_one_trace() -> (Chain, String) {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    assert_eq!(chain.get(&[]).await.0, 200);
    let id = chain.store.only_trace_id().await;
    chain.store.wait_for_trace(&id, 5).await;
    (chain, id)
}

/// Run a viewer to completion; its exit code, stdout and stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let mut process = Process::start(args, &[]);
    let status = process.wait_exit(Duration::from_secs(15));
    (
        status.code().unwrap_or(-1),
        process.stdout_text(),
        process.stderr_text(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_lists_and_show_draws_without_colour_off_a_terminal() {
    let (chain, id) = chain_with_one_trace().await;
    let store = format!("http://{}", chain.store.query);

    let (code, out, err) = run(&["traces", "--store", &store]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TRACE ID"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&id) && l.ends_with("app-a: GET /")),
        "{out}"
    );

    let (code, out, err) = run(&["show", &id, "--store", &store]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("trace {id}")) && lines[0].ends_with("5 spans"),
        "{out}"
    );
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[5].starts_with("app-c          GET /"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "colour codes off a terminal: {out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exported_trace_restores_into_another_store() {
    let (chain, id) = chain_with_one_trace().await;
    let (code, json, err) = run(&[
        "export",
        &id,
        "--store",
        &format!("http://{}", chain.store.query),
    ]);
    assert_eq!(code, 0, "{err}");

    let other = StoreProcess::start();
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", other.otlp))
        .header("Content-Type", "application/json")
        .body(json)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let original = chain.store.wait_for_trace(&id, 5).await;
    let restored = other.wait_for_trace(&id, 5).await;
    let key = |spans: &[support::FlatSpan]| {
        let mut spans: Vec<_> = spans
            .iter()
            .map(|s| (s.service.clone(), s.span.clone()))
            .collect();
        spans.sort_by(|a, b| a.1.span_id.cmp(&b.1.span_id));
        spans
    };
    assert_eq!(key(&restored), key(&original));
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_draws_new_traces_as_they_complete() {
    let (chain, old) = chain_with_one_trace().await;
    let mut tail = Process::start(
        &["tail", "--store", &format!("http://{}", chain.store.query)],
        &[],
    );

    // The trace already there is not drawn; a new one is, once complete.
    tail.stderr_line(|l| l.starts_with("following new traces"));
    let traceparent = "00-11111111111111111111111111111111-2222222222222222-01";
    assert_eq!(chain.get(&[("traceparent", traceparent)]).await.0, 200);
    let drawn = tail.stdout_line(|l| l.starts_with("trace 11111111111111111111111111111111"));
    assert!(drawn.ends_with("5 spans"), "{drawn}");
    tail.stdout_line(|l| l.starts_with("app-c          GET /"));
    assert!(!tail.stdout_text().contains(&old), "an old trace was drawn");

    tail.signal("INT");
    assert!(tail.wait_exit(Duration::from_secs(5)).success());
}

#[test]
fn viewers_explain_what_is_wrong() {
    let (code, _, err) = run(&["show", "zz", "--store", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(err.contains("\"zz\" is not a trace id"), "{err}");

    let (code, _, err) = run(&["traces", "--store", "http://127.0.0.1:9"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot reach the trace store at http://127.0.0.1:9"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn show_reports_an_unknown_trace() {
    let store = StoreProcess::start();
    let (code, _, err) = run(&["show", "abc", "--store", &format!("http://{}", store.query)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("trace 00000000000000000000000000000abc not found"),
        "{err}"
    );
}

/// A chain whose app-c is down, and the id of its one (failed) trace.
async fn chain_with_a_failed_trace() -> (Chain, String) {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        app_c: Next::Down,
        ..Default::default()
    });
    assert_eq!(chain.get(&[]).await.0, 502);
    let id = chain.store.only_trace_id().await;
    chain.store.wait_for_trace(&id, 4).await;
    (chain, id)
}

/// `traces` counts each trace's spans and error spans.
#[tokio::test(flavor = "multi_thread")]
async fn traces_shows_span_and_error_counts() {
    let (chain, id) = chain_with_a_failed_trace().await;
    let (code, out, err) = run(&[
        "traces",
        "--store",
        &format!("http://{}", chain.store.query),
    ]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    assert!(
        header.contains("SPANS") && header.contains("ERRORS"),
        "{out}"
    );
    let line = out.lines().find(|l| l.starts_with(&id)).expect("the trace");
    // Four spans (app-c made none), all four in error.
    assert!(
        line.ends_with(&format!("{:>5}  {:>6}  app-a: GET /", 4, 4)),
        "{out}"
    );
}

/// `show -v` prints, under the waterfall, each span's status message,
/// attributes and events.
#[tokio::test(flavor = "multi_thread")]
async fn show_verbose_prints_status_attributes_and_events() {
    let (chain, id) = chain_with_a_failed_trace().await;
    let store = format!("http://{}", chain.store.query);
    let (code, out, err) = run(&["show", &id, "-v", "--store", &store]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("trace {id}")), "{out}");
    assert!(out.contains("status: Error: connection_error"), "{out}");
    assert!(out.contains("http.response.status_code = 502"), "{out}");
    assert!(out.contains("server.address = \"127.0.0.1\""), "{out}");
    let is_exception = |l: &str| l.trim_start().starts_with("event +") && l.ends_with(" exception");
    assert!(out.lines().any(is_exception), "{out}");
    assert!(
        out.contains("exception.type = \"connection_error\""),
        "{out}"
    );

    // Without -v, only the waterfall.
    let (_, plain, _) = run(&["show", &id, "--store", &store]);
    assert!(!plain.lines().any(is_exception), "{plain}");
}

/// A store URL without a scheme is named as the mistake it is.
#[test]
fn a_store_url_without_a_scheme_is_named() {
    for url in ["127.0.0.1:3200", "localhost:3200"] {
        let (code, _, err) = run(&["traces", "--store", url]);
        assert_eq!(code, 1);
        assert!(
            err.contains(&format!("--store {url:?}")) && err.contains("http://"),
            "{err}"
        );
        assert!(!err.contains("is `tracelab`"), "{err}");
    }
}

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

/// A store on fixed ports, so it can come back where it was.
fn store_on(otlp: &str, query: &str) -> Process {
    let store = Process::start(
        &[
            "store",
            "--otlp-port",
            otlp,
            "--grpc-port",
            "0",
            "--query-port",
            query,
        ],
        &[],
    );
    store.stdout_line(|l| l.starts_with("query API on"));
    store
}

/// One finished root span as OTLP/JSON.
fn one_span_trace(trace_id: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "demo"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id, "spanId": "0102030405060708", "name": "work", "kind": 2,
            "startTimeUnixNano": (now - 1_000_000).to_string(),
            "endTimeUnixNano": now.to_string(),
        }]}],
    }]})
    .to_string()
}

/// `tail` survives a store restart: it says the store is gone, waits, and
/// draws the traces of the store that comes back.
#[tokio::test(flavor = "multi_thread")]
async fn tail_reconnects_when_the_store_comes_back() {
    let (otlp, query) = (free_port(), free_port());
    let mut store = store_on(&otlp, &query);
    let mut tail = Process::start(
        &["tail", "--store", &format!("http://127.0.0.1:{query}")],
        &[],
    );
    tail.stderr_line(|l| l.starts_with("following new traces"));

    store.signal("KILL");
    store.wait_exit(Duration::from_secs(5));
    tail.stderr_line(|l| l.contains("lost the store"));
    assert!(
        tail.try_wait().is_none(),
        "tail gave up: {}",
        tail.stderr_text()
    );

    let _store = store_on(&otlp, &query);
    tail.stderr_line(|l| l.contains("store is back"));
    let id = "abababababababababababababababab";
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{otlp}/v1/traces"))
        .header("Content-Type", "application/json")
        .body(one_span_trace(id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tail.stdout_line(|l| l.starts_with(&format!("trace {id}")));
    tail.signal("INT");
    assert!(tail.wait_exit(Duration::from_secs(5)).success());
}
