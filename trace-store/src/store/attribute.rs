//! [`Attribute`] and [`AttrValue`]: how the store keeps a span attribute, the four scalar types
//! inline and interned, anything else as OTLP has it. A leaf: the interner builds these, spans
//! hold lists of them, and neither needs the other to say what an attribute is.

use arcstr::ArcStr;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};

/// One span attribute. Keys and string values are interned.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The key.
    pub key: ArcStr,
    /// The value.
    pub value: AttrValue,
}

/// An attribute's value: the four scalar types inline, anything else as OTLP has it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(ArcStr),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An array, a key-value list, bytes, or an empty `AnyValue` (`Some`); or no value at all
    /// (`None`), which OTLP allows.
    Other(Option<Box<AnyValue>>),
}

impl AttrValue {
    /// The value as OTLP has it (`None` for an attribute sent without a value).
    pub fn to_proto(&self) -> Option<AnyValue> {
        let scalar = |v| Some(AnyValue { value: Some(v) });
        match self {
            AttrValue::Str(s) => scalar(any_value::Value::StringValue(s.to_string())),
            AttrValue::Int(i) => scalar(any_value::Value::IntValue(*i)),
            AttrValue::Float(d) => scalar(any_value::Value::DoubleValue(*d)),
            AttrValue::Bool(b) => scalar(any_value::Value::BoolValue(*b)),
            AttrValue::Other(other) => other.as_deref().cloned(),
        }
    }
}
