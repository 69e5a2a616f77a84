//! `tracelab metrics` against a store that holds a real chain trace.

mod support;

use std::time::Duration;

use support::{Chain, ChainOptions, Process};

/// Run the binary to completion; its exit code, stdout and stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let mut process = Process::start(args, &[]);
    let status = process.wait_exit(Duration::from_secs(15));
    (
        status.code().unwrap_or(-1),
        process.stdout_text(),
        process.stderr_text(),
    )
}

/// One request through the chain makes one span per service and hop; counted by service over
/// the last hour, each service's series adds up to its spans, drawn as a sparkline or listed.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_draws_series_of_a_real_trace() {
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    assert_eq!(chain.get(&[]).await.0, 200);
    let id = chain.store.only_trace_id().await;
    chain.store.wait_for_trace(&id, 5).await;
    let store = format!("http://{}", chain.store.query);
    let query = "{ } | count_over_time() by (resource.service.name)";

    let (code, out, err) = run(&["metrics", query, "--store", &store, "--step", "1m"]);
    assert_eq!(code, 0, "{err}");
    for service in ["app-a", "app-b", "app-c"] {
        assert!(
            out.contains(&format!("{{resource.service.name=\"{service}\"}}")),
            "{out}"
        );
    }
    assert!(out.contains('█'), "a sparkline: {out}");

    let (code, out, err) = run(&[
        "metrics", query, "--store", &store, "--step", "1m", "--table",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TIME (UTC)"), "{out}");
    // app-c has one span (its server span): exactly one sample of 1 in its series.
    let app_c: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with("{resource.service.name=\"app-c\"}"))
        .filter(|l| l.split_whitespace().nth(1) != Some("0"))
        .collect();
    assert_eq!(app_c.len(), 1, "{out}");
    assert_eq!(app_c[0].split_whitespace().nth(1), Some("1"), "{out}");

    let (code, _, err) = run(&["metrics", "{ } | rate(", "--store", &store]);
    assert_eq!(code, 1);
    assert!(
        err.contains("400") && err.contains("invalid TraceQL query"),
        "{err}"
    );
}
