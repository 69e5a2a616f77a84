//! Parsing field expressions, the inside of `{ }`: `&&`/`||` (one level, left to right), then
//! one comparison, then `!` and unary minus, then operands (literals, fields, parentheses).
//! Arithmetic is lexed but not supported, and says so.

use super::ast::{Cmp, CmpOp, Expr, Field, Logic, Per, Static};
use super::display::{kind_name, status_name};
use super::lexer::Tok;
use super::parser::Parser;
use crate::{ParseError, go_duration_string};

impl Parser<'_> {
    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.comparison()?;
        loop {
            let op = match self.peek() {
                Tok::And => Logic::And,
                Tok::Or => Logic::Or,
                _ => return Ok(lhs),
            };
            self.bump();
            self.operator()?;
            let rhs = self.comparison()?;
            lhs = Expr::Logic(Box::new(lhs), op, Box::new(rhs));
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.unary()?;
        let Some(op) = cmp_op(self.peek()) else {
            return Ok(lhs);
        };
        self.bump();
        self.operator()?;
        let rhs = self.unary()?;
        Ok(Expr::Cmp(Box::new(Cmp {
            lhs,
            op,
            rhs,
            regex: None,
            per: Per::Span,
        })))
    }

    pub(super) fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Not => {
                self.bump();
                self.enter()?;
                let inner = self.unary()?;
                self.leave();
                Ok(Expr::Not(Box::new(inner)))
            }
            Tok::Minus => {
                self.bump();
                // Tempo has general unary minus; without arithmetic only negative numbers need it.
                let negated = match self.peek() {
                    Tok::Int(i) => Static::Int(i.wrapping_neg()),
                    Tok::Float(x) => Static::Float(-x),
                    Tok::Duration(d) => Static::Duration(-d),
                    _ => return Err(self.unexpected("number or duration")),
                };
                self.bump();
                Ok(Expr::Static(negated))
            }
            _ => self.operand(),
        }
    }

    /// An operand; arithmetic after it (`.a + 1`) gets a clear "not supported" error.
    fn operand(&mut self) -> Result<Expr, ParseError> {
        let operand = self.plain_operand()?;
        if let Tok::Arith(c) = self.peek() {
            return Err(self.arithmetic(*c));
        }
        Ok(operand)
    }

    fn arithmetic(&self, c: char) -> ParseError {
        let mut error = self.unexpected("");
        if let ParseError::Syntax { message, .. } = &mut error {
            *message = format!("arithmetic ({c}) is not supported by this store");
        }
        error
    }

    fn plain_operand(&mut self) -> Result<Expr, ParseError> {
        let value = match self.peek() {
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let inner = self.expr()?;
                self.leave();
                self.expect(&Tok::RParen, ")")?;
                return Ok(inner);
            }
            Tok::Intrinsic(_) | Tok::Attr(..) => return self.field().map(Expr::Field),
            Tok::Str(s) => Static::Str(s.clone()),
            Tok::Int(i) => Static::Int(*i),
            Tok::Float(x) => Static::Float(*x),
            Tok::Duration(d) => Static::Duration(*d),
            Tok::True => Static::Bool(true),
            Tok::False => Static::Bool(false),
            Tok::Nil => Static::Nil,
            Tok::Status(s) => Static::Status(*s),
            Tok::Kind(k) => Static::Kind(*k),
            Tok::Arith(c) => return Err(self.arithmetic(*c)),
            _ => return Err(self.unexpected("value, attribute or intrinsic")),
        };
        self.bump();
        Ok(Expr::Static(value))
    }
}

pub(super) fn cmp_op(tok: &Tok) -> Option<CmpOp> {
    Some(match tok {
        Tok::Eq => CmpOp::Eq,
        Tok::Ne => CmpOp::Ne,
        Tok::Gt => CmpOp::Gt,
        Tok::Ge => CmpOp::Ge,
        Tok::Lt => CmpOp::Lt,
        Tok::Le => CmpOp::Le,
        Tok::Re => CmpOp::Re,
        Tok::Nre => CmpOp::Nre,
        _ => return None,
    })
}

/// How a token reads in an error message.
pub(super) fn describe(tok: &Tok) -> String {
    let text = match tok {
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::Comma => ",",
        Tok::Pipe => "|",
        Tok::And => "&&",
        Tok::Or => "||",
        Tok::Not => "!",
        Tok::Eq => "=",
        Tok::Ne => "!=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Re => "=~",
        Tok::Nre => "!~",
        Tok::Desc => ">>",
        Tok::Anc => "<<",
        Tok::Tilde => "~",
        Tok::UnionRel(relation) => return format!("&{}", relation.symbol()),
        Tok::NotRel(relation) => return format!("!{}", relation.symbol()),
        Tok::Minus => "-",
        Tok::Arith(c) => return c.to_string(),
        Tok::Str(s) => return format!("string {s:?}"),
        Tok::Int(i) => return format!("integer {i}"),
        Tok::Float(x) => return format!("float {x}"),
        Tok::Duration(d) => return format!("duration {}", go_duration_string(*d)),
        Tok::True => "true",
        Tok::False => "false",
        Tok::Nil => "nil",
        Tok::Status(s) => status_name(*s),
        Tok::Kind(k) => kind_name(*k),
        Tok::Intrinsic(i) => i.spelling,
        Tok::Attr(scope, name) => {
            let field = Field::Attribute {
                scope: *scope,
                name: name.clone(),
            };
            return field.to_string();
        }
        Tok::Func(name) => name,
        Tok::Hint(name) => name,
        Tok::Eof => "end of query",
    };
    text.to_owned()
}
