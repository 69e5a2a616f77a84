//! Unit tests of the pieces below the public face: token positions, duration literals, Go
//! duration text, id comparison, the corners of arithmetic. Query-level tests live in `tests/`
//! (parsing, and evaluation over a plain in-memory implementation of the view traits) and in
//! trace-store's `tests/` (evaluation over the store's own spans).

use crate::syntax::lexer::{Tok, duration, lex};
use crate::value::hex_eq;
use crate::{AttrScope, go_duration_string};

#[test]
fn tokens_carry_line_and_column() {
    let tokens = lex("{ span.a = 1\n  && .b =~ \"x\" }").unwrap();
    let at: Vec<(u32, u32)> = tokens.iter().map(|t| (t.line, t.col)).collect();
    assert_eq!(
        at,
        [
            (1, 1),
            (1, 3),
            (1, 10),
            (1, 12),
            (2, 3),
            (2, 6),
            (2, 9),
            (2, 12),
            (2, 16),
            (2, 17)
        ]
    );
    assert_eq!(tokens[1].tok, Tok::Attr(AttrScope::Span, "a".into()));
}

#[test]
fn attribute_names_follow_tempos_lexer() {
    let cases = [
        ("span.http.route", AttrScope::Span, "http.route"),
        ("span.a-1", AttrScope::Span, "a-1"),
        (r#"span."with space""#, AttrScope::Span, "with space"),
        (r#"span.attribute."a b""#, AttrScope::Span, "attribute.a b"),
        (r#".x"y\"z""#, AttrScope::Unscoped, "xy\"z"),
        ("resource.service.name", AttrScope::Resource, "service.name"),
        ("instrumentation.lib", AttrScope::Instrumentation, "lib"),
    ];
    for (text, scope, name) in cases {
        let tokens = lex(text).unwrap();
        assert_eq!(tokens[0].tok, Tok::Attr(scope, name.into()), "{text}");
        assert_eq!(tokens[1].tok, Tok::Eof, "{text}");
    }
}

#[test]
fn duration_literals() {
    let cases = [
        ("1ns", Some(1)),
        ("1.5s", Some(1_500_000_000)),
        ("250us", Some(250_000)),
        ("250µs", Some(250_000)),
        ("1h30m", Some(5_400_000_000_000)),
        ("2d", Some(172_800_000_000_000)),
        ("3x", None),
    ];
    for (text, want) in cases {
        assert_eq!(duration(text), want, "{text}");
    }
}

#[test]
fn durations_print_like_go() {
    let cases = [
        (0, "0s"),
        (12, "12ns"),
        (405_000, "405µs"),
        (2_680_000, "2.68ms"),
        (1_500_000_000, "1.5s"),
        (2_900_000_000, "2.9s"),
        (123_000_000_000, "2m3s"),
        (3_600_000_000_000, "1h0m0s"),
        (-2_000_000_000, "-2s"),
    ];
    for (nanos, want) in cases {
        assert_eq!(go_duration_string(nanos), want);
    }
}

#[test]
fn ids_compare_as_hex_ignoring_case_and_leading_zeros() {
    let id = [0, 0, 0xab, 0x01];
    assert!(hex_eq(&id, "ab01"));
    assert!(hex_eq(&id, "0000AB01"));
    assert!(!hex_eq(&id, "ab02"));
    assert!(!hex_eq(&id, "ab0"));
}

/// The corners of int arithmetic that panic in plain Rust wrap (or have no value) as Go's ints
/// do; float corners follow IEEE.
#[test]
fn arithmetic_corners_never_panic() {
    use crate::Value::{Duration, Float, Int, Nil, Str};
    use crate::arith::{apply, negate};
    use crate::syntax::ast::ArithOp::{Add, Div, Mod, Mul, Pow, Sub};
    let cases = [
        (Add, Int(i64::MAX), Int(1), Int(i64::MIN)),
        (Sub, Int(i64::MIN), Int(1), Int(i64::MAX)),
        (Mul, Int(i64::MAX), Int(2), Int(-2)),
        (Div, Int(i64::MIN), Int(-1), Int(i64::MIN)),
        (Mod, Int(i64::MIN), Int(-1), Int(0)),
        (Div, Int(1), Int(0), Nil),
        (Mod, Int(1), Int(0), Nil),
        (Pow, Int(2), Int(3), Int(8)),
        (Pow, Int(-2), Int(3), Int(-8)),
        (Pow, Int(10), Int(-1), Int(0)),
        (Pow, Int(0), Int(-1), Int(i64::MAX)),
        (Pow, Int(2), Int(i64::MAX), Int(i64::MAX)),
        (Pow, Int(-2), Int(63), Int(i64::MIN)),
        (Pow, Int(-2), Int(65), Int(i64::MIN)),
        (Div, Int(7), Float(2.0), Float(3.5)),
        (Div, Float(1.0), Float(0.0), Float(f64::INFINITY)),
        (
            Sub,
            Duration(1_500_000_000),
            Duration(100_000_000),
            Float(1.4e9),
        ),
        (Mul, Duration(3), Int(2), Float(6.0)),
        (Add, Str("1"), Int(1), Nil),
        (Add, Nil, Int(1), Nil),
    ];
    for (op, lhs, rhs, want) in cases {
        assert_eq!(apply(op, lhs, rhs), want, "{lhs:?} {op:?} {rhs:?}");
    }
    assert!(matches!(apply(Mod, Float(1.0), Float(0.0)), Float(x) if x.is_nan()));
    assert_eq!(negate(Int(i64::MIN)), Int(i64::MIN));
    assert_eq!(negate(Duration(5)), Duration(-5));
    assert_eq!(negate(Str("x")), Nil);
}
