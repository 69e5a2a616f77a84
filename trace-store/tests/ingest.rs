//! The OTLP/HTTP receiver against a real server: every accepted encoding, and every way a
//! request can be refused, with the status code and body a client sees.

mod common;

use common::{RpcStatus, TestApp, gzip, request, span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use trace_store::{IngestLimits, Store, TraceId};

/// OTLP/JSON as an exporter writes it: camelCase keys, hex ids, kind as a number, int64 as strings.
const OTLP_JSON: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "app-a"}}]},
    "scopeSpans": [{
      "scope": {"name": "app-a", "version": "0.1.0"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "",
        "name": "GET /checkout",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}}],
        "status": {"code": 2, "message": "boom"}
      }]
    }]
  }]
}"#;

fn json_trace_id() -> TraceId {
    "5b8efff798038103d269b633813fc60c".parse().unwrap()
}

async fn status_of(response: reqwest::Response, json: bool) -> RpcStatus {
    let body = response.bytes().await.unwrap();
    if json {
        serde_json::from_slice(&body).unwrap()
    } else {
        RpcStatus::decode(body).unwrap()
    }
}

/// Protobuf in, protobuf `ExportTraceServiceResponse` out, spans in the store.
#[tokio::test]
async fn protobuf_export_is_stored() {
    let app = TestApp::spawn().await;
    let response = app
        .export(&request(
            "app-a",
            vec![
                span(1, 1, None, "root", 10, 20),
                span(1, 2, Some(1), "child", 12, 18),
            ],
        ))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = response.bytes().await.unwrap();
    assert_eq!(
        ExportTraceServiceResponse::decode(body).unwrap(),
        ExportTraceServiceResponse {
            partial_success: None
        }
    );
    assert_eq!(app.store.span_count(), 2);
    app.shutdown().await.unwrap();
}

/// `/metrics` says what happened to every span: an exporter's retry is counted as duplicates,
/// not stored twice, and refused requests are counted by reason.
#[tokio::test]
async fn metrics_count_received_duplicate_and_refused() {
    let app = TestApp::spawn().await;
    let chain = request(
        "app-a",
        vec![
            span(1, 1, None, "root", 10, 20),
            span(1, 2, Some(1), "child", 12, 18),
        ],
    );
    for _ in 0..2 {
        assert_eq!(app.export(&chain).await.status(), 200);
    }
    let garbage = app
        .post("/v1/traces", "application/x-protobuf", false, vec![0xff; 7])
        .await;
    assert_eq!(garbage.status(), 400);
    let wrong_type = app.post("/v1/traces", "text/plain", false, vec![1]).await;
    assert_eq!(wrong_type.status(), 415);

    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for line in [
        "tracelab_store_spans 2\n",
        "tracelab_store_spans_received_total 4\n",
        "tracelab_store_spans_stored_total 2\n",
        "tracelab_store_spans_deduplicated_total 2\n",
        "tracelab_store_spans_evicted_total 0\n",
        "tracelab_store_requests_rejected_total{reason=\"malformed\"} 1\n",
        "tracelab_store_requests_rejected_total{reason=\"unsupported\"} 1\n",
        "tracelab_store_requests_rejected_total{reason=\"bad_id\"} 0\n",
    ] {
        assert!(metrics.contains(line), "{line:?} missing from:\n{metrics}");
    }
    app.shutdown().await.unwrap();
}

/// Real OTLP/JSON text in (upper-case hex ids), a JSON response out, ids decoded correctly.
#[tokio::test]
async fn json_export_is_stored() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/traces", "application/json", false, OTLP_JSON.into())
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let reply: serde_json::Value = response.json().await.unwrap();
    assert!(
        reply.get("partialSuccess").is_none_or(|p| p.is_null()),
        "{reply}"
    );
    let trace = app
        .store
        .trace(&json_trace_id())
        .expect("stored under the hex id");
    assert_eq!(trace.spans[0].span_id().to_string(), "eee19b7ec3c1b174");
    assert!(trace.spans[0].is_error());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn gzip_bodies_are_decompressed() {
    let app = TestApp::spawn().await;
    let json = app
        .post(
            "/v1/traces",
            "application/json",
            true,
            gzip(OTLP_JSON.as_bytes()),
        )
        .await;
    assert_eq!(json.status(), 200);
    let proto = request("app-a", vec![span(2, 1, None, "root", 10, 20)]).encode_to_vec();
    let proto = app
        .post("/v1/traces", "application/x-protobuf", true, gzip(&proto))
        .await;
    assert_eq!(proto.status(), 200);
    assert_eq!(app.store.trace_count(), 2);
    app.shutdown().await.unwrap();
}

/// Garbage gets a 400 with a `google.rpc.Status` (INVALID_ARGUMENT) in the request's encoding.
#[tokio::test]
async fn garbage_is_a_400_with_a_status() {
    let app = TestApp::spawn().await;
    let response = app
        .post(
            "/v1/traces",
            "application/x-protobuf",
            false,
            b"\xff\xff\xff garbage".to_vec(),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let status = status_of(response, false).await;
    assert_eq!(status.code, 3);
    assert!(
        status.message.starts_with("invalid OTLP protobuf body: "),
        "{}",
        status.message
    );

    let response = app
        .post(
            "/v1/traces",
            "application/json",
            false,
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(response.status(), 400);
    let status = status_of(response, true).await;
    assert!(
        status.message.starts_with("invalid OTLP/JSON body: "),
        "{}",
        status.message
    );

    let response = app
        .post("/v1/traces", "application/json", true, b"not gzip".to_vec())
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        status_of(response, true)
            .await
            .message
            .starts_with("invalid gzip body: ")
    );
    assert_eq!(app.store.span_count(), 0);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_id_lengths_are_a_400_naming_the_span() {
    let app = TestApp::spawn().await;
    let mut bad = span(1, 2, None, "bad", 0, 1);
    bad.trace_id.pop();
    let response = app
        .export(&request("app-a", vec![span(1, 1, None, "ok", 0, 1), bad]))
        .await;

    assert_eq!(response.status(), 400);
    let status = status_of(response, false).await;
    assert_eq!(
        status.message,
        "span 1 of scope 0 of resource 0: trace id is 15 bytes, want 16"
    );
    assert_eq!(
        app.store.span_count(),
        0,
        "nothing of a refused request is stored"
    );
    app.shutdown().await.unwrap();
}

/// snake_case keys are ignored by the JSON decoder, so ids come out empty: refuse, and say why.
#[tokio::test]
async fn snake_case_json_is_a_400() {
    let app = TestApp::spawn().await;
    let snake = OTLP_JSON
        .replace("traceId", "trace_id")
        .replace("spanId", "span_id");
    let response = app
        .post("/v1/traces", "application/json", false, snake.into_bytes())
        .await;

    assert_eq!(response.status(), 400);
    let status = status_of(response, true).await;
    assert_eq!(
        status.message,
        "span 0 of scope 0 of resource 0: trace id is 0 bytes, want 16 \
         (OTLP/JSON keys are lowerCamelCase, e.g. traceId and spanId, and ids are hex)"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn bodies_past_the_limit_are_a_413() {
    let limits = IngestLimits {
        max_body_bytes: 1024,
        ..IngestLimits::default()
    };
    let app = TestApp::spawn_with(Store::new(1000), limits).await;
    let response = app
        .post(
            "/v1/traces",
            "application/x-protobuf",
            false,
            vec![0u8; 4096],
        )
        .await;

    assert_eq!(response.status(), 413);
    let status = status_of(response, false).await;
    assert_eq!(
        (status.code, status.message.as_str()),
        (8, "request body is larger than the limit of 1024 bytes")
    );
    app.shutdown().await.unwrap();
}

/// Python's `http.client` (the OTel Python exporter's) writes the whole body before it reads.
/// A receiver that stops reading at the limit and closes leaves such a client with a broken pipe
/// and no answer, and the exporter retries; this one reads on (up to a bound) and answers 413.
#[tokio::test]
async fn a_client_that_writes_its_whole_body_first_reads_the_413() {
    use std::io::{Read, Write};
    let limits = IngestLimits {
        max_body_bytes: 64 * 1024,
        ..IngestLimits::default()
    };
    let app = TestApp::spawn_with(Store::new(1000), limits).await;
    let addr = app.otlp_url.trim_start_matches("http://").to_owned();
    // A blocking socket on its own thread, as the Python client does it: headers, then all of
    // the body (far more than socket buffers hold), then read.
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut socket = std::net::TcpStream::connect(addr)?;
        socket.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
        socket.set_write_timeout(Some(std::time::Duration::from_secs(20)))?;
        let body = vec![0u8; 16 * 1024 * 1024];
        write!(
            socket,
            "POST /v1/traces HTTP/1.1\r\nHost: store\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        socket.write_all(&body)?;
        let mut head = [0u8; 12];
        socket.read_exact(&mut head)?;
        Ok(String::from_utf8_lossy(&head).into_owned())
    })
    .await
    .unwrap();
    assert_eq!(
        answer.expect("the whole body was written and the answer read"),
        "HTTP/1.1 413"
    );
    let rejected = app.store.totals().rejected;
    assert!(rejected.contains(&(trace_store::store::RejectReason::TooLarge, 1)));
    app.shutdown().await.unwrap();
}

/// 100 MiB of zeros is about 100 KiB of gzip; the receiver stops at the decompression cap.
#[tokio::test]
async fn a_gzip_bomb_is_a_413() {
    let limits = IngestLimits {
        max_body_bytes: 1024 * 1024,
        max_decompressed_bytes: 1024 * 1024,
        ..IngestLimits::default()
    };
    let app = TestApp::spawn_with(Store::new(1000), limits).await;
    let bomb = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..100 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap()
    };
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb itself fits the body limit"
    );
    let response = app
        .post("/v1/traces", "application/x-protobuf", true, bomb)
        .await;

    assert_eq!(response.status(), 413);
    assert_eq!(
        status_of(response, false).await.message,
        "decompressed request body is larger than the limit of 1048576 bytes"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn more_spans_than_the_store_holds_is_a_413() {
    let app = TestApp::spawn_with(Store::new(1), IngestLimits::default()).await;
    let response = app
        .export(&request(
            "app-a",
            vec![span(1, 1, None, "a", 0, 1), span(1, 2, None, "b", 0, 1)],
        ))
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        status_of(response, false).await.message,
        "request has 2 spans, more than this store's bound of 1"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn other_content_types_are_a_415_listing_the_accepted_ones() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/traces", "text/plain", false, b"hello".to_vec())
        .await;
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.text().await.unwrap(),
        r#"unsupported content type "text/plain"; accepted: application/x-protobuf, application/json"#
    );

    let response = app
        .client
        .post(format!("{}/v1/traces", app.otlp_url))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    app.shutdown().await.unwrap();
}

/// Python SDKs export logs and metrics to the same endpoint; they are accepted and dropped.
#[tokio::test]
async fn logs_and_metrics_get_an_empty_200() {
    let app = TestApp::spawn().await;
    for path in ["/v1/logs", "/v1/metrics"] {
        let response = app
            .post(path, "application/x-protobuf", false, vec![0x0a, 0x00])
            .await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/x-protobuf");
        assert!(response.bytes().await.unwrap().is_empty());

        let response = app
            .post(
                path,
                "application/json",
                false,
                b"{\"resourceLogs\":[]}".to_vec(),
            )
            .await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), "{}");
    }
    assert_eq!(app.store.span_count(), 0);
    app.shutdown().await.unwrap();
}

/// Shutdown returns cleanly, and subscribers heard about the trace before that.
#[tokio::test]
async fn subscribers_hear_about_exported_traces() {
    let app = TestApp::spawn().await;
    let mut new_traces = app.store.subscribe();
    app.post("/v1/traces", "application/json", false, OTLP_JSON.into())
        .await;
    assert_eq!(new_traces.recv().await.unwrap(), json_trace_id());
    app.shutdown().await.unwrap();
}
