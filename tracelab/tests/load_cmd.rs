//! `tracelab load` against a real chain: the count it reports is the count
//! the chain served, and failures are counted as such.

mod support;

use std::time::Duration;

use support::{Chain, ChainOptions, Process, eventually};

/// Run `tracelab load` to completion: exit code, stdout, stderr.
fn load(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["load"];
    all.extend_from_slice(args);
    let mut process = Process::start(&all, &[]);
    let status = process.wait_exit(Duration::from_secs(60));
    (
        status.code().unwrap_or(-1),
        process.stdout_text(),
        process.stderr_text(),
    )
}

/// The number on the table's line `name`.
fn row(table: &str, name: &str) -> Option<u64> {
    let line = table.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// 120 requests at concurrency 6: the table says 120 answered 200, no
/// errors, four percentiles; the store holds exactly 120 traces of 5 spans.
#[tokio::test(flavor = "multi_thread")]
async fn load_sends_exactly_the_requests_asked_for() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let url = format!("http://{}/", chain.a.addr);
    let (code, out, err) = load(&["--url", &url, "--requests", "120", "--concurrency", "6"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row(&out, "requests"), Some(120), "{out}");
    assert_eq!(row(&out, "status 200"), Some(120), "{out}");
    assert_eq!(row(&out, "errors"), Some(0), "{out}");
    for p in ["p50", "p90", "p99", "max"] {
        assert!(out.lines().any(|l| l.starts_with(p)), "{out}");
    }
    // No progress bar off a terminal.
    assert!(!err.contains("requests"), "{err}");

    let metrics = format!("http://{}/metrics", chain.store.query);
    eventually("600 spans in the store", || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        text.contains("tracelab_store_spans 600\n")
    })
    .await;
}

/// At a fixed rate for a fixed time the count follows; a port where nothing
/// listens gives errors, not statuses.
#[tokio::test(flavor = "multi_thread")]
async fn load_at_a_rate_and_against_nothing() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let url = format!("http://{}/", chain.a.addr);
    let (code, out, err) = load(&["--url", &url, "--duration", "1s", "--rate", "40"]);
    assert_eq!(code, 0, "{err}");
    let sent = row(&out, "requests").unwrap();
    assert!((30..=42).contains(&sent), "{out}");
    assert_eq!(row(&out, "status 200"), Some(sent), "{out}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nothing = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let (code, out, _) = load(&["--url", &nothing, "--requests", "5"]);
    assert_eq!(code, 0);
    assert_eq!(row(&out, "errors"), Some(5), "{out}");
    assert_eq!(row(&out, "  connection"), Some(5), "{out}");
}

/// Bad bounds and remote hosts are refused before anything is sent.
#[test]
fn load_refuses_what_it_should() {
    for args in [
        &["--requests", "0"][..],
        &["--requests", "2000000"],
        &["--duration", "2h"],
        &["--rate", "0"],
        &["--concurrency", "5000"],
        &["--requests", "5", "--duration", "1s"],
    ] {
        let (code, _, err) = load(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (code, _, err) = load(&["--url", "http://192.0.2.1/", "--requests", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("--allow-remote"), "{err}");
}
