//! The query API: the part of Grafana Tempo's HTTP API that Grafana's Tempo data source and
//! curl users need, answered from the [`Store`].
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/echo`, `GET /ready` | 200 `echo\n` / `ready\n` (Grafana's "Save & test") |
//! | `GET /api/status/buildinfo` | `{version, revision, branch, buildDate, buildUser, goVersion}` |
//! | `GET /api/traces/{traceID}` | the trace: protobuf `TracesData` with `Accept: application/protobuf`, else Tempo's JSON (see `tempo_json.rs`); 404 with an empty body if unknown |
//! | `GET /api/v2/traces/{traceID}` | the same inside `TraceByIDResponse` (protobuf) or `{"trace":{"resourceSpans":…}}`; 404 if unknown (see `traces.rs`) |
//! | `GET /api/search` | traces matching a TraceQL `q` (or legacy `tags`), with their spansets (see `search.rs`) |
//! | `GET /api/search/tags`, `/api/v2/search/tags` | attribute names by scope (see `tags.rs`) |
//! | `GET /api/search/tag/{name}/values`, `/api/v2/search/tag/{name}/values` | values of one tag, plain or typed |
//! | `GET /tracelab/v1/traces/{traceID}/settled` | ours, not Tempo's: the trace once it has N spans or has settled, a long-poll (see `settled.rs`) |
//! | `GET /tracelab/v1/search/newest` | ours: the id of the newest trace a TraceQL query matches, a long-poll (see `newest.rs`) |
//!
//! | gRPC `tempopb.StreamingQuerier/*` (h2c, same port) | the search and tag routes above, as Tempo's streaming messages (see `grpc/`) |
//!
//! Errors are `text/plain` with Tempo's wording, since Grafana shows the body to the user.
//! Unknown paths get Go's `404 page not found`.

mod grpc;
mod metrics_query;
mod newest;
mod params;
mod search;
mod settled;
mod spansets;
mod tags;
mod tempo_json;
mod time_params;
mod traces;

use axum::Router;

pub(crate) use self::grpc::router as grpc_router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use crate::store::Store;

/// The query API's routes (see the module docs for the list).
pub(crate) fn router(store: Store) -> Router {
    Router::new()
        .route("/api/echo", get(|| async { "echo\n" }))
        .route("/ready", get(|| async { "ready\n" }))
        .route("/api/status/buildinfo", get(traces::build_info))
        .route("/api/traces/{trace_id}", get(traces::trace_by_id))
        .route("/api/v2/traces/{trace_id}", get(traces::trace_by_id_v2))
        .route("/api/search", get(search::search))
        .route("/api/search/tags", get(tags::tag_names))
        .route("/api/v2/search/tags", get(tags::tag_names_v2))
        .route("/api/search/tag/{name}/values", get(tags::tag_values))
        .route("/api/v2/search/tag/{name}/values", get(tags::tag_values_v2))
        .route(
            "/tracelab/v1/traces/{trace_id}/settled",
            get(settled::settled),
        )
        .route("/tracelab/v1/search/newest", get(newest::newest))
        .route("/api/metrics/query_range", get(metrics_query::query_range))
        .route("/api/metrics/query", get(metrics_query::query_instant))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(store)
}

/// Runs a read of the store on tokio's blocking pool. A full scan of a million spans is CPU work
/// of a few hundred milliseconds: on an async worker it would hold up every other request on that
/// worker, OTLP exports included.
async fn off_the_workers<T: Send + 'static>(
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(read).await.map_err(|error| {
        tracing::error!(%error, "query task failed");
        ApiError::Internal
    })
}

/// Why a query endpoint did not answer with data. Bodies are plain text, Tempo's wording,
/// since Grafana shows them to the user.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// 400: a parameter or query is invalid; the text says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// 404 with an empty body, as current Tempo answers an unknown trace id.
    #[error("not found")]
    NotFound,
    /// 500: the query itself failed (a panic while evaluating it); the request is not at fault.
    #[error("internal error")]
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(text) => (StatusCode::BAD_REQUEST, text).into_response(),
            ApiError::NotFound => StatusCode::NOT_FOUND.into_response(),
            ApiError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }
}
