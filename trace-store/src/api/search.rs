//! `GET /api/search`: Tempo's search endpoint.
//!
//! Parameters (all optional): `q` (TraceQL, see [`traceql`]), `tags` (legacy logfmt
//! `k=v` pairs; not together with `q`), `minDuration`/`maxDuration` (Go durations, compared with
//! the trace duration), `limit` (default 20, at most 262144), `spss` (spans per spanset, default
//! 3, at most 100, 0 for all), `start`/`end` (unix seconds; traces overlapping the window).
//! Tempo's validation messages are kept word for word.
//!
//! The handler is parse → [`SearchRequest`] → [`Store::search`] → response. With `q`, each
//! result also carries its spansets (`spanSet`, `spanSets`, see `spansets.rs`) and per-service
//! span and error counts (`serviceStats`).
//!
//! One deliberate difference: Tempo ignores `minDuration`/`maxDuration` when `q` is given (they
//! belong to its old tag search); here they always apply, because a user who sends them means
//! them.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use traceql::ParseError;

pub(super) use self::answer::{Found, SearchResponse};
use self::answer::{ServiceStats, TraceSummary};
use super::spansets::spansets_json;
use super::{ApiError, params};
use crate::model::TimeWindow;
use crate::store::{AttrValue, Scan, Searched, SpanRecord, Store, Trace};

/// Traces returned when `limit` is absent (Tempo's and Grafana's default).
const DEFAULT_LIMIT: usize = 20;
/// Largest `limit` Tempo accepts.
const MAX_LIMIT: usize = 262_144;
/// Spans listed per spanset when `spss` is absent (Tempo's and Grafana's default).
const DEFAULT_SPSS: usize = 3;
/// Largest `spss` Tempo accepts.
const MAX_SPSS: i64 = 100;

/// A parsed, validated search.
#[derive(Debug, Clone)]
pub(super) struct SearchRequest {
    filter: Filter,
    limit: usize,
    /// Spans listed per spanset; 0 lists all.
    spss: usize,
    /// Traces that overlap it match.
    window: TimeWindow,
    /// Nanoseconds; bounds on the trace duration, inclusive.
    min_duration: Option<i64>,
    max_duration: Option<i64>,
}

/// What decides whether a trace matches, apart from time and duration.
#[derive(Debug, Clone)]
enum Filter {
    /// Legacy tag search: every pair must match some span or resource attribute (value: a
    /// case-insensitive substring). No pairs matches every trace.
    Tags(Vec<(String, String)>),
    /// A TraceQL query; results carry their spansets.
    TraceQl(Box<traceql::Query>),
}

/// The 400 body for a query that does not parse: Tempo prefixes all but the size error.
pub(super) fn query_error(error: &ParseError) -> String {
    match error {
        ParseError::TooLong { .. } => error.to_string(),
        _ => format!("invalid TraceQL query: {error}"),
    }
}

impl SearchRequest {
    /// Reads the query parameters; the error is the 400 body.
    pub(super) fn parse(query: &HashMap<String, String>) -> Result<Self, String> {
        let get = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let filter = match (get("q"), get("tags")) {
            (Some(_), Some(_)) => {
                return Err(
                    "invalid request: can't specify tags and q in the same query".to_owned(),
                );
            }
            (Some(q), None) => {
                Filter::TraceQl(Box::new(traceql::parse(q).map_err(|e| query_error(&e))?))
            }
            (None, Some(tags)) => {
                Filter::Tags(params::logfmt(tags).map_err(|e| format!("invalid tags: {e}"))?)
            }
            (None, None) => Filter::Tags(Vec::new()),
        };
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n <= 0 => {
                    return Err("invalid limit: must be a positive number".to_owned());
                }
                Ok(n) if n as u64 > MAX_LIMIT as u64 => {
                    return Err(format!("limit {n} exceeds max limit {MAX_LIMIT}"));
                }
                Ok(n) => n as usize,
                Err(_) => {
                    return Err(format!(
                        "invalid limit: strconv.Atoi: parsing {text:?}: invalid syntax"
                    ));
                }
            },
        };
        let spss = match get("spss") {
            None => DEFAULT_SPSS,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n > MAX_SPSS => {
                    return Err(format!(
                        "spans per span set exceeds {MAX_SPSS}. received {n}"
                    ));
                }
                Ok(n) if n < 0 => {
                    return Err("invalid spss: must be a non-negative number".to_owned());
                }
                Ok(n) => n as usize,
                Err(_) => {
                    return Err(format!(
                        "invalid spss: strconv.Atoi: parsing {text:?}: invalid syntax"
                    ));
                }
            },
        };
        let duration = |name: &str| -> Result<Option<i64>, String> {
            get(name)
                .map(|text| params::go_duration(text).map_err(|e| format!("invalid {name}: {e}")))
                .transpose()
        };
        let (min_duration, max_duration) = (duration("minDuration")?, duration("maxDuration")?);
        if let (Some(min), Some(max)) = (min_duration, max_duration)
            && max < min
        {
            return Err("invalid maxDuration: must be greater than minDuration".to_owned());
        }
        let (start, end) = params::time_range(query)?;
        Ok(SearchRequest {
            filter,
            limit,
            spss,
            window: TimeWindow::from_seconds(start, end),
            min_duration,
            max_duration,
        })
    }

    /// Whether `trace` passes the time window and duration bounds. The store only hands out
    /// traces in the window; this checks it again for the unit tests' sake, which is cheap.
    fn in_window(&self, trace: &Trace) -> bool {
        let unbounded = self.min_duration.is_none() && self.max_duration.is_none();
        if unbounded && self.window == TimeWindow::ALL {
            // Nothing to check, and the trace's end would be a scan of its spans.
            return true;
        }
        if !self
            .window
            .overlaps(trace.start_unix_nano(), trace.end_unix_nano())
        {
            return false;
        }
        let duration = i64::try_from(trace.duration().as_nanos()).unwrap_or(i64::MAX);
        !(self.min_duration.is_some_and(|min| duration < min)
            || self.max_duration.is_some_and(|max| duration > max))
    }

    /// The search result for `trace`, or `None` if it does not match.
    fn result(&self, trace: &Trace) -> Option<TraceSummary> {
        if !self.in_window(trace) {
            return None;
        }
        match &self.filter {
            Filter::Tags(pairs) => pairs
                .iter()
                .all(|(key, value)| trace.spans.iter().any(|s| span_has_tag(s, key, value)))
                .then(|| TraceSummary::of(trace)),
            Filter::TraceQl(query) => {
                let sets = query.evaluate(trace);
                if sets.is_empty() {
                    return None;
                }
                let mut summary = TraceSummary::of(trace);
                summary.span_sets = spansets_json(query, trace, &sets, self.spss);
                summary.span_set = summary.span_sets.first().cloned();
                summary.service_stats = service_stats(trace);
                Some(summary)
            }
        }
    }

    /// How many traces make the limit.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// The traces worth evaluating: the window, less the blocks without a value a TraceQL
    /// query requires (store/summary.rs).
    pub(super) fn scan(&self) -> Scan {
        match &self.filter {
            Filter::TraceQl(query) => Scan::for_query(self.window, query),
            _ => self.window.into(),
        }
    }

    /// Whether walking the blocks one at a time finds what one walk finds: not for
    /// `with(most_recent=true)`, whose newest `limit` traces may be in any block.
    pub(super) fn splits_by_block(&self) -> bool {
        !matches!(&self.filter, Filter::TraceQl(query) if query.most_recent())
    }

    /// Up to `limit` results over the blocks numbered in `blocks`, newest start first: the HTTP
    /// handler runs it over every block, a streamed search over one block at a time.
    pub(super) fn run_in(
        &self,
        store: &Store,
        blocks: RangeInclusive<u64>,
        limit: usize,
    ) -> Searched<Found> {
        store.search_in(self.scan(), blocks, limit, |trace| self.found(trace))
    }

    /// The whole search in one walk, as the HTTP handler answers it.
    pub(super) fn run(&self, store: &Store) -> Searched<Found> {
        match &self.filter {
            Filter::TraceQl(query) if query.most_recent() => {
                store.most_recent(self.scan(), self.limit, |trace| self.found(trace))
            }
            _ => self.run_in(store, 0..=u64::MAX, self.limit),
        }
    }

    fn found(&self, trace: &Arc<Trace>) -> Option<Found> {
        Some(Found {
            start: trace.start_unix_nano(),
            id: trace.id,
            summary: self.result(trace)?,
        })
    }

    #[cfg(test)]
    fn matches(&self, trace: &Trace) -> bool {
        self.result(trace).is_some()
    }
}

/// Spans and error spans per `service.name`, Tempo's `serviceStats`.
fn service_stats(trace: &Trace) -> BTreeMap<String, ServiceStats> {
    let mut stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
    for span in &trace.spans {
        let name = span.service_name();
        if !stats.contains_key(name) {
            stats.insert(name.to_owned(), ServiceStats::default());
        }
        if let Some(entry) = stats.get_mut(name) {
            entry.span_count += 1;
            entry.error_count += u32::from(span.is_error());
        }
    }
    stats
}

/// Whether the span or its resource has attribute `key` whose value contains `wanted`, ignoring case.
fn span_has_tag(record: &SpanRecord, key: &str, wanted: &str) -> bool {
    let wanted = wanted.to_lowercase();
    let hit = |text: String| text.to_lowercase().contains(&wanted);
    let in_span = record
        .attributes()
        .iter()
        .filter(|a| a.key == key)
        .filter_map(|a| stored_as_text(&a.value))
        .any(hit);
    in_span
        || record
            .resource()
            .attributes
            .iter()
            .filter(|kv| kv.key == key)
            .filter_map(|kv| kv.value.as_ref())
            .filter_map(as_text)
            .any(hit)
}

/// Scalar attribute values as text; arrays, maps and bytes never match a tag.
fn as_text(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A stored span attribute as text, read in place (no OTLP copy), with the rules of [`as_text`].
fn stored_as_text(value: &AttrValue) -> Option<String> {
    match value {
        AttrValue::Str(s) => Some(s.to_string()),
        AttrValue::Int(i) => Some(i.to_string()),
        AttrValue::Float(d) => Some(d.to_string()),
        AttrValue::Bool(b) => Some(b.to_string()),
        AttrValue::Other(other) => as_text(other.as_deref()?),
    }
}

/// The handler: 200 with Tempo's search JSON, or 400 with Tempo's message.
pub(super) async fn search(
    State(store): State<Store>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<SearchResponse>, ApiError> {
    let request = SearchRequest::parse(&query).map_err(ApiError::BadRequest)?;
    let found = super::off_the_workers(move || request.run(&store)).await?;
    Ok(Json(SearchResponse::new(
        found.results,
        found.inspected,
        (0, 0),
    )))
}

mod answer;
#[cfg(test)]
mod tests;
