//! `GET /tracelab/v1/stats?since=5m` on the query port: the analysis of the traces that
//! overlap the last `since` (default 5 minutes; `all` for every trace held) as JSON, the shape
//! of [`Stats`]. Our own route, under its own prefix, beside Tempo's API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;

use super::{Stats, stats};
use crate::model::TimeWindow;
use crate::store::Store;

/// The window when `since` is not given.
pub(crate) const DEFAULT_SINCE: Duration = Duration::from_secs(5 * 60);

/// The route.
pub(crate) fn router(store: Store) -> Router {
    Router::new()
        .route("/tracelab/v1/stats", get(handler))
        .with_state(store)
}

#[derive(Debug, Deserialize)]
struct Params {
    since: Option<String>,
}

async fn handler(
    State(store): State<Store>,
    Query(params): Query<Params>,
) -> Result<Json<Stats>, (StatusCode, String)> {
    let window = window(params.since.as_deref(), SystemTime::now())
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("{e}\n")))?;
    // A scan of the whole store is CPU work: off the async workers that accept exports.
    tokio::task::spawn_blocking(move || stats(&store, window))
        .await
        .map(Json)
        .map_err(|e| {
            tracing::error!(error = %e, "stats task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into())
        })
}

/// The window that `since` (a duration like `90s`, `5m`, `1h`, or `all`) names, ending `now`.
pub(crate) fn window(since: Option<&str>, now: SystemTime) -> Result<TimeWindow, String> {
    let since = match since {
        None => DEFAULT_SINCE,
        Some("all") => return Ok(TimeWindow::ALL),
        Some(text) => humantime::parse_duration(text).map_err(|e| {
            format!("invalid since {text:?}: {e}; expected a duration like 30s, 5m, 1h, or all")
        })?,
    };
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let start = now.saturating_sub(since);
    Ok(TimeWindow {
        start: Some(u64::try_from(start.as_nanos()).unwrap_or(u64::MAX)),
        end: None,
    })
}
