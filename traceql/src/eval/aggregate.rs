//! The pipeline stages that compute over a whole spanset: aggregates (`count() avg() min()
//! max() sum()`) and `by()` grouping. Both skip spans where the field is nil, as Tempo does for
//! aggregates; `by()` puts them in a group of their own.

use std::collections::HashMap;

use super::{Elem, Eval, field_value};
use crate::syntax::ast::{AggFunc, Field};
use crate::{Spanset, TraceView, Value};

impl<'a, T: TraceView> Eval<'a, T> {
    /// An aggregate over the spans where the field has a number; `None` if none has one.
    pub(super) fn aggregate(
        &self,
        func: AggFunc,
        arg: Option<&Field>,
        spans: &[usize],
    ) -> Option<Value<'a>> {
        let Some(field) = arg else {
            return Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX)));
        };
        let (mut n, mut fsum, mut isum) = (0u32, 0f64, 0i128);
        let (mut fmin, mut fmax) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut imin, mut imax) = (i64::MAX, i64::MIN);
        let (mut floats, mut durations) = (false, true);
        for &i in spans {
            let value = field_value(field, &self.ctx, self.span(i), Elem::None);
            match value {
                Value::Int(v) | Value::Duration(v) => {
                    durations &= matches!(value, Value::Duration(_));
                    isum += i128::from(v);
                    imin = imin.min(v);
                    imax = imax.max(v);
                }
                Value::Float(x) => {
                    floats = true;
                    durations = false;
                    fsum += x;
                    fmin = fmin.min(x);
                    fmax = fmax.max(x);
                }
                _ => continue,
            }
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        let whole = |v: i64| {
            if durations {
                Value::Duration(v)
            } else {
                Value::Int(v)
            }
        };
        let has_ints = imin <= imax;
        Some(match func {
            AggFunc::Count => Value::Int(i64::from(n)),
            AggFunc::Avg if durations => Value::Duration(clamp(isum / i128::from(n))),
            AggFunc::Avg => Value::Float((fsum + isum as f64) / f64::from(n)),
            AggFunc::Sum if floats => Value::Float(fsum + isum as f64),
            AggFunc::Sum => whole(clamp(isum)),
            AggFunc::Min if floats => Value::Float(if has_ints {
                fmin.min(imin as f64)
            } else {
                fmin
            }),
            AggFunc::Min => whole(imin),
            AggFunc::Max if floats => Value::Float(if has_ints {
                fmax.max(imax as f64)
            } else {
                fmax
            }),
            AggFunc::Max => whole(imax),
        })
    }

    /// `by(field)`: one spanset per distinct value, keyed `by(field)`. Spans without the field
    /// form a group of their own (with a nil value).
    pub(super) fn group(&self, field: &Field, sets: Vec<Spanset<'a>>) -> Vec<Spanset<'a>> {
        let key = format!("by({field})");
        let mut out = Vec::new();
        for set in sets {
            let mut index: HashMap<GroupKey<'a>, usize> = HashMap::new();
            let mut groups: Vec<(Value<'a>, Vec<usize>)> = Vec::new();
            for &i in &set.spans {
                let value = field_value(field, &self.ctx, self.span(i), Elem::None);
                let slot = *index.entry(GroupKey::of(value)).or_insert_with(|| {
                    groups.push((value, Vec::new()));
                    groups.len() - 1
                });
                groups[slot].1.push(i);
            }
            for (value, spans) in groups {
                let mut attributes = set.attributes.clone();
                attributes.push((key.clone(), value));
                out.push(Spanset { spans, attributes });
            }
        }
        out
    }
}

/// A hashable stand-in for a [`Value`] (floats by bits, arrays by address).
#[derive(PartialEq, Eq, Hash)]
enum GroupKey<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
    Duration(i64),
    Status(i32),
    Kind(i32),
    Id(&'a [u8]),
    Array(usize),
}

impl<'a> GroupKey<'a> {
    fn of(value: Value<'a>) -> Self {
        match value {
            Value::Nil => GroupKey::Nil,
            Value::Bool(b) => GroupKey::Bool(b),
            Value::Int(i) => GroupKey::Int(i),
            Value::Float(x) => GroupKey::Float(x.to_bits()),
            Value::Str(s) => GroupKey::Str(s),
            Value::Duration(d) => GroupKey::Duration(d),
            Value::Status(s) => GroupKey::Status(s),
            Value::Kind(k) => GroupKey::Kind(k),
            Value::Id(id) => GroupKey::Id(id),
            Value::Array(items) => GroupKey::Array(items.as_ptr() as usize),
        }
    }
}
