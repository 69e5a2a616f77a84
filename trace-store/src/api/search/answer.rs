//! The search answer: `tempopb.SearchResponse` as Tempo's jsonpb writes it (empty fields left
//! out, uint64 as strings), and [`Found`], a result with what orders it, which a streamed search
//! (`api/grpc/partial.rs`) gathers from several walks and orders as one walk does.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::Serialize;

use super::super::spansets::SpanSetJson;
use crate::model::TraceId;
use crate::store::{SpanRecord, Trace};

/// What Tempo reports for a trace whose root span has not arrived.
const NO_ROOT_SERVICE: &str = "<root span not yet received>";

/// One matching trace with what orders the results.
#[derive(Debug)]
pub(in crate::api) struct Found {
    pub(super) start: u64,
    pub(super) id: TraceId,
    pub(super) summary: TraceSummary,
}

impl Found {
    /// What orders results as [`crate::store::Store::search`] does, ascending: newest start
    /// first, ties by trace id.
    pub(in crate::api) fn order(&self) -> (Reverse<u64>, TraceId) {
        (Reverse(self.start), self.id)
    }
}

/// `tempopb.SearchResponse` as jsonpb writes it: empty fields left out, uint64 as strings.
#[derive(Debug, Serialize)]
pub(in crate::api) struct SearchResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    traces: Vec<TraceSummary>,
    metrics: SearchMetrics,
}

impl SearchResponse {
    /// The answer for `found` (in the order given) after `inspected` traces; `jobs` is
    /// (completed, total) for a streamed search, which the HTTP answer leaves out.
    pub(in crate::api) fn new(found: Vec<Found>, inspected: usize, jobs: (u32, u32)) -> Self {
        SearchResponse {
            traces: found.into_iter().map(|f| f.summary).collect(),
            metrics: SearchMetrics {
                inspected_traces: u32::try_from(inspected).unwrap_or(u32::MAX),
                completed_jobs: jobs.0,
                total_jobs: jobs.1,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TraceSummary {
    #[serde(rename = "traceID")]
    trace_id: String,
    root_service_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    root_trace_name: String,
    start_time_unix_nano: String,
    #[serde(skip_serializing_if = "is_zero")]
    duration_ms: u32,
    /// The first spanset (Tempo's deprecated field, which Grafana still prefers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) span_set: Option<SpanSetJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) span_sets: Vec<SpanSetJson>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) service_stats: BTreeMap<String, ServiceStats>,
}

/// One service's entry in `serviceStats`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceStats {
    pub(super) span_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub(super) error_count: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchMetrics {
    #[serde(skip_serializing_if = "is_zero")]
    inspected_traces: u32,
    #[serde(skip_serializing_if = "is_zero")]
    completed_jobs: u32,
    #[serde(skip_serializing_if = "is_zero")]
    total_jobs: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl TraceSummary {
    pub(super) fn of(trace: &Trace) -> Self {
        let root = trace.root();
        TraceSummary {
            trace_id: trace.id.to_short_hex(),
            root_service_name: root
                .map_or(NO_ROOT_SERVICE, SpanRecord::service_name)
                .to_owned(),
            root_trace_name: root.map(|r| r.name().to_owned()).unwrap_or_default(),
            start_time_unix_nano: trace.start_unix_nano().to_string(),
            // Tempo truncates to whole milliseconds in a uint32.
            duration_ms: u32::try_from(trace.duration().as_millis()).unwrap_or(u32::MAX),
            span_set: None,
            span_sets: Vec::new(),
            service_stats: BTreeMap::new(),
        }
    }
}
