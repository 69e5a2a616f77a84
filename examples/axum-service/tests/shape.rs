//! The kit in ten lines: start it, point the service's exporter at it, send a request, and
//! assert the trace's shape. A failure prints the expected tree beside the actual one.

use std::time::Duration;

use trace_expect::{Shape, TestStore};

/// Serves the example on a free port, exporting to `kit`; returns its address.
async fn spawn_service(kit: &TestStore) -> (String, opentelemetry_sdk::trace::SdkTracerProvider) {
    let provider =
        example_axum_service::tracer_provider(&kit.otlp_traces_url(), "example-axum-service");
    let app = example_axum_service::app(&provider);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, provider)
}

/// One request makes a SERVER span with a `greet` child, as tests/shapes/hello.yaml says.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_makes_the_expected_trace() {
    let kit = TestStore::start().await;
    let (service, _provider) = spawn_service(&kit).await;

    let body = reqwest::get(format!("{service}/hello/you"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello, you\n");

    let shape = Shape::from_file("tests/shapes/hello.yaml").unwrap();
    let query = r#"{ resource.service.name = "example-axum-service" }"#;
    kit.expect_query(query, &shape, Duration::from_secs(10))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// A failing request: the same shape does not hold, and the failure says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_request_is_caught_with_a_readable_diff() {
    let kit = TestStore::start().await;
    let (service, _provider) = spawn_service(&kit).await;
    reqwest::get(format!("{service}/hello/error"))
        .await
        .unwrap();

    let shape = Shape::from_file("tests/shapes/hello.yaml").unwrap();
    let failure = kit
        .expect_query("{ status = error }", &shape, Duration::from_secs(10))
        .await
        .unwrap_err();
    let text = failure.to_string();
    assert!(text.contains("status error, expected unset"), "{text}");
    assert!(text.contains("is int 500, expected int 200"), "{text}");
}

/// A plain `#[tokio::test]` runs on one thread, and the SDK's `force_flush()` blocks that
/// thread until the export is done. The kit serves from threads of its own, so the export
/// still reaches it: flushing is a way to have every span in before asserting.
#[tokio::test]
async fn flushing_in_a_single_threaded_test_reaches_the_kit() {
    let kit = TestStore::start().await;
    let (service, provider) = spawn_service(&kit).await;
    reqwest::get(format!("{service}/hello/flush"))
        .await
        .unwrap();

    provider
        .force_flush()
        .expect("the spans reach the kit while this thread waits");
    // Already there: no time to wait is needed.
    let query = r#"{ span.url.path = "/hello/flush" }"#;
    let traces = kit
        .wait_for(query, 1, Duration::ZERO)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(traces[0].spans.len(), 2);
}
