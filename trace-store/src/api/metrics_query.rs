//! `GET /api/metrics/query_range` and `GET /api/metrics/query`: TraceQL metrics (see
//! [`traceql::parse_metrics`]) over the store, answered as Tempo answers them (proto3 JSON of
//! `QueryRangeResponse` / `QueryInstantResponse`).
//!
//! Parameters: `q` (or `query`); `start`, `end` (unix seconds, unix nanoseconds, fractional
//! seconds or RFC 3339; `end` defaults to now, `start` to `end - since`); `since` (default
//! `1h`); `step` (range only: seconds or a Go duration; default Tempo's, about 240 points);
//! `exemplars` (most exemplars per series, default and cap [`MAX_EXEMPLARS`];
//! `with(exemplars=…)` in the query overrides it). Instant queries have no exemplars.
//!
//! At most [`MAX_SERIES`] series are answered (fewer when series × steps would pass the engine's
//! bound, see [`traceql::MetricsQuery::evaluator`]); past that the answer is cut, with
//! `"status":"PARTIAL"` and Tempo's message. Steps are capped at
//! [`traceql::Range::MAX_INTERVALS`]; together these bound the memory of any query.
//!
//! The scan copies each block's trace pointers under the store's lock and evaluates outside it
//! (see `store/read.rs`), on the blocking pool, so a metrics query never holds ingest back.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use serde_json::{Value, json};
use traceql::{LabelValue, MetricsAnswer, Range};

use super::search::query_error;
use super::time_params::{bounds, get, now_nanos, step};
use super::{ApiError, off_the_workers};
use crate::model::TimeWindow;
use crate::store::{Scan, Store};

/// Most series one answer holds (Tempo's `max_response_series` is unlimited by default; a
/// local store caps it so a `by()` over a unique attribute cannot exhaust memory).
pub(crate) const MAX_SERIES: usize = 1000;
/// Most exemplars per series, and the default (Tempo's default `max_exemplars`).
pub(crate) const MAX_EXEMPLARS: usize = 100;

/// A parsed `query_range` request.
#[derive(Debug)]
pub(super) struct RangeRequest {
    pub(super) query: traceql::MetricsQuery,
    pub(super) range: Range,
    /// Most exemplars per series.
    pub(super) exemplars: usize,
}

impl RangeRequest {
    /// Reads the query parameters; the error is the 400.
    pub(super) fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        let (query, start, end) = common(params)?;
        let step = match get(params, "step") {
            None => None,
            Some(text) => Some(step(text).map_err(ApiError::BadRequest)?),
        };
        let range = Range::query_range(start, end, step)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let wanted = match get(params, "exemplars") {
            None => MAX_EXEMPLARS,
            Some(text) => text.parse::<u32>().map_or(MAX_EXEMPLARS, |n| n as usize),
        };
        let exemplars = query.exemplars_hint().unwrap_or(wanted).min(MAX_EXEMPLARS);
        Ok(RangeRequest {
            query,
            range,
            exemplars,
        })
    }
}

/// `GET /api/metrics/query_range`.
pub(super) async fn query_range(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let RangeRequest {
        query,
        range,
        exemplars,
    } = RangeRequest::parse(&params)?;
    let (answer, inspected) =
        off_the_workers(move || run(&store, &query, range, exemplars, None)).await?;
    Ok(Json(range_json(&answer, inspected, (1, 1))))
}

/// The `query_range` answer for `answer` after `inspected` traces, with `jobs` (completed,
/// total).
pub(super) fn range_json(answer: &MetricsAnswer, inspected: usize, jobs: (u32, u32)) -> Value {
    let series: Vec<Value> = answer
        .series
        .iter()
        .map(|s| {
            let mut series = json!({
                "labels": labels(&s.labels),
                "samples": s.samples.iter().map(|x| json!({
                    "timestampMs": x.timestamp_ms.to_string(),
                    "value": number(x.value),
                })).collect::<Vec<_>>(),
            });
            if !s.exemplars.is_empty() {
                series["exemplars"] = s
                    .exemplars
                    .iter()
                    .map(|e| {
                        json!({
                            "labels": labels(&e.labels),
                            "value": number(e.value),
                            "timestampMs": e.timestamp_ms.to_string(),
                        })
                    })
                    .collect();
            }
            series
        })
        .collect();
    answer_json(series, answer, inspected, jobs)
}

/// `GET /api/metrics/query`: one value per series over the whole range.
pub(super) async fn query_instant(
    State(store): State<Store>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (query, start, end) = common(&params)?;
    let range = Range::instant(start, end).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (answer, inspected) = off_the_workers(move || run(&store, &query, range, 0, None)).await?;
    let series: Vec<Value> = answer
        .series
        .iter()
        .filter_map(|s| {
            let first = s.samples.first()?;
            Some(json!({"labels": labels(&s.labels), "value": number(first.value)}))
        })
        .collect();
    Ok(Json(answer_json(series, &answer, inspected, (1, 1))))
}

/// The response body: series, metrics, and the partial status when the limit cut it.
fn answer_json(
    series: Vec<Value>,
    answer: &MetricsAnswer,
    inspected: usize,
    (completed, total): (u32, u32),
) -> Value {
    let mut body = json!({
        "series": series,
        "metrics": {"inspectedTraces": inspected, "completedJobs": completed, "totalJobs": total},
    });
    if let Some(limit) = answer.truncated_at {
        body["status"] = json!("PARTIAL");
        body["message"] = json!(format!(
            "Response exceeds maximum series limit of {limit}, a partial response is returned. Warning: the accuracy of each individual value is not guaranteed."
        ));
    }
    body
}

/// Evaluates over every trace that overlaps the range (or, with `steps`, the part of it those
/// steps cover, counting only their spans); returns the answer and traces looked at.
pub(super) fn run(
    store: &Store,
    query: &traceql::MetricsQuery,
    range: Range,
    exemplars: usize,
    steps: Option<std::ops::Range<usize>>,
) -> (MetricsAnswer, usize) {
    let mut window = TimeWindow {
        start: Some(range.start()),
        end: Some(range.end()),
    };
    let mut evaluator = query.evaluator(range, exemplars, MAX_SERIES);
    if let Some(steps) = steps {
        // Step i holds spans starting in (start + i·step, start + (i+1)·step].
        let at = |i: usize| range.start().saturating_add(i as u64 * range.step());
        window = TimeWindow {
            start: Some(at(steps.start)),
            end: Some(at(steps.end)),
        };
        evaluator = evaluator.only_steps(steps);
    }
    let mut inspected = 0;
    // Only traces the spanset part matches count, so blocks without a value it requires are
    // skipped, as in search (store/summary.rs).
    for trace in store.traces(Scan::for_query(window, query.filter())) {
        inspected += 1;
        evaluator.observe(&*trace);
    }
    (evaluator.finish(), inspected)
}

/// What both endpoints take: the query and the time range in unix nanoseconds.
fn common(params: &HashMap<String, String>) -> Result<(traceql::MetricsQuery, u64, u64), ApiError> {
    let text = get(params, "q")
        .or_else(|| get(params, "query"))
        .ok_or_else(|| ApiError::BadRequest("invalid TraceQL query: q is required".into()))?;
    let query = traceql::parse_metrics(text).map_err(|e| ApiError::BadRequest(query_error(&e)))?;
    let (start, end) = bounds(params, now_nanos()).map_err(ApiError::BadRequest)?;
    Ok((query, start, end))
}

/// Labels as OTLP/JSON key-values; a nil value is an empty `AnyValue`.
fn labels(labels: &[(String, LabelValue)]) -> Vec<Value> {
    labels
        .iter()
        .map(|(key, value)| {
            let value = match value {
                LabelValue::Nil => json!({}),
                LabelValue::Str(s) => json!({"stringValue": s}),
                LabelValue::Int(i) => json!({"intValue": i.to_string()}),
                LabelValue::Float(x) => json!({"doubleValue": number(*x)}),
                LabelValue::Bool(b) => json!({"boolValue": b}),
            };
            json!({"key": key, "value": value})
        })
        .collect()
}

/// A double as proto3 JSON writes it: NaN and infinities as strings.
fn number(x: f64) -> Value {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Number {
        Finite(f64),
        Special(&'static str),
    }
    let n = if x.is_nan() {
        Number::Special("NaN")
    } else if x.is_infinite() {
        Number::Special(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        Number::Finite(x)
    };
    serde_json::to_value(n).unwrap_or(Value::Null)
}
