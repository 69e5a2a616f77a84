//! [`Failure`]: why an expectation failed, in words that say what happened: the trace, the
//! query, what was expected, what arrived and when ("2 of 5 spans after 10s; missing: app-c
//! SERVER GET /"). [`judge`] turns a waited-for trace and a shape into a verdict; the Rust API
//! and `tracelab expect` both use it, so they fail with the same words.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use trace_store::{Trace, TraceId};

use crate::check::{Comparison, compare};
use crate::shape::Shape;

/// What kind of failure it is (the CLI's exit code follows from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The trace arrived and does not match.
    Mismatch,
    /// The trace (or enough matching traces) did not arrive in time.
    Timeout,
    /// The input was wrong: a TraceQL query that does not parse, say.
    BadInput,
}

/// Why an expectation failed. `Display` gives the whole story without colour;
/// [`Failure::render`] can colour it.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The trace, when one is concerned.
    pub trace_id: Option<String>,
    /// The query, when the trace was looked for by one.
    pub query: Option<String>,
    /// One line: what happened.
    pub headline: String,
    /// The side-by-side comparison, when a trace arrived to compare.
    pub comparison: Option<Box<Comparison>>,
}

impl Failure {
    /// A failure with only a headline.
    pub fn new(kind: FailureKind, headline: impl Into<String>) -> Self {
        Failure {
            kind,
            trace_id: None,
            query: None,
            headline: headline.into(),
            comparison: None,
        }
    }

    /// The same failure, said to be about the trace the query `query` found.
    pub fn with_query(mut self, query: &str) -> Self {
        self.headline = format!("query {query}: {}", self.headline);
        self.query = Some(query.to_owned());
        self
    }

    /// The headline, then the comparison drawn side by side (coloured if `color`).
    pub fn render(&self, color: bool) -> String {
        let mut text = self.headline.clone();
        text.push('\n');
        if let Some(comparison) = &self.comparison {
            text.push_str(&crate::report::render(comparison, color));
        }
        text
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Failure {}

/// How a wait for a trace ended, as [`judge`] needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'t> {
    /// The trace as it was at the end (`None`: not one span arrived).
    pub trace: Option<&'t Trace>,
    /// Whether the wait ended because time ran out.
    pub timed_out: bool,
    /// How long was waited.
    pub waited: Duration,
}

/// The verdict on trace `id` against `shape`: the comparison when it matches, else a
/// [`Failure`] whose headline says what happened.
pub fn judge(id: TraceId, shape: &Shape, arrival: Arrival<'_>) -> Result<Comparison, Failure> {
    let nodes = shape.node_count();
    let waited = humantime::format_duration(round(arrival.waited));
    let Some(trace) = arrival.trace else {
        let mut failure = Failure::new(
            FailureKind::Timeout,
            format!("trace {id}: no span arrived within {waited} (the shape has {nodes} spans)"),
        );
        failure.trace_id = Some(id.to_string());
        return Err(failure);
    };
    let comparison = compare(shape, trace);
    if comparison.matches() {
        return Ok(comparison);
    }
    let spans = trace.spans.len();
    let (kind, headline) = if arrival.timed_out && spans < nodes {
        let missing = comparison.missing().join(", ");
        (
            FailureKind::Timeout,
            format!("trace {id}: {spans} of {nodes} spans after {waited}; missing: {missing}"),
        )
    } else {
        let first = comparison.problems().into_iter().next().unwrap_or_default();
        (
            FailureKind::Mismatch,
            format!(
                "trace {id} does not match the shape ({spans} spans arrived within {waited}): \
                 {first}"
            ),
        )
    };
    Err(Failure {
        kind,
        trace_id: Some(id.to_string()),
        query: None,
        headline,
        comparison: Some(Box::new(comparison)),
    })
}

/// A duration to the millisecond, so messages say `1s 203ms`, not nanoseconds.
pub(crate) fn round(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
