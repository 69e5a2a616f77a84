//! TraceQL metrics through a real server: `/api/metrics/query_range` and `/api/metrics/query`
//! over the TraceQL fixture, answers checked against counts the test makes from the fixture's
//! own requests.

mod common;

#[path = "fixtures/dataset.rs"]
mod dataset;

use std::collections::BTreeMap;

use common::{TestApp, enc};
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use serde_json::Value;
use trace_store::{IngestLimits, Store};

/// The query API over the TraceQL fixture (five traces, see `tests/fixtures/dataset.rs`).
async fn app_with_dataset() -> TestApp {
    TestApp::spawn_loaded(dataset::requests()).await
}

/// Every fixture span as (service, start ns, status code).
fn fixture_spans() -> Vec<(String, u64, i32)> {
    let mut out = Vec::new();
    for request in dataset::requests() {
        for rs in request.resource_spans {
            let service = rs
                .resource
                .unwrap()
                .attributes
                .into_iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value?.value? {
                    V::StringValue(s) => Some(s),
                    _ => None,
                })
                .unwrap();
            for scope in rs.scope_spans {
                for span in scope.spans {
                    let code = span.status.map_or(0, |s| s.code);
                    out.push((service.clone(), span.start_time_unix_nano, code));
                }
            }
        }
    }
    out
}

/// `count_over_time() by (resource.service.name)` in 1000 s steps: per service and step end,
/// the spans that started in that step; typed labels; timestamps as strings.
#[tokio::test]
async fn query_range_counts_per_service_and_step() {
    let app = app_with_dataset().await;
    let q = enc("{ } | count_over_time() by (resource.service.name)");
    let response = app
        .get(
            &format!("/api/metrics/query_range?q={q}&start=1000&end=5001&step=1000s&exemplars=0"),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();

    // Aligned range: (1000 s, 6000 s] (Tempo adds a step in front only when the start is
    // greater than the step), steps end at 2000, … 6000 s; a span counts at the first step end
    // at or after its start, and trace 1's root, starting at exactly 1000 s, is outside.
    let step: u64 = 1000 * 1_000_000_000;
    let mut want: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (service, _, _) in fixture_spans() {
        let steps = want.entry(service).or_default();
        for end_s in (2..=6).map(|i| i * 1000) {
            steps.insert((end_s * 1000).to_string(), 0.0);
        }
    }
    for (service, start, _) in fixture_spans() {
        if start <= step {
            continue;
        }
        let stamp = (start.div_ceil(step) * step / 1_000_000).to_string();
        *want.get_mut(&service).unwrap().get_mut(&stamp).unwrap() += 1.0;
    }
    let mut got: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for series in body["series"].as_array().unwrap() {
        let label = &series["labels"][0];
        assert_eq!(label["key"], "resource.service.name");
        let service = label["value"]["stringValue"].as_str().unwrap().to_owned();
        let samples = series["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["timestampMs"].as_str().unwrap().to_owned(),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect();
        assert!(
            series.get("exemplars").is_none(),
            "exemplars=0 asks for none"
        );
        got.insert(service, samples);
    }
    assert_eq!(got, want);
    assert!(body.get("status").is_none());
    app.shutdown().await.unwrap();
}

/// Exemplars name real traces: each exemplar's `trace:id` opens with `/api/traces/{id}`.
#[tokio::test]
async fn exemplars_link_to_traces_that_open() {
    let app = app_with_dataset().await;
    let q = enc(r#"{ resource.service.name = "app-c" } | rate()"#);
    let body: Value = app
        .get(
            &format!("/api/metrics/query_range?q={q}&start=1000&end=5001&step=1000"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let series = &body["series"][0];
    assert_eq!(series["labels"][0]["key"], "__name__");
    assert_eq!(series["labels"][0]["value"]["stringValue"], "rate");
    let exemplars = series["exemplars"]
        .as_array()
        .expect("exemplars by default");
    assert!(!exemplars.is_empty());
    for exemplar in exemplars {
        assert_eq!(exemplar["labels"][0]["key"], "trace:id");
        assert_eq!(exemplar["value"], "NaN");
        let id = exemplar["labels"][0]["value"]["stringValue"]
            .as_str()
            .unwrap();
        let trace = app.get(&format!("/api/traces/{id}"), None).await;
        assert_eq!(trace.status(), 200, "{id}");
    }
    app.shutdown().await.unwrap();
}

/// The instant query answers one value per series over the whole range.
#[tokio::test]
async fn instant_query_answers_one_value_per_series() {
    let app = app_with_dataset().await;
    let q = enc("{ status = error } | count_over_time() by (resource.service.name)");
    let body: Value = app
        .get(
            &format!("/api/metrics/query?q={q}&start=1000&end=6000"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    for (service, _, code) in fixture_spans() {
        if code == 2 {
            *want.entry(service).or_default() += 1.0;
        }
    }
    let got: BTreeMap<String, f64> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["labels"][0]["value"]["stringValue"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                s["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    app.shutdown().await.unwrap();
}

/// A metrics query whose spanset part requires a value no span holds skips every block, as a
/// search does: no trace is inspected and no series comes back. One that the fixture holds
/// still counts its spans.
#[tokio::test]
async fn metrics_skip_blocks_without_a_required_value() {
    let app = app_with_dataset().await;
    let query = |q: &str| {
        let url = format!("/api/metrics/query?q={}&start=1000&end=6000", enc(q));
        let app = &app;
        async move { app.get(&url, None).await.json::<Value>().await.unwrap() }
    };
    let absent = query("{ resource.service.name = \"no-such-service\" } | count_over_time()").await;
    assert_eq!(absent["series"], serde_json::json!([]), "{absent}");
    assert_eq!(absent["metrics"]["inspectedTraces"], 0, "{absent}");

    let present = query("{ resource.service.name = \"app-c\" } | count_over_time()").await;
    let want = fixture_spans()
        .iter()
        .filter(|(s, _, _)| s == "app-c")
        .count() as f64;
    assert_eq!(
        present["series"][0]["value"].as_f64(),
        Some(want),
        "{present}"
    );
    assert!(
        present["metrics"]["inspectedTraces"].as_u64() > Some(0),
        "{present}"
    );
    app.shutdown().await.unwrap();
}

/// Bad queries and parameters are 400s whose text says what is wrong.
#[tokio::test]
async fn bad_metrics_requests_are_400_text() {
    let app = app_with_dataset().await;
    let rate = enc("{ } | rate()");
    for (path, needle) in [
        (
            "/api/metrics/query_range?start=1000&end=2000".to_owned(),
            "q is required",
        ),
        (
            format!(
                "/api/metrics/query_range?q={}&start=1000&end=2000",
                enc("{ } | rate(")
            ),
            "invalid TraceQL query: parse error",
        ),
        (
            format!(
                "/api/metrics/query_range?q={}&start=1000&end=2000",
                enc("{ }")
            ),
            "not a metrics query",
        ),
        (
            format!("/api/metrics/query_range?q={rate}&start=2000&end=1000"),
            "must be after start",
        ),
        (
            format!("/api/metrics/query_range?q={rate}&start=1000&end=2000&step=0"),
            "step must be positive",
        ),
        (
            format!("/api/metrics/query_range?q={rate}&start=0&end=100000&step=1s"),
            "more than the limit",
        ),
        (
            format!("/api/metrics/query_range?q={rate}&since=forever"),
            "since",
        ),
        (
            format!("/api/metrics/query?q={rate}&start=tomorrow"),
            "start",
        ),
    ] {
        let response = app.get(&path, None).await;
        assert_eq!(response.status(), 400, "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains(needle), "{path}: {text}");
    }
    // A metrics query on search gets a 400 that says where it belongs.
    let response = app.get(&format!("/api/search?q={rate}"), None).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("metrics"));
    app.shutdown().await.unwrap();
}

/// Past the series limit the answer is partial, with Tempo's status and message.
#[tokio::test]
async fn series_limit_makes_a_partial_answer() {
    let app = TestApp::spawn_with(Store::new(5000), IngestLimits::default()).await;
    let spans = (0..1100u32)
        .map(|i| {
            let start = 1000 * 1_000_000_000 + u64::from(i);
            let mut span = common::span((i % 200) as u8 + 1, 1, None, "op", start, start + 10);
            span.span_id = (u64::from(i) + 1).to_be_bytes().to_vec();
            span.attributes
                .push(common::attr("i", V::IntValue(i64::from(i))));
            span
        })
        .collect();
    assert_eq!(
        app.export(&common::request("app-a", spans)).await.status(),
        200
    );
    let q = enc("{ } | count_over_time() by (span.i)");
    let body: Value = app
        .get(
            &format!("/api/metrics/query?q={q}&start=900&end=1100"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["series"].as_array().unwrap().len(), 1000);
    assert_eq!(body["status"], "PARTIAL");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("maximum series limit of 1000")
    );
    app.shutdown().await.unwrap();
}
