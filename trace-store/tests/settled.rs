//! Our long-polls over HTTP: `/tracelab/v1/traces/{id}/settled` answers when the spans arrive
//! (not at its timeout), 504 with what arrived when time runs out, 400 for bad parameters;
//! `/tracelab/v1/search/newest` answers with the newest matching trace the same way.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, request, span, trace_id};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

fn url(app: &TestApp, query: &str) -> String {
    let id = hex::encode(trace_id(1));
    format!("{}/tracelab/v1/traces/{id}/settled?{query}", app.query_url)
}

fn spans_in(body: &[u8]) -> usize {
    let data = TracesData::decode(body).unwrap();
    data.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

#[tokio::test]
async fn the_long_poll_answers_when_the_spans_arrive() {
    let app = TestApp::spawn().await;
    let waiting = {
        let (client, url) = (app.client.clone(), url(&app, "spans=2&timeout=20s"));
        tokio::spawn(async move {
            let started = Instant::now();
            let response = client
                .get(url)
                .header("Accept", "application/protobuf")
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.headers().clone(),
                response.bytes().await.unwrap(),
                started.elapsed(),
            )
        })
    };
    app.export(&request("svc", vec![span(1, 1, None, "root", 10, 100)]))
        .await;
    app.export(&request("svc", vec![span(1, 2, Some(1), "child", 20, 90)]))
        .await;
    let (status, headers, body, took) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["tracelab-settled"], "spans");
    assert_eq!(spans_in(&body), 2);
    assert!(
        took < Duration::from_secs(10),
        "answered only after {took:?}"
    );

    // Without `spans`: once complete and quiet. JSON unless protobuf is asked for.
    let response = app
        .client
        .get(url(&app, "quiet=50ms"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["tracelab-settled"], "quiet");
    let json: serde_json::Value = response.json().await.unwrap();
    assert!(json["batches"].is_array(), "{json}");
}

#[tokio::test]
async fn the_long_poll_gives_504_with_what_arrived_at_its_timeout() {
    let app = TestApp::spawn().await;
    app.export(&request("svc", vec![span(1, 1, None, "root", 10, 100)]))
        .await;
    let started = Instant::now();
    let response = app
        .client
        .get(url(&app, "spans=5&timeout=300ms"))
        .header("Accept", "application/protobuf")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), 504);
    assert_eq!(response.headers()["tracelab-settled"], "timeout");
    assert_eq!(spans_in(&response.bytes().await.unwrap()), 1);
}

#[tokio::test]
async fn bad_parameters_get_400_with_the_reason() {
    let app = TestApp::spawn().await;
    for (query, words) in [
        ("timeout=1h", "at most 25s"),
        ("quiet=1m", "at most 10s"),
        ("spans=zero", "invalid spans"),
    ] {
        let response = app.client.get(url(&app, query)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let text = response.text().await.unwrap();
        assert!(text.contains(words), "{query}: {text}");
    }
}

/// `/tracelab/v1/search/newest`: the newest match at once, or the first to arrive, or 504.
#[tokio::test]
async fn the_newest_match_long_poll_answers_when_a_trace_matches() {
    let app = TestApp::spawn().await;
    let newest = |query: &'static str| {
        let (client, base) = (app.client.clone(), app.query_url.clone());
        async move {
            let response = client
                .get(newest_url(&base, Some(query), "20s"))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    // Nothing yet: the request waits, and answers when a matching span arrives.
    let started = Instant::now();
    let waiting = tokio::spawn(newest(r#"{ name = "wanted" }"#));
    app.export(&request("svc", vec![span(2, 1, None, "other", 10, 20)]))
        .await;
    app.export(&request("svc", vec![span(1, 1, None, "wanted", 10, 20)]))
        .await;
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["traceID"], hex::encode(trace_id(1)));
    assert!(started.elapsed() < Duration::from_secs(10));

    // Already there: the latest start wins.
    app.export(&request("svc", vec![span(3, 1, None, "wanted", 50, 60)]))
        .await;
    let (status, body) = newest(r#"{ name = "wanted" }"#).await;
    assert_eq!(
        (status.as_u16(), body["traceID"].clone()),
        (200, hex::encode(trace_id(3)).into())
    );

    let response = app
        .client
        .get(newest_url(
            &app.query_url,
            Some(r#"{ name = "never" }"#),
            "200ms",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(response.json::<serde_json::Value>().await.unwrap()["traceID"].is_null());

    for query in [Some("{ nonsense"), None] {
        let response = app
            .client
            .get(newest_url(&app.query_url, query, "1s"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query:?}");
    }
}

/// `quiet`: the newest match only once no newer one has come for that long, so a request sent
/// just before asking is not missed for the previous match.
#[tokio::test]
async fn the_newest_match_waits_for_quiet_when_asked() {
    let app = TestApp::spawn().await;
    app.export(&request("svc", vec![span(1, 1, None, "wanted", 10, 20)]))
        .await;
    let ask = {
        let (client, base) = (app.client.clone(), app.query_url.clone());
        move || {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let started = Instant::now();
                let url = newest_url(&base, Some(r#"{ name = "wanted" }"#), "20s") + "&quiet=1s";
                let response = client.get(url).send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body["traceID"].clone(), started.elapsed())
            }
        }
    };

    // A lone match is answered once it has been the newest for the quiet period.
    let (status, id, took) = ask().await;
    assert_eq!((status, id), (200, hex::encode(trace_id(1)).into()));
    assert!(took >= Duration::from_secs(1), "answered after {took:?}");

    // A newer match arriving while it waits is the answer.
    let waiting = tokio::spawn(ask());
    app.export(&request("svc", vec![span(2, 1, None, "wanted", 50, 60)]))
        .await;
    let (status, id, took) = waiting.await.unwrap();
    assert_eq!((status, id), (200, hex::encode(trace_id(2)).into()));
    assert!(took < Duration::from_secs(10), "answered after {took:?}");

    let response = app
        .client
        .get(newest_url(&app.query_url, Some("{ }"), "1s") + "&quiet=11s")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "quiet is at most 10 s");
}

fn newest_url(base: &str, query: Option<&str>, timeout: &str) -> String {
    let mut url = format!("{base}/tracelab/v1/search/newest?timeout={timeout}");
    if let Some(query) = query {
        let encoded =
            percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC);
        url.push_str(&format!("&q={encoded}"));
    }
    url
}
