//! Findings: the sentences `tracelab stats` and the scenarios print.
//!
//! - `broken_propagation`: CLIENT spans with no SERVER child while, during those calls, another
//!   service's SERVER spans start traces of their own. Each childless call is matched to the
//!   root that started nearest after it, among services that are not upstream of the caller (a
//!   service that is the entry of traces the caller appears in is its client, not its callee;
//!   without that rule, concurrent requests arriving at the entry service would be taken for
//!   the lost calls).
//! - `slowest_hop`: the service whose own work takes the largest share of the critical paths of
//!   the traces (those not started by a cut-off callee), summed over traces.
//! - `failing_hop`: where errors start: error spans none of whose children failed, grouped by
//!   service and what they say (status code, `error.type`); the services whose error spans only
//!   relay a child's failure are named too.

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::{Finding, critical_path, peer};
use crate::store::{AttrValue, SpanRecord, Trace};

/// Bounds what findings keep per trace: a few strings and numbers.
#[derive(Debug, Default)]
pub(super) struct Collector {
    traces: u64,
    /// CLIENT spans without a SERVER child: (caller, start, end).
    lost_calls: Vec<(String, u64, u64)>,
    /// SERVER spans without a parent: (service, start).
    roots: Vec<(String, u64)>,
    /// (entry service, a service in the same trace).
    upstream: BTreeSet<(String, String)>,
    /// Per trace: (entry service, entry duration, critical time per service).
    paths: Vec<(String, u64, BTreeMap<String, u64>)>,
    /// Traces in which each error origin appears.
    origins: BTreeMap<(String, String), u64>,
    /// Services with error spans that relay a child's error.
    relays: BTreeSet<String>,
}

impl Collector {
    pub(super) fn add(&mut self, trace: &Trace, parents: &[Option<usize>], answered: &[bool]) {
        self.traces += 1;
        let spans = &trace.spans;
        let mut child_failed = vec![false; spans.len()];
        for (i, parent) in parents.iter().enumerate() {
            if let Some(parent) = parent {
                child_failed[*parent] |= spans[i].is_error();
            }
        }
        let path = critical_path(trace);
        let mut origins_here = BTreeSet::new();
        for (i, span) in spans.iter().enumerate() {
            if span.kind() == SpanKind::Client && !answered[i] {
                let caller = span.service_name().to_owned();
                self.lost_calls
                    .push((caller, span.start_unix_nano(), span.end_unix_nano()));
            }
            if span.kind() == SpanKind::Server && span.parent_span_id().is_none() {
                self.roots
                    .push((span.service_name().to_owned(), span.start_unix_nano()));
            }
            if span.is_error() {
                if child_failed[i] {
                    self.relays.insert(span.service_name().to_owned());
                } else {
                    let mut what = origin(trace, i, parents);
                    if let Some(callee) = waited_on(trace, i, &path) {
                        what.push_str(&format!(" while waiting on {callee}"));
                    }
                    origins_here.insert((span.service_name().to_owned(), what));
                }
            }
        }
        for origin in origins_here {
            *self.origins.entry(origin).or_default() += 1;
        }

        let Some(first) = path.first() else { return };
        let entry = first.span;
        let entry_service = spans[entry].service_name().to_owned();
        for span in spans {
            self.upstream
                .insert((entry_service.clone(), span.service_name().to_owned()));
        }
        let mut per_service: BTreeMap<String, u64> = BTreeMap::new();
        for segment in &path {
            *per_service
                .entry(spans[segment.span].service_name().to_owned())
                .or_default() += segment.nanos();
        }
        let total = path.iter().map(|s| s.nanos()).sum();
        self.paths.push((entry_service, total, per_service));
    }

    pub(super) fn finish(mut self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let cut_off = self.broken_propagation(&mut findings);
        self.slowest_hop(&cut_off, &mut findings);
        self.failing_hop(&mut findings);
        findings
    }

    /// Adds the findings and returns the services whose traces were cut off from their caller.
    fn broken_propagation(&mut self, findings: &mut Vec<Finding>) -> BTreeSet<String> {
        self.roots.sort_by_key(|r| r.1);
        // (caller, callee) → matched calls; caller → lost calls.
        let mut matched: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        let mut lost: BTreeMap<&str, u64> = BTreeMap::new();
        for (caller, start, end) in &self.lost_calls {
            *lost.entry(caller).or_default() += 1;
            let from = self.roots.partition_point(|r| r.1 < *start);
            let nearest =
                self.roots[from..]
                    .iter()
                    .take_while(|r| r.1 <= *end)
                    .find(|(service, _)| {
                        service != caller
                            && !self.upstream.contains(&(service.clone(), caller.clone()))
                    });
            if let Some((callee, _)) = nearest {
                *matched.entry((caller, callee)).or_default() += 1;
            }
        }
        let mut cut_off = BTreeSet::new();
        for ((caller, callee), calls) in matched {
            let of = lost[caller];
            // Most of the caller's lost calls, not a coincidence or two.
            if calls * 2 < of {
                continue;
            }
            cut_off.insert(callee.to_owned());
            findings.push(Finding {
                kind: "broken_propagation",
                message: format!(
                    "{caller} called {callee}, but {callee}'s spans start new traces: {calls} of \
                     {caller}'s {of} calls without an answering span were matched by a new \
                     {callee} trace starting during the call (the trace context was not passed on)"
                ),
            });
        }
        cut_off
    }

    fn slowest_hop(&self, cut_off: &BTreeSet<String>, findings: &mut Vec<Finding>) {
        let mut per_service: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut total, mut traces) = (0u64, 0u64);
        for (entry, duration, services) in &self.paths {
            if cut_off.contains(entry) {
                continue;
            }
            traces += 1;
            total += duration;
            for (service, nanos) in services {
                *per_service.entry(service).or_default() += nanos;
            }
        }
        let Some((service, nanos)) = per_service.into_iter().max_by_key(|(_, n)| *n) else {
            return;
        };
        if total == 0 {
            return;
        }
        let ms = |n: u64| n as f64 / traces as f64 / 1e6;
        findings.push(Finding {
            kind: "slowest_hop",
            message: format!(
                "{service} is the slowest hop: its own work is {:.0} % of the end-to-end time \
                 (on average {:.1} ms of {:.1} ms per trace on the critical path, over {traces} \
                 traces)",
                nanos as f64 * 100.0 / total as f64,
                ms(nanos),
                ms(total),
            ),
        });
    }

    fn failing_hop(&self, findings: &mut Vec<Finding>) {
        let Some(((service, what), count)) = self.origins.iter().max_by_key(|(_, n)| **n) else {
            return;
        };
        let relays: Vec<&str> = self
            .relays
            .iter()
            .filter(|s| *s != service)
            .map(String::as_str)
            .collect();
        let relayed = if relays.is_empty() {
            String::new()
        } else {
            let verb = if relays.len() == 1 { "relays" } else { "relay" };
            format!("; {} only {verb} the failure", relays.join(" and "))
        };
        findings.push(Finding {
            kind: "failing_hop",
            message: format!(
                "errors start in {service}: {what} in {count} of {} traces ({:.0} %){relayed}",
                self.traces,
                *count as f64 * 100.0 / self.traces as f64,
            ),
        });
    }
}

/// What an error span that started a failure says about it.
fn origin(trace: &Trace, i: usize, parents: &[Option<usize>]) -> String {
    let span = &trace.spans[i];
    let detail = |key| match span.attribute(key) {
        Some(AttrValue::Str(s)) => Some(s.to_string()),
        Some(AttrValue::Int(n)) => Some(n.to_string()),
        _ => None,
    };
    let reason = detail("error.type")
        .or_else(|| detail("http.response.status_code"))
        .or_else(|| Some(span.status_message().to_owned()).filter(|m| !m.is_empty()))
        .unwrap_or_else(|| "error".to_owned());
    match span.kind() {
        SpanKind::Server => format!("its SERVER span \"{}\" answered {reason}", span.name()),
        SpanKind::Client => {
            let callee = callee(trace, i, parents).unwrap_or_else(|| "its peer".to_owned());
            format!("its calls to {callee} failed ({reason})")
        }
        _ => format!("its span \"{}\" failed ({reason})", span.name()),
    }
}

/// For a failed CLIENT span that did get an answering span: the other service whose own work
/// took most of the critical path during the call (where a timeout's time went).
fn waited_on(trace: &Trace, i: usize, path: &[super::Segment]) -> Option<String> {
    let span = &trace.spans[i];
    if span.kind() != SpanKind::Client {
        return None;
    }
    let (start, end) = (span.start_unix_nano(), span.end_unix_nano());
    let mut per_service: BTreeMap<&str, u64> = BTreeMap::new();
    for segment in path {
        let service = trace.spans[segment.span].service_name();
        let overlap = segment
            .end
            .min(end)
            .saturating_sub(segment.start.max(start));
        if service != span.service_name() && overlap > 0 {
            *per_service.entry(service).or_default() += overlap;
        }
    }
    let (service, nanos) = per_service.into_iter().max_by_key(|(_, n)| *n)?;
    // Only when it is most of the call: otherwise the call's time is not someone else's.
    (nanos * 2 > end.saturating_sub(start)).then(|| service.to_owned())
}

/// The service a CLIENT span called: its SERVER child's, else the peer it names.
fn callee(trace: &Trace, i: usize, parents: &[Option<usize>]) -> Option<String> {
    parents
        .iter()
        .zip(&trace.spans)
        .find(|(p, s)| **p == Some(i) && s.kind() == SpanKind::Server)
        .map(|(_, s): (_, &SpanRecord)| s.service_name().to_owned())
        .or_else(|| peer(&trace.spans[i]))
}
