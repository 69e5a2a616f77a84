//! TraceQL, Grafana Tempo's trace query language: a real subset with Tempo's semantics, so
//! `/api/search?q=…` answers here as it would on Tempo.
//!
//! ```
//! use trace_store::traceql;
//!
//! let query = traceql::parse(r#"{ resource.service.name = "app-a" } >> { status = error }"#)?;
//! # let trace = trace_store::Trace { id: Default::default(), spans: Vec::new() };
//! let matched = query.evaluate(&trace); // the spansets; empty: the trace does not match
//! # assert!(matched.is_empty());
//! # Ok::<(), traceql::ParseError>(())
//! ```
//!
//! Supported: spanset filters `{ … }` with `&& || !` and parentheses; every span and trace
//! intrinsic (`name status statusMessage kind duration traceDuration rootName rootServiceName`,
//! `span:… trace:… event:… link:… instrumentation:…`); attributes `span. resource. event. link.
//! instrumentation.` and unscoped `.x` (span first, then resource), quoted names; comparisons
//! `= != > >= < <= =~ !~` (regexes fully anchored); literals (strings, ints, floats, durations,
//! booleans, status, kind, `nil`); spanset `&& || > >> < << ~`; pipelines with spanset filters,
//! `count() avg() min() max() sum()` compared to a number, `select()`, `by()`, `coalesce()`.
//!
//! Not supported (a 400 that says so, or a syntax error): arithmetic (`+ - * / % ^` between
//! fields), the union and negated structural operators (`&>>`, `!>>`, …), metrics functions
//! (`| rate()`), hints (`with(…)`), `parent.` attributes (rejected, as Tempo does).
//!
//! # Layout
//!
//! `lexer` (text → tokens with line/column) → `parser` (tokens → [`ast`]) → `check` (Tempo's
//! static validation, regex compilation) → `eval` (per trace, with `value` for comparisons and
//! `structure` for the span tree).

mod aggregate;
pub mod ast;
mod check;
mod display;
mod eval;
mod field_expr;
mod lexer;
mod parser;
mod structure;
mod value;

pub use ast::{AttrScope, Field, Intrinsic, intrinsic_names};
pub use value::{Value, go_duration_string};

use value::{Elem, TraceCtx, field_value};

use crate::store::Trace;

/// Longest query accepted, in bytes: Tempo's default `max_query_expression_size_bytes`.
pub const MAX_QUERY_BYTES: usize = 128 * 1024;
/// Deepest nesting of `( )`, `{ }` and `!` accepted. Parsing and evaluation recurse once per
/// level, so this bound is what keeps a hostile query from overflowing the stack.
pub const MAX_DEPTH: usize = 64;
/// Most binary operators (and pipeline stages) in one query. Chains like `a && b && …` build
/// left-leaning trees as deep as they are long, so this bounds recursion too.
pub const MAX_OPERATORS: usize = 256;
/// Size limit for one compiled regex (and its lazy DFA), in bytes: past it the query is a 400.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a query was rejected. The API answers 400 with `invalid TraceQL query: {error}` (or just
/// `{error}` for [`ParseError::TooLong`], as Tempo does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A lexical or syntax error at a 1-based line and column (in characters).
    #[error("parse error at line {line}, col {col}: {message}")]
    Syntax {
        /// Line of the offending token.
        line: u32,
        /// Column of the offending token.
        col: u32,
        /// What is wrong (`syntax error: unexpected }`, `unknown identifier: serverx`, …).
        message: String,
    },
    /// The query parses but is invalid: types, regex, nil on an intrinsic, too many operators.
    #[error("{0}")]
    Invalid(String),
    /// The query is longer than [`MAX_QUERY_BYTES`].
    #[error(
        "TraceQL expression exceeds the configured maximum size of {max} bytes, actual size is {len} bytes"
    )]
    TooLong {
        /// The query's length in bytes.
        len: usize,
        /// [`MAX_QUERY_BYTES`].
        max: usize,
    },
}

/// A [`ParseError::Syntax`].
pub(crate) fn syntax(line: u32, col: u32, message: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        line,
        col,
        message: message.into(),
    }
}

/// A parsed and checked query, ready to run over any number of traces.
#[derive(Debug, Clone)]
pub struct Query {
    pipeline: ast::Pipeline,
    /// Every field the query reads, once each, in order of appearance.
    fetched: Vec<Field>,
}

/// Spans of one trace that a query selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanset<'a> {
    /// Indexes into the trace's `spans`, ascending.
    pub spans: Vec<usize>,
    /// Spanset-level values: `by(…)` groups and aggregate results (`count()`, `avg(duration)`),
    /// keyed as Tempo keys them.
    pub attributes: Vec<(String, Value<'a>)>,
}

/// Parses and checks a query. Errors carry Tempo's wording.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError::TooLong {
            len: text.len(),
            max: MAX_QUERY_BYTES,
        });
    }
    let tokens = lexer::lex(text)?;
    let mut pipeline = parser::parse_tokens(&tokens)?;
    let mut fetched = Vec::new();
    check::check_pipeline(&mut pipeline, &mut fetched)?;
    Ok(Query { pipeline, fetched })
}

/// Parses a lone field such as `resource.service.name`, `.x`, `span:name` or `status` (what
/// `/api/v2/search/tag/{name}/values` takes).
pub fn parse_field(text: &str) -> Result<Field, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError::TooLong {
            len: text.len(),
            max: MAX_QUERY_BYTES,
        });
    }
    let field = parser::parse_field_tokens(&lexer::lex(text)?)?;
    if let Field::Attribute {
        scope: AttrScope::Parent,
        ..
    } = field
    {
        return Err(ParseError::Invalid(format!(
            "parent not yet supported: {field}"
        )));
    }
    Ok(field)
}

impl Query {
    /// The spansets `trace` yields, none of them empty; an empty list means no match.
    pub fn evaluate<'a>(&'a self, trace: &'a Trace) -> Vec<Spanset<'a>> {
        let mut eval = eval::Eval::new(TraceCtx::new(trace));
        eval.pipeline(&self.pipeline, eval::Input::All(trace.spans.len()), &[])
    }

    /// Every field the query reads (conditions, aggregates, `by`, `select`), once each.
    pub fn fetched(&self) -> &[Field] {
        &self.fetched
    }

    /// Whether the query reads the span name (Tempo then returns `name` with each span).
    pub fn reads_name(&self) -> bool {
        self.fetched
            .iter()
            .any(|f| matches!(f, Field::Intrinsic(i) if i.kind == ast::IKind::Name))
    }

    /// For each of `spans` (indexes into `trace.spans`), the values of the fetched fields that
    /// belong to the span itself, keyed without scope as Tempo's search results key them. The
    /// name (reported separately), ids, trace-level intrinsics, event and link fields and missing
    /// values are left out.
    pub fn span_values<'a>(
        &'a self,
        trace: &'a Trace,
        spans: &[usize],
    ) -> Vec<Vec<(&'a str, Value<'a>)>> {
        use ast::IKind as K;
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
            .filter_map(|&i| trace.spans.get(i))
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
    pub fn values<'a>(
        &self,
        trace: &'a Trace,
        spans: impl IntoIterator<Item = usize>,
        mut found: impl FnMut(Value<'a>),
    ) {
        let ctx = TraceCtx::new(trace);
        for span in spans.into_iter().filter_map(|i| trace.spans.get(i)) {
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

#[cfg(test)]
mod tests;
