//! What evaluation reads from a store: [`TraceView`] for one stored trace and [`SpanView`] for
//! each of its spans. A store implements both for its own types; [`Query::evaluate`] is generic
//! over them, so each store gets its own monomorphised evaluator with no dynamic dispatch.
//!
//! The traits are as small as the evaluator's reads: one method per intrinsic it reads and one
//! attribute lookup per scope. Lookups return a borrowed [`Value`], so the store keeps spans in
//! whatever form suits it (interned, columnar, OTLP as received) and a condition copies nothing.
//! Events and links stay OTLP's types, as TraceQL is defined over OTLP's data model.
//!
//! [`Query::evaluate`]: crate::Query::evaluate

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};

use crate::Value;

/// One stored trace: its id and its spans. Spansets hold indexes into [`TraceView::spans`].
pub trait TraceView {
    /// The store's span type.
    type Span: SpanView;

    /// The trace id as raw bytes (16 in OTLP); `trace:id` compares it with hex text.
    fn trace_id(&self) -> &[u8];

    /// The spans, sorted by start time: spansets list spans in this order, and the default
    /// [`TraceView::root_span`] relies on it.
    fn spans(&self) -> &[Self::Span];

    /// The root span, which `rootName` and `rootServiceName` read: by default the first span
    /// without a parent, so the earliest-starting one. Read once per trace.
    fn root_span(&self) -> Option<&Self::Span> {
        self.spans().iter().find(|s| s.parent_span_id().is_empty())
    }

    /// The trace's duration in nanoseconds, which `traceDuration` reads: by default the latest
    /// span end minus the earliest span start, 0 without spans or if that would be negative.
    /// Read once per trace.
    fn duration_nanos(&self) -> u64 {
        let spans = self.spans();
        let start = spans.iter().map(SpanView::start_unix_nano).min();
        let end = spans.iter().map(SpanView::end_unix_nano).max();
        end.unwrap_or(0).saturating_sub(start.unwrap_or(0))
    }
}

// A trace behind a reference or a pointer evaluates as itself: iterators yield `&&Trace`, and a
// store may hand out `Arc` snapshots. Every method forwards, the provided ones too, or the
// store's own root and duration would silently give way to the defaults.
/// Implements [`TraceView`] for a pointer to a trace by forwarding every method.
macro_rules! forward_trace_view {
    ($($pointer:ty),*) => {$(
        impl<T: TraceView + ?Sized> TraceView for $pointer {
            type Span = T::Span;

            fn trace_id(&self) -> &[u8] {
                (**self).trace_id()
            }

            fn spans(&self) -> &[Self::Span] {
                (**self).spans()
            }

            fn root_span(&self) -> Option<&Self::Span> {
                (**self).root_span()
            }

            fn duration_nanos(&self) -> u64 {
                (**self).duration_nanos()
            }
        }
    )*};
}

forward_trace_view!(&T, Box<T>, Arc<T>);

/// One stored span, as the evaluator reads it. Every method is called per span and per
/// condition, so each should be a field read or a short search, and allocate nothing.
pub trait SpanView {
    /// The span id as raw bytes (8 in OTLP).
    fn span_id(&self) -> &[u8];
    /// The parent's span id as raw bytes; empty for a root span, as in OTLP.
    fn parent_span_id(&self) -> &[u8];
    /// The span's name.
    fn name(&self) -> &str;
    /// The OTLP span kind number (0 unspecified … 5 consumer), as sent.
    fn kind(&self) -> i32;
    /// The OTLP status code (0 unset, 1 ok, 2 error); 0 when no status was sent.
    fn status_code(&self) -> i32;
    /// The status message, empty if none.
    fn status_message(&self) -> &str;
    /// Start time in nanoseconds since the Unix epoch.
    fn start_unix_nano(&self) -> u64;
    /// End time in nanoseconds since the Unix epoch.
    fn end_unix_nano(&self) -> u64;
    /// The span's own attribute `key` (`span.key`), [`Value::Nil`] if it has none. The first
    /// one wins if a sender repeats a key.
    fn span_attribute(&self, key: &str) -> Value<'_>;
    /// The attribute `key` of the resource that produced the span (`resource.key`).
    fn resource_attribute(&self, key: &str) -> Value<'_>;
    /// The attribute `key` of the instrumentation scope (`instrumentation.key`).
    fn scope_attribute(&self, key: &str) -> Value<'_>;
    /// The instrumentation scope's name (`instrumentation:name`), empty if none.
    fn scope_name(&self) -> &str;
    /// The instrumentation scope's version (`instrumentation:version`), empty if none.
    fn scope_version(&self) -> &str;
    /// The service name `rootServiceName` reports for a root span: the resource's
    /// `service.name`, or whatever the store shows for a span without one.
    fn service_name(&self) -> &str;
    /// The span's events (`event.x`, `event:name`, `event:timeSinceStart`).
    fn events(&self) -> &[Event];
    /// The span's links (`link.x`, `link:traceID`, `link:spanID`).
    fn links(&self) -> &[Link];
    /// Calls `found` with each of the span's own attributes, for `compare()`, which breaks
    /// spans down by every attribute they have. The default reports none.
    fn each_span_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        let _ = found;
    }
    /// Calls `found` with each attribute of the span's resource, for `compare()`. The default
    /// reports none.
    fn each_resource_attribute(&self, found: &mut dyn FnMut(&str, Value<'_>)) {
        let _ = found;
    }
}

/// Each span's parent as an index into `spans`: `None` for a root (an empty parent id) and for a
/// span whose parent is not held. The one builder of a trace's parent links: the structural
/// operators, the store's completeness check and the waterfall all start from it. If two spans
/// share an id, the later one is taken as the parent.
pub fn parent_indexes<S: SpanView>(spans: &[S]) -> Vec<Option<usize>> {
    let index: HashMap<&[u8], usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id(), i))
        .collect();
    spans
        .iter()
        .map(|s| match s.parent_span_id() {
            [] => None,
            parent => index.get(parent).copied(),
        })
        .collect()
}
