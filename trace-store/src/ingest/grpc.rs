//! The OTLP/gRPC receiver: `TraceService/Export` into the [`Store`], with
//! the same limits and answers as the HTTP receiver.
//!
//! | request | reply |
//! |---|---|
//! | an `ExportTraceServiceRequest`, optionally gzip | OK + `ExportTraceServiceResponse` |
//! | ids of the wrong length | `INVALID_ARGUMENT`, saying which span |
//! | a message past `max_decompressed_bytes` (tonic stops gunzip there) | `RESOURCE_EXHAUSTED` from tonic |
//! | more spans than the store's bound | `RESOURCE_EXHAUSTED` |
//!
//! Exporters configured with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (the
//! Collector's default) send here; the port is 4317, as the Collector's.

use std::future::Future;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use super::IngestLimits;
use crate::auth::Token;
use crate::store::{InsertError, Store};

/// The gRPC trace service over a store.
#[derive(Debug, Clone)]
struct Receiver {
    store: Store,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let store = self.store.clone();
        // Indexing a large request is CPU work; keep it off the async workers.
        let stored = tokio::task::spawn_blocking(move || {
            let stored = store.insert(request.into_inner());
            if let Err(e) = &stored {
                store.count_rejected(e.reason());
            }
            stored
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
            Err(e @ InsertError::BadIdLength { .. }) => {
                Err(Status::invalid_argument(e.to_string()))
            }
            Err(e) => Err(Status::resource_exhausted(e.to_string())),
        }
    }
}

/// Serve OTLP/gRPC on `listener` until `shutdown` completes; requests in
/// flight finish first. With a `token`, calls without it are `UNAUTHENTICATED`.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    limits: IngestLimits,
    token: Option<Token>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let server = TraceServiceServer::new(Receiver { store })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limits.max_decompressed_bytes);
    let check = token.map(crate::auth::grpc_interceptor);
    let service = InterceptedService::new(server, move |request| match &check {
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
