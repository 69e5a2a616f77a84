//! Reading a field: what an intrinsic or attribute has on one span (or on one of its events or
//! links), through the store's [`SpanView`]. The one place that maps TraceQL's fields onto the
//! view's methods; called per span and per condition, so it allocates nothing.

use std::cell::OnceCell;
use std::collections::HashMap;

use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};

use crate::syntax::ast::{AttrScope, Field, IntrinsicKind};
use crate::{SpanView, TraceView, Value};

/// Per-trace facts that trace-level intrinsics read, computed once per trace.
pub(crate) struct TraceCtx<'a, T: TraceView> {
    pub(crate) trace: &'a T,
    // Each is a scan of the spans, and most queries read neither: computed on first use.
    root: OnceCell<Option<&'a T::Span>>,
    duration: OnceCell<i64>,
    nested: OnceCell<NestedSets<'a>>,
}

impl<'a, T: TraceView> TraceCtx<'a, T> {
    pub(crate) fn new(trace: &'a T) -> Self {
        TraceCtx {
            trace,
            root: OnceCell::new(),
            duration: OnceCell::new(),
            nested: OnceCell::new(),
        }
    }

    fn root(&self) -> Option<&'a T::Span> {
        *self.root.get_or_init(|| self.trace.root_span())
    }

    /// `[left, right, parent]` of `span` in the nested-set numbering; zeros for a span not
    /// connected to a root (Tempo leaves those unnumbered).
    fn nested(&self, span: &T::Span) -> [i64; 3] {
        let sets = self
            .nested
            .get_or_init(|| NestedSets::new(self.trace.spans()));
        sets.0.get(span.span_id()).copied().unwrap_or_default()
    }

    fn duration(&self) -> i64 {
        *self
            .duration
            .get_or_init(|| i64::try_from(self.trace.duration_nanos()).unwrap_or(i64::MAX))
    }
}

/// Tempo's nested-set numbering of a trace's tree, by span id: a depth-first walk from each root
/// in turn (roots and children in the order the trace holds them), a counter from 1 numbering
/// each span on the way down (left) and up (right); a span's parent number is its parent's left,
/// -1 for a root.
struct NestedSets<'a>(HashMap<&'a [u8], [i64; 3]>);

impl<'a> NestedSets<'a> {
    fn new<S: SpanView>(spans: &'a [S]) -> Self {
        let parents = crate::view::parent_indexes(spans);
        let mut children = vec![Vec::new(); spans.len()];
        for (i, parent) in parents.iter().enumerate() {
            if let Some(p) = *parent {
                children[p].push(i);
            }
        }
        let mut numbers = HashMap::with_capacity(spans.len());
        let mut counter = 1;
        let mut numbered = vec![false; spans.len()];
        let mut left = vec![0; spans.len()];
        for root in (0..spans.len()).filter(|&i| spans[i].parent_span_id().is_empty()) {
            // (span, its parent's left, next child to visit); iterative, so deep traces are safe.
            let mut stack = vec![(root, -1, 0)];
            numbered[root] = true;
            left[root] = counter;
            counter += 1;
            while let Some(top) = stack.last_mut() {
                let (at, parent_left, next) = *top;
                match children[at].get(next) {
                    // A cycle of ids can lead back to a numbered span: never twice.
                    Some(&child) if !numbered[child] => {
                        top.2 += 1;
                        numbered[child] = true;
                        left[child] = counter;
                        counter += 1;
                        stack.push((child, left[at], 0));
                    }
                    Some(_) => top.2 += 1,
                    None => {
                        numbers.insert(spans[at].span_id(), [left[at], counter, parent_left]);
                        counter += 1;
                        stack.pop();
                    }
                }
            }
        }
        NestedSets(numbers)
    }
}

/// The event or link a per-event (per-link) field reads from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Elem<'a> {
    None,
    Event(&'a Event),
    Link(&'a Link),
}

/// The value of `field` on `span` (and on `elem` for event and link fields).
pub(crate) fn field_value<'a, T: TraceView>(
    field: &Field,
    ctx: &TraceCtx<'a, T>,
    span: &'a T::Span,
    elem: Elem<'a>,
) -> Value<'a> {
    use IntrinsicKind as K;
    match field {
        Field::Attribute { scope, name } => match scope {
            AttrScope::Span => span.span_attribute(name),
            AttrScope::Resource => span.resource_attribute(name),
            AttrScope::Unscoped => match span.span_attribute(name) {
                Value::Nil => span.resource_attribute(name),
                found => found,
            },
            AttrScope::Instrumentation => span.scope_attribute(name),
            AttrScope::Event => match elem {
                Elem::Event(e) => Value::find(&e.attributes, name),
                _ => Value::Nil,
            },
            AttrScope::Link => match elem {
                Elem::Link(l) => Value::find(&l.attributes, name),
                _ => Value::Nil,
            },
            AttrScope::Parent => Value::Nil,
        },
        Field::Intrinsic(i) => match i.kind {
            K::Name => Value::Str(span.name()),
            K::Status => Value::Status(span.status_code()),
            K::StatusMessage => Value::Str(span.status_message()),
            K::Kind => Value::Kind(span.kind()),
            K::Duration => Value::Duration(nanos(span.start_unix_nano(), span.end_unix_nano())),
            K::SpanId => Value::Id(span.span_id()),
            K::ParentId => Value::Id(span.parent_span_id()),
            K::TraceId => Value::Id(ctx.trace.trace_id()),
            K::TraceDuration => Value::Duration(ctx.duration()),
            K::RootName => ctx.root().map_or(Value::Nil, |r| Value::Str(r.name())),
            K::RootService => ctx
                .root()
                .map_or(Value::Nil, |r| Value::Str(r.service_name())),
            K::NestedSetLeft => Value::Int(ctx.nested(span)[0]),
            K::NestedSetRight => Value::Int(ctx.nested(span)[1]),
            K::NestedSetParent => Value::Int(ctx.nested(span)[2]),
            K::ScopeName => Value::Str(span.scope_name()),
            K::ScopeVersion => Value::Str(span.scope_version()),
            K::EventName => match elem {
                Elem::Event(e) => Value::Str(&e.name),
                _ => Value::Nil,
            },
            K::EventTimeSinceStart => match elem {
                Elem::Event(e) => Value::Duration(nanos(span.start_unix_nano(), e.time_unix_nano)),
                _ => Value::Nil,
            },
            K::LinkTraceId => match elem {
                Elem::Link(l) => Value::Id(&l.trace_id),
                _ => Value::Nil,
            },
            K::LinkSpanId => match elem {
                Elem::Link(l) => Value::Id(&l.span_id),
                _ => Value::Nil,
            },
        },
    }
}

/// `to - from` in nanoseconds, 0 if negative, saturating.
fn nanos(from: u64, to: u64) -> i64 {
    i64::try_from(to.saturating_sub(from)).unwrap_or(i64::MAX)
}
