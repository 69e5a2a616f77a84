//! The metrics panel in a browser: a TraceQL metrics query drawn as one SVG path per series,
//! its legend from the series' labels, and the store's error text for a query it refuses.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::dataset;
use crate::support::StoreProcess;
use crate::{dump_dom, page_state, tags_with, text_after};

const DEFAULT: &str = "{ } | rate() by (resource.service.name)";

/// The store's own answer to `q` over the last hour: status and body.
async fn api(store: &StoreProcess, q: &str) -> (u16, String) {
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = format!("http://{}/api/metrics/query_range", store.query);
    let query = [
        ("q", q.to_owned()),
        ("start", (end - 3600).to_string()),
        ("end", end.to_string()),
    ];
    let response = reqwest::Client::new()
        .get(url)
        .query(&query)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn page(store: &StoreProcess, q: Option<&str>) -> String {
    let q = q.map(|q| {
        let encoded: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
        format!("&q={encoded}")
    });
    let url = format!(
        "http://{}/#/metrics?since=1h{}",
        store.query,
        q.unwrap_or_default()
    );
    dump_dom(&url)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_panel_draws_a_path_per_series_and_shows_errors() {
    let store = StoreProcess::start();
    dataset::load(&store).await;

    // The default query: one series per service that has spans in the last hour.
    let (status, body) = api(&store, DEFAULT).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let series = answer["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "svc-x and svc-y: {body}");

    let dom = page(&store, None);
    assert_eq!(
        page_state(&dom),
        ("metrics".into(), "ready".into()),
        "{dom}"
    );
    let input = tags_with(&dom, "id")
        .into_iter()
        .find(|t| t["id"] == "metrics-q")
        .unwrap();
    assert_eq!(input["value"], DEFAULT);
    let paths = tags_with(&dom, "data-series");
    let paths: Vec<_> = paths.iter().filter(|p| p.contains_key("d")).collect();
    assert_eq!(paths.len(), 2, "{dom}");
    for path in &paths {
        assert!(path["d"].starts_with('M'), "a drawn line: {path:?}");
        assert!(path["data-points"].parse::<u32>().unwrap() > 0);
    }
    let legend = &dom[dom.find("id=\"legend\"").expect("a legend")..];
    assert!(
        legend.contains("resource.service.name=\"svc-x\""),
        "{legend}"
    );
    assert!(
        legend.contains("resource.service.name=\"svc-y\""),
        "{legend}"
    );

    // Exemplars are dots linking to traces of the dataset.
    let links: Vec<_> = tags_with(&dom, "href")
        .into_iter()
        .filter(|a| a.get("class").is_some_and(|c| c == "exemplar"))
        .map(|a| a["href"].clone())
        .collect();
    assert!(!links.is_empty(), "no exemplar links: {dom}");
    for link in &links {
        let opens = (1..=5).any(|t| link.starts_with(&format!("#/trace/{}", dataset::trace_id(t))));
        assert!(opens, "{link} opens no trace of the dataset");
    }

    // The RED table from the server spans of the last hour (trace 4 is two days old):
    // svc-x served 4 (traces 1, 2, 3, 5), none failed; svc-y served 3 (1, 2, 5), one failed (2).
    let red: Vec<_> = tags_with(&dom, "data-red-service")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["data-red-service"], r["data-requests"], r["data-errors"]
            )
        })
        .collect();
    assert_eq!(red, ["svc-x 4 0", "svc-y 3 1"], "{dom}");

    // The service graph over the same traces: client spans calling server spans. svc-x calls
    // svc-y in trace 1; svc-y calls svc-x in trace 2, and that call failed.
    let edges: Vec<_> = tags_with(&dom, "data-calls")
        .iter()
        .map(|e| {
            format!(
                "{}>{} {} {}",
                e["data-from"], e["data-to"], e["data-calls"], e["data-errors"]
            )
        })
        .collect();
    assert_eq!(edges, ["svc-x>svc-y 1 0", "svc-y>svc-x 1 1"], "{dom}");

    // A query the store refuses: its 400 text, as written, and no chart.
    let bad = "{ } | no_such_function()";
    let (status, body) = api(&store, bad).await;
    assert_eq!(status, 400, "{body}");
    let dom = page(&store, Some(bad));
    assert_eq!(
        page_state(&dom),
        ("metrics".into(), "error".into()),
        "{dom}"
    );
    assert_eq!(text_after(&dom, "class=\"error-text\""), body.trim());
    assert!(!dom.contains("id=\"metrics-chart\""));
}
