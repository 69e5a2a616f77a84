//! Parsing field expressions, the inside of `{ }`, by precedence level from loosest to
//! tightest, as Tempo's grammar (`pkg/traceql/expr.y`) orders them:
//!
//! 1. `&&` and `||`, one level, left to right (`a || b && c` is `(a || b) && c`);
//! 2. one comparison `= != < <= > >= =~ !~`, which binds looser than arithmetic;
//! 3. `+ -`, left-associative;
//! 4. `* / %`, left-associative;
//! 5. prefix `!` and unary minus;
//! 6. `^`, right-associative (`2 ^ 3 ^ 2` is `2 ^ 9`), whose right side may itself start
//!    with a unary minus (`2 ^ -1`);
//! 7. operands: literals, fields, parentheses.
//!
//! So `-2 ^ 2` is `-(2 ^ 2)`, as in Tempo and in mathematics. One difference from Tempo: its
//! grammar gives unary minus the precedence of binary minus, so there `a / -b / c` parses as
//! `a / -(b / c)`; here it is `(a / -b) / c`. Every other expression parses to the same value.
//!
//! Every binary operator counts toward [`MAX_OPERATORS`](crate::MAX_OPERATORS), and every
//! arithmetic operator, prefix or binary, also counts as a level toward
//! [`MAX_DEPTH`](crate::MAX_DEPTH): a chain `a + b + c …` builds a tree as deep as it is long,
//! which checking and evaluation walk recursively, and arithmetic frames are larger than those
//! of `&&` chains, so the operator bound alone would let 256 levels through. 64 terms is far
//! more than any real filter has.

use super::ast::{ArithOp, Cmp, CmpOp, Expr, Field, Logic, Per, Static};
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
        let lhs = self.additive()?;
        let Some(op) = cmp_op(self.peek()) else {
            return Ok(lhs);
        };
        self.bump();
        self.operator()?;
        let rhs = self.additive()?;
        Ok(Expr::Cmp(Box::new(Cmp {
            lhs,
            op,
            rhs,
            regex: None,
            per: Per::Span,
        })))
    }

    /// `a + b - c`: left-associative.
    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.multiplicative()?;
        let mut chained = 0;
        loop {
            let op = match self.peek() {
                Tok::Arith('+') => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => break,
            };
            self.bump();
            self.operator()?;
            // The chain builds a left-leaning tree as deep as it is long: a level each.
            self.enter()?;
            chained += 1;
            let rhs = self.multiplicative()?;
            lhs = Expr::Arith(Box::new(lhs), op, Box::new(rhs));
        }
        for _ in 0..chained {
            self.leave();
        }
        Ok(lhs)
    }

    /// `a * b / c % d`: left-associative.
    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        let mut chained = 0;
        loop {
            let op = match self.peek() {
                Tok::Arith('*') => ArithOp::Mul,
                Tok::Arith('/') => ArithOp::Div,
                Tok::Arith('%') => ArithOp::Mod,
                _ => break,
            };
            self.bump();
            self.operator()?;
            // The chain builds a left-leaning tree as deep as it is long: a level each.
            self.enter()?;
            chained += 1;
            let rhs = self.unary()?;
            lhs = Expr::Arith(Box::new(lhs), op, Box::new(rhs));
        }
        for _ in 0..chained {
            self.leave();
        }
        Ok(lhs)
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
                self.enter()?;
                let inner = self.unary()?;
                self.leave();
                // A negative literal stays a literal: aggregates (`count() > -1`) and hints
                // take literals only, and the checker need not fold it.
                Ok(match inner {
                    Expr::Static(Static::Int(i)) => Expr::Static(Static::Int(i.wrapping_neg())),
                    Expr::Static(Static::Float(x)) => Expr::Static(Static::Float(-x)),
                    Expr::Static(Static::Duration(d)) => {
                        Expr::Static(Static::Duration(d.wrapping_neg()))
                    }
                    inner => Expr::Neg(Box::new(inner)),
                })
            }
            _ => self.power(),
        }
    }

    /// `a ^ b`: right-associative, and the exponent may be negated (`2 ^ -1`).
    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.plain_operand()?;
        if self.peek() != &Tok::Arith('^') {
            return Ok(base);
        }
        self.bump();
        self.operator()?;
        // Each `^` recurses once more: count it as a level of nesting too.
        self.enter()?;
        let exponent = self.unary()?;
        self.leave();
        Ok(Expr::Arith(
            Box::new(base),
            ArithOp::Pow,
            Box::new(exponent),
        ))
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
