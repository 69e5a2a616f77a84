//! OTLP/JSON bodies, turned into the protobuf encoding one span at a time, so they take the
//! store's walk like every other body (`store/walk.rs`).
//!
//! Why not decode the request whole with serde and encode it again: decoded, a span takes
//! several times its encoded size (a `String` or `Vec` per id, name, key and value), and a whole
//! request of them was held at once. Here serde reads the JSON nesting (`resourceSpans` →
//! `scopeSpans` → `spans`) with visitors of our own, decodes each span alone with
//! `opentelemetry-proto`'s serde (hex ids, camelCase keys, 64-bit integers as strings, enums by
//! name or number), writes its protobuf encoding and drops it. At most one decoded span, one
//! resource and one scope exist at a time, beside the body and its protobuf encoding (about a
//! third of the JSON's size).
//!
//! The rules are serde's for the reference types: unknown keys are ignored, a missing field is
//! empty, `null` is accepted where the reference type has an `Option` (`resource`, `scope`),
//! a key twice in one object is an error. One difference: serde's derive would also read a
//! message from an array of its fields in order, which is not OTLP/JSON; that is refused.

use std::fmt;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::encoding::{WireType, encode_key, encode_varint};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The protobuf encoding of the OTLP/JSON `ExportTraceServiceRequest` in `body`.
pub(crate) fn to_protobuf(body: &[u8]) -> Result<Bytes, serde_json::Error> {
    let mut out = Vec::with_capacity(body.len() / 2);
    let mut json = serde_json::Deserializer::from_slice(body);
    Object(Level::Request).deserialize_into(&mut json, &mut out)?;
    json.end()?;
    Ok(out.into())
}

/// Which message an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// `ExportTraceServiceRequest`: `resourceSpans` (field 1).
    Request,
    /// `ResourceSpans`: `resource` (1), `scopeSpans` (2), `schemaUrl` (3).
    Resource,
    /// `ScopeSpans`: `scope` (1), `spans` (2), `schemaUrl` (3).
    Scope,
}

impl Level {
    /// The key of the repeated field one level down, and that level (`None`: spans).
    fn children(self) -> (&'static str, Option<Level>) {
        match self {
            Level::Request => ("resourceSpans", Some(Level::Resource)),
            Level::Resource => ("scopeSpans", Some(Level::Scope)),
            Level::Scope => ("spans", None),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Request => "an OTLP/JSON ExportTraceServiceRequest object",
            Level::Resource => "a ResourceSpans object",
            Level::Scope => "a ScopeSpans object",
        }
    }
}

/// One object of `Level`, written to `out` as the fields of its message (without its own key
/// and length: the parent adds those).
struct Object(Level);

impl Object {
    fn deserialize_into<'de, D: Deserializer<'de>>(
        self,
        json: D,
        out: &mut Vec<u8>,
    ) -> Result<(), D::Error> {
        json.deserialize_map(ObjectVisitor { level: self.0, out })
    }
}

struct ObjectVisitor<'o> {
    level: Level,
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.level.name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (children_key, child) = self.level.children();
        let mut seen = [false; 3];
        let mut once = |slot: usize, key: &'static str| {
            if std::mem::replace(&mut seen[slot], true) {
                Err(de::Error::duplicate_field(key))
            } else {
                Ok(())
            }
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == children_key {
                once(0, children_key)?;
                map.next_value_seed(Children {
                    child,
                    out: &mut *self.out,
                })?;
            } else if key == "schemaUrl" && self.level != Level::Request {
                once(1, "schemaUrl")?;
                let url: String = map.next_value()?;
                if !url.is_empty() {
                    prost::encoding::string::encode(3, &url, self.out);
                }
            } else if key == "resource" && self.level == Level::Resource {
                once(2, "resource")?;
                if let Some(resource) = map.next_value::<Option<Resource>>()? {
                    prost::encoding::message::encode(1, &resource, self.out);
                }
            } else if key == "scope" && self.level == Level::Scope {
                once(2, "scope")?;
                if let Some(scope) = map.next_value::<Option<InstrumentationScope>>()? {
                    prost::encoding::message::encode(1, &scope, self.out);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The array of a repeated field (field 2 below a resource or scope, 1 below the request), each
/// element written to `out` with its key and length.
struct Children<'o> {
    child: Option<Level>,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Children<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, json: D) -> Result<(), D::Error> {
        json.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Children<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tag = if self.child == Some(Level::Resource) {
            1
        } else {
            2
        };
        match self.child {
            // A span: decoded alone, encoded, dropped.
            None => {
                while let Some(span) = seq.next_element::<Span>()? {
                    prost::encoding::message::encode(tag, &span, self.out);
                }
            }
            Some(level) => {
                let mut fields = Vec::new();
                while seq
                    .next_element_seed(Element {
                        level,
                        out: &mut fields,
                    })?
                    .is_some()
                {
                    encode_key(tag, WireType::LengthDelimited, self.out);
                    encode_varint(fields.len() as u64, self.out);
                    self.out.extend_from_slice(&fields);
                    fields.clear();
                }
            }
        }
        Ok(())
    }
}

/// One element of an array of objects.
struct Element<'o> {
    level: Level,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, json: D) -> Result<(), D::Error> {
        Object(self.level).deserialize_into(json, self.out)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    use super::*;

    /// What serde makes of `json` whole, the way the receiver used to decode it.
    fn whole(json: &str) -> Result<ExportTraceServiceRequest, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn streamed(json: &str) -> Result<ExportTraceServiceRequest, String> {
        let bytes = to_protobuf(json.as_bytes()).map_err(|e| e.to_string())?;
        Ok(ExportTraceServiceRequest::decode(bytes).expect("valid protobuf"))
    }

    const SPAN: &str = r#"{"traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174", "parentSpanId": "eee19b7ec3c1b173", "name": "GET /",
        "kind": 2, "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}},
                       {"key": "ok", "value": {"boolValue": true}}],
        "status": {"code": 2, "message": "boom"}, "unknownField": [1, {"x": 2}]}"#;

    #[test]
    fn gives_what_serde_gives_for_the_whole_request() {
        let cases = [
            format!(
                r#"{{"resourceSpans": [{{"resource": {{"attributes": [{{"key": "service.name",
                "value": {{"stringValue": "app-a"}}}}]}}, "schemaUrl": "https://r",
                "scopeSpans": [{{"scope": {{"name": "s", "version": "1"}},
                "spans": [{SPAN}, {SPAN}], "schemaUrl": "https://s"}}]}}]}}"#
            ),
            // Keys in another order, the scope after its spans, a null resource and scope,
            // unknown keys at every level, two resources.
            format!(
                r#"{{"x": 1, "resourceSpans": [{{"scopeSpans": [{{"spans": [{SPAN}],
                "scope": null, "y": "z"}}, {{"spans": []}}], "resource": null}},
                {{"scopeSpans": [{{"scope": {{"name": "t"}}, "spans": [{SPAN}]}}]}}]}}"#
            ),
            r#"{}"#.to_owned(),
            r#"{"resourceSpans": []}"#.to_owned(),
            r#"{"resourceSpans": [{}]}"#.to_owned(),
        ];
        for json in &cases {
            assert_eq!(streamed(json), whole(json), "{json}");
        }
    }

    #[test]
    fn refuses_what_serde_refuses() {
        let cases = [
            "",
            r#"{"resourceSpans": {}}"#,
            r#"{"resourceSpans": null}"#,
            r#"{"resourceSpans": [null]}"#,
            r#"{"resourceSpans": [], "resourceSpans": []}"#,
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}"#,
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}"#,
            r#"{"resourceSpans": [{"schemaUrl": null}]}"#,
            r#"{"resourceSpans": []} trailing"#,
        ];
        for json in cases {
            let (ours, serde) = (streamed(json), whole(json));
            assert!(
                ours.is_err() && serde.is_err(),
                "{json}: {ours:?} vs {serde:?}"
            );
        }
    }
}
