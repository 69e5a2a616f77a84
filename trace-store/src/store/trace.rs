//! What the store hands out: a [`Trace`] is a snapshot of one trace's spans, each a
//! [`SpanRecord`] that keeps the OTLP span together with the resource and scope it came with.
//!
//! These are plain owned values, so readers (the query API, the waterfall, a later TraceQL engine
//! or web viewer) work on them without holding the store's lock.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};

use crate::model::{SpanId, TraceId};

/// The service name used when a resource has no `service.name`, as the OTel SDKs do.
const UNKNOWN_SERVICE: &str = "unknown_service";

/// One stored span with the resource and instrumentation scope it was exported with.
///
/// The resource and scope are shared (`Arc`) by every span of the same export batch, so a trace
/// of a thousand spans from one service holds one copy of the resource.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The span as received. Its ids have been checked: 16-byte trace id, 8-byte span id,
    /// parent span id empty or 8 bytes.
    pub span: Span,
    /// The resource (service) that produced the span.
    pub resource: Arc<Resource>,
    /// The instrumentation scope (library) that produced the span.
    pub scope: Arc<InstrumentationScope>,
    /// `ResourceSpans.schema_url` of the batch, kept so [`Trace::to_traces_data`] is lossless.
    pub resource_schema_url: Arc<str>,
    /// `ScopeSpans.schema_url` of the batch, kept for the same reason.
    pub scope_schema_url: Arc<str>,
}

impl SpanRecord {
    /// The resource's `service.name` string attribute, or `"unknown_service"`.
    pub fn service_name(&self) -> &str {
        self.resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(name.as_str()),
                _ => None,
            })
            .unwrap_or(UNKNOWN_SERVICE)
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        // The store checked the length on insert; the fallback only guards hand-built records.
        SpanId::from_bytes(&self.span.span_id).unwrap_or_default()
    }

    /// The parent's id, or `None` for a root span.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        SpanId::from_bytes(&self.span.parent_span_id)
    }

    /// The span kind; unknown numbers read as `Unspecified`.
    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// Whether the span's status is `Error`.
    pub fn is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    }

    /// The value of the span's own attribute `key` (not the resource's; use
    /// [`SpanRecord::resource`] for those). The first one wins if a key repeats.
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .as_ref()
    }

    /// Start time in nanoseconds since the Unix epoch.
    pub fn start_unix_nano(&self) -> u64 {
        self.span.start_time_unix_nano
    }

    /// End − start; zero if the span ends before it starts.
    pub fn duration(&self) -> Duration {
        let nanos = self
            .span
            .end_time_unix_nano
            .saturating_sub(self.span.start_time_unix_nano);
        Duration::from_nanos(nanos)
    }
}

/// A snapshot of one trace: every span the store holds for `id`, sorted by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace id shared by all spans.
    pub id: TraceId,
    /// The spans, sorted by start time (ties keep arrival order).
    pub spans: Vec<SpanRecord>,
}

impl Trace {
    /// The spans of trace `id` in `data` (what `/api/traces/{id}` answers in
    /// protobuf), as a [`Trace`]; spans of other traces are left out. The
    /// inverse of [`Trace::to_traces_data`], for clients of the query API.
    pub fn from_traces_data(id: TraceId, data: TracesData) -> Trace {
        let mut spans = Vec::new();
        for resource_spans in data.resource_spans {
            let resource = Arc::new(resource_spans.resource.unwrap_or_default());
            let resource_schema_url: Arc<str> = resource_spans.schema_url.into();
            for scope_spans in resource_spans.scope_spans {
                let scope = Arc::new(scope_spans.scope.unwrap_or_default());
                let scope_schema_url: Arc<str> = scope_spans.schema_url.into();
                spans.extend(
                    scope_spans
                        .spans
                        .into_iter()
                        .filter(|span| span.trace_id == id.0)
                        .map(|span| SpanRecord {
                            span,
                            resource: resource.clone(),
                            scope: scope.clone(),
                            resource_schema_url: resource_schema_url.clone(),
                            scope_schema_url: scope_schema_url.clone(),
                        }),
                );
            }
        }
        spans.sort_by_key(SpanRecord::start_unix_nano);
        Trace { id, spans }
    }

    /// The root span: the earliest-starting span without a parent, if one has arrived.
    pub fn root(&self) -> Option<&SpanRecord> {
        self.spans.iter().find(|s| s.span.parent_span_id.is_empty())
    }

    /// Whether nothing is known to be missing: exactly one span lacks its
    /// parent here (the entry span: a root, or the first span of a trace
    /// continued from a caller that is not traced into this store), that
    /// span started first, and every other span's parent is present.
    /// A trace can look complete and still grow.
    pub fn is_complete(&self) -> bool {
        let ids: std::collections::HashSet<SpanId> =
            self.spans.iter().map(SpanRecord::span_id).collect();
        let mut entries = self
            .spans
            .iter()
            .filter(|s| s.parent_span_id().is_none_or(|p| !ids.contains(&p)));
        match (entries.next(), entries.next()) {
            (Some(entry), None) => entry.start_unix_nano() == self.start_unix_nano(),
            _ => false,
        }
    }

    /// The earliest span start, in Unix nanoseconds (0 for a trace without spans).
    pub fn start_unix_nano(&self) -> u64 {
        // Spans are sorted by start time, so the first one starts first.
        self.spans.first().map_or(0, SpanRecord::start_unix_nano)
    }

    /// The latest span end, in Unix nanoseconds (0 for a trace without spans).
    pub fn end_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.span.end_time_unix_nano)
            .max()
            .unwrap_or(0)
    }

    /// Latest end − earliest start; zero if that would be negative.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nano().saturating_sub(self.start_unix_nano()))
    }

    /// The trace as OTLP `TracesData`, regrouped by resource and scope.
    ///
    /// Lossless: every span, resource, scope and schema URL comes back as received. Spans whose
    /// resource (or scope) is equal are grouped together even if they arrived in different
    /// batches; groups appear in the order of their earliest span.
    pub fn to_traces_data(&self) -> TracesData {
        let mut resource_spans: Vec<ResourceSpans> = Vec::new();
        for record in &self.spans {
            let resource_group = match resource_spans.iter_mut().position(|rs| {
                rs.schema_url == *record.resource_schema_url
                    && rs.resource.as_ref() == Some(&*record.resource)
            }) {
                Some(index) => &mut resource_spans[index],
                None => {
                    resource_spans.push(ResourceSpans {
                        resource: Some((*record.resource).clone()),
                        scope_spans: Vec::new(),
                        schema_url: record.resource_schema_url.to_string(),
                    });
                    resource_spans.last_mut().expect("just pushed")
                }
            };
            let scopes = &mut resource_group.scope_spans;
            let scope_group = match scopes.iter().position(|ss| {
                ss.schema_url == *record.scope_schema_url
                    && ss.scope.as_ref() == Some(&*record.scope)
            }) {
                Some(index) => &mut scopes[index],
                None => {
                    scopes.push(ScopeSpans {
                        scope: Some((*record.scope).clone()),
                        spans: Vec::new(),
                        schema_url: record.scope_schema_url.to_string(),
                    });
                    scopes.last_mut().expect("just pushed")
                }
            };
            scope_group.spans.push(record.span.clone());
        }
        TracesData { resource_spans }
    }
}
