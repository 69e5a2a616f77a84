//! Our own extension, beside `settled.rs`: a long-poll for the newest trace a TraceQL query
//! matches, so `tracelab expect --query` waits for a trace without polling search.
//!
//! `GET /tracelab/v1/search/newest?q=TRACEQL&quiet=800ms&timeout=10s` answers `{"traceID": "…"}`
//! (32 hex digits) with the matching trace that started last (as `with(most_recent=true)`
//! picks):
//!
//! - without `quiet`, at once if a trace matches, else as soon as spans arrive that make one
//!   match;
//! - with `quiet` (at most 10 s, like `settled`), once no newer match has arrived for that long.
//!   A script that sends a request and then asks at once would otherwise get the previous
//!   matching trace, because the new one's spans are still in the exporters' batches.
//!
//! 504 with `{"traceID": null}` when `timeout` (default 10 s, at most 25 s, like `settled`)
//! passes with no match; at the timeout, a match found while waiting for quiet is answered. A
//! query that does not parse: 400 with the reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::ApiError;
use super::settled::{DEFAULT_TIMEOUT, MAX_QUIET, MAX_TIMEOUT, parse_duration};
use crate::model::TraceId;
use crate::settle;
use crate::store::Store;

/// `GET /tracelab/v1/search/newest`.
pub(super) async fn newest(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match answer(store, params).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn answer(store: Store, params: HashMap<String, String>) -> Result<Response, ApiError> {
    let text = params
        .get("q")
        .ok_or_else(|| ApiError::BadRequest("missing q: a TraceQL query".to_owned()))?;
    let query = Arc::new(
        traceql::parse(text).map_err(|e| ApiError::BadRequest(format!("invalid TraceQL: {e}")))?,
    );
    let timeout = parse_duration(&params, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT)
        .map_err(ApiError::BadRequest)?;
    let quiet = parse_duration(&params, "quiet", Duration::ZERO, MAX_QUIET)
        .map_err(ApiError::BadRequest)?;
    let found = |id: Option<TraceId>| {
        let status = if id.is_some() {
            StatusCode::OK
        } else {
            StatusCode::GATEWAY_TIMEOUT
        };
        let body = serde_json::json!({ "traceID": id.map(|id| id.to_string()) });
        (status, Json(body)).into_response()
    };

    match settle::newest(&store, query, quiet, timeout).await {
        Ok(id) => Ok(found(id)),
        Err(error) => {
            tracing::error!(%error, "query task failed");
            Err(ApiError::Internal)
        }
    }
}
