//! The OTLP/HTTP receiver: `POST /v1/traces` into the [`Store`], per the OTLP/HTTP spec.
//!
//! | request | reply |
//! |---|---|
//! | `/v1/traces`, protobuf or OTLP/JSON, optionally gzip | 200 + `ExportTraceServiceResponse` in the request's encoding |
//! | body that does not decode, ids of the wrong length | 400 + `google.rpc.Status` (code 3) in the request's encoding |
//! | body past [`IngestLimits`] (sent or decompressed), or more spans than the store's bound | 413 + `google.rpc.Status` (code 8), after reading what the client sends up to a bound (`body.rs`) |
//! | any other `Content-Type` | 415, text listing the accepted types |
//! | `/v1/logs`, `/v1/metrics` | 200 + an empty response; the data is dropped (Python SDKs send it anyway) |
//!
//! `grpc.rs` is the same receiver over OTLP/gRPC, taking the store's same walk.
//!
//! Protobuf bodies are decoded a few spans at a time (the store's walk), so a large request never
//! exists fully decoded; OTLP/JSON bodies are turned into protobuf one span at a time
//! (`json.rs`), then take the same walk. Decoding runs on tokio's blocking pool: gunzipping and
//! decoding tens of MiB is CPU work that would otherwise stall every other request on the same
//! worker thread.

mod body;
mod codec;
pub(crate) mod grpc;
mod json;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;

use self::codec::{BodyError, Encoding};
use crate::store::{InsertError, RejectReason, Store};

/// Size limits for request bodies. Both are hard: past either one the request gets a 413.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Largest body accepted as sent (compressed or not). Default 16 MiB.
    pub max_body_bytes: usize,
    /// Largest body after gunzip; decompression stops as soon as it would pass this, so a gzip
    /// bomb never costs more memory than this. Default 64 MiB.
    pub max_decompressed_bytes: usize,
    /// How much more than `max_body_bytes` the HTTP receiver reads and throws away before it
    /// answers 413, so that a client that sends its whole body before reading hears the 413
    /// instead of a broken pipe (see `body.rs`). Past it the connection is closed. Default
    /// 64 MiB.
    pub max_drain_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_drain_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The receiver's routes: `POST /v1/traces`, `/v1/logs` and `/v1/metrics`.
pub fn router(store: Store, limits: IngestLimits) -> Router {
    Router::new()
        .route("/v1/traces", post(export_traces))
        .route(
            "/v1/logs",
            // Makes the `Bytes` extractor stop reading (and reject with 413) past the limit.
            post(discard).layer(DefaultBodyLimit::max(limits.max_body_bytes)),
        )
        .route(
            "/v1/metrics",
            post(discard).layer(DefaultBodyLimit::max(limits.max_body_bytes)),
        )
        .with_state(Receiver { store, limits })
}

#[derive(Clone)]
struct Receiver {
    store: Store,
    limits: IngestLimits,
}

/// `google.rpc.Status`, the error body OTLP/HTTP asks for. opentelemetry-proto does not ship it,
/// so it is declared here with the same field numbers (`details`, field 3, is never sent).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC status codes used in [`RpcStatus`].
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;

/// Why an export failed, with everything needed to reply.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Insert(#[from] InsertError),
}

impl ExportError {
    fn reason(&self) -> RejectReason {
        match self {
            ExportError::Body(
                BodyError::UnsupportedContentType(_) | BodyError::UnsupportedContentEncoding(_),
            ) => RejectReason::Unsupported,
            ExportError::Body(
                BodyError::TooLarge { .. } | BodyError::DecompressedTooLarge { .. },
            ) => RejectReason::TooLarge,
            ExportError::Body(_) => RejectReason::Malformed,
            ExportError::Insert(e) => e.reason(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ExportError::Body(
                BodyError::UnsupportedContentType(_) | BodyError::UnsupportedContentEncoding(_),
            ) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ExportError::Body(
                BodyError::TooLarge { .. } | BodyError::DecompressedTooLarge { .. },
            )
            | ExportError::Insert(InsertError::TooManySpans { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

async fn export_traces(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let store = receiver.store.clone();
    let encoding = match Encoding::from_headers(&headers) {
        Ok(encoding) => encoding,
        Err(e) => {
            store.count_rejected(RejectReason::Unsupported);
            // We cannot answer in an encoding the client did not use, so this one is plain text.
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()).into_response();
        }
    };
    let body = match body::read(&headers, body, &receiver.limits).await {
        Ok(body) => body,
        Err(e) => return error_reply(&store, encoding, &e.into()),
    };

    let max_decompressed = receiver.limits.max_decompressed_bytes;
    let work = {
        let store = store.clone();
        move || -> Result<usize, ExportError> {
            let raw = codec::decompress(&headers, body, max_decompressed)?;
            match encoding {
                Encoding::Protobuf => Ok(store.insert_protobuf(raw)?),
                // Turned into protobuf a span at a time, then the same walk.
                Encoding::Json => {
                    let protobuf = json::to_protobuf(&raw).map_err(BodyError::Json)?;
                    Ok(store.insert_protobuf(protobuf)?)
                }
            }
        }
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(spans)) => {
            tracing::debug!(spans, ?encoding, "export accepted");
            // No partial success to report: inserts are all or nothing.
            reply(
                StatusCode::OK,
                encoding,
                &ExportTraceServiceResponse {
                    partial_success: None,
                },
            )
        }
        Ok(Err(e)) => error_reply(&store, encoding, &e),
        Err(join_error) => {
            // Only a panic gets here; the request is not at fault, so say so with a 500.
            tracing::error!(error = %join_error, "export task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Logs and metrics: accepted and dropped, with the empty response of the right encoding.
/// An empty `Export{Logs,Metrics}ServiceResponse` is zero bytes in protobuf and `{}` in JSON, so
/// the logs and metrics features of opentelemetry-proto are not needed for it.
async fn discard(headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    if let Err(rejection) = body {
        return (rejection.status(), rejection.body_text()).into_response();
    }
    match Encoding::from_headers(&headers) {
        Ok(Encoding::Json) => ([(CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(Encoding::Protobuf) => {
            ([(CONTENT_TYPE, "application/x-protobuf")], Bytes::new()).into_response()
        }
        Err(e) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()).into_response(),
    }
}

fn error_reply(store: &Store, encoding: Encoding, error: &ExportError) -> Response {
    store.count_rejected(error.reason());
    let status = error.status();
    let mut message = error.to_string();
    // The classic OTLP/JSON mistake: snake_case keys decode "fine" with empty ids.
    if let (Encoding::Json, ExportError::Insert(InsertError::BadIdLength { len: 0, .. })) =
        (encoding, error)
    {
        message.push_str(
            " (OTLP/JSON keys are lowerCamelCase, e.g. traceId and spanId, and ids are hex)",
        );
    }
    tracing::debug!(%status, %message, "export rejected");
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        RESOURCE_EXHAUSTED
    } else {
        INVALID_ARGUMENT
    };
    reply(status, encoding, &RpcStatus { code, message })
}

fn reply<M: prost::Message + serde::Serialize>(
    status: StatusCode,
    encoding: Encoding,
    message: &M,
) -> Response {
    (
        status,
        [(CONTENT_TYPE, encoding.content_type())],
        encoding.encode(message),
    )
        .into_response()
}
