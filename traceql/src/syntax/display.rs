//! How the syntax tree prints: back as TraceQL, the way Tempo quotes expressions in error
//! messages and keys spanset attributes (`by(resource.service.name)`, `avg(duration)`). The
//! keywords of status and kind values are public: APIs print values with them too.

use std::fmt;

use super::ast::{ArithOp, CmpOp, Expr, Field, Logic, Static};
use crate::go_duration_string;

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Intrinsic(i) => f.write_str(i.spelling),
            Field::Attribute { scope, name } => {
                let plain = name
                    .chars()
                    .all(|c| !c.is_whitespace() && c != '"' && !"{}()=~!<>&|^,".contains(c));
                if plain {
                    write!(f, "{}{name}", scope.prefix())
                } else {
                    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                    write!(f, "{}\"{quoted}\"", scope.prefix())
                }
            }
        }
    }
}

impl fmt::Display for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Int(i) => write!(f, "{i}"),
            Static::Float(x) => write!(f, "{x}"),
            Static::Str(s) => write!(f, "{s:?}"),
            Static::Duration(d) => f.write_str(&go_duration_string(*d)),
            Static::Status(s) => f.write_str(status_name(*s)),
            Static::Kind(k) => f.write_str(kind_name(*k)),
        }
    }
}

/// TraceQL's keyword for an OTLP status code (`ok`, `error`, `unset`), as Tempo writes status
/// values in search results and tag values.
pub fn status_name(code: i32) -> &'static str {
    match code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    }
}

/// TraceQL's keyword for an OTLP span kind number (`server`, `client`, …; `unspecified` for
/// numbers OTLP does not define), as Tempo writes kind values.
pub fn kind_name(kind: i32) -> &'static str {
    [
        "unspecified",
        "internal",
        "server",
        "client",
        "producer",
        "consumer",
    ]
    .get(usize::try_from(kind).unwrap_or(0))
    .copied()
    .unwrap_or("unspecified")
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Re => "=~",
            CmpOp::Nre => "!~",
        })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Static(s) => write!(f, "{s}"),
            Expr::Field(field) => write!(f, "{field}"),
            Expr::Not(e) => write!(f, "!({e})"),
            Expr::Logic(l, op, r) => {
                let op = if *op == Logic::And { "&&" } else { "||" };
                write!(f, "({l}) {op} ({r})")
            }
            Expr::Cmp(c) => write!(f, "{} {} {}", c.lhs, c.op, c.rhs),
            // Nested arithmetic in parentheses, so the text shows how the query was grouped
            // (`.a + (.b * .c)`), as Tempo prints it.
            Expr::Arith(l, op, r) => {
                let side = |f: &mut fmt::Formatter<'_>, e: &Expr| match e {
                    Expr::Arith(..) | Expr::Neg(_) => write!(f, "({e})"),
                    e => write!(f, "{e}"),
                };
                side(f, l)?;
                write!(f, " {op} ")?;
                side(f, r)
            }
            Expr::Neg(e) => match &**e {
                Expr::Field(field) => write!(f, "-{field}"),
                e => write!(f, "-({e})"),
            },
            Expr::IsNil(field, negate) => {
                write!(f, "{field} {} nil", if *negate { "!=" } else { "=" })
            }
        }
    }
}

impl fmt::Display for ArithOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        })
    }
}
