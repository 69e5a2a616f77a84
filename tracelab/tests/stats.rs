//! The analysis through real processes: a lab, its scenarios injecting
//! faults, and `tracelab stats` reading what the store computed from the
//! spans. The figures are checked against the load's own table and the
//! injected fault.

mod support;

use std::time::Duration;

use support::{Process, start_lab};

/// A lab on free ports with no wait in app-b: (process, app-a, store, control).
fn lab_without_wait() -> (Process, String, String, String) {
    let (lab, ports) = start_lab(&[], &[("APP_B_DELAY_MS", "0".to_owned())]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let at = |p: &str| format!("http://127.0.0.1:{p}");
    (
        lab,
        format!("{}/", at(&ports[0])),
        at(&ports[4]),
        at(&ports[6]),
    )
}

/// Run the CLI to completion: exit code, stdout, stderr.
fn cli(args: &[&str]) -> (i32, String, String) {
    let mut process = Process::start(args, &[]);
    let status = process.wait_exit(Duration::from_secs(60));
    let code = status.code().unwrap_or(-1);
    (code, process.stdout_text(), process.stderr_text())
}

fn scenario(name: &str, requests: &str, app: &str, store: &str, lab: &str) -> String {
    let args = [
        "scenario",
        "run",
        name,
        "--requests",
        requests,
        "--url",
        app,
        "--store",
        store,
        "--lab",
        lab,
    ];
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nwhat the traces say:\n"), "{out}");
    out
}

/// The number after `name` on the load table's line that starts with it.
fn count(out: &str, name: &str) -> u64 {
    out.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l[name.len()..].split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// flaky, slow-hop and broken-propagation in one lab, one after another:
/// each scenario's analysis covers its own window and names its answer.
#[tokio::test(flavor = "multi_thread")]
async fn stats_name_each_scenarios_answer() {
    let (_lab, app, store, lab) = lab_without_wait();

    // flaky: app-c fails 30 %. Every 502 the load saw is one app-c error.
    let requests = 200;
    let out = scenario("flaky", &requests.to_string(), &app, &store, &lab);
    let failed = count(&out, "status 502");
    assert!(
        out.contains("failing_hop: errors start in app-c: its SERVER span"),
        "{out}"
    );
    assert!(
        out.contains("app-a and app-b only relay the failure"),
        "{out}"
    );
    let (code, json, err) = cli(&["stats", "--json", "--since", "all", "--store", &store]);
    assert_eq!(code, 0, "{err}");
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    let service = |name: &str| {
        stats["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap_or_else(|| panic!("{name} in {json}"))
            .clone()
    };
    let c = service("app-c");
    assert_eq!(c["requests"], requests, "{json}");
    assert_eq!(c["errors"], failed, "{json}");
    assert_eq!(service("app-a")["errors"], failed, "{json}");
    // Binomial(200, 0.3) has a standard deviation of 0.032: 0.15 is 4.6 of
    // them, exceeded with probability below 1e-5.
    let rate = c["error_rate"].as_f64().unwrap();
    assert!((rate - 0.3).abs() < 0.15, "{json}");
    assert!(
        (rate - failed as f64 / requests as f64).abs() < 1e-9,
        "{json}"
    );
    for key in ["p50_ms", "p90_ms", "p99_ms"] {
        assert!(c[key].as_f64().unwrap() >= 0.0, "{json}");
    }
    let edges: Vec<(String, String, u64, u64)> = stats["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            let n = |k: &str| e[k].as_u64().unwrap();
            (s("from"), s("to"), n("requests"), n("errors"))
        })
        .collect();
    let edge = |from: &str, to: &str| (from.to_owned(), to.to_owned(), requests, failed);
    assert_eq!(
        edges,
        [edge("app-a", "app-b"), edge("app-b", "app-c")],
        "{json}"
    );
    assert!(
        stats["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "failing_hop"),
        "{json}"
    );

    // The same calls on /metrics, under the names Grafana's service graph reads.
    let text = reqwest::get(format!("{store}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |series: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{series} in {text}"))
    };
    let edge = "{client=\"app-b\",server=\"app-c\"}";
    assert_eq!(
        sample(&format!("traces_service_graph_request_total{edge}")),
        requests
    );
    assert_eq!(
        sample(&format!("traces_service_graph_request_failed_total{edge}")),
        failed
    );

    // slow-hop: app-b +300 ms. The table puts app-b's p50 past 300 ms and app-c's far below;
    // the finding names app-b.
    let out = scenario("slow-hop", "20", &app, &store, &lab);
    assert!(
        out.contains("slowest_hop: app-b is the slowest hop"),
        "{out}"
    );
    let p50 = |service: &str| -> f64 {
        let line = out
            .lines()
            .rev()
            .find(|l| l.starts_with(service) && !l.contains('→'))
            .unwrap_or_else(|| panic!("{service} in {out}"));
        line.split_whitespace().nth(5).unwrap().parse().unwrap()
    };
    assert!(p50("app-b") >= 300.0, "{out}");
    assert!(p50("app-c") < 100.0, "{out}");

    // broken-propagation: app-c's spans root traces of their own.
    let out = scenario("broken-propagation", "20", &app, &store, &lab);
    assert!(
        out.contains("broken_propagation: app-b called app-c, but app-c's spans start new traces"),
        "{out}"
    );
}
