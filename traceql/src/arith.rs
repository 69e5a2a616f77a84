//! Arithmetic on [`Value`]s: `+ - * / % ^` and unary minus, as a filter computes them per span
//! (`{ span.bytes / duration > 0.5 }`) and as the checker folds all-literal parts of a query.
//!
//! The rules follow Tempo's `BinaryOperation.execute` (`pkg/traceql/ast_execute.go`), read for
//! semantics, not copied:
//!
//! - int op int stays an int, with Go's two's-complement wrapping on overflow; `/` truncates
//!   toward zero (`7 / 2` is `3`, `-7 / 2` is `-3`) and `%` takes the dividend's sign;
//! - any other pair of numbers is computed in 64-bit float, a duration counting as its
//!   nanoseconds: `duration * 2`, `duration - 100ms` and `1 / 2.0` are floats, which compare
//!   with durations and numbers alike (`{ duration - 100ms > 1s }`); `%` on floats is Go's
//!   `math.Mod` (truncated), `/` or `%` by a float zero gives ±Inf or NaN, which no
//!   comparison matches;
//! - unary minus keeps the type (`-duration` is a duration);
//! - a missing attribute, a string, a boolean, an array or any other non-number on either side
//!   gives [`Value::Nil`], so the comparison around it does not match the span.
//!
//! Where this differs from Tempo, on purpose:
//!
//! - int `^` int is `lhs` to the power `rhs` (`2 ^ 3` is 8). Tempo's int branch passes the
//!   operands to its power function swapped, so there `2 ^ 3` is 9; its float branch, and every
//!   test in its tables (`2 ^ 2`, `2 ^ (.bar * .foo)` with a float), agree with the usual order.
//!   The power is computed in float and converted back saturating (`2 ^ 64` is `i64::MAX`;
//!   Go's conversion of an out-of-range float is platform-defined).
//! - int `/` or `%` by zero, arithmetic on an array, and unary minus of a missing value or a
//!   string make Tempo fail the whole query with an error; here the span does not match, so one
//!   odd span cannot turn a search into a 500.

use crate::Value;
use crate::syntax::ast::ArithOp;

/// `lhs op rhs` by the rules above; [`Value::Nil`] when either side is not a number or an int
/// is divided by zero.
#[inline]
pub(crate) fn apply(op: ArithOp, lhs: Value<'_>, rhs: Value<'_>) -> Value<'static> {
    if let (Value::Int(l), Value::Int(r)) = (lhs, rhs) {
        return int(op, l, r).map_or(Value::Nil, Value::Int);
    }
    match (number(lhs), number(rhs)) {
        (Some(l), Some(r)) => Value::Float(float(op, l, r)),
        _ => Value::Nil,
    }
}

/// Unary minus: the same type negated (wrapping for `i64::MIN`), [`Value::Nil`] for a
/// non-number.
#[inline]
pub(crate) fn negate(value: Value<'_>) -> Value<'static> {
    match value {
        Value::Int(i) => Value::Int(i.wrapping_neg()),
        Value::Float(x) => Value::Float(-x),
        Value::Duration(d) => Value::Duration(d.wrapping_neg()),
        _ => Value::Nil,
    }
}

/// A number's value as a float (a duration as its nanoseconds); `None` for anything else.
fn number(value: Value<'_>) -> Option<f64> {
    match value {
        Value::Int(i) | Value::Duration(i) => Some(i as f64),
        Value::Float(x) => Some(x),
        _ => None,
    }
}

/// Int arithmetic with Go's semantics; `None` for a division or modulo by zero.
fn int(op: ArithOp, l: i64, r: i64) -> Option<i64> {
    Some(match op {
        ArithOp::Add => l.wrapping_add(r),
        ArithOp::Sub => l.wrapping_sub(r),
        ArithOp::Mul => l.wrapping_mul(r),
        // Wrapping only matters for `i64::MIN / -1`, which Go also leaves as `i64::MIN`.
        ArithOp::Div if r != 0 => l.wrapping_div(r),
        ArithOp::Mod if r != 0 => l.wrapping_rem(r),
        ArithOp::Div | ArithOp::Mod => return None,
        // `as` saturates (and sends NaN to 0): no overflow, no panic.
        ArithOp::Pow => (l as f64).powf(r as f64) as i64,
    })
}

fn float(op: ArithOp, l: f64, r: f64) -> f64 {
    match op {
        ArithOp::Add => l + r,
        ArithOp::Sub => l - r,
        ArithOp::Mul => l * r,
        ArithOp::Div => l / r,
        // Rust's `%` on floats is C's fmod, the same truncated remainder as Go's math.Mod.
        ArithOp::Mod => l % r,
        ArithOp::Pow => l.powf(r),
    }
}
