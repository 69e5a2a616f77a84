//! TraceQL metrics: `{ … } | rate() by (…)` and friends, turned into time series over the
//! spans a store holds, with Tempo's semantics (2.9's `pkg/traceql/engine_metrics*.go`).
//!
//! A [`MetricsQuery`] (from [`crate::parse_metrics`]) is a spanset query, one metrics function,
//! optional `by(…)`, then second stages (`| topk(n)`, `| bottomk(n)`, comparisons such as
//! `> 10`) and hints. A store makes a [`MetricsEvaluator`] for a [`Range`], feeds it every trace
//! that may hold spans in the range ([`MetricsEvaluator::observe`]), and takes the
//! [`MetricsAnswer`]. The evaluator keeps one value per series and step, so memory is bounded by
//! the series limit times [`Range::MAX_INTERVALS`], whatever the number of spans.
//!
//! Functions: `rate()` (spans per second of step), `count_over_time()`,
//! `min/max/avg/sum_over_time(field)` (durations in seconds), `quantile_over_time(field, q…)`
//! (Tempo's power-of-two buckets with exponential interpolation, a `p` label per quantile),
//! `histogram_over_time(field)` (a `__bucket` label: the bucket's upper bound, seconds for
//! durations), `compare({filter}, topN?, start?, end?)` (`__meta_type` `baseline`,
//! `selection`, `baseline_total`, `selection_total`). Hints `with(exemplars=…)` are read by
//! [`MetricsQuery::exemplars_hint`]; `sample` and others are accepted and ignored (every span
//! is counted, so results are exact).
//!
//! Layout: `parse` (tokens → query), `range` (step alignment), `engine` (grouping and the
//! per-step accumulators), `key` (series keys, exemplar slots), `quantile` (buckets),
//! `compare`, `stages` (topk, bottomk, filters).

mod compare;
mod engine;
mod key;
pub(crate) mod parse;
mod quantile;
mod range;
mod stages;

pub use engine::MetricsEvaluator;
pub(crate) use parse::is_metrics_function;
pub use range::{Range, RangeError};

use crate::Query;
use crate::syntax::ast::{CmpOp, Field, Hint, Static};

/// A parsed and checked metrics query.
#[derive(Debug, Clone)]
pub struct MetricsQuery {
    /// The spans the function aggregates.
    filter: Query,
    func: Func,
    by: Vec<Field>,
    stages: Vec<SecondStage>,
    hints: Vec<Hint>,
}

/// The metrics function.
#[derive(Debug, Clone)]
pub(crate) enum Func {
    Rate,
    CountOverTime,
    MinOverTime(Field),
    MaxOverTime(Field),
    AvgOverTime(Field),
    SumOverTime(Field),
    Quantile(Field, Vec<f64>),
    Histogram(Field),
    Compare {
        filter: Box<Query>,
        top_n: usize,
        /// Unix nanoseconds: spans starting in `(start, end]` may be selected; none means any.
        window: Option<(u64, u64)>,
    },
}

impl Func {
    /// The name Tempo gives an ungrouped series (`__name__`).
    fn name(&self) -> &'static str {
        match self {
            Func::Rate => "rate",
            Func::CountOverTime => "count_over_time",
            Func::MinOverTime(_) => "min_over_time",
            Func::MaxOverTime(_) => "max_over_time",
            Func::AvgOverTime(_) => "avg_over_time",
            Func::SumOverTime(_) => "sum_over_time",
            Func::Quantile(..) => "quantile_over_time",
            Func::Histogram(_) => "histogram_over_time",
            Func::Compare { .. } => "compare",
        }
    }
}

/// What runs on the series after the function.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecondStage {
    /// `topk(k)` (`top`) or `bottomk(k)`: per step, the k highest (lowest) series keep their
    /// value; series never among them disappear.
    TopK { top: bool, k: usize },
    /// `> 10` and the like: values that fail become gaps; series left empty disappear.
    Filter { op: CmpOp, value: f64 },
}

impl MetricsQuery {
    /// The spanset query that selects the spans.
    pub fn filter(&self) -> &Query {
        &self.filter
    }

    /// Whether the query is `compare(…)`.
    pub fn is_compare(&self) -> bool {
        matches!(self.func, Func::Compare { .. })
    }

    /// Whether each step's values depend only on the spans of that step, so that evaluating
    /// parts of the range ([`MetricsEvaluator::only_steps`]) gives the same samples: not for
    /// `compare()` (its totals span the range) nor `topk`/`bottomk` (which rank the series).
    pub fn splits_by_step(&self) -> bool {
        !self.is_compare()
            && !self
                .stages
                .iter()
                .any(|stage| matches!(stage, SecondStage::TopK { .. }))
    }

    /// What `with(exemplars=…)` asks for: `Some(n)` for a number, `Some(0)` for `false`, `None`
    /// when the hint is absent or `true` (the request's `exemplars` parameter decides).
    pub fn exemplars_hint(&self) -> Option<usize> {
        self.hints
            .iter()
            .rev()
            .find(|h| h.name == "exemplars")
            .and_then(|h| match h.value {
                Static::Int(n) => Some(usize::try_from(n).unwrap_or(0)),
                Static::Bool(false) => Some(0),
                _ => None,
            })
    }

    /// An evaluator over `range`, keeping up to `exemplars` exemplars per series and at most
    /// `max_series` series (more makes a partial answer), fewer if series × steps would pass
    /// 4,194,304 values.
    pub fn evaluator(
        &self,
        range: Range,
        exemplars: usize,
        max_series: usize,
    ) -> MetricsEvaluator<'_> {
        MetricsEvaluator::new(self, range, exemplars, max_series)
    }
}

/// The series of a metrics query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsAnswer {
    /// The series, sorted by labels.
    pub series: Vec<Series>,
    /// `Some(limit)` if the series limit cut the answer: it is partial.
    pub truncated_at: Option<usize>,
}

/// One time series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Typed labels, in Tempo's order (the `by` fields, then `p` or `__bucket`).
    pub labels: Vec<(String, LabelValue)>,
    /// One sample per step that has a value, oldest first.
    pub samples: Vec<Sample>,
    /// Spans that illustrate the series, with their trace ids.
    pub exemplars: Vec<Exemplar>,
}

/// A label's value, typed as TraceQL typed the field.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelValue {
    /// The field was missing (only when every `by` field was).
    Nil,
    /// A string (status and kind as their names, durations in Go's notation).
    Str(String),
    /// An integer.
    Int(i64),
    /// A float (`p`, `__bucket`).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// One value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The end of the step, Unix milliseconds.
    pub timestamp_ms: i64,
    /// The value; never NaN.
    pub value: f64,
}

/// A span behind a series' value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// `trace:id` and `span:id`, lowercase hex.
    pub labels: Vec<(String, LabelValue)>,
    /// The span's value (seconds for durations); NaN for counts.
    pub value: f64,
    /// The span's start, Unix milliseconds.
    pub timestamp_ms: i64,
}

#[cfg(test)]
mod tests;
