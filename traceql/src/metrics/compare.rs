//! `compare({filter}, topN, start, end)`: splits the query's spans into a *selection* (those the
//! filter matches, within the optional window) and a *baseline* (the rest), and counts per step,
//! for every attribute the spans have, how many spans have each value. Answers Tempo's series:
//! `{__meta_type="baseline", attr=value}` and `selection` for the `topN` values of each
//! attribute (by total count), and `{__meta_type="baseline_total", attr=nil}` and
//! `selection_total` with every span that has the attribute. Exemplars go on the totals.
//!
//! Attributes counted: `name`, `status`, `kind`, every `span.` and `resource.` attribute (as the
//! store reports them through [`SpanView::each_span_attribute`]). Durations are not broken down,
//! as in Tempo.

use std::collections::HashMap;

use super::key::{ExemplarSlots, Part, hex};
use super::stages::RawSeries;
use super::{Exemplar, LabelValue, Range};
use crate::eval::TraceCtx;
use crate::syntax::display::{kind_name, status_name};
use crate::{Query, SpanView, TraceView, Value};

/// Most (attribute, value) and totals series × steps kept per side: the bound on compare()'s
/// memory (8 M values, 64 MiB). A value first seen past it is counted in its attribute's total
/// only; an attribute first seen past it is not counted.
const CELL_BUDGET: usize = 8 << 20;

/// Counts for one side (baseline or selection).
#[derive(Debug, Default)]
struct Side {
    values: HashMap<String, HashMap<Part<'static>, Vec<f64>>>,
    totals: HashMap<String, Vec<f64>>,
    cells: usize,
    exemplars: Vec<Exemplar>,
}

/// The state of a `compare()` evaluation.
#[derive(Debug)]
pub(super) struct Compare<'q> {
    filter: &'q Query,
    top_n: usize,
    window: Option<(u64, u64)>,
    range: Range,
    slots: [ExemplarSlots; 2],
    sides: [Side; 2],
    selected: Vec<bool>,
    seen: Vec<bool>,
}

impl<'q> Compare<'q> {
    pub(super) fn new(
        filter: &'q Query,
        top_n: usize,
        window: Option<(u64, u64)>,
        range: Range,
        exemplars: usize,
    ) -> Self {
        let slots = ExemplarSlots::new(exemplars, &range);
        Compare {
            filter,
            top_n,
            window,
            range,
            slots: [slots.clone(), slots],
            sides: Default::default(),
            selected: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Counts `spans` (indexes into the trace's spans, repeats ignored).
    pub(super) fn observe<T: TraceView>(
        &mut self,
        trace: &T,
        _ctx: &TraceCtx<'_, T>,
        spans: impl Iterator<Item = usize>,
    ) {
        let all = trace.spans();
        self.selected.clear();
        self.selected.resize(all.len(), false);
        for set in self.filter.evaluate(trace) {
            for i in set.spans {
                self.selected[i] = true;
            }
        }
        self.seen.clear();
        self.seen.resize(all.len(), false);
        for i in spans {
            if std::mem::replace(&mut self.seen[i], true) {
                continue;
            }
            let span = &all[i];
            let start = span.start_unix_nano();
            let Some(interval) = self.range.interval(start) else {
                continue;
            };
            let in_window = self.window.is_none_or(|(s, e)| start > s && start <= e);
            let side = usize::from(self.selected[i] && in_window);
            let steps = self.range.intervals();
            let target = &mut self.sides[side];
            let mut count = |name: &str, value: Value<'_>| {
                let part = Part::of(value);
                if matches!(part, Part::Nil | Part::Duration(_)) {
                    return;
                }
                let totals = match target.totals.get_mut(name) {
                    Some(t) => t,
                    // A new attribute takes a totals series from the budget too; past it, the
                    // attribute is not counted at all.
                    None if target.cells + steps <= CELL_BUDGET => {
                        target.cells += steps;
                        target
                            .totals
                            .entry(name.to_owned())
                            .or_insert(vec![0.0; steps])
                    }
                    None => return,
                };
                totals[interval] += 1.0;
                let values = target.values.entry(name.to_owned()).or_default();
                let key = part.owned();
                if let Some(counts) = values.get_mut(&key) {
                    counts[interval] += 1.0;
                } else if target.cells + steps <= CELL_BUDGET {
                    target.cells += steps;
                    let mut counts = vec![0.0; steps];
                    counts[interval] = 1.0;
                    values.insert(key, counts);
                }
            };
            count("name", Value::Str(span.name()));
            count("status", Value::Str(status_name(span.status_code())));
            count("kind", Value::Str(kind_name(span.kind())));
            span.each_span_attribute(&mut |k, v| count(&format!("span.{k}"), v));
            span.each_resource_attribute(&mut |k, v| count(&format!("resource.{k}"), v));
            let ts_ms = start / 1_000_000;
            if self.slots[side].take(target.exemplars.len(), ts_ms) {
                target.exemplars.push(Exemplar {
                    labels: vec![
                        ("trace:id".into(), LabelValue::Str(hex(trace.trace_id()))),
                        ("span:id".into(), LabelValue::Str(hex(span.span_id()))),
                    ],
                    value: f64::NAN,
                    timestamp_ms: ts_ms as i64,
                });
            }
        }
    }

    /// Tempo's series: the top values per attribute and side, then the totals.
    pub(super) fn finish(self) -> Vec<RawSeries> {
        let mut out = Vec::new();
        let meta = |t: &str| ("__meta_type".to_owned(), LabelValue::Str(t.to_owned()));
        for (side, (name, total_name)) in self.sides.into_iter().zip([
            ("baseline", "baseline_total"),
            ("selection", "selection_total"),
        ]) {
            for (attr, values) in side.values {
                let mut ranked: Vec<(f64, Part<'static>, Vec<f64>)> = values
                    .into_iter()
                    .map(|(k, v)| (v.iter().sum(), k, v))
                    .collect();
                ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
                for (_, key, counts) in ranked.into_iter().take(self.top_n) {
                    out.push(RawSeries {
                        labels: vec![meta(name), (attr.clone(), key.label())],
                        values: counts,
                        exemplars: Vec::new(),
                    });
                }
            }
            for (attr, counts) in side.totals {
                out.push(RawSeries {
                    labels: vec![meta(total_name), (attr, LabelValue::Nil)],
                    values: counts,
                    exemplars: side.exemplars.clone(),
                });
            }
        }
        out
    }
}
