//! The Tempo query API against a real server: health endpoints, trace by id in Tempo's JSON and
//! as protobuf, search, and the errors Grafana would show.

mod common;

use common::{TestApp, attr, enc, request, span};
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

/// Without the hint a search takes recent arrivals; `with(most_recent=true)` takes the latest
/// starts, even when an old trace arrived last.
#[tokio::test]
async fn most_recent_orders_by_start_not_arrival() {
    let app = TestApp::spawn().await;
    // Trace n starts at n seconds; they arrive newest start first, so the oldest arrives last.
    for n in (1..=5u8).rev() {
        let start = u64::from(n) * 1_000_000_000;
        app.export(&request(
            "svc",
            vec![span(n, 1, None, "GET /", start, start + 10)],
        ))
        .await;
    }
    let ids = |body: Value| -> Vec<String> {
        body["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceID"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |q: &str| format!("/api/search?limit=2&q={}", enc(q));
    let any: Value = app.get(&search("{ }"), None).await.json().await.unwrap();
    assert_eq!(
        ids(any),
        [
            "c0ffee00000000000000000000000002",
            "c0ffee00000000000000000000000001"
        ],
        "the two newest arrivals"
    );
    let latest: Value = app
        .get(&search("{ } with(most_recent=true)"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(latest),
        [
            "c0ffee00000000000000000000000005",
            "c0ffee00000000000000000000000004"
        ],
        "the two latest starts"
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
            "q=%7B%20status%20%3D%20%22error%22%20%7D",
            r#"invalid TraceQL query: binary operations must operate on the same type: status = "error""#,
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

#[path = "fixtures/dataset.rs"]
mod dataset;

/// The query API over the TraceQL fixture (five traces, see `tests/fixtures/dataset.rs`).
async fn app_with_dataset() -> TestApp {
    TestApp::spawn_loaded(dataset::requests()).await
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, None).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// `q` selects traces, and each result carries Tempo's spanset shape: the matched spans with the
/// values the query read (keyed without scope), `matched`, and per-service stats.
#[tokio::test]
async fn search_with_traceql_returns_spansets() {
    let app = app_with_dataset().await;
    let body = get_json(
        &app,
        &format!("/api/search?q={}", enc("{ status = error }")),
    )
    .await;
    let span_set = json!({"spans": [
        {"spanID": "b000000000000004", "startTimeUnixNano": "2002003000000", "durationNanos": "3000000",
         "attributes": [{"key": "status", "value": {"stringValue": "error"}}]},
        {"spanID": "b000000000000005", "startTimeUnixNano": "2002004000000", "durationNanos": "1000000",
         "attributes": [{"key": "status", "value": {"stringValue": "error"}}]}
    ], "matched": 2});
    assert_eq!(
        body,
        json!({
            "traces": [{
                "traceID": "c0ffee00000000000000000000000002", "rootServiceName": "app-a",
                "rootTraceName": "GET /", "startTimeUnixNano": "2000000000000", "durationMs": 2010,
                "spanSet": span_set, "spanSets": [span_set],
                "serviceStats": {"app-a": {"spanCount": 2}, "app-b": {"spanCount": 2, "errorCount": 1},
                                 "app-c": {"spanCount": 1, "errorCount": 1}}
            }],
            "metrics": {"inspectedTraces": 5}
        })
    );

    // `name` appears only when the query reads it; typed values and durations in Go format.
    let body = get_json(
        &app,
        &format!(
            "/api/search?q={}",
            enc("{ name = \"SELECT\" } | select(duration, span.nope)")
        ),
    )
    .await;
    assert_eq!(
        body["traces"][0]["spanSet"]["spans"][0],
        json!({"spanID": "b000000000000009", "name": "SELECT", "startTimeUnixNano": "5000000000000",
               "durationNanos": "40000",
               "attributes": [{"key": "duration", "value": {"stringValue": "40µs"}}]})
    );
    assert_eq!(
        body["traces"][0]["rootServiceName"],
        "<root span not yet received>"
    );

    // spss cuts the list but not `matched`; 0 lists every span; newest trace first; limit.
    let body = get_json(&app, &format!("/api/search?q={}&spss=1&limit=2", enc("{}"))).await;
    let traces = body["traces"].as_array().unwrap();
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "c0ffee00000000000000000000000005",
            "c0ffee00000000000000000000000004"
        ]
    );
    assert_eq!(traces[1]["spanSet"]["spans"].as_array().unwrap().len(), 1);
    assert_eq!(traces[1]["spanSet"]["matched"], 4);
    let body = get_json(
        &app,
        &format!(
            "/api/search?q={}&spss=0",
            enc("{ rootName = \"GET /fanout\" }")
        ),
    )
    .await;
    assert_eq!(
        body["traces"][0]["spanSet"]["spans"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // by() and aggregates become spanset attributes, one spanset per group.
    let q = "{ kind = server && trace:id = \"c0ffee00000000000000000000000001\" } | by(resource.service.name) | count() = 1";
    let body = get_json(&app, &format!("/api/search?q={}", enc(q))).await;
    let sets = body["traces"][0]["spanSets"].as_array().unwrap();
    assert_eq!(sets.len(), 3);
    assert_eq!(
        sets[2]["attributes"],
        json!([{"key": "by(resource.service.name)", "value": {"stringValue": "app-c"}},
               {"key": "count()", "value": {"intValue": "1"}}])
    );
    assert_eq!(body["traces"][0]["spanSet"], sets[0]);

    let none = get_json(
        &app,
        &format!(
            "/api/search?q={}",
            enc("{ status = ok } && { status = error }")
        ),
    )
    .await;
    assert_eq!(none, json!({"metrics": {"inspectedTraces": 5}}));
    app.shutdown().await.unwrap();
}

/// Bad queries and parameters: 400, text/plain, Tempo's words (with the error's position).
#[tokio::test]
async fn traceql_errors_are_400_text() {
    let app = app_with_dataset().await;
    let cases = [
        (
            format!("q={}", enc("{ .a = 1 &&\n .b = }")),
            "invalid TraceQL query: parse error at line 2, col 7: syntax error: unexpected }, expecting value, attribute or intrinsic",
        ),
        (
            format!("q={}", enc("{ kind = serverx }")),
            "invalid TraceQL query: parse error at line 1, col 10: unknown identifier: serverx",
        ),
        (
            format!("q={}", enc("{ name = 1 }")),
            "invalid TraceQL query: binary operations must operate on the same type: name = 1",
        ),
        (
            format!("q={}&tags=a%3Db", enc("{}")),
            "invalid request: can't specify tags and q in the same query",
        ),
        (
            format!("q={}&spss=101", enc("{}")),
            "spans per span set exceeds 100. received 101",
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
    let regex = app
        .get(&format!("/api/search?q={}", enc("{ name =~ \"(\" }")), None)
        .await;
    assert_eq!(regex.status(), 400);
    assert!(
        regex
            .text()
            .await
            .unwrap()
            .starts_with("invalid TraceQL query: invalid regex: ")
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_names_by_scope() {
    let app = app_with_dataset().await;
    let body = get_json(&app, "/api/search/tags").await;
    assert_eq!(
        body["tagNames"],
        json!([
            "deployment.environment",
            "flag",
            "http.request.method",
            "http.response.status_code",
            "ratio",
            "service.name",
            "tags",
            "with space",
            "x"
        ])
    );
    let intrinsic = get_json(&app, "/api/search/tags?scope=intrinsic").await;
    assert_eq!(intrinsic["tagNames"][0], "duration");

    let v2 = get_json(&app, "/api/v2/search/tags").await;
    let scopes: Vec<&str> = v2["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        ["intrinsic", "resource", "span", "event", "instrumentation"]
    );
    assert_eq!(v2["scopes"][3]["tags"], json!(["exception.type"]));
    assert_eq!(v2["scopes"][4]["tags"], json!(["team"]));

    let filtered = get_json(
        &app,
        &format!(
            "/api/v2/search/tags?scope=span&q={}",
            enc("{ resource.service.name = \"app-c\" }")
        ),
    )
    .await;
    assert_eq!(
        filtered,
        json!({"scopes": [{"name": "span", "tags": ["http.request.method", "http.response.status_code", "service.name"]}],
               "metrics": {}})
    );

    for path in [
        "/api/search/tags?scope=bogus",
        "/api/v2/search/tags?scope=bogus",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 400);
        assert_eq!(response.text().await.unwrap(), "invalid scope: bogus");
    }
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_values_plain_and_typed() {
    let app = app_with_dataset().await;
    let v1 = get_json(&app, "/api/search/tag/service.name/values").await;
    assert_eq!(
        v1,
        json!({"tagValues": ["app-a", "app-b", "app-c", "span-level"], "metrics": {}})
    );

    let typed = |values: &[(&str, &str)]| {
        Value::Array(
            values
                .iter()
                .map(|(t, v)| json!({"type": t, "value": v}))
                .collect(),
        )
    };
    let resource = get_json(&app, "/api/v2/search/tag/resource.service.name/values").await;
    assert_eq!(
        resource["tagValues"],
        typed(&[
            ("string", "app-a"),
            ("string", "app-b"),
            ("string", "app-c")
        ])
    );
    let codes = get_json(&app, "/api/v2/search/tag/.http.response.status_code/values").await;
    assert_eq!(codes["tagValues"], typed(&[("int", "200"), ("int", "500")]));
    let status = get_json(&app, "/api/v2/search/tag/status/values").await;
    assert_eq!(
        status["tagValues"],
        typed(&[
            ("keyword", "ok"),
            ("keyword", "error"),
            ("keyword", "unset")
        ])
    );

    // Grafana encodes the name twice: `span."with space"` arrives as `span.%2522with%2520space%2522`.
    let quoted = get_json(
        &app,
        &format!(
            "/api/v2/search/tag/{}/values",
            enc(&enc("span.\"with space\""))
        ),
    )
    .await;
    assert_eq!(quoted["tagValues"], typed(&[("string", "yes")]));

    let errors_only = get_json(
        &app,
        &format!(
            "/api/v2/search/tag/resource.service.name/values?q={}",
            enc("{ status = error }")
        ),
    )
    .await;
    assert_eq!(
        errors_only["tagValues"],
        typed(&[("string", "app-b"), ("string", "app-c")])
    );

    let bad = app.get("/api/v2/search/tag/nope/values", None).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.text().await.unwrap(),
        "please provide a valid tagName: nope"
    );
    app.shutdown().await.unwrap();
}

/// `tempopb.TraceByIDResponse`, declared independently of the crate to check the wire format.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(message, optional, tag = "2")]
    metrics: Option<TraceByIdMetrics>,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    inspected_bytes: u64,
}

#[tokio::test]
async fn v2_trace_by_id_and_buildinfo() {
    let app = app_with_price_trace().await;
    let path = "/api/v2/traces/c0ffee00000000000000000000000006";

    let body: Value = app.get(path, None).await.json().await.unwrap();
    let v1: Value = app
        .get("/api/traces/c0ffee00000000000000000000000006", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["trace"]["resourceSpans"], v1["batches"],
        "same encoding, no renaming"
    );
    assert!(body["metrics"]["inspectedBytes"].as_str().is_some());

    let response = app.get(path, Some("application/protobuf")).await;
    assert_eq!(response.headers()["content-type"], "application/protobuf");
    let decoded = TraceByIdResponse::decode(response.bytes().await.unwrap()).unwrap();
    let trace = decoded.trace.unwrap();
    assert_eq!(trace.resource_spans[0].scope_spans[0].spans.len(), 2);
    assert_eq!(
        decoded.metrics.unwrap().inspected_bytes,
        trace.encoded_len() as u64
    );

    let unknown = app
        .get("/api/v2/traces/c0ffee00000000000000000000000099", None)
        .await;
    assert_eq!(unknown.status(), 404);
    let window = app.get(&format!("{path}?start=20&end=10"), None).await;
    assert_eq!(window.status(), 400);
    assert_eq!(
        window.text().await.unwrap(),
        "http parameter start must be before end. received start=20 end=10"
    );

    let info = get_json(&app, "/api/status/buildinfo").await;
    // Tempo's API version for Grafana's feature checks; ours in `revision`.
    assert_eq!(info["version"], "2.8.0");
    assert_eq!(
        info["revision"],
        concat!("tracelab-store ", env!("CARGO_PKG_VERSION"))
    );
    for key in ["revision", "branch", "buildDate", "buildUser", "goVersion"] {
        assert!(info[key].is_string(), "{key}");
    }
    app.shutdown().await.unwrap();
}
