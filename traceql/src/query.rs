//! The public face of evaluation: a parsed [`Query`] run over any [`TraceView`] gives
//! [`Spanset`]s, and reports the values it read, as Tempo's search results list them.
//! [`Field::values`] reads one field over chosen spans, for tag listings.

use crate::eval::{Elem, Eval, Input, TraceCtx, field_value};
use crate::syntax::ast::{self, Field, IntrinsicKind as K};
use crate::{SpanView, TraceView, Value};

/// A parsed and checked query, ready to run over any number of traces.
#[derive(Debug, Clone)]
pub struct Query {
    pipeline: ast::Pipeline,
    /// Every field the query reads, once each, in order of appearance.
    fetched: Vec<Field>,
    /// The trailing `with( … )`.
    hints: Vec<ast::Hint>,
}

/// Spans of one trace that a query selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanset<'a> {
    /// Indexes into the trace's [`spans`](TraceView::spans), ascending.
    pub spans: Vec<usize>,
    /// Spanset-level values: `by(…)` groups and aggregate results (`count()`, `avg(duration)`),
    /// keyed as Tempo keys them.
    pub attributes: Vec<(String, Value<'a>)>,
}

impl Query {
    /// A checked pipeline and the fields it reads (see [`crate::parse`]).
    pub(crate) fn new(pipeline: ast::Pipeline, fetched: Vec<Field>, hints: Vec<ast::Hint>) -> Self {
        Query {
            pipeline,
            fetched,
            hints,
        }
    }

    /// The checked pipeline, for analyses of the query beside evaluation.
    pub(crate) fn pipeline(&self) -> &ast::Pipeline {
        &self.pipeline
    }

    /// Whether the query asks for the most recent traces by start time
    /// (`with(most_recent=true)`), rather than any recent ones, which is quicker to answer.
    pub fn most_recent(&self) -> bool {
        self.hints
            .iter()
            .any(|h| h.name == "most_recent" && h.value == ast::Static::Bool(true))
    }

    /// The spansets `trace` yields, none of them empty; an empty list means no match.
    pub fn evaluate<'a, T: TraceView>(&'a self, trace: &'a T) -> Vec<Spanset<'a>> {
        let mut eval = Eval::new(TraceCtx::new(trace));
        eval.pipeline(&self.pipeline, Input::All(trace.spans().len()), &[])
    }

    /// Every field the query reads (conditions, aggregates, `by`, `select`), once each: what a
    /// store must be able to read for this query.
    pub fn fetched(&self) -> &[Field] {
        &self.fetched
    }

    /// Whether the query reads the span name (Tempo then returns `name` with each span).
    pub fn reads_name(&self) -> bool {
        self.fetched
            .iter()
            .any(|f| matches!(f, Field::Intrinsic(i) if i.kind == K::Name))
    }

    /// For each of `spans` (indexes into `trace.spans()`), the values of the fetched fields
    /// that belong to the span itself, keyed without scope as Tempo's search results key them.
    /// The name (reported separately), ids, trace-level intrinsics, event and link fields and
    /// missing values are left out.
    pub fn span_values<'a, T: TraceView>(
        &'a self,
        trace: &'a T,
        spans: &[usize],
    ) -> Vec<Vec<(&'a str, Value<'a>)>> {
        let ctx = TraceCtx::new(trace);
        let per_span: Vec<&Field> = self
            .fetched
            .iter()
            .filter(|f| match f {
                Field::Intrinsic(i) => !matches!(
                    i.kind,
                    K::Name
                        | K::SpanId
                        | K::TraceId
                        | K::TraceDuration
                        | K::RootName
                        | K::RootService
                        | K::EventName
                        | K::EventTimeSinceStart
                        | K::LinkSpanId
                        | K::LinkTraceId
                ),
                Field::Attribute { .. } => f.per() == ast::Per::Span,
            })
            .collect();
        spans
            .iter()
            .filter_map(|&i| trace.spans().get(i))
            .map(|span| {
                let mut values: Vec<(&str, Value<'_>)> = Vec::new();
                for field in &per_span {
                    let value = field_value(field, &ctx, span, Elem::None);
                    if value != Value::Nil && !values.iter().any(|(k, _)| *k == field.key()) {
                        values.push((field.key(), value));
                    }
                }
                values
            })
            .collect()
    }
}

impl Field {
    /// Calls `found` with each value the field has on the spans `spans` of `trace`: once per
    /// span, or once per event/link for event and link fields. Missing values are skipped.
    pub fn values<'a, T: TraceView>(
        &self,
        trace: &'a T,
        spans: impl IntoIterator<Item = usize>,
        mut found: impl FnMut(Value<'a>),
    ) {
        let ctx = TraceCtx::new(trace);
        for span in spans.into_iter().filter_map(|i| trace.spans().get(i)) {
            let mut emit = |elem| match field_value(self, &ctx, span, elem) {
                Value::Nil => {}
                value => found(value),
            };
            match self.per() {
                ast::Per::Span => emit(Elem::None),
                ast::Per::Event => span.events().iter().for_each(|e| emit(Elem::Event(e))),
                ast::Per::Link => span.links().iter().for_each(|l| emit(Elem::Link(l))),
            }
        }
    }
}
