//! Values and comparisons: [`Value`], what a field reads from a span (through the store's
//! [`SpanView`](crate::SpanView)) or a literal of the query, and TraceQL's comparison rules,
//! which evaluation and the pipeline's aggregates share. Also Go's duration text, which Tempo
//! uses wherever it prints a duration.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use regex::Regex;

use crate::syntax::ast::{CmpOp, Static};

/// A value read from a span, or a literal of the query.
///
/// It borrows from the stored span (or the query), so evaluating a condition on a span copies no
/// strings. Comparison rules, after Tempo (reference §3.4–3.5):
/// - a missing attribute is `Nil`, and every comparison with `Nil` is false, `!=` included;
/// - no coercion between strings and numbers: `"503"` never equals the int `503`;
/// - ints, floats and durations compare as numbers;
/// - an array attribute matches `=`, `=~`, `<`… if any element does, and `!=`/`!~` if none does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Missing.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// Nanoseconds.
    Duration(i64),
    /// OTLP status code (0 unset, 1 ok, 2 error).
    Status(i32),
    /// OTLP span kind (0 unspecified … 5 consumer).
    Kind(i32),
    /// A span, trace or link id, as raw bytes; compares with hex strings.
    Id(&'a [u8]),
    /// An array attribute.
    Array(&'a [AnyValue]),
}

impl<'a> Value<'a> {
    /// The value of the first attribute named `key` in an OTLP attribute list (resource, scope,
    /// event and link attributes), [`Value::Nil`] if there is none. OTLP forbids repeated keys;
    /// if a sender repeats one, the first wins.
    // `#[inline]` here and on the other per-condition functions of this file: evaluation,
    // monomorphised in the store's crate, calls them per span and condition, and they could be
    // inlined there when the language was part of that crate.
    #[inline]
    pub fn find(attributes: &'a [KeyValue], key: &str) -> Self {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .map_or(Value::Nil, Value::from)
    }
}

impl<'a> From<&'a AnyValue> for Value<'a> {
    /// An OTLP value as a [`Value`]; bytes, key-value lists and empty values have no TraceQL
    /// type and read as [`Value::Nil`].
    #[inline]
    fn from(value: &'a AnyValue) -> Self {
        match &value.value {
            Some(any_value::Value::StringValue(s)) => Value::Str(s),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Float(*d),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::ArrayValue(a)) => Value::Array(&a.values),
            _ => Value::Nil,
        }
    }
}

/// A literal as a [`Value`].
#[inline]
pub(crate) fn static_value(value: &Static) -> Value<'_> {
    match value {
        Static::Nil => Value::Nil,
        Static::Bool(b) => Value::Bool(*b),
        Static::Int(i) => Value::Int(*i),
        Static::Float(x) => Value::Float(*x),
        Static::Str(s) => Value::Str(s),
        Static::Duration(d) => Value::Duration(*d),
        Static::Status(s) => Value::Status(*s),
        Static::Kind(k) => Value::Kind(*k),
    }
}

/// `lhs op rhs` with TraceQL's rules (see [`Value`]). `regex` is the compiled right-hand
/// side of `=~`/`!~`.
#[inline]
pub(crate) fn compare(op: CmpOp, lhs: Value<'_>, rhs: Value<'_>, regex: Option<&Regex>) -> bool {
    use std::cmp::Ordering;
    // Arrays: "none matches" for the negative operators, "any matches" for the others.
    let positive = match op {
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Nre => CmpOp::Re,
        other => other,
    };
    if let Value::Array(items) = lhs {
        let any = items
            .iter()
            .any(|v| compare(positive, Value::from(v), rhs, regex));
        return if positive == op { any } else { !any };
    }
    if let Value::Array(items) = rhs {
        let any = items
            .iter()
            .any(|v| compare(positive, lhs, Value::from(v), regex));
        return if positive == op { any } else { !any };
    }
    let ordering = match (lhs, rhs) {
        (Value::Str(l), _) if matches!(op, CmpOp::Re | CmpOp::Nre) => {
            let hit = regex.is_some_and(|re| re.is_match(l));
            return hit == (op == CmpOp::Re);
        }
        (Value::Str(l), Value::Str(r)) => l.cmp(r),
        (Value::Bool(l), Value::Bool(r)) => l.cmp(&r),
        (Value::Status(l), Value::Status(r)) | (Value::Kind(l), Value::Kind(r)) => l.cmp(&r),
        (Value::Int(l) | Value::Duration(l), Value::Int(r) | Value::Duration(r)) => l.cmp(&r),
        (Value::Float(l), Value::Float(r)) => match l.partial_cmp(&r) {
            Some(o) => o,
            None => return false,
        },
        (Value::Float(l), Value::Int(r) | Value::Duration(r)) => match l.partial_cmp(&(r as f64)) {
            Some(o) => o,
            None => return false,
        },
        (Value::Int(l) | Value::Duration(l), Value::Float(r)) => match (l as f64).partial_cmp(&r) {
            Some(o) => o,
            None => return false,
        },
        (Value::Id(id), Value::Str(text)) | (Value::Str(text), Value::Id(id)) => {
            return match op {
                CmpOp::Eq => hex_eq(id, text),
                CmpOp::Ne => !hex_eq(id, text),
                _ => false,
            };
        }
        // Nil, or two different types: no coercion, no match.
        _ => return false,
    };
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Re | CmpOp::Nre => false,
    }
}

/// Whether raw id bytes equal a hex string, case-insensitively, ignoring leading zeros on both
/// sides (Tempo strips them in search results and pads short ids in URLs). Allocates nothing.
pub(crate) fn hex_eq(id: &[u8], text: &str) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibbles = id
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .skip_while(|c| *c == b'0');
    let text = text
        .trim_start_matches('0')
        .bytes()
        .map(|c| c.to_ascii_lowercase());
    nibbles.eq(text)
}

/// Go's `time.Duration.String()`: `0s`, `405µs`, `2.68ms`, `1.5s`, `2m3s`, `1h0m0s`. Tempo writes
/// durations this way in search results and error messages.
pub fn go_duration_string(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let frac = |value: u64, scale: u64, digits: usize| {
        let (whole, rest) = (value / scale, value % scale);
        if rest == 0 {
            whole.to_string()
        } else {
            let tail = format!("{rest:0digits$}");
            format!("{whole}.{}", tail.trim_end_matches('0'))
        }
    };
    if u == 0 {
        return "0s".to_owned();
    }
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000, 6));
    }
    let (hours, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = frac(rest, 1_000_000_000, 9);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}
