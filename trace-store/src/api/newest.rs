//! Our own extension, beside `settled.rs`: a long-poll for the newest trace a TraceQL query
//! matches, so `tracelab expect --query` waits for a trace without polling search.
//!
//! `GET /tracelab/v1/search/newest?q=TRACEQL&timeout=10s` answers `{"traceID": "…"}` (32 hex
//! digits) at once if a trace matches (the latest start, as `with(most_recent=true)` picks),
//! else as soon as spans arrive that make one match; 504 with `{"traceID": null}` when
//! `timeout` (default 10 s, at most 25 s, like `settled`) passes first. A query that does not
//! parse: 400 with the reason.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio::sync::broadcast::error::RecvError;

use super::settled::{DEFAULT_TIMEOUT, MAX_TIMEOUT, parse_duration};
use super::{ApiError, off_the_workers};
use crate::model::{TimeWindow, TraceId};
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
    let found = |id: Option<TraceId>| {
        let status = if id.is_some() {
            StatusCode::OK
        } else {
            StatusCode::GATEWAY_TIMEOUT
        };
        let body = serde_json::json!({ "traceID": id.map(|id| id.to_string()) });
        (status, Json(body)).into_response()
    };

    // Subscribe before the first look, so a trace that arrives during it is not missed.
    let mut updates = store.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rescan = true;
    loop {
        if rescan {
            // A scan of the whole store is CPU work: off the async workers, as search is.
            let (store, query) = (store.clone(), Arc::clone(&query));
            let newest = off_the_workers(move || {
                store
                    .most_recent(TimeWindow::ALL, 1, |trace| {
                        (!query.evaluate(&**trace).is_empty()).then_some(trace.id)
                    })
                    .results
            })
            .await?;
            if let Some(id) = newest.first() {
                return Ok(found(Some(*id)));
            }
            rescan = false;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(found(None)),
            update = updates.recv() => match update {
                Ok(id) => {
                    let matches = store
                        .trace(&id)
                        .is_some_and(|trace| !query.evaluate(&*trace).is_empty());
                    if matches {
                        return Ok(found(Some(id)));
                    }
                }
                Err(RecvError::Lagged(_)) => rescan = true,
                Err(RecvError::Closed) => return Ok(found(None)),
            },
        }
    }
}
