//! The query API: the part of Grafana Tempo's HTTP API that Grafana's Tempo data source and
//! curl users need, answered from the [`Store`].
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/echo`, `GET /ready` | 200 `echo\n` / `ready\n` (Grafana's "Save & test") |
//! | `GET /api/traces/{traceID}` | the trace: protobuf `TracesData` with `Accept: application/protobuf`, else Tempo's JSON (see `tempo_json.rs`); 404 with an empty body if unknown |
//! | `GET /api/search` | recent traces, filtered by time, duration and legacy tags (see `search.rs`) |
//!
//! Errors are `text/plain` with Tempo's wording, since Grafana shows the body to the user.
//! Unknown paths get Go's `404 page not found`.

mod params;
mod search;
mod tempo_json;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use prost::Message;

use crate::model::TraceId;
use crate::store::Store;

/// The query API's routes (see the module docs for the list).
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/api/echo", get(|| async { "echo\n" }))
        .route("/ready", get(|| async { "ready\n" }))
        .route("/api/traces/{trace_id}", get(trace_by_id))
        .route("/api/search", get(search::search))
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

/// `GET /api/traces/{traceID}` (Tempo's v1 trace-by-id).
///
/// `start`/`end` are checked like Tempo checks them but otherwise unused: they only narrow which
/// storage blocks Tempo reads, and the whole store is one block.
async fn trace_by_id(
    State(store): State<Store>,
    Path(trace_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, BadRequest> {
    let id: TraceId = trace_id
        .parse()
        .map_err(|e: crate::model::ParseIdError| BadRequest(e.to_string()))?;
    params::time_range(&query).map_err(BadRequest)?;
    let Some(trace) = store.trace(&id) else {
        // Current Tempo answers an unknown trace with 404 and no body at all.
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let data = trace.to_traces_data();
    if wants_protobuf(&headers) {
        // Tempo's `tempopb.Trace` has the same field numbers as OTLP `TracesData`, so the bytes
        // are identical and Grafana decodes them as its own type.
        Ok((
            [(CONTENT_TYPE, "application/protobuf")],
            data.encode_to_vec(),
        )
            .into_response())
    } else {
        let body = serde_json::to_vec(&tempo_json::trace_json(&data)).unwrap_or_default();
        Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
    }
}

/// Whether any `Accept` header lists `application/protobuf` (Grafana sends exactly that).
fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/protobuf")
        })
}
