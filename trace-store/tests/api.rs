//! The Tempo query API against a real server: health endpoints, trace by id in Tempo's JSON and
//! as protobuf, search, and the errors Grafana would show.

mod common;

use common::{TestApp, attr, request, span};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde_json::{Value, json};

/// The reference's §2.5 example trace, sent as OTLP/JSON the way app-b's exporter would.
const PRICE_TRACE: &str = r#"{"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app-b"}},
                            {"key":"test.label","value":{"stringValue":"span-events"}}]},
  "scopeSpans":[{"scope":{"name":"shop-http","version":"1.2.0"},"spans":[
    {"traceId":"c0ffee00000000000000000000000006","spanId":"b000000000000601","parentSpanId":"",
     "name":"GET /api/price","kind":2,"startTimeUnixNano":"1705313100000000000","endTimeUnixNano":"1705313100120000000",
     "attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],
     "events":[{"timeUnixNano":"1705313100005000000","name":"cache.miss",
                "attributes":[{"key":"cache.key","value":{"stringValue":"price:42"}}]}],
     "status":{}},
    {"traceId":"c0ffee00000000000000000000000006","spanId":"b000000000000602","parentSpanId":"b000000000000601",
     "name":"redis GET","kind":3,"startTimeUnixNano":"1705313100010000000","endTimeUnixNano":"1705313100090000000"}
  ]}]}]}"#;

async fn app_with_price_trace() -> TestApp {
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/traces", "application/json", false, PRICE_TRACE.into())
        .await;
    assert_eq!(response.status(), 200);
    app
}

#[tokio::test]
async fn echo_and_ready_answer_like_tempo() {
    let app = TestApp::spawn().await;
    for (path, body) in [("/api/echo", "echo\n"), ("/ready", "ready\n")] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.text().await.unwrap(), body);
    }
    let response = app.get("/api/nope", None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await.unwrap(), "404 page not found\n");
    app.shutdown().await.unwrap();
}

/// Exactly the JSON of the Tempo reference: base64 ids, enum names, int64 as strings, empty
/// fields left out, `"status":{}` for unset status, keys in proto order.
#[tokio::test]
async fn trace_by_id_json_has_tempos_exact_shape() {
    let app = app_with_price_trace().await;
    let response = app
        .get("/api/traces/c0ffee00000000000000000000000006", None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();

    let want = json!({"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app-b"}},
      {"key":"test.label","value":{"stringValue":"span-events"}}]},
     "scopeSpans":[{"scope":{"name":"shop-http","version":"1.2.0"},"spans":[
      {"traceId":"wP/uAAAAAAAAAAAAAAAABg==","spanId":"sAAAAAAABgE=","name":"GET /api/price","kind":"SPAN_KIND_SERVER",
       "startTimeUnixNano":"1705313100000000000","endTimeUnixNano":"1705313100120000000",
       "attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],
       "events":[{"timeUnixNano":"1705313100005000000","name":"cache.miss",
                  "attributes":[{"key":"cache.key","value":{"stringValue":"price:42"}}]}],
       "status":{}},
      {"traceId":"wP/uAAAAAAAAAAAAAAAABg==","spanId":"sAAAAAAABgI=","parentSpanId":"sAAAAAAABgE=","name":"redis GET",
       "kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"1705313100010000000","endTimeUnixNano":"1705313100090000000","status":{}}]}]}]});
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), want);
    let first_span = r#"{"traceId":"wP/uAAAAAAAAAAAAAAAABg==","spanId":"sAAAAAAABgE=","name":"GET /api/price","kind":"SPAN_KIND_SERVER","startTimeUnixNano""#;
    assert!(
        text.contains(first_span),
        "fields come in proto order: {text}"
    );
    app.shutdown().await.unwrap();
}

/// Tempo's URL id rules: case-insensitive, short ids left-padded (`6` ≠ this trace, full id does).
#[tokio::test]
async fn trace_ids_in_urls_follow_tempos_rules() {
    let app = app_with_price_trace().await;
    assert_eq!(
        app.get("/api/traces/C0FFEE00000000000000000000000006", None)
            .await
            .status(),
        200
    );

    let unknown = app.get("/api/traces/6", None).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.text().await.unwrap(),
        "",
        "Tempo's 404 has an empty body"
    );

    let bad = app.get("/api/traces/g0ffee", None).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.text().await.unwrap(),
        "trace IDs can only contain hex characters: invalid character 'g' at position 1"
    );

    let long = app
        .get("/api/traces/c0ffee000000000000000000000000061", None)
        .await;
    assert_eq!(
        (long.status().as_u16(), long.text().await.unwrap().as_str()),
        (400, "trace IDs can't be larger than 128 bits")
    );

    let window = app
        .get(
            "/api/traces/c0ffee00000000000000000000000006?start=20&end=10",
            None,
        )
        .await;
    assert_eq!(
        window.text().await.unwrap(),
        "http parameter start must be before end. received start=20 end=10"
    );
    app.shutdown().await.unwrap();
}

/// `Accept: application/protobuf` (what Grafana sends) gives `TracesData` bytes that decode back
/// to exactly the spans stored.
#[tokio::test]
async fn trace_by_id_protobuf_round_trips() {
    let app = TestApp::spawn().await;
    let mut root = span(7, 1, None, "GET /checkout", 100, 900);
    root.attributes.push(attr(
        "http.response.status_code",
        opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(200),
    ));
    let sent = request(
        "app-a",
        vec![root, span(7, 2, Some(1), "call app-b", 200, 800)],
    );
    app.export(&sent).await;

    let response = app
        .get(
            "/api/traces/c0ffee00000000000000000000000007",
            Some("application/protobuf"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/protobuf");
    let got = TracesData::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        got,
        TracesData {
            resource_spans: sent.resource_spans
        }
    );
    app.shutdown().await.unwrap();
}

/// `GET /api/search` lists traces newest first in Tempo's shape.
#[tokio::test]
async fn search_lists_recent_traces() {
    let app = app_with_price_trace().await;
    // An older trace of which only a child has arrived.
    app.export(&request(
        "app-c",
        vec![span(
            9,
            3,
            Some(2),
            "SELECT",
            1_705_313_000_000_000_000,
            1_705_313_000_004_000_000,
        )],
    ))
    .await;

    let response = app.get("/api/search", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "traces": [
                {"traceID": "c0ffee00000000000000000000000006", "rootServiceName": "app-b", "rootTraceName": "GET /api/price",
                 "startTimeUnixNano": "1705313100000000000", "durationMs": 120},
                {"traceID": "c0ffee00000000000000000000000009", "rootServiceName": "<root span not yet received>",
                 "startTimeUnixNano": "1705313000000000000", "durationMs": 4}
            ],
            "metrics": {"inspectedTraces": 2}
        })
    );

    let filtered: Value = app
        .get("/api/search?q=%7B%7D&limit=1&minDuration=100ms", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["traces"].as_array().map(Vec::len), Some(1));
    assert_eq!(filtered["traces"][0]["rootServiceName"], "app-b");

    let by_tag: Value = app
        .get("/api/search?tags=service.name%3Dapp-c", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_tag["traces"][0]["traceID"],
        "c0ffee00000000000000000000000009"
    );

    let window: Value = app
        .get("/api/search?start=1705313050&end=1705313200", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(window["traces"].as_array().map(Vec::len), Some(1));
    app.shutdown().await.unwrap();
}

/// No match: `traces` is left out entirely, as jsonpb does with an empty list.
#[tokio::test]
async fn search_without_results_omits_traces() {
    let app = app_with_price_trace().await;
    let body: Value = app
        .get("/api/search?maxDuration=1ms", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"metrics": {"inspectedTraces": 1}}));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn search_parameter_errors_are_400_text() {
    let app = TestApp::spawn().await;
    let cases = [
        ("limit=0", "invalid limit: must be a positive number"),
        ("limit=262145", "limit 262145 exceeds max limit 262144"),
        (
            "start=10&end=10",
            "http parameter start must be before end. received start=10 end=10",
        ),
        (
            "q=%7B%20status%20%3D%20error%20%7D",
            "invalid TraceQL query: TraceQL is not supported by this store yet (only {} )",
        ),
        (
            "minDuration=fast",
            r#"invalid minDuration: time: invalid duration "fast""#,
        ),
    ];
    for (query, want) in cases {
        let response = app.get(&format!("/api/search?{query}"), None).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.text().await.unwrap(), want, "{query}");
    }
    app.shutdown().await.unwrap();
}
