//! The analysis's figures as Prometheus series, under the names Grafana's service graph and
//! APM table read (`traces_service_graph_*`, `traces_spanmetrics_*`), computed at ingest.
//!
//! Why at ingest and not from the spans held: the store evicts, and counters computed from what
//! it holds would go down when it does, which Prometheus reads as a reset. These are updated
//! once per span as it is received (like Tempo's metrics generator, a retried duplicate is
//! counted again), so they never decrease and eviction does not touch them.
//!
//! The service graph pairs a CLIENT span with the SERVER span it parents. The two come from
//! different services, in different export requests, in either order, so each waits in a
//! pending table for its other half: at most [`PAIR_WAIT`] and [`MAX_PENDING`] entries (the
//! oldest go first). A CLIENT span that expires unpaired counts as a call to the peer its
//! `peer.service` or `server.address` names, if any (a service that is down answers no span);
//! a SERVER span that expires unpaired is dropped. Label sets are bounded by [`MAX_SERIES`];
//! spans that would make a new one past it are counted in
//! `tracelab_store_metrics_series_dropped_total` instead.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arcstr::ArcStr;
use foldhash::HashMap;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::model::{SpanId, TraceId};
use crate::store::SpanRecord;

/// Longest a CLIENT or SERVER span waits for its other half (Tempo's default `wait`).
pub(crate) const PAIR_WAIT: Duration = Duration::from_secs(10);
/// Most spans waiting for their other half (Tempo's default `max_items`).
pub(crate) const MAX_PENDING: usize = 10_000;
/// Most label sets per metric family.
pub(crate) const MAX_SERIES: usize = 10_000;

/// Upper bounds of the histogram buckets, seconds (Tempo's span-metrics defaults).
const BUCKETS: [f64; 14] = [
    0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    16.384,
];

/// The live metrics of one store.
#[derive(Debug, Default)]
pub(crate) struct Live {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (service, span name, kind, status) → latency. Shared strings: a span already seen
    /// costs no allocation.
    calls: HashMap<(ArcStr, ArcStr, i32, i32), Histogram>,
    /// (client, server) → calls.
    edges: HashMap<(ArcStr, ArcStr), Edge>,
    clients: HashMap<(TraceId, SpanId), Half>,
    /// Keyed by the SERVER span's parent: the CLIENT span it waits for.
    servers: HashMap<(TraceId, SpanId), Half>,
    /// Arrival order of pending halves, for expiry: (when, key, is a client).
    queue: VecDeque<(Instant, (TraceId, SpanId), bool)>,
    dropped_series: u64,
    expired: u64,
}

#[derive(Debug, Clone)]
struct Half {
    service: ArcStr,
    seconds: f64,
    failed: bool,
    /// A CLIENT span, kept to name its peer if no SERVER span answers it.
    client: Option<SpanRecord>,
}

#[derive(Debug, Default)]
struct Edge {
    requests: u64,
    failed: u64,
    server: Histogram,
    client: Histogram,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative), the last one +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let at = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[at] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, n) in self.counts.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

impl Live {
    /// Counts the spans of one accepted request, now.
    pub(crate) fn observe(&self, spans: &[(TraceId, Vec<SpanRecord>)]) {
        self.observe_at(spans, Instant::now());
    }

    pub(crate) fn observe_at(&self, spans: &[(TraceId, Vec<SpanRecord>)], now: Instant) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.expire(now);
        for (trace, records) in spans {
            for span in records {
                inner.span(*trace, span, now);
            }
        }
    }

    /// The series in Prometheus text format, appended to `out`; expires halves waited on
    /// for too long first.
    pub(crate) fn render(&self, out: &mut String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.expire(Instant::now());
        inner.render(out);
    }
}

impl Inner {
    fn span(&mut self, trace: TraceId, span: &SpanRecord, now: Instant) {
        let seconds = span.end_unix_nano().saturating_sub(span.start_unix_nano()) as f64 / 1e9;
        let service = span.source().service_name_shared();
        let key = (
            service.clone(),
            span.name_shared(),
            span.kind_number(),
            span.status_code(),
        );
        let series = self.calls.len();
        match self.calls.get_mut(&key) {
            Some(h) => h.observe(seconds),
            None if series < MAX_SERIES => self.calls.entry(key).or_default().observe(seconds),
            None => self.dropped_series += 1,
        }

        let half = |client: bool| Half {
            service: service.clone(),
            seconds,
            failed: span.is_error(),
            client: client.then(|| span.clone()),
        };
        match span.kind() {
            SpanKind::Client => {
                let key = (trace, span.span_id());
                match self.servers.remove(&key) {
                    Some(server) => self.pair(half(false), server),
                    None => self.wait(key, true, half(true), now),
                }
            }
            SpanKind::Server => {
                let Some(parent) = span.parent_span_id() else {
                    return;
                };
                let key = (trace, parent);
                match self.clients.remove(&key) {
                    Some(client) => self.pair(client, half(false)),
                    None => self.wait(key, false, half(false), now),
                }
            }
            _ => {}
        }
    }

    fn wait(&mut self, key: (TraceId, SpanId), client: bool, half: Half, now: Instant) {
        if self.clients.len() + self.servers.len() >= MAX_PENDING {
            self.expire_one();
        }
        let table = if client {
            &mut self.clients
        } else {
            &mut self.servers
        };
        table.insert(key, half);
        self.queue.push_back((now, key, client));
        // Halves paired since they queued leave their entries behind until they expire; drop
        // those now and then, so the queue stays within a bound whatever the span rate.
        if self.queue.len() > 2 * MAX_PENDING {
            let (clients, servers) = (&self.clients, &self.servers);
            self.queue.retain(|(_, key, client)| {
                if *client {
                    clients.contains_key(key)
                } else {
                    servers.contains_key(key)
                }
            });
        }
    }

    fn pair(&mut self, client: Half, server: Half) {
        let failed = client.failed || server.failed;
        let edge = self.edge(client.service, server.service);
        if let Some(edge) = edge {
            edge.requests += 1;
            edge.failed += u64::from(failed);
            edge.server.observe(server.seconds);
            edge.client.observe(client.seconds);
        }
    }

    fn edge(&mut self, client: ArcStr, server: ArcStr) -> Option<&mut Edge> {
        let series = self.edges.len();
        let key = (client, server);
        if series >= MAX_SERIES && !self.edges.contains_key(&key) {
            self.dropped_series += 1;
            return None;
        }
        Some(self.edges.entry(key).or_default())
    }

    fn expire(&mut self, now: Instant) {
        while let Some((when, _, _)) = self.queue.front() {
            if now.duration_since(*when) < PAIR_WAIT {
                break;
            }
            self.expire_one();
        }
    }

    /// Gives up on the oldest pending half: a CLIENT span that names its peer becomes a call
    /// to that peer, anything else is dropped. Halves already paired are skipped.
    fn expire_one(&mut self) {
        while let Some((_, key, client)) = self.queue.pop_front() {
            let table = if client {
                &mut self.clients
            } else {
                &mut self.servers
            };
            let Some(half) = table.remove(&key) else {
                continue;
            };
            self.expired += 1;
            if let Some(peer) = half.client.as_ref().and_then(super::peer) {
                let failed = half.failed;
                if let Some(edge) = self.edge(half.service, ArcStr::from(peer)) {
                    edge.requests += 1;
                    edge.failed += u64::from(failed);
                    edge.client.observe(half.seconds);
                }
            }
            return;
        }
    }
}

#[path = "live_render.rs"]
mod render;

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
