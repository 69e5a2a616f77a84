//! From text to a checked syntax tree: `lexer` (text → tokens with line and column) → `parser`
//! and `field_expr` (tokens → [`ast`]) → `check` (Tempo's static validation, the rewrites
//! evaluation relies on, regex compilation). `display` prints the tree back as TraceQL;
//! `intrinsic` lists the intrinsics and their spellings.
//!
//! Nothing here reads spans: evaluation (and, later, a metrics engine) takes the checked tree.

pub(crate) mod ast;
pub(crate) mod check;
pub(crate) mod display;
mod field_expr;
pub(crate) mod intrinsic;
pub(crate) mod lexer;
pub(crate) mod parser;
