//! A plain in-memory implementation of the view traits, so the crate's tests evaluate queries
//! without a store: a [`Trace`] is a list of [`Span`]s kept as OTLP has them, and builders make
//! a test's spans short to write. It uses only the public API, as a store would.

#![allow(dead_code)]

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use traceql::{SpanView, TraceView, Value};

/// One trace: id `[0; 15] ++ [n]`, spans in the order given (tests give them by start time).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub(crate) id: Vec<u8>,
    pub(crate) spans: Vec<Span>,
}

/// One span, its resource and its scope, with OTLP's attribute lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct Span {
    pub(crate) id: Vec<u8>,
    /// Empty for a root.
    pub(crate) parent: Vec<u8>,
    pub(crate) name: String,
    pub(crate) kind: i32,
    pub(crate) status: i32,
    pub(crate) status_message: String,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) scope_name: String,
    pub(crate) scope_version: String,
    pub(crate) scope_attributes: Vec<KeyValue>,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
}

/// Span id `n` as 8 bytes.
pub(crate) fn span_id(n: u8) -> Vec<u8> {
    vec![0xb0, 0, 0, 0, 0, 0, 0, n]
}

/// An attribute.
pub(crate) fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A string attribute value.
pub(crate) fn text(value: &str) -> V {
    V::StringValue(value.to_owned())
}

impl Trace {
    /// Trace `n` holding `spans`.
    pub(crate) fn new(n: u8, spans: Vec<Span>) -> Self {
        let mut id = vec![0; 15];
        id.push(n);
        Trace { id, spans }
    }
}

impl Span {
    /// Span `id` (child of `parent`, if any) of service `service`, from `start` to `end` ns.
    pub(crate) fn new(
        id: u8,
        parent: Option<u8>,
        service: &str,
        name: &str,
        start: u64,
        end: u64,
    ) -> Self {
        Span {
            id: span_id(id),
            parent: parent.map(span_id).unwrap_or_default(),
            name: name.to_owned(),
            start,
            end,
            resource: vec![kv("service.name", text(service))],
            ..Default::default()
        }
    }

    /// With a span attribute.
    pub(crate) fn attr(mut self, key: &str, value: V) -> Self {
        self.attributes.push(kv(key, value));
        self
    }
}

impl TraceView for Trace {
    type Span = Span;

    fn trace_id(&self) -> &[u8] {
        &self.id
    }

    fn spans(&self) -> &[Span] {
        &self.spans
    }
}

impl SpanView for Span {
    fn span_id(&self) -> &[u8] {
        &self.id
    }

    fn parent_span_id(&self) -> &[u8] {
        &self.parent
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> i32 {
        self.kind
    }

    fn status_code(&self) -> i32 {
        self.status
    }

    fn status_message(&self) -> &str {
        &self.status_message
    }

    fn start_unix_nano(&self) -> u64 {
        self.start
    }

    fn end_unix_nano(&self) -> u64 {
        self.end
    }

    fn span_attribute(&self, key: &str) -> Value<'_> {
        Value::find(&self.attributes, key)
    }

    fn resource_attribute(&self, key: &str) -> Value<'_> {
        Value::find(&self.resource, key)
    }

    fn each_span_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        for kv in &self.attributes {
            found(&kv.key, kv.value.as_ref().map_or(Value::Nil, Value::from));
        }
    }

    fn each_resource_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        for kv in &self.resource {
            found(&kv.key, kv.value.as_ref().map_or(Value::Nil, Value::from));
        }
    }

    fn scope_attribute(&self, key: &str) -> Value<'_> {
        Value::find(&self.scope_attributes, key)
    }

    fn scope_name(&self) -> &str {
        &self.scope_name
    }

    fn scope_version(&self) -> &str {
        &self.scope_version
    }

    fn service_name(&self) -> &str {
        match self.resource_attribute("service.name") {
            Value::Str(name) => name,
            _ => "unknown_service",
        }
    }

    fn events(&self) -> &[Event] {
        &self.events
    }

    fn links(&self) -> &[Link] {
        &self.links
    }
}
