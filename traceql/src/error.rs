//! Why a query was rejected: [`ParseError`], worded as Tempo words it so an API built on this
//! crate can answer with Tempo's messages.

/// Why a query was rejected. Tempo's API answers 400 with `invalid TraceQL query: {error}` (or
/// just `{error}` for [`ParseError::TooLong`]).
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
    /// The query is longer than [`MAX_QUERY_BYTES`](crate::MAX_QUERY_BYTES).
    #[error(
        "TraceQL expression exceeds the configured maximum size of {max} bytes, actual size is {len} bytes"
    )]
    TooLong {
        /// The query's length in bytes.
        len: usize,
        /// [`MAX_QUERY_BYTES`](crate::MAX_QUERY_BYTES).
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
