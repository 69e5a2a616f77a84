//! How TraceQL reads the store: [`traceql::TraceView`] for [`Trace`] and [`traceql::SpanView`]
//! for [`SpanRecord`], so the `traceql` crate evaluates queries over stored spans in place.
//!
//! Each method is a field read or a short search on the compact record, as the evaluator calls
//! them per span and per condition. Root span and trace duration are the store's own
//! ([`Trace::root`], [`Trace::duration`]), so TraceQL's `rootName`, `rootServiceName` and
//! `traceDuration` agree with what search results report.

use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use traceql::Value;

use super::{AttrValue, SpanRecord, Trace};

impl traceql::TraceView for Trace {
    type Span = SpanRecord;

    fn trace_id(&self) -> &[u8] {
        &self.id.0
    }

    fn spans(&self) -> &[SpanRecord] {
        &self.spans
    }

    fn root_span(&self) -> Option<&SpanRecord> {
        self.root()
    }

    fn duration_nanos(&self) -> u64 {
        u64::try_from(self.duration().as_nanos()).unwrap_or(u64::MAX)
    }
}

// `SpanRecord`'s inherent methods are called by path: several share a name with the trait's
// (and differ in type, like `span_id`), and the path says which one is meant.
impl traceql::SpanView for SpanRecord {
    fn span_id(&self) -> &[u8] {
        SpanRecord::span_id_bytes(self)
    }

    fn parent_span_id(&self) -> &[u8] {
        SpanRecord::parent_span_id_bytes(self)
    }

    fn name(&self) -> &str {
        SpanRecord::name(self)
    }

    fn kind(&self) -> i32 {
        SpanRecord::kind_number(self)
    }

    fn status_code(&self) -> i32 {
        SpanRecord::status_code(self)
    }

    fn status_message(&self) -> &str {
        SpanRecord::status_message(self)
    }

    fn start_unix_nano(&self) -> u64 {
        SpanRecord::start_unix_nano(self)
    }

    fn end_unix_nano(&self) -> u64 {
        SpanRecord::end_unix_nano(self)
    }

    fn span_attribute(&self, key: &str) -> Value<'_> {
        self.attribute(key).map_or(Value::Nil, |value| match value {
            AttrValue::Str(s) => Value::Str(s),
            AttrValue::Int(i) => Value::Int(*i),
            AttrValue::Float(d) => Value::Float(*d),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Other(other) => other.as_deref().map_or(Value::Nil, Value::from),
        })
    }

    fn resource_attribute(&self, key: &str) -> Value<'_> {
        Value::find(&self.resource().attributes, key)
    }

    fn scope_attribute(&self, key: &str) -> Value<'_> {
        Value::find(&self.scope().attributes, key)
    }

    fn scope_name(&self) -> &str {
        &self.scope().name
    }

    fn scope_version(&self) -> &str {
        &self.scope().version
    }

    fn service_name(&self) -> &str {
        SpanRecord::service_name(self)
    }

    fn events(&self) -> &[Event] {
        SpanRecord::events(self)
    }

    fn links(&self) -> &[Link] {
        SpanRecord::links(self)
    }

    fn each_span_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        for attribute in self.attributes() {
            found(&attribute.key, self.span_attribute(&attribute.key));
        }
    }

    fn each_resource_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        for kv in &self.resource().attributes {
            found(&kv.key, kv.value.as_ref().map_or(Value::Nil, Value::from));
        }
    }
}
