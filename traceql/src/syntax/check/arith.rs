//! Checking arithmetic (`+ - * / % ^` and unary minus) in a field expression, as Tempo's
//! `validate()` does (`pkg/traceql/ast_validate.go`, `enum_operators.go`):
//!
//! - the operand types must match: numbers (ints, floats, durations) with numbers, and an
//!   attribute, whose type is only known per span, with anything; otherwise the query is a 400
//!   `binary operations must operate on the same type`;
//! - each operand must suit arithmetic: a number or an attribute, not a string, boolean,
//!   status, kind, id or `nil`; otherwise `illegal operation for the given types`;
//! - the result's static type is the left operand's, or the right's when the left is an
//!   attribute (`duration - 100ms` is a duration, `span.a + 1` an int, `span.a + span.b`
//!   unknown), which is what the comparison around it is checked against;
//! - an all-literal part is folded into one literal (`2 ^ 3` becomes `8`, `1s * 2` the float
//!   `2000000000`, its nanoseconds), unless it has no value (`5 / 0`), which is left as it is
//!   and matches no span.

use super::{Ty, invalid, typed};
use crate::arith;
use crate::syntax::ast::{ArithOp, Expr, Field, Per, Static};
use crate::value::static_value;
use crate::{ParseError, Value};

/// Checks `lhs op rhs`; returns it (or the literal it folds to) with its static type.
pub(super) fn binary(
    lhs: Expr,
    op: ArithOp,
    rhs: Expr,
    fetched: &mut Vec<Field>,
) -> Result<(Expr, Ty), ParseError> {
    let (lhs, lt) = typed(lhs, fetched)?;
    let (rhs, rt) = typed(rhs, fetched)?;
    let expr = Expr::Arith(Box::new(lhs), op, Box::new(rhs));
    let matching = lt == rt || lt == Ty::Attr || rt == Ty::Attr || (numeric(lt) && numeric(rt));
    if !matching {
        return Err(invalid(format!(
            "binary operations must operate on the same type: {expr}"
        )));
    }
    if !(suits(lt) && suits(rt)) {
        return Err(invalid(format!(
            "illegal operation for the given types: {expr}"
        )));
    }
    let ty = if lt == Ty::Attr { rt } else { lt };
    Ok((fold(expr), ty))
}

/// Checks `-inner`; returns it (or the literal it folds to) with its static type.
pub(super) fn negation(inner: Expr, fetched: &mut Vec<Field>) -> Result<(Expr, Ty), ParseError> {
    let (inner, ty) = typed(inner, fetched)?;
    let expr = Expr::Neg(Box::new(inner));
    if !suits(ty) {
        return Err(invalid(format!(
            "illegal operation for the given type: {expr}"
        )));
    }
    Ok((fold(expr), ty))
}

/// Where a comparison over `expr` is decided: per span, or per event (link) when it reads an
/// event (link) field; `None` when it mixes event and link fields, which no one element has.
pub(super) fn per(expr: &Expr) -> Option<Per> {
    match expr {
        Expr::Field(field) => Some(field.per()),
        Expr::Arith(l, _, r) => match (per(l)?, per(r)?) {
            (Per::Span, p) | (p, Per::Span) => Some(p),
            (a, b) if a == b => Some(a),
            _ => None,
        },
        Expr::Neg(inner) => per(inner),
        _ => Some(Per::Span),
    }
}

fn numeric(ty: Ty) -> bool {
    matches!(ty, Ty::Int | Ty::Float | Ty::Duration)
}

/// Whether a value of type `ty` may be an operand of arithmetic.
fn suits(ty: Ty) -> bool {
    numeric(ty) || ty == Ty::Attr
}

/// `expr` with literal operands computed now; unchanged if an operand is not a literal or the
/// result has no value (an int divided by zero).
fn fold(expr: Expr) -> Expr {
    let value = match &expr {
        Expr::Arith(l, op, r) => match (&**l, &**r) {
            (Expr::Static(l), Expr::Static(r)) => {
                arith::apply(*op, static_value(l), static_value(r))
            }
            _ => return expr,
        },
        Expr::Neg(inner) => match &**inner {
            Expr::Static(s) => arith::negate(static_value(s)),
            _ => return expr,
        },
        _ => return expr,
    };
    match value {
        Value::Int(i) => Expr::Static(Static::Int(i)),
        Value::Float(x) => Expr::Static(Static::Float(x)),
        Value::Duration(d) => Expr::Static(Static::Duration(d)),
        _ => expr,
    }
}
