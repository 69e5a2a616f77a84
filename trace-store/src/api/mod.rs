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
//!
//! Errors are `text/plain` with Tempo's wording, since Grafana shows the body to the user.
//! Unknown paths get Go's `404 page not found`.

mod params;
mod search;
mod spansets;
mod tags;
mod tempo_json;
mod traces;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use crate::store::Store;

/// The query API's routes (see the module docs for the list).
pub fn router(store: Store) -> Router {
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
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(store)
}

/// A 400 with a plain-text reason, Tempo's answer to bad parameters.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0).into_response()
    }
}
