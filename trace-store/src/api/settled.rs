//! Our own extension to the query API, under a path of ours rather than Tempo's: a long-poll
//! that answers with a trace once it has settled, so a test script need not poll.
//!
//! `GET /tracelab/v1/traces/{traceID}/settled?spans=N&quiet=800ms&timeout=10s`
//!
//! - With `spans`, it answers as soon as the trace holds at least `N` spans.
//! - Without, as soon as nothing is missing (every parent present) and no span came for
//!   `quiet` (default [`DEFAULT_QUIET`], at most [`MAX_QUIET`]).
//! - `timeout` (default [`DEFAULT_TIMEOUT`], at most [`MAX_TIMEOUT`]) bounds the wait. It stays
//!   below the store's request timeout so the answer, not a 408, ends the request; a client
//!   that wants to wait longer asks again.
//!
//! The answer is the trace as `/api/traces/{id}` gives it (protobuf `TracesData` with
//! `Accept: application/protobuf`, else Tempo's JSON), with a `Tracelab-Settled` header
//! saying why the wait ended: `spans`, `quiet` or `timeout`. Settled: 200. Timed out: 504,
//! with the spans that did arrive (an empty body if none did), so a client can say what was
//! missing. Bad parameters: 400, with the reason as text.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use prost::Message as _;

use super::ApiError;
use super::tempo_json;
use super::traces::{json, protobuf, wants_protobuf};
use crate::model::TraceId;
use crate::settle::{self, Reached, Until};
use crate::store::Store;

/// How long a long-poll waits when `timeout` is not given.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait one request may ask for: under the store's 30 s request timeout.
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(25);
/// The quiet period when `quiet` is not given (the lab's waterfalls use the same).
pub(super) const DEFAULT_QUIET: Duration = Duration::from_millis(800);
/// The longest quiet period one request may ask for.
pub(super) const MAX_QUIET: Duration = Duration::from_secs(10);

/// The header that says why the wait ended.
const SETTLED_HEADER: &str = "tracelab-settled";

/// `GET /tracelab/v1/traces/{traceID}/settled`.
pub(super) async fn settled(
    State(store): State<Store>,
    Path(raw): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (id, until, timeout) = match params(&raw, &query) {
        Ok(parsed) => parsed,
        Err(text) => return ApiError::BadRequest(text).into_response(),
    };
    let waited = settle::wait(&store, id, until, timeout).await;
    let (status, why) = match waited.reached {
        Reached::Spans => (StatusCode::OK, "spans"),
        Reached::Quiet => (StatusCode::OK, "quiet"),
        Reached::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
    };
    let mut response = match waited.trace {
        None => ().into_response(),
        Some(trace) => {
            let data = trace.to_traces_data();
            if wants_protobuf(&headers) {
                protobuf(data.encode_to_vec())
            } else {
                json(&tempo_json::trace_json(&data))
            }
        }
    };
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(SETTLED_HEADER, HeaderValue::from_static(why));
    response
}

/// The trace id, what to wait for and for how long, each checked against its bound.
fn params(
    raw: &str,
    query: &HashMap<String, String>,
) -> Result<(TraceId, Until, Duration), String> {
    let id: TraceId = raw
        .parse()
        .map_err(|e: crate::model::ParseIdError| e.to_string())?;
    let timeout = parse_duration(query, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT)?;
    let quiet = parse_duration(query, "quiet", DEFAULT_QUIET, MAX_QUIET)?;
    let until = match query.get("spans") {
        None => Until::Quiet(quiet),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n > 0 => Until::Spans(n as usize),
            _ => return Err(format!("invalid spans {text:?}: a count from 1")),
        },
    };
    Ok((id, until, timeout))
}

/// The duration parameter `name` (like `800ms` or `10s`), `default` when absent, at most `max`.
pub(super) fn parse_duration(
    query: &HashMap<String, String>,
    name: &str,
    default: Duration,
    max: Duration,
) -> Result<Duration, String> {
    match query.get(name) {
        None => Ok(default),
        Some(text) => match humantime::parse_duration(text) {
            Ok(value) if value <= max => Ok(value),
            Ok(_) => Err(format!(
                "invalid {name}: at most {}",
                humantime::format_duration(max)
            )),
            Err(e) => Err(format!("invalid {name} {text:?}: {e} (like 800ms or 10s)")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_bounded_and_bad_ones_say_why() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let (_, until, timeout) = params(id, &query(&[])).unwrap();
        assert_eq!(
            (until, timeout),
            (Until::Quiet(DEFAULT_QUIET), DEFAULT_TIMEOUT)
        );
        let (_, until, _) = params(id, &query(&[("spans", "5"), ("timeout", "2s")])).unwrap();
        assert_eq!(until, Until::Spans(5));

        let error = |pairs: &[(&str, &str)]| params(id, &query(pairs)).unwrap_err();
        assert!(error(&[("timeout", "1h")]).contains("at most 25s"));
        assert!(error(&[("timeout", "soon")]).contains("invalid timeout"));
        assert!(error(&[("quiet", "11s")]).contains("at most 10s"));
        assert!(error(&[("spans", "0")]).contains("invalid spans"));
        assert!(error(&[("spans", "-1")]).contains("invalid spans"));
        assert!(params("xyz", &query(&[])).is_err());
    }
}
