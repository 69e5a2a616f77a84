//! The OTLP/gRPC receiver: `TraceService/Export` into the [`Store`], with the same limits,
//! answers and decoding as the HTTP receiver.
//!
//! | request | reply |
//! |---|---|
//! | an `ExportTraceServiceRequest`, optionally gzip | OK + `ExportTraceServiceResponse` |
//! | a body that is not the message, ids of the wrong length | `INVALID_ARGUMENT`, saying which span |
//! | a message past `max_decompressed_bytes` (tonic stops gunzip there) | `RESOURCE_EXHAUSTED` from tonic |
//! | more spans than the store's bound | `RESOURCE_EXHAUSTED` |
//! | any other method | `UNIMPLEMENTED` |
//!
//! The service is written out here rather than taken from opentelemetry-proto's generated
//! server because that one makes tonic decode the whole request, every span a heap structure
//! several times its wire size. Here tonic decodes only the outer message, with each
//! `ResourceSpans` left as bytes (`RawRequest`), and the spans take the store's one walk,
//! a few at a time.
//!
//! Exporters configured with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (the Collector's default) send
//! here; the port is 4317, as the Collector's.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tokio::net::TcpListener;
use tonic::codec::{CompressionEncoding, EnabledCompressionEncodings};
use tonic::server::{NamedService, UnaryService};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::IngestLimits;
use crate::auth::Token;
use crate::store::{InsertError, RawRequest, Store};

/// The one method, by its gRPC path.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// `TraceService` over a store (a tower service of HTTP/2 requests, as tonic's router wants).
#[derive(Debug, Clone)]
struct TraceService {
    store: Store,
    max_decoding: usize,
}

impl NamedService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tower::Service<http::Request<B>> for TraceService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != EXPORT {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let (export, max_decoding) = (Export(self.store.clone()), self.max_decoding);
        Box::pin(async move {
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let codec = ProstCodec::<ExportTraceServiceResponse, RawRequest>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .apply_compression_config(gzip, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max_decoding), None);
            Ok(grpc.unary(export, request).await)
        })
    }
}

/// The `Export` call itself.
struct Export(Store);

impl UnaryService<RawRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: Request<RawRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            // Converting and indexing a large request is CPU work; keep it off the async workers.
            let stored = tokio::task::spawn_blocking({
                let store = store.clone();
                move || store.insert_raw(request.into_inner())
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
            match stored {
                Ok(spans) => {
                    tracing::debug!(spans, "stored spans (gRPC)");
                    Ok(Response::new(ExportTraceServiceResponse {
                        partial_success: None,
                    }))
                }
                Err(e) => {
                    store.count_rejected(e.reason());
                    Err(status(&e))
                }
            }
        })
    }
}

/// The gRPC status for a refused export.
fn status(error: &InsertError) -> Status {
    match error {
        InsertError::TooManySpans { .. } => Status::resource_exhausted(error.to_string()),
        _ => Status::invalid_argument(error.to_string()),
    }
}

/// Serve OTLP/gRPC on `listener` until `shutdown` completes; requests in flight finish first.
/// With a `token`, calls without it are `UNAUTHENTICATED`.
pub(crate) async fn serve(
    listener: TcpListener,
    store: Store,
    limits: IngestLimits,
    token: Option<Token>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let service = TraceService {
        store,
        max_decoding: limits.max_decompressed_bytes,
    };
    let check = token.map(crate::auth::grpc_interceptor);
    let service = InterceptedService::new(service, move |request| match &check {
        Some(check) => check(request),
        None => Ok(request),
    });
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await
}
