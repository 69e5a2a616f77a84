//! What Grafana's Traces Drilldown app and the provisioned tracelab dashboard send, replayed
//! through a real server over the TraceQL fixture (five traces, see `fixtures/dataset.rs`), with
//! the answers the fixture implies: four traces have a root (1, 2, 3, 4; trace 5 is an orphan),
//! three of those roots are app-a's and one app-b's, and the only errors are trace 2's app-c
//! SERVER and app-b CLIENT spans.

mod common;

#[path = "fixtures/dataset.rs"]
mod dataset;

use std::collections::BTreeMap;

use common::{TestApp, enc};
use serde_json::Value;

/// The query API over the TraceQL fixture (five traces, see `tests/fixtures/dataset.rs`).
async fn app_with_dataset() -> TestApp {
    TestApp::spawn_loaded(dataset::requests()).await
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, None).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// An instant metrics query over every fixture trace (1000 s … 5000 s).
async fn instant(app: &TestApp, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let body = get_json(
        app,
        &format!("/api/metrics/query?q={}&start=500&end=5500", enc(q)),
    )
    .await;
    body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = s["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let value = &l["value"];
                    let text = value
                        .get("stringValue")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| value.to_string());
                    (l["key"].as_str().unwrap().to_owned(), text)
                })
                .collect();
            (labels, s["value"].as_f64().unwrap())
        })
        .collect()
}

fn by_service(series: &[(BTreeMap<String, String>, f64)]) -> BTreeMap<String, f64> {
    series
        .iter()
        .map(|(labels, v)| (labels["resource.service.name"].clone(), *v))
        .collect()
}

/// Drilldown's trace list: every trace with a root, with the errors under it.
#[tokio::test]
async fn the_trace_list_finds_roots_and_the_errors_under_them() {
    let app = app_with_dataset().await;
    let q = "({ nestedSetParent < 0 } &>> { status = error }) || ({ nestedSetParent < 0 }) \
             | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, \
             nestedSetRight)";
    let body = get_json(&app, &format!("/api/search?q={}&limit=20&spss=10", enc(q))).await;
    let mut matched: Vec<(String, u64)> = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let id = t["traceID"].as_str().unwrap();
            let last = id[id.len() - 1..].to_owned();
            (last, t["spanSets"][0]["matched"].as_u64().unwrap())
        })
        .collect();
    matched.sort();
    assert_eq!(
        matched,
        [
            ("1".to_owned(), 1),
            ("2".to_owned(), 3),
            ("3".to_owned(), 1),
            ("4".to_owned(), 1)
        ]
    );
    // Selected nested-set values come back on the spans; roots have parent -1.
    let trace1 = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["traceID"].as_str().unwrap().ends_with('1'))
        .unwrap();
    let attributes = trace1["spanSets"][0]["spans"][0]["attributes"].to_string();
    assert!(attributes.contains("nestedSetParent"), "{attributes}");
    assert!(attributes.contains(r#""intValue":"-1""#), "{attributes}");
    app.shutdown().await.unwrap();
}

/// Rate, quantiles, histogram and compare, as Drilldown's breakdowns send them.
#[tokio::test]
async fn the_metrics_breakdowns_answer_from_the_fixture() {
    let app = app_with_dataset().await;

    let roots = instant(
        &app,
        "{ nestedSetParent < 0 } | rate() by (resource.service.name)",
    )
    .await;
    let roots = by_service(&roots);
    assert_eq!(roots.keys().collect::<Vec<_>>(), ["app-a", "app-b"]);
    assert!(
        (roots["app-a"] / roots["app-b"] - 3.0).abs() < 1e-9,
        "{roots:?}"
    );

    let quantiles = instant(
        &app,
        "{ nestedSetParent < 0 } | quantile_over_time(duration, .5, .9, .99) by (resource.service.name)",
    )
    .await;
    let mut keys: Vec<(String, String)> = quantiles
        .iter()
        .map(|(l, _)| (l["resource.service.name"].clone(), l["p"].clone()))
        .collect();
    keys.sort();
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert!(quantiles.iter().all(|(_, v)| *v > 0.0), "{quantiles:?}");

    let histogram = instant(
        &app,
        "{ status = error } | histogram_over_time(duration) with(sample=true)",
    )
    .await;
    assert!(histogram.iter().all(|(l, _)| l.contains_key("__bucket")));
    let total: f64 = histogram.iter().map(|(_, v)| v).sum();
    assert_eq!(total, 2.0, "two error spans: {histogram:?}");

    let compare = instant(&app, "{ } | compare({ status = error })").await;
    let selected: BTreeMap<String, f64> = compare
        .iter()
        .filter(|(l, _)| l.get("__meta_type").map(String::as_str) == Some("selection"))
        .filter_map(|(l, v)| Some((l.get("resource.service.name")?.clone(), *v)))
        .collect();
    assert_eq!(
        selected,
        BTreeMap::from([("app-b".to_owned(), 1.0), ("app-c".to_owned(), 1.0)])
    );

    // The health probe.
    let probe = instant(&app, "{} | rate()").await;
    assert_eq!(probe.len(), 1);
    app.shutdown().await.unwrap();
}

/// The exception view: the newest trace with an exception event.
#[tokio::test]
async fn the_exception_view_finds_the_failed_trace() {
    let app = app_with_dataset().await;
    let q =
        r#"{ event:name = "exception" } | select(event.exception.message) with(most_recent=true)"#;
    let body = get_json(&app, &format!("/api/search?q={}", enc(q))).await;
    let ids: Vec<&str> = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].ends_with('2'), "{ids:?}");
    app.shutdown().await.unwrap();
}

/// Every query of the provisioned dashboard is answered (a metrics query by the metrics
/// endpoint, any other by search), so the dashboard cannot ship a query the store refuses.
#[tokio::test]
async fn every_dashboard_query_is_answered() {
    let app = app_with_dataset().await;
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/dashboard-queries.txt"
    );
    let queries: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(queries.len() >= 4, "{queries:?}");
    for q in &queries {
        let path = if traceql::parse_metrics(q).is_ok() {
            format!(
                "/api/metrics/query_range?q={}&start=500&end=5500&step=1000s",
                enc(q)
            )
        } else {
            format!("/api/search?q={}", enc(q))
        };
        let body = get_json(&app, &path).await;
        let found = body.get("series").or_else(|| body.get("traces"));
        assert!(
            found
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()),
            "{q}: {body}"
        );
    }
    app.shutdown().await.unwrap();
}
