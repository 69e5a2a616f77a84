//! After the function: the second stages (`topk`, `bottomk`, comparison filters, Tempo's
//! `ChainedSecondStage`), then the series as answered: NaN steps left out, empty series dropped,
//! exemplars kept only on steps that have a value, sorted by labels.

use super::{Exemplar, LabelValue, Range, Sample, SecondStage, Series};
use crate::syntax::ast::CmpOp;

/// A series before the second stages: one value per step, NaN for none.
#[derive(Debug, Clone)]
pub(super) struct RawSeries {
    pub(super) labels: Vec<(String, LabelValue)>,
    pub(super) values: Vec<f64>,
    pub(super) exemplars: Vec<Exemplar>,
}

/// A total order on label lists, for sorting and for ties in `topk`.
fn label_key(labels: &[(String, LabelValue)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `stages` in order and shapes the answer.
pub(super) fn apply_stages(
    mut series: Vec<RawSeries>,
    stages: &[SecondStage],
    range: &Range,
) -> Vec<Series> {
    series.sort_by_cached_key(|s| label_key(&s.labels));
    for stage in stages {
        series = match *stage {
            SecondStage::TopK { top, k } => top_k(series, top, k),
            SecondStage::Filter { op, value } => filter(series, op, value),
        };
    }
    series.into_iter().filter_map(|s| shape(s, range)).collect()
}

/// Per step, the `k` highest (or lowest) values keep theirs; the rest become gaps. Ties go to
/// the series that sorts first.
fn top_k(series: Vec<RawSeries>, top: bool, k: usize) -> Vec<RawSeries> {
    if series.len() <= k {
        return series;
    }
    let steps = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let mut kept: Vec<Vec<f64>> = vec![vec![f64::NAN; steps]; series.len()];
    let mut order: Vec<usize> = Vec::with_capacity(series.len());
    for step in 0..steps {
        order.clear();
        order.extend(
            (0..series.len()).filter(|&i| series[i].values.get(step).is_some_and(|v| !v.is_nan())),
        );
        order.sort_by(|&a, &b| {
            let (x, y) = (series[a].values[step], series[b].values[step]);
            let by_value = if top {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            };
            by_value.then(a.cmp(&b))
        });
        for &i in order.iter().take(k) {
            if let Some(slot) = kept[i].get_mut(step) {
                *slot = series[i].values[step];
            }
        }
    }
    series
        .into_iter()
        .zip(kept)
        .filter(|(_, values)| values.iter().any(|v| !v.is_nan()))
        .map(|(s, values)| RawSeries { values, ..s })
        .collect()
}

fn passes(op: CmpOp, v: f64, against: f64) -> bool {
    match op {
        CmpOp::Eq => v == against,
        CmpOp::Ne => v != against,
        CmpOp::Gt => v > against,
        CmpOp::Ge => v >= against,
        CmpOp::Lt => v < against,
        CmpOp::Le => v <= against,
        CmpOp::Re | CmpOp::Nre => false,
    }
}

/// Values that fail the comparison become gaps, as do exemplars whose value fails (NaN
/// exemplars of counts included, as in Tempo); series left without values are dropped.
fn filter(series: Vec<RawSeries>, op: CmpOp, against: f64) -> Vec<RawSeries> {
    series
        .into_iter()
        .filter_map(|mut s| {
            for v in &mut s.values {
                if v.is_nan() || !passes(op, *v, against) {
                    *v = f64::NAN;
                }
            }
            if s.values.iter().all(|v| v.is_nan()) {
                return None;
            }
            s.exemplars
                .retain(|e| !e.value.is_nan() && passes(op, e.value, against));
            Some(s)
        })
        .collect()
}

/// The answered form of a series; `None` if it has no value at all.
fn shape(series: RawSeries, range: &Range) -> Option<Series> {
    let samples: Vec<Sample> = series
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &value)| Sample {
            timestamp_ms: range.timestamp_ms(i),
            value,
        })
        .collect();
    if samples.is_empty() {
        return None;
    }
    let exemplars = series
        .exemplars
        .into_iter()
        .filter(|e| {
            let ns = u64::try_from(e.timestamp_ms).unwrap_or(0) * 1_000_000;
            // Exemplar times are milliseconds: place them as Tempo does, on the millisecond.
            range
                .interval(ns.max(1))
                .or_else(|| range.interval(ns + 999_999))
                .is_some_and(|i| series.values.get(i).is_some_and(|v| !v.is_nan()))
        })
        .collect();
    Some(Series {
        labels: series.labels,
        samples,
        exemplars,
    })
}
