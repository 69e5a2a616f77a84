//! What a query needs a trace to hold before it can match: [`Query::required_values`].
//!
//! `{ span.http.response.status_code = 599 }` can only match a trace with a span whose attribute
//! `http.response.status_code` equals 599. A store that keeps a summary of the values each block
//! of traces holds (the way Tempo's blocks carry dictionaries and bloom filters) can then skip
//! whole blocks without evaluating a single span. The list is conservative: a value appears in
//! it only if every trace the query matches has it, so skipping on it never loses a match; a
//! query it cannot reason about simply requires nothing.

use crate::Value;
use crate::query::Query;
use crate::syntax::ast::{
    AttrScope, CmpOp, Expr, Field, IntrinsicKind, Logic, Per, Pipeline, SpansetExpr, SpansetOp,
};
use crate::value::static_value;

/// Where a [`RequiredValue`] must be found on some span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSite {
    /// The span's own attribute (`span.x`).
    Span,
    /// The attribute of the span's resource (`resource.x`).
    Resource,
    /// The span's attribute, else its resource's (`.x`): either may hold it.
    SpanOrResource,
    /// The span's name (`name`, `span:name`); the key is empty.
    Name,
}

/// One value that some span of every matching trace holds, compared with TraceQL's `=`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequiredValue<'q> {
    /// Where on the span.
    pub site: ValueSite,
    /// The attribute key (empty for [`ValueSite::Name`]).
    pub key: &'q str,
    /// The value: a string, an integer, a float or a boolean (a duration literal is its
    /// nanoseconds as [`Value::Duration`], which `=` compares with integers).
    pub value: Value<'q>,
}

impl Query {
    /// Values that some span of every trace this query matches must hold (see the module docs):
    /// equality conditions joined by `&&` in the first spanset filter, and in both sides of
    /// spanset `&&` and of the structural operators (which need a span on each side). Empty when
    /// the query needs nothing that can be looked up this way.
    pub fn required_values(&self) -> Vec<RequiredValue<'_>> {
        let mut found = Vec::new();
        pipeline(self.pipeline(), &mut found);
        found
    }
}

/// Later stages only narrow or regroup what the first spanset expression selected, and an
/// empty spanset never reaches them, so the first expression's needs are the pipeline's.
fn pipeline<'q>(pipeline: &'q Pipeline, found: &mut Vec<RequiredValue<'q>>) {
    spanset(&pipeline.first, found);
}

fn spanset<'q>(expr: &'q SpansetExpr, found: &mut Vec<RequiredValue<'q>>) {
    match expr {
        SpansetExpr::Filter(Some(condition)) => conjuncts(condition, found),
        SpansetExpr::Filter(None) => {}
        SpansetExpr::Pipeline(inner) => pipeline(inner, found),
        SpansetExpr::Op(lhs, op, rhs) => match op {
            // Both sides must select a span.
            SpansetOp::And | SpansetOp::Structural(_) | SpansetOp::Union(_) => {
                spanset(lhs, found);
                spanset(rhs, found);
            }
            // Only the right side must: with no left span, every right span is kept.
            SpansetOp::Not(_) => spanset(rhs, found),
            SpansetOp::Or => {}
        },
    }
}

/// The equalities a span must meet for `condition` to hold: those joined by `&&` at the top.
fn conjuncts<'q>(condition: &'q Expr, found: &mut Vec<RequiredValue<'q>>) {
    match condition {
        Expr::Logic(lhs, Logic::And, rhs) => {
            conjuncts(lhs, found);
            conjuncts(rhs, found);
        }
        Expr::Cmp(cmp) if cmp.op == CmpOp::Eq && cmp.per == Per::Span => {
            let required = match (&cmp.lhs, &cmp.rhs) {
                (Expr::Field(field), Expr::Static(value))
                | (Expr::Static(value), Expr::Field(field)) => required(field, static_value(value)),
                _ => None,
            };
            found.extend(required);
        }
        _ => {}
    }
}

/// `field = value` as a required value, when the field is one a store can summarise and the
/// value a scalar that `=` compares by value.
fn required<'q>(field: &'q Field, value: Value<'q>) -> Option<RequiredValue<'q>> {
    if !matches!(
        value,
        Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Duration(_)
    ) {
        return None;
    }
    let (site, key) = match field {
        Field::Attribute { scope, name } => match scope {
            AttrScope::Span => (ValueSite::Span, name.as_str()),
            AttrScope::Resource => (ValueSite::Resource, name.as_str()),
            AttrScope::Unscoped => (ValueSite::SpanOrResource, name.as_str()),
            _ => return None,
        },
        Field::Intrinsic(i) if i.kind() == IntrinsicKind::Name => (ValueSite::Name, ""),
        Field::Intrinsic(_) => return None,
    };
    Some(RequiredValue { site, key, value })
}
