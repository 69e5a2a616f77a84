//! A recursive-descent parser from [`Token`]s to a [`Pipeline`], with Tempo's precedence
//! (`pkg/traceql/expr.y`):
//!
//! - pipeline `|` binds loosest;
//! - spanset `&&` and `||` share one level, left-associative (`{A} || {B} && {C}` is
//!   `({A} || {B}) && {C}`, not C-style);
//! - structural `> >> < << ~` bind tighter than those;
//! - inside `{ }`, field `&&`/`||` share one level too, then comparisons, then arithmetic
//!   (`+ -`, then `* / %`, then `!` and unary minus, then `^`).
//!
//! Field expressions (the inside of `{ }`) are parsed in `field_expr.rs`. Recursion is bounded:
//! nesting past [`MAX_DEPTH`] and more than [`MAX_OPERATORS`] operators are errors, so no query
//! can overflow the stack here or in evaluation.

use super::ast::{
    AggFunc, Expr, Field, Hint, Pipeline, Relation, SpansetExpr, SpansetOp, Stage, Static,
};
use super::field_expr::{cmp_op, describe};
use super::lexer::{Tok, Token};
use crate::error::syntax;
use crate::{MAX_DEPTH, MAX_OPERATORS, ParseError};

/// Parses a whole query; `tokens` ends with [`Tok::Eof`] (as [`super::lexer::lex`] makes it).
/// Returns the pipeline and the hints of a trailing `with(name = value, …)`.
pub(crate) fn parse_tokens(tokens: &[Token]) -> Result<(Pipeline, Vec<Hint>), ParseError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        operators: 0,
    };
    let pipeline = parser.pipeline()?;
    let hints = parser.hints()?;
    parser.expect(&Tok::Eof, "end of query")?;
    Ok((pipeline, hints))
}

/// Parses a lone field (`resource.service.name`, `span:name`), as the tag-values API takes it.
pub(crate) fn parse_field_tokens(tokens: &[Token]) -> Result<Field, ParseError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        operators: 0,
    };
    let field = parser.field()?;
    parser.expect(&Tok::Eof, "end of query")?;
    Ok(field)
}

/// Parser state: the tokens, the position, and the counters behind the recursion bounds.
pub(super) struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    operators: usize,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> &Tok {
        // The lexer always ends with Eof and nothing advances past it.
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    pub(super) fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    pub(super) fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.peek() == tok;
        if hit {
            self.bump();
        }
        hit
    }

    /// A syntax error at the current token: `unexpected X[, expecting Y]`.
    pub(super) fn unexpected(&self, expecting: &str) -> ParseError {
        let (line, col) = self
            .tokens
            .get(self.pos)
            .map_or((1, 1), |t| (t.line, t.col));
        let mut message = format!("syntax error: unexpected {}", describe(self.peek()));
        if !expecting.is_empty() {
            message.push_str(", expecting ");
            message.push_str(expecting);
        }
        syntax(line, col, message)
    }

    pub(super) fn expect(&mut self, tok: &Tok, expecting: &str) -> Result<(), ParseError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    /// Counts one more nesting level; call [`Parser::leave`] when done.
    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let mut error = self.unexpected("");
            if let ParseError::Syntax { message, .. } = &mut error {
                *message = format!("query nests deeper than {MAX_DEPTH} levels");
            }
            return Err(error);
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Counts one more binary operator; long chains make deep (left-leaning) trees.
    pub(super) fn operator(&mut self) -> Result<(), ParseError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(ParseError::Invalid(format!(
                "query has more than {MAX_OPERATORS} operators"
            )));
        }
        Ok(())
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let first = self.spanset()?;
        let mut stages = Vec::new();
        while self.eat(&Tok::Pipe) {
            self.operator()?;
            stages.push(self.stage()?);
        }
        Ok(Pipeline { first, stages })
    }

    /// `with(name = value, …)`, Tempo's query hints; none if the query has no `with`.
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
            self.bump();
            self.expect(&Tok::Eq, "=")?;
            let value = match self.peek() {
                Tok::True => Static::Bool(true),
                Tok::False => Static::Bool(false),
                Tok::Int(i) => Static::Int(*i),
                Tok::Float(x) => Static::Float(*x),
                Tok::Str(s) => Static::Str(s.clone()),
                Tok::Duration(d) => Static::Duration(*d),
                _ => return Err(self.unexpected("hint value")),
            };
            self.bump();
            hints.push(Hint { name, value });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, ", or )")?;
        Ok(hints)
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let func = match self.peek() {
            Tok::Func("with") => return Err(self.unexpected("spanset or pipeline function")),
            Tok::Func(name) if crate::metrics::is_metrics_function(name) => {
                return Err(ParseError::Invalid(format!(
                    "{name}() is a metrics function: only a metrics query (/api/metrics/query_range, /api/metrics/query) may end with it"
                )));
            }
            Tok::Func(name) => *name,
            _ => return Ok(Stage::Spanset(self.spanset()?)),
        };
        self.bump();
        self.expect(&Tok::LParen, "(")?;
        let stage = match func {
            "count" => {
                self.expect(&Tok::RParen, ")")?;
                self.aggregate(AggFunc::Count, None)?
            }
            "avg" | "min" | "max" | "sum" => {
                let agg = match func {
                    "avg" => AggFunc::Avg,
                    "min" => AggFunc::Min,
                    "max" => AggFunc::Max,
                    _ => AggFunc::Sum,
                };
                let field = self.field()?;
                self.expect(&Tok::RParen, ")")?;
                self.aggregate(agg, Some(field))?
            }
            "select" => {
                let mut fields = vec![self.field()?];
                while self.eat(&Tok::Comma) {
                    fields.push(self.field()?);
                }
                self.expect(&Tok::RParen, ", or )")?;
                Stage::Select(fields)
            }
            "by" => {
                let field = self.field()?;
                self.expect(&Tok::RParen, ")")?;
                Stage::By(field)
            }
            _ => {
                self.expect(&Tok::RParen, ")")?;
                Stage::Coalesce
            }
        };
        Ok(stage)
    }

    /// The `op value` after `count()` or `avg(x)`; Tempo has no bare aggregate in a search.
    fn aggregate(&mut self, func: AggFunc, arg: Option<Field>) -> Result<Stage, ParseError> {
        let op = cmp_op(self.peek()).ok_or_else(|| self.unexpected("comparison operator"))?;
        self.bump();
        let value = match self.unary()? {
            Expr::Static(value) => value,
            _ => return Err(self.unexpected("number")),
        };
        Ok(Stage::Aggregate {
            func,
            arg,
            op,
            value,
        })
    }

    pub(super) fn field(&mut self) -> Result<Field, ParseError> {
        match self.peek() {
            Tok::Intrinsic(i) => {
                let field = Field::Intrinsic(*i);
                self.bump();
                Ok(field)
            }
            Tok::Attr(scope, name) => {
                let field = Field::Attribute {
                    scope: *scope,
                    name: name.clone(),
                };
                self.bump();
                Ok(field)
            }
            _ => Err(self.unexpected("attribute or intrinsic")),
        }
    }

    fn spanset(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.structural()?;
        loop {
            let op = match self.peek() {
                Tok::And => SpansetOp::And,
                Tok::Or => SpansetOp::Or,
                _ => return Ok(lhs),
            };
            self.bump();
            self.operator()?;
            let rhs = self.structural()?;
            lhs = SpansetExpr::Op(Box::new(lhs), op, Box::new(rhs));
        }
    }

    fn structural(&mut self) -> Result<SpansetExpr, ParseError> {
        let mut lhs = self.spanset_primary()?;
        loop {
            let op = match self.peek() {
                Tok::Gt => SpansetOp::Structural(Relation::Child),
                Tok::Desc => SpansetOp::Structural(Relation::Descendant),
                Tok::Lt => SpansetOp::Structural(Relation::Parent),
                Tok::Anc => SpansetOp::Structural(Relation::Ancestor),
                Tok::Tilde => SpansetOp::Structural(Relation::Sibling),
                Tok::UnionRel(relation) => SpansetOp::Union(*relation),
                Tok::NotRel(relation) => SpansetOp::Not(*relation),
                // Between spansets `!~` is "not a sibling of"; inside braces it is a regex.
                Tok::Nre => SpansetOp::Not(Relation::Sibling),
                _ => return Ok(lhs),
            };
            self.bump();
            self.operator()?;
            let rhs = self.spanset_primary()?;
            lhs = SpansetExpr::Op(Box::new(lhs), op, Box::new(rhs));
        }
    }

    fn spanset_primary(&mut self) -> Result<SpansetExpr, ParseError> {
        self.enter()?;
        let result = match self.peek() {
            Tok::LBrace => {
                self.bump();
                if self.eat(&Tok::RBrace) {
                    SpansetExpr::Filter(None)
                } else {
                    let expr = self.expr()?;
                    self.expect(&Tok::RBrace, "}")?;
                    SpansetExpr::Filter(Some(expr))
                }
            }
            Tok::LParen => {
                self.bump();
                let pipeline = self.pipeline()?;
                self.expect(&Tok::RParen, ")")?;
                if pipeline.stages.is_empty() {
                    pipeline.first
                } else {
                    SpansetExpr::Pipeline(Box::new(pipeline))
                }
            }
            _ => return Err(self.unexpected("{ or (")),
        };
        self.leave();
        Ok(result)
    }
}
