//! A small axum service traced with the standard OpenTelemetry SDK, exporting OTLP/HTTP: the
//! example that `tests/shape.rs` asserts on with the `trace-expect` kit. Copy both into your
//! own project; only [`tracer_provider`]'s endpoint changes between a test and production.
//!
//! `GET /hello/{name}` makes one SERVER span with its HTTP attributes and one INTERNAL child
//! span, `greet`; a name of `error` makes the child fail with an `exception` event.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};

/// A tracer provider that exports to the OTLP/HTTP traces URL `endpoint` (for the kit,
/// `TestStore::otlp_traces_url()`), as service `service`.
///
/// The batch processor exports on its own thread every 100 ms, so a test's trace arrives
/// quickly; the SDK's default is 5 s.
pub fn tracer_provider(endpoint: &str, service: &str) -> SdkTracerProvider {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .expect("an OTLP/HTTP exporter");
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(Duration::from_millis(100))
        .build();
    SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batch)
                .build(),
        )
        .build()
}

/// The service's routes, tracing with `provider`.
pub fn app(provider: &SdkTracerProvider) -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .with_state(provider.tracer("example-axum-service"))
}

/// `GET /hello/{name}`: a SERVER span, and inside it the `greet` span.
async fn hello(State(tracer): State<SdkTracer>, Path(name): Path<String>) -> (StatusCode, String) {
    let server = tracer
        .span_builder("GET /hello/{name}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/hello/{name}"),
            KeyValue::new("url.path", format!("/hello/{name}")),
        ])
        .start(&tracer);
    let cx = opentelemetry::Context::current_with_span(server);

    let mut greet = tracer.start_with_context("greet", &cx);
    let (status, body) = if name == "error" {
        greet.add_event(
            "exception",
            vec![KeyValue::new("exception.message", "no greeting for errors")],
        );
        greet.set_status(Status::error("no greeting for errors"));
        (StatusCode::INTERNAL_SERVER_ERROR, "no\n".to_owned())
    } else {
        (StatusCode::OK, format!("hello, {name}\n"))
    };
    greet.end();

    let server = cx.span();
    server.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        server.set_status(Status::error(""));
    }
    server.end();
    (status, body)
}
