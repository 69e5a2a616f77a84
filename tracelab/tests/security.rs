//! Nobody in where they don't belong: the store's token, both ways.

mod support;

use std::time::Duration;

use support::{Chain, ChainOptions, Process, StoreProcess, eventually};

const TOKEN: &str = "correct-horse-battery-staple";

/// Off loopback without a token, the store refuses to start and says why.
#[test]
fn the_store_refuses_a_public_address_without_a_token() {
    let mut store = Process::start(
        &[
            "store",
            "--bind",
            "0.0.0.0",
            "--otlp-port",
            "0",
            "--grpc-port",
            "0",
            "--query-port",
            "0",
        ],
        &[],
    );
    let status = store.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    let err = store.stderr_text();
    assert!(
        err.contains("refusing to listen on 0.0.0.0 without a token"),
        "{err}"
    );
    assert!(err.contains("TRACELAB_TOKEN"), "{err}");
}

/// With a token, ingest and queries need it, probes do not, and services
/// exporting with `OTEL_EXPORTER_OTLP_HEADERS` get their spans in.
#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_every_request_must_carry_it() {
    let store = StoreProcess::start_with(0, &[("TRACELAB_TOKEN", TOKEN.to_owned())]);
    let http = reqwest::Client::new();
    let search = format!("http://{}/api/search", store.query);
    let ingest = format!("http://{}/v1/traces", store.otlp);
    let bearer = format!("Bearer {TOKEN}");

    let answer = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(answer(http.get(&search).send().await.unwrap()), 401);
    assert_eq!(
        answer(
            http.get(&search)
                .header("Authorization", "Bearer wrong")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        answer(
            http.get(&search)
                .header("Authorization", &bearer)
                .send()
                .await
                .unwrap()
        ),
        200
    );
    let body = "{\"resourceSpans\":[]}";
    let post = |auth: Option<&str>| {
        let mut request = http
            .post(&ingest)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    assert_eq!(answer(post(None).await.unwrap()), 401);
    assert_eq!(answer(post(Some(&bearer)).await.unwrap()), 200);
    assert_eq!(
        answer(
            http.get(format!("http://{}/ready", store.query))
                .send()
                .await
                .unwrap()
        ),
        200
    );

    // The chain exports with the header; its trace arrives.
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        otlp_endpoint: Some(format!("http://{}", store.otlp)),
        env: vec![(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer%20{TOKEN}"),
        )],
        ..Default::default()
    });
    assert_eq!(chain.get(&[]).await.0, 200);
    let metrics = format!("http://{}/metrics", store.query);
    eventually("the chain's spans in the store", || async {
        let response = http
            .get(&metrics)
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap();
        response
            .text()
            .await
            .unwrap()
            .contains("tracelab_store_spans 5\n")
    })
    .await;

    // The viewers send the token from TRACELAB_TOKEN.
    let store_url = format!("http://{}", store.query);
    let mut denied = Process::start(&["traces", "--store", &store_url], &[]);
    assert_eq!(denied.wait_exit(Duration::from_secs(10)).code(), Some(1));
    assert!(
        denied.stderr_text().contains("401"),
        "{}",
        denied.stderr_text()
    );
    let mut allowed = Process::start(
        &["traces", "--store", &store_url],
        &[("TRACELAB_TOKEN", TOKEN.to_owned())],
    );
    assert!(
        allowed.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        allowed.stderr_text()
    );
    assert!(allowed.stdout_text().contains("app-a: GET /"));
}

/// Request data cannot forge or colour log lines: a request whose query
/// string and headers are full of line breaks and escape codes leaves only
/// well-formed JSON lines, none of them forged, no raw escape code.
#[tokio::test(flavor = "multi_thread")]
async fn request_data_reaches_the_logs_escaped() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let nasty = "%0d%0a%7B%22level%22:%22ERROR%22%7D%1b[31m";
    // Header values cannot carry raw control characters (the HTTP layer
    // refuses them), so what remains is forging JSON and encoded escapes.
    let response = reqwest::Client::new()
        .get(format!("http://{}/?x={nasty}", chain.a.addr))
        .header("user-agent", r#"evil {"level":"ERROR","message":"forged"}"#)
        .header("traceparent", r#"00-{"level":"ERROR"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (code, _, _) = chain.get(&[("baggage", "k=%0a%1b")]).await;
    assert_eq!(code, 200);

    chain
        .a
        .process
        .stderr_line(|l| l.contains("request started"));
    let log = chain.a.process.stderr_text();
    assert!(!log.contains('\x1b'), "a raw escape code reached the log");
    for line in log.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not one JSON object: {line:?}"));
        assert_ne!(parsed["level"], "ERROR", "a forged line: {line}");
    }
}
