//! Parsing a metrics query: `{spanset pipeline} | function(…) [by (…)] [| topk(n)] [> x] [with(…)]`,
//! after Tempo's grammar (`pkg/traceql/expr.y`: `metricsAggregation`, `metricsSecondStage`,
//! `metricsFilter`).
//!
//! The tokens are split at the top-level `|` before the metrics function: the left part is an
//! ordinary query (parsed and checked by `syntax`), the right part is parsed here.

use super::{Func, MetricsQuery, SecondStage};
use crate::error::syntax;
use crate::syntax::ast::{CmpOp, Field, Hint, Static};
use crate::syntax::lexer::{Tok, Token};
use crate::{ParseError, query_from_tokens};

/// Largest `topN` of `compare()`, as Tempo.
const MAX_COMPARE_TOP_N: i64 = 1000;
/// `compare()`'s `topN` when not given, as Tempo.
const DEFAULT_COMPARE_TOP_N: usize = 10;
/// Most `by()` fields: Tempo's `maxGroupBys` (one fewer for quantiles and histograms, whose
/// bucket takes a slot).
const MAX_GROUP_BYS: usize = 5;

/// Parses the tokens of a whole metrics query.
pub(crate) fn parse(tokens: &[Token]) -> Result<MetricsQuery, ParseError> {
    let Some(split) = metrics_pipe(tokens) else {
        let at = tokens.last().map_or((1, 1), |t| (t.line, t.col));
        return Err(syntax(
            at.0,
            at.1,
            "not a metrics query: expecting `| rate()`, `| count_over_time()`, … after the spanset",
        ));
    };
    let filter = query_from_tokens(&with_eof(&tokens[..split]))?;
    let mut cursor = Cursor {
        tokens: &tokens[split + 1..],
        pos: 0,
    };
    let func = cursor.function()?;
    let by = cursor.by()?;
    let limit = if matches!(func, Func::Quantile(..) | Func::Histogram(_)) {
        MAX_GROUP_BYS - 1
    } else {
        MAX_GROUP_BYS
    };
    if by.len() > limit {
        return Err(ParseError::Invalid(format!(
            "metrics group by {} values not supported",
            by.len()
        )));
    }
    if matches!(func, Func::Compare { .. }) && !by.is_empty() {
        return Err(cursor.unexpected("end of query"));
    }
    let stages = cursor.second_stages()?;
    let hints = cursor.hints()?;
    if *cursor.peek() != Tok::Eof {
        return Err(cursor.unexpected("end of query"));
    }
    Ok(MetricsQuery {
        filter,
        func,
        by,
        stages,
        hints,
    })
}

/// Whether `name` is a metrics function or second stage (the parser of plain queries refuses
/// them with a message that says so).
pub(crate) fn is_metrics_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "count_over_time"
            | "min_over_time"
            | "max_over_time"
            | "avg_over_time"
            | "sum_over_time"
            | "quantile_over_time"
            | "histogram_over_time"
            | "compare"
            | "topk"
            | "bottomk"
    )
}

/// The index of the top-level `|` that a metrics function follows.
fn metrics_pipe(tokens: &[Token]) -> Option<usize> {
    let mut depth = 0i32;
    for (i, token) in tokens.iter().enumerate() {
        match &token.tok {
            Tok::LBrace | Tok::LParen => depth += 1,
            Tok::RBrace | Tok::RParen => depth -= 1,
            Tok::Pipe if depth == 0 => {
                if let Some(Tok::Func(name)) = tokens.get(i + 1).map(|t| &t.tok)
                    && is_metrics_function(name)
                {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `tokens` followed by an `Eof` where the next token was.
fn with_eof(tokens: &[Token]) -> Vec<Token> {
    let mut out = tokens.to_vec();
    let (line, col) = tokens.last().map_or((1, 1), |t| (t.line, t.col + 1));
    out.push(Token {
        tok: Tok::Eof,
        line,
        col,
    });
    out
}

/// A position in the tokens after the metrics `|`.
struct Cursor<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.pos += 1;
        tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.peek() == tok;
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        let (line, col) = self
            .tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or((1, 1), |t| (t.line, t.col));
        syntax(
            line,
            col,
            format!(
                "syntax error: unexpected {}, expecting {expecting}",
                describe(self.peek())
            ),
        )
    }

    fn expect(&mut self, tok: &Tok, expecting: &str) -> Result<(), ParseError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        let field = match self.peek() {
            Tok::Intrinsic(i) => Field::Intrinsic(*i),
            Tok::Attr(scope, name) => Field::Attribute {
                scope: *scope,
                name: name.clone(),
            },
            _ => return Err(self.unexpected("attribute or intrinsic")),
        };
        self.pos += 1;
        Ok(field)
    }

    /// A number: ints, floats, durations (in seconds, as metrics values are), a leading `-`,
    /// and `.5` (which the lexer reads as the unscoped attribute `5`).
    fn number(&mut self) -> Result<f64, ParseError> {
        let negative = self.eat(&Tok::Minus);
        let value = match self.peek() {
            Tok::Int(i) => *i as f64,
            Tok::Float(x) => *x,
            Tok::Duration(d) => *d as f64 / 1e9,
            Tok::Attr(crate::AttrScope::Unscoped, digits)
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) =>
            {
                format!("0.{digits}")
                    .parse()
                    .map_err(|_| self.unexpected("number"))?
            }
            _ => return Err(self.unexpected("number")),
        };
        self.pos += 1;
        Ok(if negative { -value } else { value })
    }

    fn integer(&mut self) -> Result<i64, ParseError> {
        match self.bump() {
            Tok::Int(i) => Ok(i),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("integer"))
            }
        }
    }

    fn function(&mut self) -> Result<Func, ParseError> {
        let Tok::Func(name) = self.bump() else {
            unreachable!("metrics_pipe found a function after the pipe")
        };
        self.expect(&Tok::LParen, "(")?;
        let func = match name {
            "rate" => Func::Rate,
            "count_over_time" => Func::CountOverTime,
            "min_over_time" => Func::MinOverTime(self.field()?),
            "max_over_time" => Func::MaxOverTime(self.field()?),
            "avg_over_time" => Func::AvgOverTime(self.field()?),
            "sum_over_time" => Func::SumOverTime(self.field()?),
            "histogram_over_time" => Func::Histogram(self.field()?),
            "quantile_over_time" => {
                let field = self.field()?;
                let mut qs = Vec::new();
                while self.eat(&Tok::Comma) {
                    let q = self.number()?;
                    if !(0.0..=1.0).contains(&q) {
                        return Err(ParseError::Invalid(format!(
                            "quantile must be between 0 and 1: {q}"
                        )));
                    }
                    qs.push(q);
                }
                if qs.is_empty() {
                    return Err(self.unexpected(","));
                }
                Func::Quantile(field, qs)
            }
            "compare" => self.compare()?,
            other => {
                return Err(ParseError::Invalid(format!(
                    "{other}() comes after a metrics function, as in `{{ }} | rate() | {other}(5)`"
                )));
            }
        };
        self.expect(&Tok::RParen, ")")?;
        Ok(func)
    }

    /// `compare({filter}[, topN[, start, end]])`; start and end are Unix nanoseconds.
    fn compare(&mut self) -> Result<Func, ParseError> {
        if *self.peek() != Tok::LBrace {
            return Err(self.unexpected("{"));
        }
        let open = self.pos;
        let mut depth = 0;
        let close = loop {
            match self.peek() {
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        break self.pos;
                    }
                }
                Tok::Eof => return Err(self.unexpected("}")),
                _ => {}
            }
            self.pos += 1;
        };
        self.pos += 1;
        let filter = query_from_tokens(&with_eof(&self.tokens[open..=close]))?;
        let mut top_n = DEFAULT_COMPARE_TOP_N;
        let (mut start, mut end) = (0, 0);
        if self.eat(&Tok::Comma) {
            let n = self.integer()?;
            if !(1..=MAX_COMPARE_TOP_N).contains(&n) {
                return Err(ParseError::Invalid(format!(
                    "compare() top number of values must be an integer between 1 and {MAX_COMPARE_TOP_N}"
                )));
            }
            top_n = n as usize;
            if self.eat(&Tok::Comma) {
                start = self.integer()?;
                self.expect(&Tok::Comma, ",")?;
                end = self.integer()?;
                if start <= 0 || end <= 0 {
                    return Err(ParseError::Invalid(
                        "compare() timestamps must be positive integer unix nanoseconds".into(),
                    ));
                }
                if end <= start {
                    return Err(ParseError::Invalid(
                        "compare() end timestamp must be greater than start timestamp".into(),
                    ));
                }
            }
        }
        Ok(Func::Compare {
            filter: Box::new(filter),
            top_n,
            window: (start > 0).then_some((start as u64, end as u64)),
        })
    }

    /// `by (a, b, …)` or nothing.
    fn by(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut fields = Vec::new();
        if self.eat(&Tok::Func("by")) {
            self.expect(&Tok::LParen, "(")?;
            fields.push(self.field()?);
            while self.eat(&Tok::Comma) {
                fields.push(self.field()?);
            }
            self.expect(&Tok::RParen, ", or )")?;
        }
        Ok(fields)
    }

    /// `| topk(n)`, `| bottomk(n)` and comparisons such as `> 10`, in any order.
    fn second_stages(&mut self) -> Result<Vec<SecondStage>, ParseError> {
        let mut stages = Vec::new();
        loop {
            if self.eat(&Tok::Pipe) {
                let top = match self.bump() {
                    Tok::Func("topk") => true,
                    Tok::Func("bottomk") => false,
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("topk or bottomk"));
                    }
                };
                self.expect(&Tok::LParen, "(")?;
                let k = self.integer()?;
                if k <= 0 {
                    return Err(ParseError::Invalid("limit must be greater than 0".into()));
                }
                self.expect(&Tok::RParen, ")")?;
                stages.push(SecondStage::TopK { top, k: k as usize });
                continue;
            }
            let op = match self.peek() {
                Tok::Eq => CmpOp::Eq,
                Tok::Ne => CmpOp::Ne,
                Tok::Gt => CmpOp::Gt,
                Tok::Ge => CmpOp::Ge,
                Tok::Lt => CmpOp::Lt,
                Tok::Le => CmpOp::Le,
                _ => return Ok(stages),
            };
            self.pos += 1;
            let value = self.number()?;
            stages.push(SecondStage::Filter { op, value });
        }
    }

    /// `with(name = value, …)`.
    fn hints(&mut self) -> Result<Vec<Hint>, ParseError> {
        let mut hints = Vec::new();
        if !self.eat(&Tok::Func("with")) {
            return Ok(hints);
        }
        self.expect(&Tok::LParen, "(")?;
        loop {
            let Tok::Hint(name) = self.peek().clone() else {
                return Err(self.unexpected("hint name"));
            };
            self.pos += 1;
            self.expect(&Tok::Eq, "=")?;
            let value = match self.bump() {
                Tok::True => Static::Bool(true),
                Tok::False => Static::Bool(false),
                Tok::Int(i) => Static::Int(i),
                Tok::Float(x) => Static::Float(x),
                Tok::Str(s) => Static::Str(s),
                Tok::Duration(d) => Static::Duration(d),
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("hint value"));
                }
            };
            hints.push(Hint { name, value });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, ", or )")?;
        Ok(hints)
    }
}

/// How a token reads in an error message.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Eof => "end of query".to_owned(),
        Tok::Func(name) => (*name).to_owned(),
        Tok::Hint(name) => name.clone(),
        Tok::Int(i) => format!("integer {i}"),
        Tok::Float(x) => format!("float {x}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Attr(scope, name) => Field::Attribute {
            scope: *scope,
            name: name.clone(),
        }
        .to_string(),
        Tok::Intrinsic(i) => i.spelling.to_owned(),
        Tok::LParen => "(".to_owned(),
        Tok::RParen => ")".to_owned(),
        Tok::LBrace => "{".to_owned(),
        Tok::RBrace => "}".to_owned(),
        Tok::Comma => ",".to_owned(),
        Tok::Pipe => "|".to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}
