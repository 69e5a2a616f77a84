//! Evaluation of a checked query over one trace (reference §3.1): the first stage sees every span
//! of the trace as one spanset; each operator and stage maps spansets to spansets; the trace
//! matches when at least one non-empty spanset survives.
//!
//! Generic over the store's [`TraceView`], so each store gets its own monomorphised evaluator:
//! field reads are direct calls into the store's span type. Field lookups live in `fields.rs`,
//! aggregates and `by()` in `aggregate.rs`, the span tree of the structural operators in
//! `structure.rs`. Allocation-light on the hot path: conditions read borrowed [`Value`]s, and a
//! spanset's index list is only allocated once a span matches, so a trace that does not match
//! costs no heap.

mod aggregate;
mod fields;
mod structure;

pub(crate) use self::fields::{Elem, TraceCtx, field_value};

use self::structure::Tree;
use crate::arith;
use crate::syntax::ast::{Expr, Logic, Per, Pipeline, SpansetExpr, SpansetOp, Stage, Static};
use crate::value::{compare, static_value};
use crate::{SpanView, Spanset, TraceView, Value};

/// The spans a stage works on: all of the trace's (the first stage), or one spanset's.
#[derive(Clone, Copy)]
pub(crate) enum Input<'s> {
    All(usize),
    Some(&'s [usize]),
}

impl<'s> Input<'s> {
    fn iter(self) -> impl Iterator<Item = usize> + 's {
        let (range, list) = match self {
            Input::All(n) => (0..n, &[][..]),
            Input::Some(list) => (0..0, list),
        };
        range.chain(list.iter().copied())
    }
}

/// Evaluation state for one trace: its facts, and its tree once a structural operator needs it.
pub(crate) struct Eval<'a, T: TraceView> {
    ctx: TraceCtx<'a, T>,
    tree: Option<Tree>,
}

impl<'a, T: TraceView> Eval<'a, T> {
    pub(crate) fn new(ctx: TraceCtx<'a, T>) -> Self {
        Eval { ctx, tree: None }
    }

    fn span(&self, index: usize) -> &'a T::Span {
        &self.ctx.trace.spans()[index]
    }

    pub(crate) fn pipeline(
        &mut self,
        pipeline: &'a Pipeline,
        input: Input<'_>,
        attrs: &[(String, Value<'a>)],
    ) -> Vec<Spanset<'a>> {
        let mut sets = self.spanset(&pipeline.first, input, attrs);
        for stage in &pipeline.stages {
            if sets.is_empty() {
                break;
            }
            sets = match stage {
                Stage::Spanset(expr) => {
                    let mut out = Vec::new();
                    for set in &sets {
                        out.extend(self.spanset(expr, Input::Some(&set.spans), &set.attributes));
                    }
                    out
                }
                Stage::Aggregate {
                    func,
                    arg,
                    op,
                    value,
                } => sets
                    .into_iter()
                    .filter_map(|mut set| {
                        let result = self.aggregate(*func, arg.as_ref(), &set.spans)?;
                        if !compare(*op, result, static_value(value), None) {
                            return None;
                        }
                        let key = match arg {
                            Some(field) => format!("{}({field})", func.name()),
                            None => format!("{}()", func.name()),
                        };
                        set.attributes.push((key, result));
                        Some(set)
                    })
                    .collect(),
                Stage::Select(_) => sets,
                Stage::By(field) => self.group(field, sets),
                Stage::Coalesce => {
                    let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
                    spans.sort_unstable();
                    spans.dedup();
                    vec![Spanset {
                        spans,
                        attributes: Vec::new(),
                    }]
                }
            };
        }
        sets
    }

    fn spanset(
        &mut self,
        expr: &'a SpansetExpr,
        input: Input<'_>,
        attrs: &[(String, Value<'a>)],
    ) -> Vec<Spanset<'a>> {
        match expr {
            SpansetExpr::Filter(condition) => {
                let mut spans = Vec::new();
                for i in input.iter() {
                    if condition
                        .as_ref()
                        .is_none_or(|c| self.truthy(c, self.span(i)))
                    {
                        spans.push(i);
                    }
                }
                if spans.is_empty() {
                    return Vec::new();
                }
                vec![Spanset {
                    spans,
                    attributes: attrs.to_vec(),
                }]
            }
            SpansetExpr::Pipeline(pipeline) => self.pipeline(pipeline, input, attrs),
            SpansetExpr::Op(lhs, op, rhs) => {
                let mut left = self.spanset(lhs, input, attrs);
                if left.is_empty() {
                    match op {
                        SpansetOp::Or => {}
                        // No left span: no right span is related to one, so all of them are kept.
                        SpansetOp::Not(_) => left.push(Spanset {
                            spans: Vec::new(),
                            attributes: attrs.to_vec(),
                        }),
                        _ => return Vec::new(),
                    }
                }
                let right = self.spanset(rhs, input, attrs);
                match op {
                    SpansetOp::Or if left.is_empty() => right,
                    SpansetOp::Or if right.is_empty() => left,
                    SpansetOp::And | SpansetOp::Or => pairs(&left, &right, union),
                    structural => {
                        let tree = self.tree.get_or_insert_with(|| Tree::new(self.ctx.trace));
                        pairs(&left, &right, |l, r| Spanset {
                            spans: tree.apply(*structural, &l.spans, &r.spans),
                            attributes: r.attributes.clone(),
                        })
                    }
                }
            }
        }
    }

    /// Whether a (checked, boolean) condition holds for `span`.
    fn truthy(&self, expr: &Expr, span: &'a T::Span) -> bool {
        match expr {
            Expr::Static(value) => *value == Static::Bool(true),
            // Not conditions: the checker only lets booleans through.
            Expr::Field(_) | Expr::Arith(..) | Expr::Neg(_) => false,
            Expr::Not(inner) => !self.truthy(inner, span),
            Expr::Logic(lhs, Logic::And, rhs) => self.truthy(lhs, span) && self.truthy(rhs, span),
            Expr::Logic(lhs, Logic::Or, rhs) => self.truthy(lhs, span) || self.truthy(rhs, span),
            Expr::IsNil(field, negate) => {
                let present =
                    match field.per() {
                        Per::Span => field_value(field, &self.ctx, span, Elem::None) != Value::Nil,
                        Per::Event => span.events().iter().any(|e| {
                            field_value(field, &self.ctx, span, Elem::Event(e)) != Value::Nil
                        }),
                        Per::Link => span.links().iter().any(|l| {
                            field_value(field, &self.ctx, span, Elem::Link(l)) != Value::Nil
                        }),
                    };
                present == *negate
            }
            Expr::Cmp(cmp) => {
                let at = |elem| {
                    let lhs = self.operand(&cmp.lhs, span, elem);
                    let rhs = self.operand(&cmp.rhs, span, elem);
                    compare(cmp.op, lhs, rhs, cmp.regex.as_ref())
                };
                match cmp.per {
                    Per::Span => at(Elem::None),
                    Per::Event => span.events().iter().any(|e| at(Elem::Event(e))),
                    Per::Link => span.links().iter().any(|l| at(Elem::Link(l))),
                }
            }
        }
    }

    fn operand<'e>(&self, expr: &'e Expr, span: &'a T::Span, elem: Elem<'a>) -> Value<'e>
    where
        'a: 'e,
    {
        match expr {
            Expr::Static(value) => static_value(value),
            Expr::Field(field) => field_value(field, &self.ctx, span, elem),
            // Numbers, computed per span: no allocation, and a plain comparison never gets here.
            Expr::Arith(lhs, op, rhs) => arith::apply(
                *op,
                self.operand(lhs, span, elem),
                self.operand(rhs, span, elem),
            ),
            Expr::Neg(inner) => arith::negate(self.operand(inner, span, elem)),
            condition => Value::Bool(self.truthy(condition, span)),
        }
    }
}

/// Every left × right pair combined by `join`, dropping empty results (Tempo pairs spansets the
/// same way; without `by()` each side has at most one).
fn pairs<'a>(
    left: &[Spanset<'a>],
    right: &[Spanset<'a>],
    mut join: impl FnMut(&Spanset<'a>, &Spanset<'a>) -> Spanset<'a>,
) -> Vec<Spanset<'a>> {
    let mut out = Vec::new();
    for l in left {
        for r in right {
            let joined = join(l, r);
            if !joined.spans.is_empty() {
                out.push(joined);
            }
        }
    }
    out
}

/// Both spansets' spans (ascending, once each) and attributes.
fn union<'a>(left: &Spanset<'a>, right: &Spanset<'a>) -> Spanset<'a> {
    let mut spans = Vec::with_capacity(left.spans.len() + right.spans.len());
    let (mut i, mut j) = (0, 0);
    while i < left.spans.len() || j < right.spans.len() {
        let next = match (left.spans.get(i), right.spans.get(j)) {
            (Some(&l), Some(&r)) if l == r => {
                i += 1;
                j += 1;
                l
            }
            (Some(&l), Some(&r)) if l < r => {
                i += 1;
                l
            }
            (_, Some(&r)) => {
                j += 1;
                r
            }
            (Some(&l), None) => {
                i += 1;
                l
            }
            (None, None) => break,
        };
        spans.push(next);
    }
    let mut attributes = left.attributes.clone();
    for attr in &right.attributes {
        if !attributes.iter().any(|(k, _)| *k == attr.0) {
            attributes.push(attr.clone());
        }
    }
    Spanset { spans, attributes }
}
