//! The TraceQL lexer: query text to [`Token`]s, each with its 1-based line and column (counted in
//! characters, as Go's `text/scanner` does, so positions match Tempo's messages).
//!
//! Rules follow Tempo's `pkg/traceql/lexer.go`: attribute names run until whitespace or one of
//! `{ } ( ) = ~ ! < > & | ^ ,` (so `span.http.route` and `span.a-1` are single names), with quoted
//! parts for anything else (`span."with space"`); a number directly followed by a unit is a
//! duration (`1.5s`, `1h30m`, `2d`); strings are `"…"` with Go escapes or raw `` `…` ``.

use super::ast::{AttrScope, Intrinsic, Relation};
use crate::ParseError;
use crate::error::syntax;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Pipe,
    And,
    Or,
    Not,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Re,
    Nre,
    Desc,
    Anc,
    Tilde,
    /// `&> &>> &< &<< &~`.
    UnionRel(Relation),
    /// `!> !>> !< !<<` (`!~` is `Nre`, which the parser reads by its place).
    NotRel(Relation),
    Minus,
    /// `+ * / % ^` (`-` is [`Tok::Minus`], binary or unary by its place).
    Arith(char),
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    True,
    False,
    Nil,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    Status(i32),
    /// OTLP span kind: 0 unspecified … 5 consumer.
    Kind(i32),
    Intrinsic(Intrinsic),
    Attr(AttrScope, String),
    /// `count avg min max sum select by coalesce with`, and the metrics functions.
    Func(&'static str),
    /// A hint's name inside `with( … )`, such as `most_recent`.
    Hint(String),
    Eof,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: u32,
    pub(crate) col: u32,
}

/// Characters that end an attribute name (besides whitespace), from Tempo's lexer.
const NAME_END: &[char] = &[
    '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',',
];

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        in_hints: false,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_space();
        let (line, col) = (lexer.line, lexer.col);
        let tok = lexer.token(line, col)?;
        // Inside `with( … )`, bare words are hint names, not identifiers of the language.
        match (&tok, tokens.last().map(|t: &Token| &t.tok)) {
            (Tok::LParen, Some(Tok::Func("with"))) => lexer.in_hints = true,
            (Tok::RParen, _) => lexer.in_hints = false,
            _ => {}
        }
        let end = tok == Tok::Eof;
        tokens.push(Token { tok, line, col });
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
    /// Between `with(` and its `)`.
    in_hints: bool,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Consumes `second` if it comes next, choosing between a two- and a one-character token.
    fn pair(&mut self, second: char, both: Tok, one: Tok) -> Tok {
        if self.peek(0) == Some(second) {
            self.bump();
            both
        } else {
            one
        }
    }

    fn token(&mut self, line: u32, col: u32) -> Result<Tok, ParseError> {
        let Some(c) = self.bump() else {
            return Ok(Tok::Eof);
        };
        Ok(match c {
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '~' => Tok::Tilde,
            '-' => Tok::Minus,
            '+' | '*' | '/' | '%' | '^' => Tok::Arith(c),
            '|' => self.pair('|', Tok::Or, Tok::Pipe),
            '=' => self.pair('~', Tok::Re, Tok::Eq),
            '&' if self.peek(0) == Some('&') => {
                self.bump();
                Tok::And
            }
            '&' if matches!(self.peek(0), Some('>' | '<' | '~')) => Tok::UnionRel(self.relation()),
            '!' => match self.peek(0) {
                Some('=') => self.pair('=', Tok::Ne, Tok::Ne),
                Some('~') => self.pair('~', Tok::Nre, Tok::Nre),
                Some('>' | '<') => Tok::NotRel(self.relation()),
                _ => Tok::Not,
            },
            '>' => match self.peek(0) {
                Some('=') => self.pair('=', Tok::Ge, Tok::Ge),
                _ => self.pair('>', Tok::Desc, Tok::Gt),
            },
            '<' => match self.peek(0) {
                Some('=') => self.pair('=', Tok::Le, Tok::Le),
                _ => self.pair('<', Tok::Anc, Tok::Lt),
            },
            '"' => Tok::Str(self.string(line, col)?),
            '`' => Tok::Str(self.raw_string(line, col)?),
            '.' => Tok::Attr(AttrScope::Unscoped, self.attribute_name(line, col)?),
            c if c.is_ascii_digit() => self.number(c, line, col)?,
            c if c.is_alphabetic() || c == '_' => self.word(c, line, col)?,
            c => return Err(syntax(line, col, format!("unexpected character {c:?}"))),
        })
    }

    /// The relation of `> >> < << ~` after a `&` or `!` prefix.
    fn relation(&mut self) -> Relation {
        match self.bump() {
            Some('>') if self.peek(0) == Some('>') => {
                self.bump();
                Relation::Descendant
            }
            Some('>') => Relation::Child,
            Some('<') if self.peek(0) == Some('<') => {
                self.bump();
                Relation::Ancestor
            }
            Some('<') => Relation::Parent,
            // The caller peeked one of `> < ~`.
            _ => Relation::Sibling,
        }
    }

    fn string(&mut self, line: u32, col: u32) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(syntax(line, col, "literal not terminated")),
                Some('"') => return Ok(out),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some(c @ ('\\' | '"' | '\'')) => c,
                        Some('u') => self.unicode_escape(line, col)?,
                        None => return Err(syntax(line, col, "literal not terminated")),
                        Some(c) => {
                            return Err(syntax(
                                self.line,
                                self.col - 1,
                                format!("invalid escape sequence \\{c}"),
                            ));
                        }
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn unicode_escape(&mut self, line: u32, col: u32) -> Result<char, ParseError> {
        let mut code = 0u32;
        for _ in 0..4 {
            let digit = self.bump().and_then(|c| c.to_digit(16));
            code = code * 16 + digit.ok_or_else(|| syntax(line, col, "invalid \\u escape"))?;
        }
        char::from_u32(code).ok_or_else(|| syntax(line, col, "invalid \\u escape"))
    }

    fn raw_string(&mut self, line: u32, col: u32) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(syntax(line, col, "literal not terminated")),
                Some('`') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// The rest of an attribute name after `scope.` (or the leading `.`).
    fn attribute_name(&mut self, line: u32, col: u32) -> Result<String, ParseError> {
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() || NAME_END.contains(&c) {
                break;
            }
            self.bump();
            if c == '"' {
                // A quoted part; only `\"` and `\\` are escapes, as in Tempo.
                loop {
                    match self.bump() {
                        None => return Err(syntax(line, col, "literal not terminated")),
                        Some('"') => break,
                        Some('\\') if matches!(self.peek(0), Some('"' | '\\')) => {
                            name.extend(self.bump());
                        }
                        Some(c) => name.push(c),
                    }
                }
            } else {
                name.push(c);
            }
        }
        if name.is_empty() {
            return Err(syntax(line, col, "attribute name is empty"));
        }
        Ok(name)
    }

    fn number(&mut self, first: char, line: u32, col: u32) -> Result<Tok, ParseError> {
        let mut text = String::from(first);
        while let Some(c) = self
            .peek(0)
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | 'µ' | 'μ'))
        {
            text.push(c);
            self.bump();
        }
        if text.chars().all(|c| c.is_ascii_digit()) {
            return text
                .parse()
                .map(Tok::Int)
                .map_err(|_| syntax(line, col, format!("integer out of range: {text}")));
        }
        if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return text
                .parse()
                .map(Tok::Float)
                .map_err(|_| syntax(line, col, format!("invalid number: {text}")));
        }
        duration(&text)
            .map(Tok::Duration)
            .ok_or_else(|| syntax(line, col, format!("invalid duration: {text}")))
    }

    fn word(&mut self, first: char, line: u32, col: u32) -> Result<Tok, ParseError> {
        let mut word = String::from(first);
        while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
            word.push(c);
            self.bump();
        }
        if self.peek(0) == Some('.')
            && let Some(scope) = AttrScope::from_prefix(&word)
        {
            self.bump();
            return Ok(Tok::Attr(scope, self.attribute_name(line, col)?));
        }
        if self.peek(0) == Some(':') {
            self.bump();
            let mut scoped = word;
            scoped.push(':');
            while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
                scoped.push(c);
                self.bump();
            }
            return Intrinsic::from_name(&scoped)
                .map(Tok::Intrinsic)
                .ok_or_else(|| syntax(line, col, format!("unknown identifier: {scoped}")));
        }
        match keyword(&word) {
            Some(tok) if !self.in_hints || matches!(tok, Tok::True | Tok::False) => Ok(tok),
            _ if self.in_hints => Ok(Tok::Hint(word)),
            _ => Err(syntax(line, col, format!("unknown identifier: {word}"))),
        }
    }
}

/// A bare word: a literal keyword, an unscoped intrinsic or a pipeline function.
fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "true" => Tok::True,
        "false" => Tok::False,
        "nil" => Tok::Nil,
        "unset" => Tok::Status(0),
        "ok" => Tok::Status(1),
        "error" => Tok::Status(2),
        "unspecified" => Tok::Kind(0),
        "internal" => Tok::Kind(1),
        "server" => Tok::Kind(2),
        "client" => Tok::Kind(3),
        "producer" => Tok::Kind(4),
        "consumer" => Tok::Kind(5),
        "count" => Tok::Func("count"),
        "avg" => Tok::Func("avg"),
        "min" => Tok::Func("min"),
        "max" => Tok::Func("max"),
        "sum" => Tok::Func("sum"),
        "select" => Tok::Func("select"),
        "by" => Tok::Func("by"),
        "coalesce" => Tok::Func("coalesce"),
        "with" => Tok::Func("with"),
        // Metrics functions; only `crate::metrics` parses them (see `parse_metrics`).
        "rate" => Tok::Func("rate"),
        "count_over_time" => Tok::Func("count_over_time"),
        "min_over_time" => Tok::Func("min_over_time"),
        "max_over_time" => Tok::Func("max_over_time"),
        "avg_over_time" => Tok::Func("avg_over_time"),
        "sum_over_time" => Tok::Func("sum_over_time"),
        "quantile_over_time" => Tok::Func("quantile_over_time"),
        "histogram_over_time" => Tok::Func("histogram_over_time"),
        "compare" => Tok::Func("compare"),
        "topk" => Tok::Func("topk"),
        "bottomk" => Tok::Func("bottomk"),
        _ => return Intrinsic::from_name(word).map(Tok::Intrinsic),
    })
}

/// A duration literal in nanoseconds: Go units (`ns us µs ms s m h`, fractions) plus Prometheus'
/// `d w y`, in sequences like `1h30m`. `None` if malformed or out of range.
pub(crate) fn duration(text: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let unit_len = rest[number_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - number_len);
        let number: f64 = rest[..number_len].parse().ok()?;
        let scale: f64 = match &rest[number_len..number_len + unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            "y" => 31_536_000e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[number_len + unit_len..];
    }
    // f64 is exact for every integer up to 2^53 ns (104 days); rounding beyond is harmless.
    (total <= i64::MAX as f64).then_some(total.round() as i64)
}
