//! Answers computed from stored spans: RED figures per service and per edge, the service graph,
//! the critical path of a trace, and findings that name what a workshop asks ("where is it
//! slow, what failed, how does the request flow").
//!
//! Everything here reads [`Trace`] snapshots (from [`Store::traces`], which copies pointers a
//! block at a time under the store's lock and releases it), so an analysis never holds ingest
//! back. It is synchronous CPU work; async callers run it on tokio's blocking pool.
//!
//! Definitions:
//! - a service's *requests* are its SERVER spans; *errors* those with status error;
//! - an *edge* is a CLIENT span and the SERVER spans it parents (`from` the client's service,
//!   `to` the server's); a CLIENT span whose SERVER child never arrived is an edge to the peer
//!   its `peer.service`, else `server.address[:server.port]`, names, and is left out when it
//!   names none. An edge's call fails if either side has status error. Its durations are the
//!   client's (what the caller waited).
//! - percentiles are nearest-rank over every duration in the window.
//!
//! Memory: a few numbers per SERVER or CLIENT span and per trace in the window, so it is bounded
//! by the store's own bound.

mod critical_path;
mod findings;
pub(crate) mod live;
pub(crate) mod route;

use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde::Serialize;

pub use self::critical_path::{Segment, critical_path};
use crate::model::TimeWindow;
use crate::store::{AttrValue, SpanRecord, Store, Trace};

/// Requests, errors and latency of one service's SERVER spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStats {
    /// `service.name`.
    pub service: String,
    /// SERVER spans.
    pub requests: u64,
    /// Of those, with status error.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Median duration, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// Calls from one service to another (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeStats {
    /// The caller's service.
    pub from: String,
    /// The callee's service, or the peer the CLIENT span names when no SERVER span answered.
    pub to: String,
    /// Calls.
    pub requests: u64,
    /// Calls where the client or the server span has status error.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Median of the CLIENT spans' durations, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// One answer the analysis found, in a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `broken_propagation`, `slowest_hop` or `failing_hop`.
    pub kind: &'static str,
    /// The finding, for people.
    pub message: String,
}

/// Everything the analysis computes over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Traces looked at.
    pub traces: u64,
    /// Per service, by name.
    pub services: Vec<ServiceStats>,
    /// The service graph, by caller then callee.
    pub edges: Vec<EdgeStats>,
    /// What stands out, most telling first.
    pub findings: Vec<Finding>,
}

/// The analysis of every trace in `store` that overlaps `window`.
pub fn stats(store: &Store, window: TimeWindow) -> Stats {
    analyze(store.traces(window))
}

/// The analysis of `traces`.
pub fn analyze(traces: impl IntoIterator<Item = Arc<Trace>>) -> Stats {
    let mut acc = Accumulator::default();
    for trace in traces {
        acc.add(&trace);
    }
    acc.finish()
}

/// What is collected per trace, before the figures are made.
#[derive(Debug, Default)]
struct Accumulator {
    traces: u64,
    /// Durations in ns and error flags of SERVER spans, by service.
    servers: BTreeMap<String, Samples>,
    /// The same for calls, by (caller, callee).
    edges: BTreeMap<(String, String), Samples>,
    findings: findings::Collector,
}

#[derive(Debug, Default)]
struct Samples {
    nanos: Vec<u64>,
    errors: u64,
}

impl Samples {
    fn add(&mut self, nanos: u64, error: bool) {
        self.nanos.push(nanos);
        self.errors += u64::from(error);
    }

    /// (requests, errors, error rate, p50, p90, p99 in ms).
    fn figures(mut self) -> (u64, u64, f64, f64, f64, f64) {
        self.nanos.sort_unstable();
        let requests = self.nanos.len() as u64;
        let rate = if requests == 0 {
            0.0
        } else {
            self.errors as f64 / requests as f64
        };
        let p = |q| percentile(&self.nanos, q) as f64 / 1e6;
        (requests, self.errors, rate, p(0.5), p(0.9), p(0.99))
    }
}

/// Nearest-rank percentile `q` (0 < q ≤ 1) of sorted `values`; 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Accumulator {
    fn add(&mut self, trace: &Trace) {
        self.traces += 1;
        let parents = trace.parents();
        let mut answered = vec![false; trace.spans.len()];
        for (i, span) in trace.spans.iter().enumerate() {
            let nanos = span_nanos(span);
            if span.kind() != SpanKind::Server {
                continue;
            }
            self.servers
                .entry(span.service_name().to_owned())
                .or_default()
                .add(nanos, span.is_error());
            let Some(parent) = parents[i] else { continue };
            let client = &trace.spans[parent];
            if client.kind() == SpanKind::Client && !answered[parent] {
                answered[parent] = true;
                let key = (
                    client.service_name().to_owned(),
                    span.service_name().to_owned(),
                );
                self.edges
                    .entry(key)
                    .or_default()
                    .add(span_nanos(client), client.is_error() || span.is_error());
            }
        }
        for (i, client) in trace.spans.iter().enumerate() {
            if client.kind() != SpanKind::Client || answered[i] {
                continue;
            }
            if let Some(peer) = peer(client) {
                let key = (client.service_name().to_owned(), peer);
                self.edges
                    .entry(key)
                    .or_default()
                    .add(span_nanos(client), client.is_error());
            }
        }
        self.findings.add(trace, &parents, &answered);
    }

    fn finish(self) -> Stats {
        let services = self
            .servers
            .into_iter()
            .map(|(service, samples)| {
                let (requests, errors, error_rate, p50_ms, p90_ms, p99_ms) = samples.figures();
                ServiceStats {
                    service,
                    requests,
                    errors,
                    error_rate,
                    p50_ms,
                    p90_ms,
                    p99_ms,
                }
            })
            .collect();
        let edges = self
            .edges
            .into_iter()
            .map(|((from, to), samples)| {
                let (requests, errors, error_rate, p50_ms, p90_ms, p99_ms) = samples.figures();
                EdgeStats {
                    from,
                    to,
                    requests,
                    errors,
                    error_rate,
                    p50_ms,
                    p90_ms,
                    p99_ms,
                }
            })
            .collect();
        Stats {
            traces: self.traces,
            services,
            edges,
            findings: self.findings.finish(),
        }
    }
}

fn span_nanos(span: &SpanRecord) -> u64 {
    span.end_unix_nano().saturating_sub(span.start_unix_nano())
}

/// Where a CLIENT span says it called: `peer.service`, else `server.address` with
/// `server.port` if set.
pub(crate) fn peer(client: &SpanRecord) -> Option<String> {
    let text = |key| match client.attribute(key)? {
        AttrValue::Str(s) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    if let Some(service) = text("peer.service") {
        return Some(service);
    }
    let address = text("server.address")?;
    Some(match client.attribute("server.port") {
        Some(AttrValue::Int(port)) => format!("{address}:{port}"),
        _ => address,
    })
}

#[cfg(test)]
mod tests;
