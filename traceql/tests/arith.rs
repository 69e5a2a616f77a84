//! Arithmetic in filters, from tables: how queries group (read back from the checker's message
//! for a filter that is a number, not a condition, which prints the tree with its parentheses),
//! each typing rule evaluated on one span with the expected values worked out by hand in the
//! comments, arithmetic inside structural operators, pipelines and metrics queries, and the
//! errors for what Tempo refuses.

mod support;

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};
use opentelemetry_proto::tonic::trace::v1::span::Event;

use support::{Span, Trace, kv};
use traceql::{MAX_DEPTH, MAX_OPERATORS, ParseError, parse};

/// The one span the typing table evaluates: 1.5 s long, with
/// `i = 7`, `n = -7`, `z = 0`, `f = 2.5`, `s = "x"`, `b = true`, `arr = [1, 2]`, and one event
/// with `bytes = 10`.
fn one_span() -> Trace {
    let array = V::ArrayValue(ArrayValue {
        values: [1, 2]
            .map(|i| AnyValue {
                value: Some(V::IntValue(i)),
            })
            .to_vec(),
    });
    let mut span = Span::new(1, None, "app-a", "GET /", 0, 1_500_000_000)
        .attr("i", V::IntValue(7))
        .attr("n", V::IntValue(-7))
        .attr("z", V::IntValue(0))
        .attr("f", V::DoubleValue(2.5))
        .attr("s", V::StringValue("x".to_owned()))
        .attr("b", V::BoolValue(true))
        .attr("arr", array);
    span.events = vec![Event {
        name: "sent".to_owned(),
        attributes: vec![kv("bytes", V::IntValue(10))],
        ..Default::default()
    }];
    Trace::new(1, vec![span])
}

/// Whether `query` selects the one span of `trace`.
fn matches(trace: &Trace, query: &str) -> bool {
    let query = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    !query.evaluate(trace).is_empty()
}

/// Runs a table of (query, whether it matches) and reports every miss at once.
fn check(trace: &Trace, cases: &[(&str, bool)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter(|(query, want)| matches(trace, query) != *want)
        .map(|(query, want)| format!("{query}: want {want}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn operators_group_with_tempos_precedence() {
    let cases = [
        ("{ .a * .b + .c }", "(.a * .b) + .c"),
        ("{ .a + .b * .c }", ".a + (.b * .c)"),
        ("{ (.a + .b) * .c }", "(.a + .b) * .c"),
        ("{ .a - .b - .c }", "(.a - .b) - .c"),
        ("{ .a / .b % .c * .d }", "((.a / .b) % .c) * .d"),
        ("{ .a + .b ^ .c }", ".a + (.b ^ .c)"),
        ("{ .a * .b ^ .c }", ".a * (.b ^ .c)"),
        // `^` is right-associative.
        ("{ .a ^ .b ^ .c }", ".a ^ (.b ^ .c)"),
        // Unary minus binds looser than `^`, tighter than the rest.
        ("{ -.a ^ .b }", "-(.a ^ .b)"),
        ("{ .a ^ -.b }", ".a ^ (-.b)"),
        ("{ .c - -.a + .b }", "(.c - (-.a)) + .b"),
        ("{ .c - -(.a + .b) }", ".c - (-(.a + .b))"),
        ("{ -.a * .b }", "(-.a) * .b"),
        // All-literal parts are folded.
        ("{ .a + 2 * 3 }", ".a + 6"),
        ("{ .a * (1 + 2) }", ".a * 3"),
    ];
    for (query, tree) in cases {
        let want = ParseError::Invalid(format!(
            "span filter field expressions must resolve to a boolean: {tree}"
        ));
        assert_eq!(parse(query).map(|_| ()), Err(want), "{query}");
    }
}

#[test]
fn comparisons_bind_looser_than_arithmetic() {
    check(
        &one_span(),
        &[
            // 7 + 1 = 8 > 2.5 * 2 = 5.
            ("{ span.i + 1 > span.f * 2 }", true),
            ("{ span.i - 1 = 6 && span.f * 2 = 5 }", true),
            // (7 + 1) * 2 = 16; 7 + 1 * 2 = 9.
            ("{ (span.i + 1) * 2 = 16 }", true),
            ("{ span.i + 1 * 2 = 9 }", true),
            ("{ span.i + 1 * 2 = 16 }", false),
            // 2 ^ 3 ^ 2 = 2 ^ 9 = 512 (left to right it would be 64).
            ("{ 2 ^ 3 ^ 2 = 512 }", true),
            // -2 ^ 2 = -(2 ^ 2) = -4.
            ("{ -2 ^ 2 = -4 }", true),
            ("{ 10 - 4 - 3 = 3 }", true),
            ("{ 7 = span.i + 0 || span.i * 0 = 1 }", true),
        ],
    );
}

#[test]
fn ints_stay_ints_with_gos_rules() {
    check(
        &one_span(),
        &[
            ("{ span.i + 3 = 10 }", true),
            ("{ span.i - 10 = -3 }", true),
            ("{ span.i * 6 = 42 }", true),
            // 7 / 2 truncates to 3; -7 / 2 to -3 (toward zero).
            ("{ span.i / 2 = 3 }", true),
            ("{ span.i / 2 = 3.5 }", false),
            ("{ span.n / 2 = -3 }", true),
            // 7 % 4 = 3; -7 % 4 = -3 (the dividend's sign).
            ("{ span.i % 4 = 3 }", true),
            ("{ span.n % 4 = -3 }", true),
            ("{ span.i ^ 2 = 49 }", true),
            // lhs ^ rhs: 2 ^ 3 = 8 (Tempo's int branch swaps them and gets 9).
            ("{ 2 ^ 3 = 8 }", true),
            ("{ 2 ^ 3 = 9 }", false),
            ("{ span.i ^ span.z = 1 }", true),
            // 2 ^ -1 = 0.5, truncated to the int 0.
            ("{ 2 ^ -1 = 0 }", true),
            // Overflow wraps as Go's ints do; a power saturates.
            (
                "{ 9223372036854775807 + span.i = -9223372036854775802 }",
                true,
            ),
            ("{ 2 ^ 64 = 9223372036854775807 }", true),
            ("{ -span.i = -7 }", true),
        ],
    );
}

#[test]
fn floats_and_mixed_numbers_compute_in_float() {
    check(
        &one_span(),
        &[
            ("{ span.f * 2 = 5.0 }", true),
            ("{ span.f * 2 = 5 }", true),
            // int and float: 7 / 2.0 = 3.5, 7 + 2.5 = 9.5.
            ("{ span.i / 2.0 = 3.5 }", true),
            ("{ span.i + span.f = 9.5 }", true),
            ("{ 1 / 10.0 = 0.1 }", true),
            // Float modulo truncates like Go's math.Mod: 2.5 % 1 = 0.5, -7.5 % 2 = -1.5.
            ("{ span.f % 1 = 0.5 }", true),
            ("{ -7.5 % 2 = -1.5 }", true),
            ("{ span.f ^ 2 = 6.25 }", true),
            ("{ -span.f < -2 }", true),
        ],
    );
}

#[test]
fn durations_are_nanoseconds() {
    check(
        &one_span(),
        &[
            // 1.5 s - 100 ms = 1.4 s > 1 s; 1.5 s - 600 ms = 0.9 s.
            ("{ duration - 100ms > 1s }", true),
            ("{ duration - 600ms > 1s }", false),
            ("{ duration * 2 = 3s }", true),
            ("{ 2 * duration = 3s }", true),
            ("{ duration / 3 = 500ms }", true),
            ("{ duration + 1s >= 2.5s }", true),
            // A duration over a duration: 1.5 s / 1 ms = 1500.
            ("{ duration / 1ms = 1500 }", true),
            // Against plain numbers, a duration is its nanoseconds: 3e9 > 2999999999.
            ("{ duration * 2 > 2999999999 }", true),
            ("{ -duration < 0 }", true),
            ("{ 1s * 2 = 2s }", true),
            ("{ span.i * 1ms = 7ms }", true),
        ],
    );
}

#[test]
fn no_value_means_no_match() {
    check(
        &one_span(),
        &[
            // Division and modulo of ints by zero have no value.
            ("{ span.i / span.z = 0 }", false),
            ("{ span.i / span.z != 0 }", false),
            ("{ span.i % span.z >= 0 }", false),
            ("{ 5 / 0 = 1 }", false),
            // As with any comparison to a missing value, `!` turns the non-match around.
            ("{ !(span.i / span.z = 0) }", true),
            // Floats by zero are ±Inf or NaN: 7 / 0.0 = +Inf; NaN equals nothing.
            ("{ span.i / 0.0 > 1000000 }", true),
            ("{ span.f % 0.0 = span.f % 0.0 }", false),
            // A missing attribute on either side.
            ("{ span.missing + 1 > 0 }", false),
            ("{ span.missing + 1 <= 0 }", false),
            ("{ 1 - span.missing != 0 }", false),
            ("{ -span.missing < 0 }", false),
            // Strings, booleans and arrays are not numbers: known only per span, so no 400.
            ("{ span.s + 1 = 1 }", false),
            ("{ span.b * 1 = 1 }", false),
            ("{ span.arr + 1 = 2 }", false),
            ("{ -span.s = 0 }", false),
        ],
    );
}

#[test]
fn arithmetic_works_wherever_filters_do() {
    // Root 1 (i = 7) with child 2 (i = 1).
    let trace = Trace::new(
        2,
        vec![
            Span::new(1, None, "app-a", "GET /", 0, 100).attr("i", V::IntValue(7)),
            Span::new(2, Some(1), "app-b", "GET /", 10, 40).attr("i", V::IntValue(1)),
        ],
    );
    let spans = |query: &str| -> Vec<usize> {
        let query = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut out: Vec<usize> = query
            .evaluate(&trace)
            .into_iter()
            .flat_map(|s| s.spans)
            .collect();
        out.sort_unstable();
        out
    };
    // 7 * 2 = 14 > 3 holds for the root only, so `>>` gives its descendant.
    assert_eq!(spans("{ span.i * 2 > 3 } >> { }"), [1]);
    assert_eq!(spans("{ span.i + 1 = 2 } << { }"), [0]);
    assert_eq!(spans("{ span.i % 2 = 1 } | count() = 2"), [0, 1]);
    assert_eq!(spans("{ } | { duration / 2 < 20 }"), [1]);
    assert_eq!(spans("{ event.bytes * 2 = 20 }"), Vec::<usize>::new());
    check(&one_span(), &[("{ event.bytes * 2 = 20 }", true)]);
    assert!(traceql::parse_metrics("{ span.i * 2 > 3 } | rate()").is_ok());
}

fn invalid(message: &str) -> Result<(), ParseError> {
    Err(ParseError::Invalid(message.to_owned()))
}

fn syntax(line: u32, col: u32, message: &str) -> Result<(), ParseError> {
    Err(ParseError::Syntax {
        line,
        col,
        message: message.to_owned(),
    })
}

#[test]
fn wrong_types_and_broken_expressions_are_400s() {
    let cases = [
        (
            "{ span.a + \"x\" > 1 }",
            invalid("illegal operation for the given types: span.a + \"x\""),
        ),
        (
            "{ 1 + \"foo\" = 1 }",
            invalid("binary operations must operate on the same type: 1 + \"foo\""),
        ),
        (
            "{ 1 - true = 1 }",
            invalid("binary operations must operate on the same type: 1 - true"),
        ),
        (
            "{ 1 / ok = 1 }",
            invalid("binary operations must operate on the same type: 1 / ok"),
        ),
        (
            "{ 1 ^ name = 1 }",
            invalid("binary operations must operate on the same type: 1 ^ name"),
        ),
        (
            "{ \"a\" + \"b\" = \"ab\" }",
            invalid("illegal operation for the given types: \"a\" + \"b\""),
        ),
        (
            "{ span.a * nil = 1 }",
            invalid("illegal operation for the given types: span.a * nil"),
        ),
        (
            "{ -true }",
            invalid("illegal operation for the given type: -(true)"),
        ),
        (
            "{ -name = \"foo\" }",
            invalid("illegal operation for the given type: -name"),
        ),
        (
            "{ span.a + 1 = \"x\" }",
            invalid("binary operations must operate on the same type: span.a + 1 = \"x\""),
        ),
        (
            "{ duration - 1s =~ \"1.*\" }",
            invalid("binary operations must operate on the same type: duration - 1s =~ \"1.*\""),
        ),
        (
            "{ span.a + 1 = nil }",
            invalid("illegal operation for the given types: span.a + 1 = nil"),
        ),
        (
            "{ event.a + link.b > 1 }",
            invalid("illegal operation for the given types: event.a + link.b > 1"),
        ),
        (
            "{ 1 + 1 }",
            invalid("span filter field expressions must resolve to a boolean: 2"),
        ),
        (
            "{ 1 + }",
            syntax(
                1,
                7,
                "syntax error: unexpected }, expecting value, attribute or intrinsic",
            ),
        ),
        (
            "{ * 2 = 1 }",
            syntax(
                1,
                3,
                "syntax error: unexpected *, expecting value, attribute or intrinsic",
            ),
        ),
        (
            "{ span.a ^ = 1 }",
            syntax(
                1,
                12,
                "syntax error: unexpected =, expecting value, attribute or intrinsic",
            ),
        ),
        (
            "{ .a = 1 } + { .b = 1 }",
            syntax(1, 12, "syntax error: unexpected +, expecting end of query"),
        ),
    ];
    for (query, want) in cases {
        assert_eq!(parse(query).map(|_| ()), want, "{query:?}");
    }
}

/// Long `^` and unary-minus chains count as nesting, long `+` chains as operators: errors, not
/// a stack overflow; the longest allowed chains parse and evaluate in 1 MiB of stack.
#[test]
fn arithmetic_keeps_the_recursion_limits() {
    // The `{` is the first level, so 63 operators fit and 64 do not.
    for chain in ["span.i + ", "span.i * ", "span.i ^ ", "- "] {
        let deep = format!("{{ {}1 = 1 }}", chain.repeat(MAX_DEPTH));
        let error = parse(&deep).unwrap_err().to_string();
        assert!(error.contains("nests deeper"), "{chain}: {error}");
        let long = format!("{{ {}1 = 1 }}", chain.repeat(10_000));
        let error = parse(&long).unwrap_err().to_string();
        assert!(error.contains("nests deeper"), "{chain}: {error}");
    }
    // Short chains side by side still count toward the operator bound.
    let many = format!("{{ {} }}", vec!["span.a + 1 > 0"; 100].join(" && "));
    assert_eq!(
        parse(&many).unwrap_err(),
        ParseError::Invalid(format!("query has more than {MAX_OPERATORS} operators"))
    );

    // `(span.i + ` is two levels, the parenthesis and the `+`.
    let nested = format!(
        "{{ {}1{} > 0 }}",
        "(span.i + ".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2 - 1)
    );
    let mut queries = ["span.i + ", "span.i * ", "span.i ^ ", "- "]
        .map(|chain| format!("{{ {}1 > 0 }}", chain.repeat(MAX_DEPTH - 1)))
        .to_vec();
    queries.push(nested);
    let worker = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let trace = one_span();
            for text in &queries {
                let query = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                let _ = query.evaluate(&trace);
            }
        });
    worker.unwrap().join().unwrap();
}
