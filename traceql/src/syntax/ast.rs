//! The syntax tree of a TraceQL query, as the parser builds it and the checker completes it
//! (regexes compiled, `x = nil` and bare booleans rewritten), ready for evaluation.
//!
//! `Display` writes expressions back as TraceQL; Tempo uses that text in error messages and as
//! the key of spanset attributes (`by(resource.service.name)`, `avg(duration)`).

use regex::Regex;

pub(crate) use super::intrinsic::{Intrinsic, IntrinsicKind};

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrScope {
    /// `span.x`: the span's own attributes.
    Span,
    /// `resource.x`: the resource (service) attributes.
    Resource,
    /// `.x`: the span's, else the resource's.
    Unscoped,
    /// `event.x`: any of the span's events.
    Event,
    /// `link.x`: any of the span's links.
    Link,
    /// `instrumentation.x`: the instrumentation scope's attributes.
    Instrumentation,
    /// `parent.x`: lexed, rejected by the checker as Tempo does.
    Parent,
}

impl AttrScope {
    /// The scope named by `word` in `word.name`.
    pub(crate) fn from_prefix(word: &str) -> Option<Self> {
        Some(match word {
            "span" => Self::Span,
            "resource" => Self::Resource,
            "event" => Self::Event,
            "link" => Self::Link,
            "instrumentation" => Self::Instrumentation,
            "parent" => Self::Parent,
            _ => return None,
        })
    }

    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Span => "span.",
            Self::Resource => "resource.",
            Self::Unscoped => ".",
            Self::Event => "event.",
            Self::Link => "link.",
            Self::Instrumentation => "instrumentation.",
            Self::Parent => "parent.",
        }
    }
}

/// Something a span has a value for: an intrinsic or an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `duration`, `span:name`, `trace:rootService`, …
    Intrinsic(Intrinsic),
    /// `span.http.route`, `.x`, `resource.service.name`, …
    Attribute {
        /// Where to look.
        scope: AttrScope,
        /// The name after the scope, quotes removed.
        name: String,
    },
}

impl Field {
    /// The name without its scope: the key Tempo gives the value in search results
    /// (`span.http.route` → `http.route`, `span:status` → `status`).
    pub fn key(&self) -> &str {
        match self {
            Field::Intrinsic(i) => i.spelling.rsplit(':').next().unwrap_or(i.spelling),
            Field::Attribute { name, .. } => name,
        }
    }

    /// Whether values come from each event or link rather than from the span itself.
    pub(crate) fn per(&self) -> Per {
        match self {
            Field::Intrinsic(i) => match i.kind {
                IntrinsicKind::EventName | IntrinsicKind::EventTimeSinceStart => Per::Event,
                IntrinsicKind::LinkSpanId | IntrinsicKind::LinkTraceId => Per::Link,
                _ => Per::Span,
            },
            Field::Attribute { scope, .. } => match scope {
                AttrScope::Event => Per::Event,
                AttrScope::Link => Per::Link,
                _ => Per::Span,
            },
        }
    }
}

/// The level a comparison is decided at: a span, or any one of its events or links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Per {
    Span,
    Event,
    Link,
}

/// One `name = value` of a query's trailing `with( … )`. Hints tune how a query runs, not what it
/// means; names this crate does not know are kept and ignored, as Tempo does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hint {
    pub(crate) name: String,
    pub(crate) value: Static,
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Static {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Nanoseconds.
    Duration(i64),
    Status(i32),
    Kind(i32),
}

/// `= != > >= < <= =~ !~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Re,
    Nre,
}

/// `+ - * / % ^` between numbers (see `crate::arith` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// `&&` or `||`, between field expressions or between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logic {
    And,
    Or,
}

/// A field expression: the inside of `{ … }`.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Static(Static),
    Field(Field),
    Not(Box<Expr>),
    Logic(Box<Expr>, Logic, Box<Expr>),
    Cmp(Box<Cmp>),
    /// `lhs op rhs` with an arithmetic operator: a number, not a condition.
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    /// Unary minus of a non-literal (`-span.a`); `-3` is parsed as the literal.
    Neg(Box<Expr>),
    /// `field = nil` (or `!= nil` when `negate`), made by the checker.
    IsNil(Field, bool),
}

/// A comparison. `regex` is set by the checker for `=~`/`!~`; `per` says whether it is decided
/// per span or per event/link (a span matches if one of its events does).
#[derive(Debug, Clone)]
pub(crate) struct Cmp {
    pub(crate) lhs: Expr,
    pub(crate) op: CmpOp,
    pub(crate) rhs: Expr,
    pub(crate) regex: Option<Regex>,
    pub(crate) per: Per,
}

/// Operators between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpansetOp {
    And,
    Or,
    /// `> >> < << ~`: the right spans that stand in the relation to some left span.
    Structural(Relation),
    /// `&> &>> &< &<< &~`: the spans of both sides that take part in the relation.
    Union(Relation),
    /// `!> !>> !< !<< !~`: the right spans that do not stand in the relation to any left span
    /// (exactly those `Structural` leaves out).
    Not(Relation),
}

/// How a right-hand span relates to the left-hand spans in a structural operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// `>`: its parent is a left span.
    Child,
    /// `>>`: it has an ancestor among the left spans.
    Descendant,
    /// `<`: it is the parent of a left span.
    Parent,
    /// `<<`: it is an ancestor of a left span.
    Ancestor,
    /// `~`: it has a sibling (same parent, another span) among the left spans.
    Sibling,
}

impl Relation {
    /// How the plain operator is written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Relation::Child => ">",
            Relation::Descendant => ">>",
            Relation::Parent => "<",
            Relation::Ancestor => "<<",
            Relation::Sibling => "~",
        }
    }

    /// The relation seen from the other side: `a > b` exactly when `b < a`.
    pub(crate) fn inverse(self) -> Relation {
        match self {
            Relation::Child => Relation::Parent,
            Relation::Parent => Relation::Child,
            Relation::Descendant => Relation::Ancestor,
            Relation::Ancestor => Relation::Descendant,
            Relation::Sibling => Relation::Sibling,
        }
    }
}

/// A spanset expression.
#[derive(Debug, Clone)]
pub(crate) enum SpansetExpr {
    /// `{ expr }`; `None` for `{}`, which selects every span.
    Filter(Option<Expr>),
    Op(Box<SpansetExpr>, SpansetOp, Box<SpansetExpr>),
    /// `( … | … )`: a parenthesised pipeline.
    Pipeline(Box<Pipeline>),
}

/// A spanset expression followed by `| stage`s.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) first: SpansetExpr,
    pub(crate) stages: Vec<Stage>,
}

/// `count avg min max sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

/// One pipeline stage.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// Filters the spans of each spanset.
    Spanset(SpansetExpr),
    /// `count() > 2`, `avg(duration) > 1s`: keeps spansets whose aggregate passes.
    Aggregate {
        func: AggFunc,
        arg: Option<Field>,
        op: CmpOp,
        value: Static,
    },
    /// `select(a, b)`: fetches more fields for the results, filters nothing.
    Select(Vec<Field>),
    /// `by(field)`: splits each spanset by the field's value.
    By(Field),
    /// `coalesce()`: merges all spansets into one.
    Coalesce,
}

impl AggFunc {
    /// The function's name, which is also the start of its spanset-attribute key.
    pub(crate) fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Sum => "sum",
        }
    }
}
