//! How the store keeps one span: [`SpanRecord`], a compact form of the OTLP span.
//!
//! The decoded OTLP structure costs about 2 KB for a span with ten attributes: every key and
//! value is its own heap `String`, every id a heap `Vec`, every `KeyValue` 80 bytes before its
//! strings. A `SpanRecord` keeps the same information in about 100 bytes
//! when its attribute list is shared, about 300 when it is not:
//! - ids and times inline;
//! - strings (the name, attribute keys, string values) interned by the store's
//!   [`Interner`](super::interner::Interner), so `"http.request.method"` and `"GET"` are stored
//!   once and each span holds 8-byte shared pointers to them;
//! - attributes as 24-byte [`Attribute`]s, the list interned too, so spans with the same
//!   attributes (every SERVER span of one route, say) share one list; the rare typed values with
//!   no compact form (arrays, maps, bytes) stay as OTLP `AnyValue`s;
//! - what most spans lack (events, links, trace state, a status message, dropped counts) behind
//!   one optional box;
//! - the resource and scope shared by every span that came with them ([`Source`]).
//!
//! Nothing is lost: [`SpanRecord::to_proto`] gives back the span as it arrived.

use std::sync::Arc;
use std::time::Duration;

use arcstr::ArcStr;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

pub use super::attribute::{AttrValue, Attribute};
use super::interner::Interner;
use super::raw_span::{NotUtf8, RawSpan};
pub use super::source::Source;
use crate::model::{SpanId, TraceId};

/// What most spans do not have, kept out of line so they pay one null pointer for it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Rare {
    trace_state: String,
    status_message: String,
    events: Vec<Event>,
    links: Vec<Link>,
    dropped_attributes_count: u32,
    dropped_events_count: u32,
    dropped_links_count: u32,
}

/// Why [`SpanRecord::from_raw`] refused a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadSpan {
    /// An id has the wrong number of bytes.
    IdLength {
        field: &'static str,
        len: usize,
        want: &'static str,
    },
    /// A string field (the name, a key or a value) is not UTF-8.
    NotUtf8,
}

impl From<NotUtf8> for BadSpan {
    fn from(_: NotUtf8) -> Self {
        BadSpan::NotUtf8
    }
}

/// One stored span, compact (see the module docs), with the [`Source`] it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    start_unix_nano: u64,
    end_unix_nano: u64,
    span_id: SpanId,
    /// All zeros with `has_parent` false for a root: OTLP's empty parent id.
    parent_span_id: SpanId,
    name: ArcStr,
    attributes: Arc<[Attribute]>,
    source: Arc<Source>,
    rare: Option<Box<Rare>>,
    flags: u32,
    /// The OTLP number, kept as sent (unknown numbers read as `Unspecified` in [`Self::kind`]).
    kind: i32,
    /// The OTLP status code; `has_status` tells an absent status from an explicit `Unset`.
    status_code: i32,
    has_status: bool,
    has_parent: bool,
}

impl SpanRecord {
    /// The compact form of `span`: ids checked (trace id 16 bytes, span id 8, parent span id
    /// empty or 8), strings checked to be UTF-8 and interned through `strings`.
    pub(crate) fn from_raw(
        span: RawSpan,
        source: Arc<Source>,
        strings: &mut Interner,
    ) -> Result<(TraceId, Self), BadSpan> {
        let bad_id = |field, len, want| BadSpan::IdLength { field, len, want };
        let trace_id = TraceId::from_bytes(&span.trace_id)
            .ok_or_else(|| bad_id("trace id", span.trace_id.len(), "16"))?;
        let span_id = SpanId::from_bytes(&span.span_id)
            .ok_or_else(|| bad_id("span id", span.span_id.len(), "8"))?;
        let (parent_span_id, has_parent) = match span.parent_span_id.len() {
            0 => (SpanId::default(), false),
            len => (
                SpanId::from_bytes(&span.parent_span_id)
                    .ok_or_else(|| bad_id("parent span id", len, "0 or 8"))?,
                true,
            ),
        };
        let attributes = span
            .attributes
            .into_iter()
            .map(|kv| {
                Ok(Attribute {
                    key: strings.intern_utf8(&kv.key)?,
                    value: strings.attr_value(kv.value)?,
                })
            })
            .collect::<Result<Vec<_>, NotUtf8>>()?;
        let attributes = strings.attribute_list(attributes);
        let (has_status, status_code, status_message) = match span.status {
            Some(status) => (true, status.code, status.message),
            None => (false, 0, String::new()),
        };
        let rare = Rare {
            trace_state: span.trace_state,
            status_message,
            events: span.events,
            links: span.links,
            dropped_attributes_count: span.dropped_attributes_count,
            dropped_events_count: span.dropped_events_count,
            dropped_links_count: span.dropped_links_count,
        };
        let record = SpanRecord {
            start_unix_nano: span.start_time_unix_nano,
            end_unix_nano: span.end_time_unix_nano,
            span_id,
            parent_span_id,
            name: strings.intern_utf8(&span.name)?,
            attributes,
            source,
            rare: (rare != Rare::default()).then(|| Box::new(rare)),
            flags: span.flags,
            kind: span.kind,
            status_code,
            has_status,
            has_parent,
        };
        Ok((trace_id, record))
    }

    /// The span as OTLP has it, in trace `trace_id`.
    pub fn to_proto(&self, trace_id: TraceId) -> Span {
        let rare = self.rare.as_deref().cloned().unwrap_or_default();
        Span {
            trace_id: trace_id.0.to_vec(),
            span_id: self.span_id.0.to_vec(),
            trace_state: rare.trace_state,
            parent_span_id: self.parent_span_id_bytes().to_vec(),
            flags: self.flags,
            name: self.name.to_string(),
            kind: self.kind,
            start_time_unix_nano: self.start_unix_nano,
            end_time_unix_nano: self.end_unix_nano,
            attributes: self
                .attributes
                .iter()
                .map(|a| KeyValue {
                    key: a.key.to_string(),
                    value: a.value.to_proto(),
                    ..Default::default()
                })
                .collect(),
            dropped_attributes_count: rare.dropped_attributes_count,
            events: rare.events,
            dropped_events_count: rare.dropped_events_count,
            links: rare.links,
            dropped_links_count: rare.dropped_links_count,
            status: self.has_status.then_some(Status {
                message: rare.status_message,
                code: self.status_code,
            }),
        }
    }

    /// The resource, scope and schema URLs the span came with.
    pub fn source(&self) -> &Arc<Source> {
        &self.source
    }

    /// The resource (service) that produced the span.
    pub fn resource(&self) -> &Resource {
        &self.source.resource
    }

    /// The instrumentation scope (library) that produced the span.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.source.scope
    }

    /// The resource's `service.name` string attribute, or `"unknown_service"`.
    pub fn service_name(&self) -> &str {
        self.source.service_name()
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The span id as bytes.
    pub fn span_id_bytes(&self) -> &[u8] {
        &self.span_id.0
    }

    /// The parent's id, or `None` for a root span.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.has_parent.then_some(self.parent_span_id)
    }

    /// The parent id as bytes: empty for a root span, as in OTLP.
    pub fn parent_span_id_bytes(&self) -> &[u8] {
        if self.has_parent {
            &self.parent_span_id.0
        } else {
            &[]
        }
    }

    /// The span's name, shared.
    pub(crate) fn name_shared(&self) -> ArcStr {
        self.name.clone()
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The span kind; unknown numbers read as `Unspecified`.
    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// The span kind as the OTLP number it was sent as.
    pub fn kind_number(&self) -> i32 {
        self.kind
    }

    /// The OTLP status code as sent (0 unset, 1 ok, 2 error); 0 when no status was sent.
    pub fn status_code(&self) -> i32 {
        self.status_code
    }

    /// Whether the span's status is `Error`.
    pub fn is_error(&self) -> bool {
        self.status_code == StatusCode::Error as i32
    }

    /// The status message, empty if none.
    pub fn status_message(&self) -> &str {
        self.rare.as_deref().map_or("", |r| &r.status_message)
    }

    /// The span's own attributes, in the order they arrived.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The value of the span's own attribute `key` (not the resource's). The first one wins if
    /// a key repeats.
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }

    /// The span's events.
    pub fn events(&self) -> &[Event] {
        self.rare.as_deref().map_or(&[], |r| &r.events)
    }

    /// The span's links.
    pub fn links(&self) -> &[Link] {
        self.rare.as_deref().map_or(&[], |r| &r.links)
    }

    /// Start time in nanoseconds since the Unix epoch.
    pub fn start_unix_nano(&self) -> u64 {
        self.start_unix_nano
    }

    /// End time in nanoseconds since the Unix epoch.
    pub fn end_unix_nano(&self) -> u64 {
        self.end_unix_nano
    }

    /// End − start; zero if the span ends before it starts.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nano.saturating_sub(self.start_unix_nano))
    }
}

#[cfg(test)]
#[path = "span_tests.rs"]
mod tests;
