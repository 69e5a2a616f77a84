//! [`RawSpan`]: OTLP's `Span` as the walk (`walk.rs`) decodes it, with its ids, name, attribute
//! keys and string values left as slices of the request body.
//!
//! Why: decoding into `opentelemetry_proto`'s `Span` makes a heap `String` or `Vec` for every id,
//! name, key and string value, only for the store to intern the text and drop the copy. Measured
//! under wrk, those short-lived allocations and copies were about a fifth of ingest's time. The
//! messages here have the same wire format (same field numbers and types; protobuf's `string`
//! and `bytes` are both length-delimited), but their text fields are `Bytes`: a reference-counted
//! slice of the body, no copy. Text is checked to be UTF-8 where it is read ([`text`]), as prost
//! checks a `string` field, so a body prost would refuse is still refused ([`NotUtf8`]).
//!
//! Rare parts (events, links, status, arrays and maps as values) keep the reference types: the
//! store keeps them as OTLP has them.

use bytes::Bytes;
#[cfg(test)]
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use prost::{Message, Oneof};

/// `opentelemetry.proto.trace.v1.Span`, text left as slices of the body.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawSpan {
    #[prost(bytes = "bytes", tag = "1")]
    pub(crate) trace_id: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    pub(crate) span_id: Bytes,
    #[prost(string, tag = "3")]
    pub(crate) trace_state: String,
    #[prost(bytes = "bytes", tag = "4")]
    pub(crate) parent_span_id: Bytes,
    #[prost(fixed32, tag = "16")]
    pub(crate) flags: u32,
    /// A `string` on the wire: read it with [`text`].
    #[prost(bytes = "bytes", tag = "5")]
    pub(crate) name: Bytes,
    /// `SpanKind`, as the number sent.
    #[prost(int32, tag = "6")]
    pub(crate) kind: i32,
    #[prost(fixed64, tag = "7")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub(crate) end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub(crate) attributes: Vec<RawKeyValue>,
    #[prost(uint32, tag = "10")]
    pub(crate) dropped_attributes_count: u32,
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<Event>,
    #[prost(uint32, tag = "12")]
    pub(crate) dropped_events_count: u32,
    #[prost(message, repeated, tag = "13")]
    pub(crate) links: Vec<Link>,
    #[prost(uint32, tag = "14")]
    pub(crate) dropped_links_count: u32,
    #[prost(message, optional, tag = "15")]
    pub(crate) status: Option<Status>,
}

/// `opentelemetry.proto.common.v1.KeyValue`, the key left as a slice. (Its `key_strindex`, for
/// profiles only, is skipped as an unknown field.)
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawKeyValue {
    /// A `string` on the wire: read it with [`text`].
    #[prost(bytes = "bytes", tag = "1")]
    pub(crate) key: Bytes,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<RawAnyValue>,
}

/// `opentelemetry.proto.common.v1.AnyValue`, a string left as a slice.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawAnyValue {
    #[prost(oneof = "RawValue", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub(crate) value: Option<RawValue>,
}

/// The `value` oneof of `AnyValue`.
#[derive(Clone, PartialEq, Oneof)]
pub(crate) enum RawValue {
    /// A `string` on the wire: read it with [`text`].
    #[prost(bytes = "bytes", tag = "1")]
    Str(Bytes),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(message, tag = "5")]
    Array(ArrayValue),
    #[prost(message, tag = "6")]
    Kvlist(KeyValueList),
    #[prost(bytes = "vec", tag = "7")]
    Bytes(Vec<u8>),
    /// Profiles only; kept as sent.
    #[prost(int32, tag = "8")]
    StrIndex(i32),
}

impl RawValue {
    /// The reference type's value, for the kinds the store keeps as OTLP has them. `Str` is
    /// checked to be UTF-8.
    pub(crate) fn into_proto(self) -> Result<any_value::Value, NotUtf8> {
        Ok(match self {
            RawValue::Str(s) => any_value::Value::StringValue(text(&s)?.to_owned()),
            RawValue::Bool(b) => any_value::Value::BoolValue(b),
            RawValue::Int(i) => any_value::Value::IntValue(i),
            RawValue::Double(d) => any_value::Value::DoubleValue(d),
            RawValue::Array(a) => any_value::Value::ArrayValue(a),
            RawValue::Kvlist(l) => any_value::Value::KvlistValue(l),
            RawValue::Bytes(b) => any_value::Value::BytesValue(b),
            RawValue::StrIndex(i) => any_value::Value::StringValueStrindex(i),
        })
    }
}

impl RawAnyValue {
    /// The reference type, strings checked to be UTF-8.
    #[cfg(test)]
    fn into_proto(self) -> Result<AnyValue, NotUtf8> {
        Ok(AnyValue {
            value: self.value.map(RawValue::into_proto).transpose()?,
        })
    }
}

/// A `string` field held bytes that are not UTF-8, which protobuf forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8;

/// A `string` field left as bytes, checked as prost checks one.
pub(crate) fn text(bytes: &[u8]) -> Result<&str, NotUtf8> {
    std::str::from_utf8(bytes).map_err(|_| NotUtf8)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;

    fn value(v: any_value::Value) -> Option<AnyValue> {
        Some(AnyValue { value: Some(v) })
    }

    #[test]
    fn decodes_what_the_reference_span_encodes() {
        let values = [
            any_value::Value::StringValue("GET".into()),
            any_value::Value::BoolValue(true),
            any_value::Value::IntValue(-7),
            any_value::Value::DoubleValue(0.5),
            any_value::Value::BytesValue(vec![1, 2]),
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::IntValue(1)),
                }],
            }),
            any_value::Value::StringValueStrindex(3),
        ];
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![3; 8],
            trace_state: "k=v".into(),
            name: "GET /".into(),
            kind: 2,
            flags: 0x301,
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            attributes: values
                .iter()
                .enumerate()
                .map(|(i, v)| KeyValue {
                    key: format!("k{i}"),
                    value: value(v.clone()),
                    ..Default::default()
                })
                .collect(),
            dropped_attributes_count: 4,
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
            ..Default::default()
        };
        let raw = RawSpan::decode(span.encode_to_vec().as_slice()).unwrap();
        assert_eq!(raw.trace_id.as_ref(), [1; 16]);
        assert_eq!(raw.parent_span_id.as_ref(), [3; 8]);
        assert_eq!(text(&raw.name).unwrap(), "GET /");
        assert_eq!(
            (raw.kind, raw.flags, raw.trace_state.as_str()),
            (2, 0x301, "k=v")
        );
        assert_eq!((raw.start_time_unix_nano, raw.end_time_unix_nano), (10, 20));
        assert_eq!(raw.dropped_attributes_count, 4);
        assert_eq!(raw.status, span.status);
        let back: Vec<(String, Option<AnyValue>)> = raw
            .attributes
            .into_iter()
            .map(|kv| {
                let key = text(&kv.key).unwrap().to_owned();
                (key, kv.value.map(|v| v.into_proto().unwrap()))
            })
            .collect();
        let sent: Vec<(String, Option<AnyValue>)> = span
            .attributes
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        assert_eq!(back, sent);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_as_prost_refuses_it() {
        let mut body = Vec::new();
        // Field 5 (name), length-delimited, two bytes that are not UTF-8.
        body.extend_from_slice(&[5 << 3 | 2, 2, 0xff, 0xfe]);
        let raw = RawSpan::decode(body.as_slice()).unwrap();
        assert_eq!(text(&raw.name), Err(NotUtf8));
        let prost = Span::decode(body.as_slice()).unwrap_err();
        assert!(prost.to_string().contains("not UTF-8"), "{prost}");
    }
}
