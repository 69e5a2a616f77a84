//! Tempo's JSON encoding of a trace, the body of `GET /api/traces/{id}` without
//! `Accept: application/protobuf`.
//!
//! Tempo marshals with gogo `jsonpb` (default options), which differs from OTLP/JSON in ways
//! that matter to anyone diffing the two (see the table in the Tempo API reference, §2.5):
//! ids are **base64** of the raw bytes, not hex; 64-bit integers are strings; enums are their
//! names (`"SPAN_KIND_SERVER"`); fields with zero or empty values are left out; and the top
//! level is `batches`. The `with-serde` derives of opentelemetry-proto produce OTLP/JSON, so this
//! module builds the JSON by hand from the proto types instead.
//!
//! Tempo always returns a `resource`, a `scope` and a `status` (possibly `{}`), so we do too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use serde_json::Value;

/// `{"batches":[…]}`: a whole trace the way Tempo's v1 trace-by-id endpoint writes it.
pub(crate) fn trace_json(data: &TracesData) -> Node {
    Object::default()
        .always(
            "batches",
            Node::List(data.resource_spans.iter().map(resource_spans).collect()),
        )
        .done()
}

/// `{"trace":{"resourceSpans":[…]},"metrics":{"inspectedBytes":"N"}}`: the v2 trace-by-id body
/// (`TraceByIDResponse`), where the trace keeps its proto name rather than `batches`.
pub(crate) fn trace_json_v2(data: &TracesData, inspected_bytes: u64) -> Node {
    let trace = Object::default()
        .always(
            "resourceSpans",
            Node::List(data.resource_spans.iter().map(resource_spans).collect()),
        )
        .done();
    Object::default()
        .always("trace", trace)
        .always(
            "metrics",
            Object::default()
                .u64("inspectedBytes", inspected_bytes)
                .done(),
        )
        .done()
}

/// A JSON value whose objects keep their keys in insertion order, so the output lists fields in
/// proto order as Tempo does (serde_json's own map sorts keys unless a crate-wide feature is on).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A string, number or bool.
    Leaf(Value),
    /// An array.
    List(Vec<Node>),
    /// An object, keys in order.
    Object(Vec<(&'static str, Node)>),
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Node::Leaf(value) => value.serialize(serializer),
            Node::List(items) => serializer.collect_seq(items),
            Node::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Builds an object, dropping the fields jsonpb would omit (zero, empty).
#[derive(Default)]
struct Object(Vec<(&'static str, Node)>);

impl Object {
    fn always(mut self, key: &'static str, value: Node) -> Self {
        self.0.push((key, value));
        self
    }
    fn leaf(self, key: &'static str, value: impl Into<Value>) -> Self {
        self.always(key, Node::Leaf(value.into()))
    }
    fn string(self, key: &'static str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.leaf(key, value)
        }
    }
    fn bytes(self, key: &'static str, value: &[u8]) -> Self {
        if value.is_empty() {
            self
        } else {
            self.leaf(key, BASE64.encode(value))
        }
    }
    /// 64-bit integers are strings in proto3 JSON.
    fn u64(self, key: &'static str, value: u64) -> Self {
        if value == 0 {
            self
        } else {
            self.leaf(key, value.to_string())
        }
    }
    fn u32(self, key: &'static str, value: u32) -> Self {
        if value == 0 {
            self
        } else {
            self.leaf(key, value)
        }
    }
    fn list(self, key: &'static str, values: Vec<Node>) -> Self {
        if values.is_empty() {
            self
        } else {
            self.always(key, Node::List(values))
        }
    }
    fn done(self) -> Node {
        Node::Object(self.0)
    }
}

fn resource_spans(rs: &ResourceSpans) -> Node {
    let default = Resource::default();
    Object::default()
        .always(
            "resource",
            resource(rs.resource.as_ref().unwrap_or(&default)),
        )
        .list(
            "scopeSpans",
            rs.scope_spans.iter().map(scope_spans).collect(),
        )
        .string("schemaUrl", &rs.schema_url)
        .done()
}

fn resource(r: &Resource) -> Node {
    let entity_refs = r
        .entity_refs
        .iter()
        .map(|e| {
            Object::default()
                .string("schemaUrl", &e.schema_url)
                .string("type", &e.r#type)
                .list(
                    "idKeys",
                    e.id_keys
                        .iter()
                        .map(|k| Node::Leaf(k.as_str().into()))
                        .collect(),
                )
                .list(
                    "descriptionKeys",
                    e.description_keys
                        .iter()
                        .map(|k| Node::Leaf(k.as_str().into()))
                        .collect(),
                )
                .done()
        })
        .collect();
    Object::default()
        .list("attributes", attributes(&r.attributes))
        .u32("droppedAttributesCount", r.dropped_attributes_count)
        .list("entityRefs", entity_refs)
        .done()
}

fn scope_spans(ss: &ScopeSpans) -> Node {
    let default = InstrumentationScope::default();
    Object::default()
        .always("scope", scope(ss.scope.as_ref().unwrap_or(&default)))
        .list("spans", ss.spans.iter().map(span).collect())
        .string("schemaUrl", &ss.schema_url)
        .done()
}

fn scope(s: &InstrumentationScope) -> Node {
    Object::default()
        .string("name", &s.name)
        .string("version", &s.version)
        .list("attributes", attributes(&s.attributes))
        .u32("droppedAttributesCount", s.dropped_attributes_count)
        .done()
}

fn span(s: &Span) -> Node {
    // Unknown kind numbers are written as numbers, as jsonpb does for unknown enum values.
    let kind = match SpanKind::try_from(s.kind) {
        Ok(SpanKind::Unspecified) => None,
        Ok(kind) => Some(Value::from(kind.as_str_name())),
        Err(_) => Some(Value::from(s.kind)),
    };
    let mut object = Object::default()
        .bytes("traceId", &s.trace_id)
        .bytes("spanId", &s.span_id)
        .string("traceState", &s.trace_state)
        .bytes("parentSpanId", &s.parent_span_id)
        .u32("flags", s.flags)
        .string("name", &s.name);
    if let Some(kind) = kind {
        object = object.leaf("kind", kind);
    }
    object
        .u64("startTimeUnixNano", s.start_time_unix_nano)
        .u64("endTimeUnixNano", s.end_time_unix_nano)
        .list("attributes", attributes(&s.attributes))
        .u32("droppedAttributesCount", s.dropped_attributes_count)
        .list("events", s.events.iter().map(event).collect())
        .u32("droppedEventsCount", s.dropped_events_count)
        .list("links", s.links.iter().map(link).collect())
        .u32("droppedLinksCount", s.dropped_links_count)
        .always(
            "status",
            status(s.status.as_ref().unwrap_or(&Status::default())),
        )
        .done()
}

fn event(e: &Event) -> Node {
    Object::default()
        .u64("timeUnixNano", e.time_unix_nano)
        .string("name", &e.name)
        .list("attributes", attributes(&e.attributes))
        .u32("droppedAttributesCount", e.dropped_attributes_count)
        .done()
}

fn link(l: &Link) -> Node {
    Object::default()
        .bytes("traceId", &l.trace_id)
        .bytes("spanId", &l.span_id)
        .string("traceState", &l.trace_state)
        .list("attributes", attributes(&l.attributes))
        .u32("droppedAttributesCount", l.dropped_attributes_count)
        .u32("flags", l.flags)
        .done()
}

fn status(s: &Status) -> Node {
    let object = Object::default().string("message", &s.message);
    match StatusCode::try_from(s.code) {
        Ok(StatusCode::Unset) => object.done(),
        Ok(code) => object.leaf("code", code.as_str_name()).done(),
        Err(_) => object.leaf("code", s.code).done(),
    }
}

fn attributes(kvs: &[KeyValue]) -> Vec<Node> {
    kvs.iter().map(key_value).collect()
}

fn key_value(kv: &KeyValue) -> Node {
    let object = Object::default().string("key", &kv.key);
    match &kv.value {
        Some(value) => object.always("value", any_value(value)).done(),
        None => object.done(),
    }
}

/// A oneof member is written even when it holds a zero value (`{"intValue":"0"}`), as jsonpb does.
pub(crate) fn any_value(v: &AnyValue) -> Node {
    use any_value::Value as V;
    let object = Object::default();
    match &v.value {
        None => object,
        Some(V::StringValue(s)) => object.leaf("stringValue", s.as_str()),
        Some(V::BoolValue(b)) => object.leaf("boolValue", *b),
        Some(V::IntValue(i)) => object.leaf("intValue", i.to_string()),
        Some(V::DoubleValue(d)) => object.leaf("doubleValue", double(*d)),
        Some(V::ArrayValue(a)) => {
            let values = Node::List(a.values.iter().map(any_value).collect());
            object.always(
                "arrayValue",
                Object::default().always("values", values).done(),
            )
        }
        Some(V::KvlistValue(l)) => {
            let values = Node::List(attributes(&l.values));
            object.always(
                "kvlistValue",
                Object::default().always("values", values).done(),
            )
        }
        Some(V::BytesValue(b)) => object.leaf("bytesValue", BASE64.encode(b)),
        Some(V::StringValueStrindex(i)) => object.leaf("stringValueStrindex", *i),
    }
    .done()
}

/// JSON has no NaN or infinities; proto3 JSON spells them as strings.
fn double(d: f64) -> Value {
    if d.is_nan() {
        Value::from("NaN")
    } else if d.is_infinite() {
        Value::from(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        Value::from(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_values_follow_jsonpb() {
        let cases = [
            (V::IntValue(0), r#"{"intValue":"0"}"#),
            (V::IntValue(-42), r#"{"intValue":"-42"}"#),
            (V::StringValue(String::new()), r#"{"stringValue":""}"#),
            (V::BoolValue(false), r#"{"boolValue":false}"#),
            (V::DoubleValue(0.5), r#"{"doubleValue":0.5}"#),
            (V::DoubleValue(f64::NAN), r#"{"doubleValue":"NaN"}"#),
            (
                V::BytesValue(vec![0xc0, 0xff, 0xee]),
                r#"{"bytesValue":"wP/u"}"#,
            ),
        ];
        for (value, want) in cases {
            let got = serde_json::to_string(&any_value(&AnyValue { value: Some(value) })).unwrap();
            assert_eq!(got, want);
        }
        assert_eq!(
            serde_json::to_string(&any_value(&AnyValue { value: None })).unwrap(),
            "{}"
        );
    }

    #[test]
    fn status_uses_enum_names_and_unset_is_empty() {
        let json = |s: &Status| serde_json::to_string(&status(s)).unwrap();
        assert_eq!(json(&Status::default()), "{}");
        let error = Status {
            code: StatusCode::Error as i32,
            message: "boom".into(),
        };
        assert_eq!(
            json(&error),
            r#"{"message":"boom","code":"STATUS_CODE_ERROR"}"#
        );
    }

    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
}
