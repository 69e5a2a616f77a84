//! The OTLP/gRPC receiver: real tonic clients against a real server on port 0.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tonic::Code;
use tonic::codec::CompressionEncoding;
use trace_store::{Config, IngestLimits, Listeners, Store, TraceId};

fn request(trace_id: Vec<u8>, spans: usize) -> ExportTraceServiceRequest {
    let span = |n: u8| Span {
        trace_id: trace_id.clone(),
        span_id: vec![n + 1; 8],
        name: format!("span {n}"),
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 2_000,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("grpc-test".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans as u8).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A store serving on free ports; the store and its OTLP/gRPC address.
async fn serve(config: Config, max_spans: usize) -> (Store, std::net::SocketAddr) {
    let store = Store::new(max_spans);
    let listeners = Listeners::bind(&config).await.unwrap();
    let addr = listeners.otlp_grpc.local_addr().unwrap();
    let serving = store.clone();
    tokio::spawn(async move {
        trace_store::serve(listeners, serving, &config, std::future::pending()).await
    });
    (store, addr)
}

/// A store serving gRPC on a free port, and a client for it.
async fn start(
    limits: IngestLimits,
    max_spans: usize,
) -> (Store, TraceServiceClient<tonic::transport::Channel>) {
    let config = Config {
        limits,
        ..Config::ephemeral()
    };
    let (store, addr) = serve(config, max_spans).await;
    let client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    (store, client)
}

#[tokio::test]
async fn spans_exported_over_grpc_are_stored() {
    let (store, mut client) = start(IngestLimits::default(), 100).await;
    client.export(request(vec![7; 16], 3)).await.unwrap();
    let trace = store.trace(&TraceId([7; 16])).expect("stored");
    assert_eq!(trace.spans.len(), 3);
    assert_eq!(trace.spans[0].service_name(), "grpc-test");
}

#[tokio::test]
async fn gzip_requests_are_accepted() {
    let (store, client) = start(IngestLimits::default(), 100).await;
    let mut client = client.send_compressed(CompressionEncoding::Gzip);
    client.export(request(vec![8; 16], 2)).await.unwrap();
    assert_eq!(store.span_count(), 2);
}

#[tokio::test]
async fn wrong_id_lengths_are_invalid_arguments_and_store_nothing() {
    let (store, mut client) = start(IngestLimits::default(), 100).await;
    let status = client.export(request(vec![7; 15], 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("trace id is 15 bytes, want 16"),
        "{}",
        status.message()
    );
    assert_eq!(store.span_count(), 0);
}

#[tokio::test]
async fn more_spans_than_the_bound_are_resource_exhausted() {
    let (store, mut client) = start(IngestLimits::default(), 2).await;
    let status = client.export(request(vec![7; 16], 3)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(store.span_count(), 0);
}

/// A message that inflates past the limit is refused; the limit applies
/// after gunzip, so a small compressed bomb costs no more than the limit.
#[tokio::test]
async fn a_gzip_bomb_is_refused() {
    let limits = IngestLimits {
        max_body_bytes: 1024 * 1024,
        max_decompressed_bytes: 1024 * 1024,
        ..IngestLimits::default()
    };
    let (store, client) = start(limits, 100).await;
    let mut client = client
        .send_compressed(CompressionEncoding::Gzip)
        .max_encoding_message_size(64 * 1024 * 1024);
    let mut request = request(vec![9; 16], 1);
    // 32 MiB of one repeated byte compresses to a few tens of KiB.
    request.resource_spans[0].scope_spans[0].spans[0].name = "x".repeat(32 * 1024 * 1024);
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("size limit"), "{status:?}");
    assert_eq!(store.span_count(), 0);
}

/// With a token, a call must carry it as `authorization` metadata.
#[tokio::test]
async fn a_token_is_required_when_set() {
    let config = Config {
        token: trace_store::auth::Token::new("s3cret"),
        ..Config::ephemeral()
    };
    let (store, addr) = serve(config, 100).await;
    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let status = client.export(request(vec![7; 16], 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(request(vec![7; 16], 1));
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(
        client.export(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(store.span_count(), 0);

    let mut right = tonic::Request::new(request(vec![7; 16], 1));
    right
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    client.export(right).await.unwrap();
    assert_eq!(store.span_count(), 1);
}
