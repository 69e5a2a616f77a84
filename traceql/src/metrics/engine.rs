//! The evaluator: spans of each trace → series keyed by their `by` values → one accumulator per
//! step → [`MetricsAnswer`].
//!
//! The hot path (one call per matching span) reads the `by` fields as borrowed values, hashes
//! them, and finds the series through a hash → indexes map comparing borrowed with owned keys,
//! so a span of an existing series allocates nothing.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};

use super::compare::Compare;
use super::key::{ExemplarSlots, HashIsKey, Part, hex};
use super::quantile::{self, bucket_of};
use super::stages::{RawSeries, apply_stages};
use super::{Exemplar, Func, LabelValue, MetricsAnswer, MetricsQuery, Range};
use crate::eval::{Elem, TraceCtx, field_value};
use crate::syntax::ast::Field;
use crate::{SpanView, TraceView, Value};

/// A number a span has for `field`: durations in seconds, ints and floats as they are.
fn number(value: Value<'_>) -> Option<f64> {
    match value {
        Value::Duration(d) => Some(d as f64 / 1e9),
        Value::Int(i) => Some(i as f64),
        Value::Float(x) if !x.is_nan() => Some(x),
        _ => None,
    }
}

/// One series' values per step.
#[derive(Debug)]
enum Acc {
    /// `rate`, `count_over_time`, `histogram_over_time`: counts, 0 where nothing started.
    Count(Vec<f64>),
    /// `min/max/sum_over_time`: NaN until a value arrives.
    Fold(Vec<f64>),
    /// `avg_over_time`: sums and counts.
    Avg(Vec<f64>, Vec<f64>),
    /// `quantile_over_time`: (bucket bound, count) per step.
    Buckets(Vec<Vec<(f64, u64)>>),
}

/// A series being built.
#[derive(Debug)]
struct Group {
    key: Vec<Part<'static>>,
    acc: Acc,
    exemplars: Vec<Exemplar>,
    slots: ExemplarSlots,
}

/// Evaluates one [`MetricsQuery`] over the traces it is shown.
#[derive(Debug)]
pub struct MetricsEvaluator<'q> {
    query: &'q MetricsQuery,
    range: Range,
    exemplars: usize,
    max_series: usize,
    truncated: bool,
    groups: Vec<Group>,
    /// Key hash → groups with that hash. The keys are hashes already, so not hashed again.
    index: HashMap<u64, Vec<usize>, BuildHasherDefault<HashIsKey>>,
    hasher: RandomState,
    /// The group of the previous span: spans of one trace and resource usually share it.
    last: Option<usize>,
    compare: Option<Compare<'q>>,
    /// Reused per trace: which spans the spansets hold.
    marks: Vec<bool>,
    /// (bucket, count) pairs held by `quantile_over_time`, at most [`BUCKET_CELLS`].
    bucket_cells: usize,
    /// The steps whose spans count; `None` for all (see [`MetricsEvaluator::only_steps`]).
    steps: Option<std::ops::Range<usize>>,
}

/// Most series × steps one evaluation holds (32 MiB of values): with many steps, fewer series
/// fit, and past them the answer is partial.
const MAX_VALUES: usize = 4 << 20;

/// Most (bucket, count) pairs `quantile_over_time` keeps over all series and steps (16 B each,
/// 128 MiB): with power-of-two buckets a step rarely holds more than a few dozen, but series ×
/// steps × buckets has no other bound.
const BUCKET_CELLS: usize = 8 << 20;

impl<'q> MetricsEvaluator<'q> {
    pub(super) fn new(
        query: &'q MetricsQuery,
        range: Range,
        exemplars: usize,
        max_series: usize,
    ) -> Self {
        let compare = match &query.func {
            Func::Compare {
                filter,
                top_n,
                window,
            } => Some(Compare::new(filter, *top_n, *window, range, exemplars)),
            _ => None,
        };
        MetricsEvaluator {
            query,
            range,
            exemplars,
            // Each series holds a value per step: fewer series when there are many steps.
            max_series: max_series.min((MAX_VALUES / range.intervals()).max(1)),
            truncated: false,
            groups: Vec::new(),
            index: HashMap::default(),
            hasher: RandomState::new(),
            last: None,
            compare,
            marks: Vec::new(),
            bucket_cells: 0,
            steps: None,
        }
    }

    /// Counts only spans that fall in the steps (intervals) `steps`, so that a long range can
    /// be evaluated a part at a time: the other steps keep the value of a step without spans.
    /// A `compare()` query ignores this (its totals span the whole range).
    pub fn only_steps(mut self, steps: std::ops::Range<usize>) -> Self {
        self.steps = Some(steps);
        self
    }

    /// Counts the spans of `trace` that the query's spansets hold and that start in the range.
    pub fn observe<T: TraceView>(&mut self, trace: &T) {
        let spansets = self.query.filter.evaluate(trace);
        let spans = trace.spans();
        let ctx = TraceCtx::new(trace);
        if let Some(compare) = &mut self.compare {
            compare.observe(
                trace,
                &ctx,
                spansets.iter().flat_map(|s| s.spans.iter().copied()),
            );
            return;
        }
        // A span in several spansets (after `by()` in the spanset part) counts once.
        let visit = |this: &mut Self, i: usize| {
            let span = &spans[i];
            if let Some(interval) = this.range.interval(span.start_unix_nano())
                && this
                    .steps
                    .as_ref()
                    .is_none_or(|steps| steps.contains(&interval))
            {
                this.observe_span(trace, &ctx, span, interval);
            }
        };
        match spansets.as_slice() {
            [] => {}
            [only] => only.spans.iter().for_each(|&i| visit(self, i)),
            many => {
                let mut marks = std::mem::take(&mut self.marks);
                marks.clear();
                marks.resize(spans.len(), false);
                for set in many {
                    for &i in &set.spans {
                        if !std::mem::replace(&mut marks[i], true) {
                            visit(self, i);
                        }
                    }
                }
                self.marks = marks;
            }
        }
    }

    fn observe_span<'a, T: TraceView>(
        &mut self,
        trace: &'a T,
        ctx: &TraceCtx<'a, T>,
        span: &'a T::Span,
        interval: usize,
    ) {
        let read = |field: &Field| field_value(field, ctx, span, Elem::None);
        // The value the function reads, and the bucket for histograms and quantiles.
        let (value, bucket) = match &self.query.func {
            Func::MinOverTime(f)
            | Func::MaxOverTime(f)
            | Func::SumOverTime(f)
            | Func::AvgOverTime(f) => (number(read(f)), None),
            Func::Quantile(f, _) => {
                let v = read(f);
                let Some(bucket) = bucket_of(v) else { return };
                (number(v), Some(bucket))
            }
            Func::Histogram(f) => {
                let Some(bucket) = bucket_of(read(f)) else {
                    return;
                };
                (None, Some(bucket))
            }
            _ => (None, None),
        };
        // On the stack: at most 5 `by` fields (the parser's limit) plus a histogram bucket.
        let mut key: [Part<'a>; 6] = Default::default();
        let mut len = 0;
        for field in &self.query.by {
            key[len] = Part::of(read(field));
            len += 1;
        }
        if let (Func::Histogram(_), Some(b)) = (&self.query.func, bucket) {
            key[len] = Part::Float(b.to_bits());
            len += 1;
        }
        let Some(at) = self.group(&key[..len]) else {
            return;
        };
        let intervals = self.range.intervals();
        let group = &mut self.groups[at];
        match (&mut group.acc, &self.query.func) {
            (Acc::Count(counts), _) => counts[interval] += 1.0,
            (Acc::Fold(values), func) => {
                let Some(v) = value else { return };
                let current = &mut values[interval];
                *current = match func {
                    _ if current.is_nan() => v,
                    Func::MinOverTime(_) => current.min(v),
                    Func::MaxOverTime(_) => current.max(v),
                    _ => *current + v,
                };
            }
            (Acc::Avg(sums, counts), _) => {
                let Some(v) = value else { return };
                sums[interval] += v;
                counts[interval] += 1.0;
            }
            (Acc::Buckets(steps), _) => {
                if steps.is_empty() {
                    steps.resize_with(intervals, Vec::new);
                }
                if let Some(b) = bucket {
                    let cells = &mut steps[interval];
                    let known = cells.iter().any(|c| c.0 == b);
                    if !known && self.bucket_cells >= BUCKET_CELLS {
                        // Past the bound the answer is partial rather than unbounded.
                        self.truncated = true;
                        return;
                    }
                    self.bucket_cells += usize::from(!known);
                    quantile::record(cells, b, 1);
                }
            }
        }
        let ts_ms = span.start_unix_nano() / 1_000_000;
        if group.slots.take(group.exemplars.len(), ts_ms) {
            let exemplar_value = match &self.query.func {
                Func::Rate | Func::CountOverTime | Func::Histogram(_) => f64::NAN,
                _ => value.unwrap_or(f64::NAN),
            };
            group.exemplars.push(Exemplar {
                labels: vec![
                    ("trace:id".into(), LabelValue::Str(hex(trace.trace_id()))),
                    ("span:id".into(), LabelValue::Str(hex(span.span_id()))),
                ],
                value: exemplar_value,
                timestamp_ms: ts_ms as i64,
            });
        }
    }

    /// The group of `key`, created if new and the series limit allows.
    fn group(&mut self, key: &[Part<'_>]) -> Option<usize> {
        if let Some(last) = self.last
            && self.groups[last].key == key
        {
            return Some(last);
        }
        let hash = self.hasher.hash_one(key);
        if let Some(&found) = self
            .index
            .get(&hash)
            .and_then(|candidates| candidates.iter().find(|&&i| self.groups[i].key == key))
        {
            self.last = Some(found);
            return Some(found);
        }
        if self.groups.len() >= self.max_series {
            self.truncated = true;
            return None;
        }
        let n = self.range.intervals();
        let acc = match &self.query.func {
            Func::MinOverTime(_) | Func::MaxOverTime(_) | Func::SumOverTime(_) => {
                Acc::Fold(vec![f64::NAN; n])
            }
            Func::AvgOverTime(_) => Acc::Avg(vec![0.0; n], vec![0.0; n]),
            Func::Quantile(..) => Acc::Buckets(Vec::new()),
            _ => Acc::Count(vec![0.0; n]),
        };
        self.groups.push(Group {
            key: key.iter().map(Part::owned).collect(),
            acc,
            exemplars: Vec::new(),
            slots: ExemplarSlots::new(self.exemplars, &self.range),
        });
        let at = self.groups.len() - 1;
        self.index.entry(hash).or_default().push(at);
        self.last = Some(at);
        Some(at)
    }

    /// The series, after the second stages, sorted by labels.
    pub fn finish(mut self) -> MetricsAnswer {
        let (range, query, max_series) = (self.range, self.query, self.max_series);
        let mut truncated = self.truncated;
        let raw = match self.compare.take() {
            Some(compare) => compare.finish(),
            None => self.series_of_groups(),
        };
        let mut series = apply_stages(raw, &query.stages, &range);
        if series.len() > max_series {
            series.truncate(max_series);
            truncated = true;
        }
        MetricsAnswer {
            series,
            truncated_at: truncated.then_some(max_series),
        }
    }

    fn series_of_groups(self) -> Vec<RawSeries> {
        let query = self.query;
        let names: Vec<String> = query.by.iter().map(Field::to_string).collect();
        let labels_of = |key: &[Part<'static>]| {
            let mut labels: Vec<(String, LabelValue)> = names
                .iter()
                .zip(key)
                .filter(|(_, part)| **part != Part::Nil)
                .map(|(name, part)| (name.clone(), part.label()))
                .collect();
            if let Some(bucket) = key.get(names.len()) {
                labels.push(("__bucket".into(), bucket.label()));
            }
            if labels.is_empty() {
                // Tempo's cases: no `by` names the series after the function; all-nil `by`
                // values keep the first label, nil.
                labels.push(match names.first() {
                    Some(name) => (name.clone(), LabelValue::Nil),
                    None => ("__name__".into(), LabelValue::Str(query.func.name().into())),
                });
            }
            labels
        };
        let step_seconds = self.range.step_seconds();
        let mut out = Vec::new();
        if let Func::Quantile(_, qs) = &query.func {
            return quantile_series(self.groups, qs, labels_of);
        }
        for group in self.groups {
            let values = match group.acc {
                Acc::Count(counts) if matches!(query.func, Func::Rate) => {
                    counts.into_iter().map(|c| c / step_seconds).collect()
                }
                Acc::Count(values) | Acc::Fold(values) => values,
                Acc::Avg(sums, counts) => sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, c)| if *c == 0.0 { f64::NAN } else { s / c })
                    .collect(),
                Acc::Buckets(_) => continue,
            };
            out.push(RawSeries {
                labels: labels_of(&group.key),
                values,
                exemplars: group.exemplars,
            });
        }
        out
    }
}

/// `quantile_over_time`'s series: one per group and quantile, the quantile of each step's
/// buckets (0 for a step without spans, as Tempo); each exemplar goes to the quantile whose
/// value over the whole answer is closest to it.
fn quantile_series(
    groups: Vec<Group>,
    qs: &[f64],
    labels_of: impl Fn(&[Part<'static>]) -> Vec<(String, LabelValue)>,
) -> Vec<RawSeries> {
    let mut all: Vec<(f64, u64)> = Vec::new();
    for group in &groups {
        if let Acc::Buckets(steps) = &group.acc {
            for &(bound, count) in steps.iter().flatten() {
                quantile::record(&mut all, bound, count);
            }
        }
    }
    quantile::sort(&mut all);
    let overall: Vec<f64> = qs.iter().map(|&q| quantile::quantile(q, &all)).collect();
    let mut out = Vec::new();
    for mut group in groups {
        let Acc::Buckets(steps) = &mut group.acc else {
            continue;
        };
        steps.iter_mut().for_each(|s| quantile::sort(s));
        let labels = labels_of(&group.key);
        for (i, &q) in qs.iter().enumerate() {
            let mut labels = labels.clone();
            if labels.len() == 1 && labels[0].0 == "__name__" {
                labels.clear();
            }
            labels.push(("p".into(), LabelValue::Float(q)));
            let exemplars = group
                .exemplars
                .iter()
                .filter(|e| closest(e.value, &overall) == Some(i))
                .cloned()
                .collect();
            out.push(RawSeries {
                labels,
                values: steps.iter().map(|s| quantile::quantile(q, s)).collect(),
                exemplars,
            });
        }
    }
    out
}

/// The index of the value in `values` closest to `x`.
fn closest(x: f64, values: &[f64]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| (x - **v).abs().is_finite())
        .min_by(|a, b| (x - a.1).abs().total_cmp(&(x - b.1).abs()))
        .map(|(i, _)| i)
}
