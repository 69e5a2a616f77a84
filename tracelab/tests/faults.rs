//! Faults: a misbehaving next hop, a collector that is down or hangs,
//! SIGTERM under load, SIGKILL and recovery. Nothing crashes, the answers
//! are the documented ones, and no span is lost where it need not be.

mod support;

use std::time::{Duration, Instant};

use support::{
    Chain, ChainOptions, Next, ServiceProcess, StoreProcess, chain_order, eventually, fake_server,
    free_port, open_fds, s,
};

/// One misbehaviour: what the fake app-c does, and what the chain must answer.
struct Case {
    what: &'static str,
    reply: &'static [u8],
    delay_ms: u64,
    code: u16,
    body: &'static str,
    error_type: Option<&'static str>,
}

/// app-c replaced by servers that misbehave in each documented way.
#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_next_hop_gives_the_documented_answers() {
    let error = "I'm app-a I'm app-b Error calling Service C";
    let cases = [
        Case {
            what: "answers 500 with a body",
            reply: b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\nboom",
            delay_ms: 0,
            code: 502,
            body: "I'm app-a I'm app-b boom",
            error_type: Some("500"),
        },
        Case {
            what: "answers slowly, within the timeout",
            reply: b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nI'm slow",
            delay_ms: 700,
            code: 200,
            body: "I'm app-a I'm app-b I'm slow",
            error_type: None,
        },
        Case {
            what: "answers too slowly",
            reply: b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            delay_ms: 3000,
            code: 502,
            body: error,
            error_type: Some("timeout"),
        },
        Case {
            what: "closes mid-response",
            reply: b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\npartial",
            delay_ms: 0,
            code: 502,
            body: error,
            error_type: Some("request_error"),
        },
        Case {
            what: "does not speak HTTP",
            reply: b"SSH-2.0-OpenSSH_9.2\r\n",
            delay_ms: 0,
            code: 502,
            body: error,
            error_type: Some("request_error"),
        },
    ];
    for Case {
        what,
        reply,
        delay_ms,
        code: want_code,
        body: want_body,
        error_type,
    } in cases
    {
        let fake = fake_server(reply, Duration::from_millis(delay_ms)).await;
        let chain = Chain::start(ChainOptions {
            delay_ms: 0,
            timeout_ms: 1500,
            app_c: Next::At(fake),
            ..Default::default()
        });
        let (code, body, _) = chain.get(&[]).await;
        assert_eq!(
            (code, body.as_str()),
            (want_code, want_body),
            "app-c {what}"
        );

        let trace_id = chain.store.only_trace_id().await;
        let spans = chain_order(&chain.store.wait_for_trace(&trace_id, 4).await);
        assert_eq!(
            spans[3].attr("error.type"),
            error_type.map(s).as_ref(),
            "app-c {what}"
        );
    }
}

/// Many failed calls leave no connection open behind them.
#[tokio::test(flavor = "multi_thread")]
async fn failed_calls_leak_no_connection() {
    let fake = fake_server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ncut",
        Duration::ZERO,
    )
    .await;
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        app_c: Next::At(fake),
        ..Default::default()
    });
    chain.get(&[]).await;
    let before = open_fds(chain.b.process.pid());
    for _ in 0..50 {
        assert_eq!(chain.get(&[]).await.0, 502);
    }
    let after = open_fds(chain.b.process.pid());
    assert!(
        after <= before + 2,
        "app-b held {before} descriptors, then {after} after 50 failures"
    );
}

/// The collector down at start: requests are unaffected, the outage is
/// logged once (not per batch), and spans flow once it is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_collector_down_then_back_loses_only_the_outage() {
    let port = free_port();
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..Default::default()
    });
    for _ in 0..20 {
        let (code, body, took) = chain.get(&[]).await;
        assert_eq!(
            (code, body.as_str()),
            (200, "I'm app-a I'm app-b I'm app-c")
        );
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    chain
        .a
        .process
        .stderr_line(|l| l.contains("span export failed"));

    let store = StoreProcess::start_on(port);
    let trace_id = "5b8efff798038103d269b633813fc60c";
    let (code, _, _) = chain
        .get(&[("traceparent", &format!("00-{trace_id}-eee19b7ec3c1b174-01"))])
        .await;
    assert_eq!(code, 200);
    assert_eq!(store.wait_for_trace(trace_id, 5).await.len(), 5);

    chain
        .a
        .process
        .stderr_line(|l| l.contains("span export recovered"));
    let failures = chain
        .a
        .process
        .stderr_text()
        .matches("span export failed")
        .count();
    assert_eq!(failures, 1, "the outage is reported at a bounded rate");
}

/// The collector up, then down mid-run, then back: requests never notice,
/// spans made while it is down are counted as failed, and spans made after
/// its return arrive.
#[tokio::test(flavor = "multi_thread")]
async fn a_collector_down_mid_run_and_back_loses_only_the_outage() {
    let port = free_port();
    let mut store = StoreProcess::start_on(port);
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..Default::default()
    });
    let traced = |n: u8| format!("00-{}-eee19b7ec3c1b174-01", format!("{n:02x}").repeat(16));
    assert_eq!(chain.get(&[("traceparent", &traced(1))]).await.0, 200);
    assert_eq!(store.wait_for_trace(&"01".repeat(16), 5).await.len(), 5);

    store.process.signal("KILL");
    store.process.wait_exit(Duration::from_secs(5));
    for _ in 0..10 {
        let (code, _, took) = chain.get(&[]).await;
        assert_eq!(code, 200);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    chain
        .a
        .process
        .stderr_line(|l| l.contains("span export failed"));

    let store = StoreProcess::start_on(port);
    assert_eq!(chain.get(&[("traceparent", &traced(2))]).await.0, 200);
    assert_eq!(store.wait_for_trace(&"02".repeat(16), 5).await.len(), 5);
    let metrics = reqwest::get(format!("http://{}/metrics", chain.a.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("tracelab_spans_failed_total 0\n"),
        "the outage's spans are counted as failed:\n{metrics}"
    );
}

/// A collector that accepts connections and never answers: requests are
/// unaffected, and shutdown still ends promptly (drain, then at most the
/// flush timeout), exit code 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_collector_slows_neither_requests_nor_shutdown() {
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 0,
        otlp_endpoint: Some(format!("http://{}", hanging.local_addr().unwrap())),
        env: vec![("SHUTDOWN_GRACE_MS", "2000".to_owned())],
        ..Default::default()
    });
    for _ in 0..10 {
        let (code, _, took) = chain.get(&[]).await;
        assert_eq!(code, 200);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    let stopping = Instant::now();
    chain.a.process.signal("TERM");
    let status = chain.a.process.wait_exit(Duration::from_secs(15));
    let took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{}", chain.a.process.stderr_text());
    // Drain is immediate (nothing in flight); the flush gives up after 5 s.
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    chain.a.process.stderr_line(|l| l.contains("spans flushed"));
}

/// SIGTERM while 64 requests are in flight: all complete, their spans are
/// flushed, new connections are refused, app-a exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_completes_every_accepted_request() {
    const IN_FLIGHT: usize = 64;
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 1000,
        ..Default::default()
    });
    let client = reqwest::Client::new();
    let url = format!("http://{}/", chain.a.addr);
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            })
        })
        .collect();
    // Every request is inside app-b's wait when app-b has logged it.
    eventually("all requests inside app-b's wait", || async {
        chain
            .b
            .process
            .stderr_text()
            .matches("request started")
            .count()
            >= IN_FLIGHT
    })
    .await;
    chain.a.process.signal("TERM");
    for request in requests {
        assert_eq!(
            request.await.unwrap(),
            (200, "I'm app-a I'm app-b I'm app-c".to_owned())
        );
    }
    assert_eq!(
        chain.a.process.wait_exit(Duration::from_secs(15)).code(),
        Some(0)
    );
    assert!(
        client.get(&url).send().await.is_err(),
        "a stopped app-a still accepts"
    );

    // 64 traces of 5 spans: app-a's were flushed at exit, b's and c's follow.
    let expected = format!("tracelab_store_spans {}\n", 5 * IN_FLIGHT);
    let metrics = format!("http://{}/metrics", chain.store.query);
    eventually("every span of the 64 requests in the store", || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        text.contains(&expected)
    })
    .await;
}

/// SIGKILL of app-b: app-a answers 502 in its own words, and recovers as
/// soon as app-b is back on its port.
#[tokio::test(flavor = "multi_thread")]
async fn app_a_recovers_when_a_killed_app_b_comes_back() {
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let b_port = chain.b.addr.port().to_string();
    let c_port = chain.c.as_ref().unwrap().addr.port().to_string();
    chain.b.process.signal("KILL");
    chain.b.process.wait_exit(Duration::from_secs(5));

    let (code, body, _) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (502, "I'm app-a Error calling Service B")
    );

    let _b = ServiceProcess::start(
        "app-b",
        &[
            ("BIND_ADDR", "127.0.0.1".to_owned()),
            ("PORT", b_port),
            ("SERVICE_C_HOST", "127.0.0.1".to_owned()),
            ("SERVICE_C_PORT", c_port),
            ("APP_B_DELAY_MS", "0".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("OTEL_TRACES_EXPORTER", "none".to_owned()),
        ],
    );
    let (code, body, _) = chain.get(&[]).await;
    assert_eq!(
        (code, body.as_str()),
        (200, "I'm app-a I'm app-b I'm app-c")
    );
}

/// The `exception` event of a failed call lies inside its span, not after
/// its end (a viewer would draw it outside the bar).
#[tokio::test(flavor = "multi_thread")]
async fn the_exception_event_lies_inside_its_span() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        app_c: Next::Down,
        ..Default::default()
    });
    assert_eq!(chain.get(&[]).await.0, 502);
    let trace_id = chain.store.only_trace_id().await;
    let spans = chain_order(&chain.store.wait_for_trace(&trace_id, 4).await);
    let client = &spans[3].span;
    let exception = client
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("app-b's CLIENT span has an exception event");
    assert!(
        (client.start_time_unix_nano..=client.end_time_unix_nano)
            .contains(&exception.time_unix_nano),
        "event at {}, span {}..{}",
        exception.time_unix_nano,
        client.start_time_unix_nano,
        client.end_time_unix_nano
    );
}
