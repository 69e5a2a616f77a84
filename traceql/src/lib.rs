//! TraceQL, Grafana Tempo's trace query language: a real subset with Tempo's semantics, so a
//! store that evaluates it answers `/api/search?q=…` as Tempo would.
//!
//! The language knows nothing of how spans are stored. A store implements [`TraceView`] and
//! [`SpanView`] for its own trace and span types (as Tempo keeps `pkg/traceql` apart from its
//! block formats), and evaluation is generic over them, monomorphised per store: no dynamic
//! dispatch and no allocation per span.
//!
//! ```
//! use traceql::TraceView;
//!
//! /// How many of `traces` have an error below a span of app-a.
//! fn errors_below_app_a<T: TraceView>(traces: &[T]) -> Result<usize, traceql::ParseError> {
//!     let query = traceql::parse(r#"{ resource.service.name = "app-a" } >> { status = error }"#)?;
//!     // `evaluate` gives the matched spansets; none means the trace does not match.
//!     Ok(traces.iter().filter(|trace| !query.evaluate(trace).is_empty()).count())
//! }
//! ```
//!
//! Supported: spanset filters `{ … }` with `&& || !` and parentheses; every span and trace
//! intrinsic (`name status statusMessage kind duration traceDuration rootName rootServiceName`,
//! `span:… trace:… event:… link:… instrumentation:…`); attributes `span. resource. event. link.
//! instrumentation.` and unscoped `.x` (span first, then resource), quoted names; comparisons
//! `= != > >= < <= =~ !~` (regexes fully anchored); literals (strings, ints, floats, durations,
//! booleans, status, kind, `nil`); arithmetic `+ - * / % ^` and unary minus between fields and
//! literals, with Tempo's precedence and types (`arith` says where it differs from Tempo);
//! spanset `&& || > >> < << ~`, their union forms
//! `&> &>> &< &<< &~` (the spans of both sides that take part) and negations `!> !>> !< !<< !~`
//! (exactly the right-hand spans the plain operator leaves out: Tempo's experimental versions can
//! also return spans that do stand in the relation, grafana/tempo#4804; this crate does not);
//! `nestedSetLeft nestedSetRight nestedSetParent` (Tempo's nested-set numbering, roots' parent
//! -1); pipelines with spanset filters,
//! `count() avg() min() max() sum()` compared to a number, `select()`, `by()`, `coalesce()`;
//! hints `with(name = value, …)` (`most_recent=true` is served; other hints are accepted and
//! ignored, as Tempo ignores hints it does not know).
//!
//! Metrics queries (`{ … } | rate() by (…)`, `quantile_over_time`, `compare`, …) parse with
//! [`parse_metrics`] into a [`MetricsQuery`], evaluated over time steps by a
//! [`MetricsEvaluator`]; [`parse`] refuses them with a message that says so.
//!
//! Not supported (an error that says so, or a syntax error): arithmetic between metrics queries
//! or in aggregate and `by()` arguments, `parent.` attributes (rejected, as Tempo does).
//!
//! # Layout
//!
//! - `syntax`: text to a checked syntax tree. `lexer` (text → tokens with line and column) →
//!   `parser` and `field_expr` (tokens → `ast`) → `check` (Tempo's static validation, regex
//!   compilation); `display` prints the tree back as TraceQL, for messages and keys;
//!   `intrinsic` holds every intrinsic's spellings ([`IntrinsicKind`]).
//! - `view`: [`TraceView`] and [`SpanView`], everything evaluation reads from a store.
//! - `eval`: a checked query over one trace: field lookups, spanset operators, pipeline stages
//!   (`aggregate`), the span tree of the structural operators (`structure`).
//! - `value`: [`Value`], what a field reads, and TraceQL's comparison rules; `arith`: the
//!   arithmetic on values that filters compute per span and the checker folds.
//! - `query`: the public face, [`Query`] and [`Spanset`]; `error`: [`ParseError`];
//!   `required`: the values a matching trace must hold ([`Query::required_values`]), for stores
//!   that can skip blocks without them.
//! - `metrics`: the metrics engine beside `eval`: `parse` (the part after the spanset), `range`
//!   (Tempo's step alignment), `engine` (series and per-step accumulators), `key` (series
//!   keys, exemplar slots), `quantile` (power-of-two buckets), `compare`, `stages` (`topk`,
//!   `bottomk`, filters). It parses with `syntax` and reads spans through the same `view`
//!   traits.

mod arith;
mod error;
mod eval;
mod metrics;
mod query;
mod required;
mod syntax;
mod value;
mod view;

pub use error::ParseError;
pub use metrics::{
    Exemplar, LabelValue, MetricsAnswer, MetricsEvaluator, MetricsQuery, Range, RangeError, Sample,
    Series,
};
pub use query::{Query, Spanset};
pub use required::{RequiredValue, ValueSite};
pub use syntax::ast::{AttrScope, Field};
pub use syntax::display::{kind_name, status_name};
pub use syntax::intrinsic::{Intrinsic, IntrinsicKind, intrinsic_names};
pub use value::{Value, go_duration_string};
pub use view::{SpanView, TraceView, parent_indexes};

/// Longest query accepted, in bytes: Tempo's default `max_query_expression_size_bytes`.
pub const MAX_QUERY_BYTES: usize = 128 * 1024;
/// Deepest nesting of `( )`, `{ }`, `!` and arithmetic (each `+ - * / % ^` and unary minus is
/// a level, so a filter has at most 63 arithmetic terms) accepted. Parsing and evaluation recurse
/// once per level, so this bound is what keeps a hostile query from overflowing the stack.
pub const MAX_DEPTH: usize = 64;
/// Most binary operators (and pipeline stages) in one query. Chains like `a && b && …` build
/// left-leaning trees as deep as they are long, so this bounds recursion too.
pub const MAX_OPERATORS: usize = 256;
/// Size limit for one compiled regex (and its lazy DFA), in bytes: past it the query is an error.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Parses and checks a query. Errors carry Tempo's wording.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    check_length(text)?;
    query_from_tokens(&syntax::lexer::lex(text)?)
}

/// Parses and checks a metrics query such as `{ status = error } | rate() by (resource.service.name)`
/// (see [`MetricsQuery`]). Errors carry Tempo's wording where Tempo has one.
pub fn parse_metrics(text: &str) -> Result<MetricsQuery, ParseError> {
    check_length(text)?;
    metrics::parse::parse(&syntax::lexer::lex(text)?)
}

/// A checked [`Query`] from tokens that end with `Eof` (the spanset part of a metrics query too).
fn query_from_tokens(tokens: &[syntax::lexer::Token]) -> Result<Query, ParseError> {
    let (mut pipeline, hints) = syntax::parser::parse_tokens(tokens)?;
    let mut fetched = Vec::new();
    syntax::check::check_pipeline(&mut pipeline, &mut fetched)?;
    Ok(Query::new(pipeline, fetched, hints))
}

/// Parses a lone field such as `resource.service.name`, `.x`, `span:name` or `status` (what
/// Tempo's `/api/v2/search/tag/{name}/values` takes).
pub fn parse_field(text: &str) -> Result<Field, ParseError> {
    check_length(text)?;
    let field = syntax::parser::parse_field_tokens(&syntax::lexer::lex(text)?)?;
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

/// Refuses text longer than [`MAX_QUERY_BYTES`] before the lexer sees it.
fn check_length(text: &str) -> Result<(), ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError::TooLong {
            len: text.len(),
            max: MAX_QUERY_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
