//! The checker: Tempo's static validation (`pkg/traceql/ast_validate.go`) run after parsing, so
//! type errors are a 400 before any trace is read, plus the rewrites evaluation relies on.
//!
//! - Operand types must match (numbers with numbers, strings with strings, `status` with status
//!   literals…) and the operator must suit the type: `{ status = "error" }`, `{ name = 1 }`,
//!   `{ span.x > true }` are errors. Attributes have no static type and compare with anything.
//! - `=~`/`!~` need a string literal on the right; it is compiled here, fully anchored, with a
//!   size limit so a pathological pattern is a 400 rather than unbounded memory.
//! - `field = nil` becomes [`Expr::IsNil`]; a bare attribute used as a condition becomes
//!   `attr = true`; intrinsics and `resource.service.name` cannot be `= nil` and `parent.` is
//!   rejected, as in Tempo.
//! - Arithmetic is checked (and all-literal parts folded) in `check/arith.rs`.
//! - Every field the query reads is collected: search results report their values per span.

mod arith;

use regex::{Regex, RegexBuilder};

use super::ast::{AttrScope, Cmp, CmpOp, Expr, Field, IntrinsicKind as IKind, Per, Pipeline};
use super::ast::{SpansetExpr, Stage, Static};
use crate::{ParseError, REGEX_SIZE_LIMIT};

/// A static type; `Attr` is an attribute, whose type is only known per span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Nil,
    Bool,
    Int,
    Float,
    Duration,
    Str,
    Status,
    Kind,
    /// Span, trace and link ids: strings compared as hex, `=`/`!=` only.
    Id,
    Attr,
}

impl Ty {
    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Duration)
    }
}

/// The static type of a field.
pub(crate) fn field_ty(field: &Field) -> Ty {
    match field {
        Field::Attribute { .. } => Ty::Attr,
        Field::Intrinsic(i) => match i.kind {
            IKind::Status => Ty::Status,
            IKind::Kind => Ty::Kind,
            IKind::Duration | IKind::TraceDuration | IKind::EventTimeSinceStart => Ty::Duration,
            IKind::SpanId | IKind::ParentId | IKind::TraceId => Ty::Id,
            IKind::LinkSpanId | IKind::LinkTraceId => Ty::Id,
            IKind::NestedSetLeft | IKind::NestedSetRight | IKind::NestedSetParent => Ty::Int,
            _ => Ty::Str,
        },
    }
}

fn static_ty(value: &Static) -> Ty {
    match value {
        Static::Nil => Ty::Nil,
        Static::Bool(_) => Ty::Bool,
        Static::Int(_) => Ty::Int,
        Static::Float(_) => Ty::Float,
        Static::Str(_) => Ty::Str,
        Static::Duration(_) => Ty::Duration,
        Static::Status(_) => Ty::Status,
        Static::Kind(_) => Ty::Kind,
    }
}

fn invalid(message: String) -> ParseError {
    ParseError::Invalid(message)
}

/// Checks and rewrites `pipeline` in place; pushes every field it reads onto `fetched` (once).
pub(crate) fn check_pipeline(
    pipeline: &mut Pipeline,
    fetched: &mut Vec<Field>,
) -> Result<(), ParseError> {
    check_spanset(&mut pipeline.first, fetched)?;
    for stage in &mut pipeline.stages {
        match stage {
            Stage::Spanset(expr) => check_spanset(expr, fetched)?,
            Stage::Aggregate {
                func,
                arg,
                op,
                value,
            } => {
                let text = match arg {
                    Some(field) => format!("{}({field}) {op} {value}", func.name()),
                    None => format!("{}() {op} {value}", func.name()),
                };
                if let Some(field) = arg {
                    check_field(field, fetched)?;
                    let ty = field_ty(field);
                    if !(ty.numeric() || ty == Ty::Attr) {
                        return Err(invalid(format!(
                            "aggregate field expressions must resolve to a number type: {text}"
                        )));
                    }
                }
                if !static_ty(value).numeric() {
                    return Err(invalid(format!(
                        "binary operations must operate on the same type: {text}"
                    )));
                }
                if matches!(op, CmpOp::Re | CmpOp::Nre) {
                    return Err(invalid(format!(
                        "illegal operation for the given types: {text}"
                    )));
                }
            }
            Stage::Select(fields) => {
                for field in fields {
                    check_field(field, fetched)?;
                }
            }
            Stage::By(field) => check_field(field, fetched)?,
            Stage::Coalesce => {}
        }
    }
    Ok(())
}

fn check_spanset(expr: &mut SpansetExpr, fetched: &mut Vec<Field>) -> Result<(), ParseError> {
    match expr {
        SpansetExpr::Filter(None) => Ok(()),
        SpansetExpr::Filter(Some(inner)) => {
            let taken = std::mem::replace(inner, Expr::Static(Static::Nil));
            *inner = condition(taken, fetched).map_err(|e| match e {
                Problem::NotBool(bad) => invalid(format!(
                    "span filter field expressions must resolve to a boolean: {bad}"
                )),
                Problem::Error(e) => e,
            })?;
            Ok(())
        }
        SpansetExpr::Op(lhs, _, rhs) => {
            check_spanset(lhs, fetched)?;
            check_spanset(rhs, fetched)
        }
        SpansetExpr::Pipeline(pipeline) => check_pipeline(pipeline, fetched),
    }
}

fn check_field(field: &Field, fetched: &mut Vec<Field>) -> Result<(), ParseError> {
    if let Field::Attribute {
        scope: AttrScope::Parent,
        ..
    } = field
    {
        return Err(invalid(format!("parent not yet supported: {field}")));
    }
    if !fetched.contains(field) {
        fetched.push(field.clone());
    }
    Ok(())
}

/// Why an expression cannot be a condition.
enum Problem {
    /// It has a type, but not boolean; the expression comes back so the caller can quote it
    /// (built only on error: quoting eagerly would copy the tree at every level).
    NotBool(Expr),
    Error(ParseError),
}

impl From<ParseError> for Problem {
    fn from(e: ParseError) -> Self {
        Problem::Error(e)
    }
}

/// Checks an expression used as a condition: it must be boolean. A bare attribute becomes
/// `attr = true`, so `{ span.cache_hit }` works like Tempo's.
fn condition(expr: Expr, fetched: &mut Vec<Field>) -> Result<Expr, Problem> {
    let (expr, ty) = typed(expr, fetched)?;
    match (ty, expr) {
        (Ty::Bool, expr) => Ok(expr),
        (Ty::Attr, Expr::Field(field)) => {
            let per = field.per();
            Ok(Expr::Cmp(Box::new(Cmp {
                lhs: Expr::Field(field),
                op: CmpOp::Eq,
                rhs: Expr::Static(Static::Bool(true)),
                regex: None,
                per,
            })))
        }
        (_, expr) => Err(Problem::NotBool(expr)),
    }
}

fn illegal(expr: &Expr) -> ParseError {
    invalid(format!("illegal operation for the given types: {expr}"))
}

/// Checks `expr` and returns it (rewritten) with its static type.
fn typed(expr: Expr, fetched: &mut Vec<Field>) -> Result<(Expr, Ty), ParseError> {
    match expr {
        Expr::Static(value) => {
            let ty = static_ty(&value);
            Ok((Expr::Static(value), ty))
        }
        Expr::Field(field) => {
            check_field(&field, fetched)?;
            let ty = field_ty(&field);
            Ok((Expr::Field(field), ty))
        }
        Expr::Not(inner) => match condition(*inner, fetched) {
            Ok(inner) => Ok((Expr::Not(Box::new(inner)), Ty::Bool)),
            Err(Problem::NotBool(bad)) => Err(illegal(&Expr::Not(Box::new(bad)))),
            Err(Problem::Error(e)) => Err(e),
        },
        Expr::Logic(lhs, op, rhs) => {
            let lhs = match condition(*lhs, fetched) {
                Ok(lhs) => lhs,
                Err(Problem::NotBool(bad)) => {
                    return Err(illegal(&Expr::Logic(Box::new(bad), op, rhs)));
                }
                Err(Problem::Error(e)) => return Err(e),
            };
            let rhs = match condition(*rhs, fetched) {
                Ok(rhs) => rhs,
                Err(Problem::NotBool(bad)) => {
                    return Err(illegal(&Expr::Logic(Box::new(lhs), op, Box::new(bad))));
                }
                Err(Problem::Error(e)) => return Err(e),
            };
            Ok((Expr::Logic(Box::new(lhs), op, Box::new(rhs)), Ty::Bool))
        }
        Expr::Cmp(cmp) => Ok((comparison(*cmp, fetched)?, Ty::Bool)),
        Expr::Arith(lhs, op, rhs) => arith::binary(*lhs, op, *rhs, fetched),
        Expr::Neg(inner) => arith::negation(*inner, fetched),
        Expr::IsNil(..) => Ok((expr, Ty::Bool)),
    }
}

fn comparison(cmp: Cmp, fetched: &mut Vec<Field>) -> Result<Expr, ParseError> {
    let Cmp { lhs, op, rhs, .. } = cmp;
    let (lhs, lt) = typed(lhs, fetched)?;
    let (rhs, rt) = typed(rhs, fetched)?;
    // Quoted only on error, from the checked operands (which print as written).
    let text = || format!("{lhs} {op} {rhs}");
    let illegal = || invalid(format!("illegal operation for the given types: {}", text()));

    // `x = nil` / `x != nil`: only for attributes, which are the only things that can be missing.
    if lt == Ty::Nil || rt == Ty::Nil {
        let ((Expr::Field(field), _) | (_, Expr::Field(field))) = (&lhs, &rhs) else {
            return Err(illegal());
        };
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(illegal());
        }
        // Tempo refuses `= nil` where a value always exists (`!= nil` is allowed: it is true).
        if op == CmpOp::Eq {
            let always = match field {
                Field::Intrinsic(_) => Some("intrinsics cannot be nil"),
                Field::Attribute {
                    scope: AttrScope::Resource,
                    name,
                } if name == "service.name" => Some("resource.service.name cannot be nil"),
                Field::Attribute { .. } => None,
            };
            if let Some(why) = always {
                return Err(invalid(format!("{field}=nil is not valid because {why}")));
            }
        }
        return Ok(Expr::IsNil(field.clone(), op == CmpOp::Ne));
    }

    let matching = lt == rt
        || lt == Ty::Attr
        || rt == Ty::Attr
        || (lt.numeric() && rt.numeric())
        || matches!((lt, rt), (Ty::Id, Ty::Str) | (Ty::Str, Ty::Id));
    if !matching {
        return Err(invalid(format!(
            "binary operations must operate on the same type: {}",
            text()
        )));
    }
    let known = if lt == Ty::Attr { rt } else { lt };
    // Ids are strings for matching, but only `=`/`!=` make sense on them.
    let involves_id = lt == Ty::Id || rt == Ty::Id;
    let equality = matches!(op, CmpOp::Eq | CmpOp::Ne);
    let legal = match known {
        Ty::Bool | Ty::Status | Ty::Kind | Ty::Id => equality,
        Ty::Int | Ty::Float | Ty::Duration => !matches!(op, CmpOp::Re | CmpOp::Nre),
        Ty::Str | Ty::Attr => true,
        Ty::Nil => false,
    } && (!involves_id || equality);
    if !legal {
        return Err(illegal());
    }

    let regex = match (op, &rhs) {
        (CmpOp::Re | CmpOp::Nre, Expr::Static(Static::Str(pattern))) => Some(compile(pattern)?),
        (CmpOp::Re | CmpOp::Nre, _) => return Err(illegal()),
        _ => None,
    };
    // Event (link) fields anywhere in either side, arithmetic included, decide it per event.
    let per = match (arith::per(&lhs), arith::per(&rhs)) {
        (Some(Per::Span), Some(per)) | (Some(per), Some(Per::Span)) => per,
        (Some(a), Some(b)) if a == b => a,
        _ => return Err(illegal()),
    };
    Ok(Expr::Cmp(Box::new(Cmp {
        lhs,
        op,
        rhs,
        regex,
        per,
    })))
}

/// Compiles a TraceQL regex: fully anchored (Tempo ≥ 2.7), size-limited.
fn compile(pattern: &str) -> Result<Regex, ParseError> {
    let build = |text: &str| {
        RegexBuilder::new(text)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| invalid(format!("invalid regex: {e}")))
    };
    // Compile the pattern alone first: only a pattern that parses on its own has balanced
    // groups, so wrapping it cannot change its meaning (`a)|(b` would escape the anchors).
    build(pattern)?;
    build(&format!("^(?:{pattern})$"))
}
