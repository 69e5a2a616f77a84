//! The TraceQL parser from a table, after Tempo's `test_examples.yaml`: queries that must parse,
//! and queries that must fail with an exact message (and, for syntax errors, position); and the
//! limits that keep hostile queries from exhausting the stack or memory.

mod support;

use traceql::{MAX_DEPTH, MAX_OPERATORS, MAX_QUERY_BYTES, ParseError};

#[test]
fn valid_queries_parse() {
    let valid = [
        "{}",
        "{ .a = 1 }",
        "{ span.a = 1.5 && resource.b != \"x\" || .c > -3 }",
        "{ span.\"with space\" = `raw \\ string` }",
        "{ span.attribute.\"a b\" =~ \"x.*\" }",
        "{ name = \"a\\\"b\" }",
        "{ status = error } && { kind = server }",
        "{ status != ok } || { kind = unspecified }",
        "{ } > { } >> { } < { } << { } ~ { }",
        "{ } &> { } &>> { } &< { } &<< { } &~ { }",
        "{ } !> { } !>> { } !< { } !<< { } !~ { }",
        "({ .a = 1 } || { .b = 1 }) && { .c = 1 }",
        "{ !(.a = 1) }",
        "{ !.flag }",
        "{ .a = nil }",
        "{ .a != nil }",
        "{ name != nil }",
        "{ resource.service.name != nil }",
        "{ duration > 1h30m && duration < 2d }",
        "{ duration >= 250µs && duration <= 1.5s }",
        "{ kind = producer || kind = consumer || kind = internal || kind = client }",
        "{ status = unset }",
        "{ span:id = \"abc\" && trace:id = \"abc\" && span:parentID != \"1\" }",
        "{ event:name = \"x\" && event.y = 1 }",
        "{ link:traceID = \"1\" && link.x = 1 }",
        "{ instrumentation:name = \"x\" && instrumentation.y = 1 }",
        "{ rootName = \"x\" && rootServiceName = \"y\" && traceDuration > 1s }",
        "{ trace:rootName = \"x\" && trace:rootService = \"y\" && trace:duration > 1s }",
        "{ span:name = \"x\" && span:status = ok && span:kind = server && span:duration > 0 }",
        "{ statusMessage = \"x\" && span:statusMessage != \"y\" }",
        "{ } | count() > 1",
        "{ } | avg(duration) >= 1s | min(span.x) < 2 | max(.y) > 3 | sum(duration) = 1m",
        "{ } | select(span.a, resource.b, name)",
        "{ } | by(resource.service.name) | coalesce()",
        "({ } | count() > 1) && { .a = 1 }",
        "{ .a = 1 }\n  && { .b = 2 }",
        "{ .x = 1 && .x = \"a\" }",
        "{ .a = .b }",
        "{ 1 = 1 }",
        "{ .a = 1 + 2 }",
        "{ span.a + span.b > 10 && duration - 100ms > 1s }",
        "{ (span.a + 1) * 2 = 8 || -span.a > 3 || 2 ^ 3 = 8 || span.a % 2 = 0 }",
        "{ span.a * 2 > 3 } >> { } | { span.b / 2 < 1.5 }",
    ];
    for query in valid {
        if let Err(e) = traceql::parse(query) {
            panic!("{query:?} should parse: {e}");
        }
    }
}

#[test]
fn invalid_queries_fail_with_tempos_messages() {
    let syntax = |line, col, message: &str| {
        Err::<(), _>(ParseError::Syntax {
            line,
            col,
            message: message.to_owned(),
        })
    };
    let invalid = |message: &str| Err::<(), _>(ParseError::Invalid(message.to_owned()));
    let cases: Vec<(&str, Result<(), ParseError>)> = vec![
        (
            "",
            syntax(
                1,
                1,
                "syntax error: unexpected end of query, expecting { or (",
            ),
        ),
        (
            "{ .a = 1",
            syntax(1, 9, "syntax error: unexpected end of query, expecting }"),
        ),
        (
            "{ .a = 1 }}",
            syntax(1, 11, "syntax error: unexpected }, expecting end of query"),
        ),
        (
            "{ .a = }",
            syntax(
                1,
                8,
                "syntax error: unexpected }, expecting value, attribute or intrinsic",
            ),
        ),
        (
            "{ .a = 1 &&\n  .b = }",
            syntax(
                2,
                8,
                "syntax error: unexpected }, expecting value, attribute or intrinsic",
            ),
        ),
        (
            "{ kind = serverx }",
            syntax(1, 10, "unknown identifier: serverx"),
        ),
        (
            "{ span:foo = 1 }",
            syntax(1, 3, "unknown identifier: span:foo"),
        ),
        ("{ .a = 'x' }", syntax(1, 8, "unexpected character '\\''")),
        ("{ .a = \"x }", syntax(1, 8, "literal not terminated")),
        ("{ .a = 3x }", syntax(1, 8, "invalid duration: 3x")),
        (
            "{ .a = 1 } & { .b = 1 }",
            syntax(1, 12, "unexpected character '&'"),
        ),
        (
            "{ .a = 1 } | rate()",
            invalid(
                "rate() is a metrics function: only a metrics query (/api/metrics/query_range, /api/metrics/query) may end with it",
            ),
        ),
        (
            "{ } | count()",
            syntax(
                1,
                14,
                "syntax error: unexpected end of query, expecting comparison operator",
            ),
        ),
        (
            "{ } | select()",
            syntax(
                1,
                14,
                "syntax error: unexpected ), expecting attribute or intrinsic",
            ),
        ),
        ("{ . = 1 }", syntax(1, 3, "attribute name is empty")),
        (
            "{ status = \"error\" }",
            invalid("binary operations must operate on the same type: status = \"error\""),
        ),
        (
            "{ kind = \"server\" }",
            invalid("binary operations must operate on the same type: kind = \"server\""),
        ),
        (
            "{ name = 1 }",
            invalid("binary operations must operate on the same type: name = 1"),
        ),
        (
            "{ duration > \"1s\" }",
            invalid("binary operations must operate on the same type: duration > \"1s\""),
        ),
        (
            "{ status = server }",
            invalid("binary operations must operate on the same type: status = server"),
        ),
        (
            "{ span.x > true }",
            invalid("illegal operation for the given types: span.x > true"),
        ),
        (
            "{ status > error }",
            invalid("illegal operation for the given types: status > error"),
        ),
        (
            "{ duration =~ \"1\" }",
            invalid("binary operations must operate on the same type: duration =~ \"1\""),
        ),
        (
            "{ .a =~ 1 }",
            invalid("illegal operation for the given types: .a =~ 1"),
        ),
        (
            "{ span:id > \"1\" }",
            invalid("illegal operation for the given types: span:id > \"1\""),
        ),
        (
            "{ 1 }",
            invalid("span filter field expressions must resolve to a boolean: 1"),
        ),
        (
            "{ \"a\" }",
            invalid("span filter field expressions must resolve to a boolean: \"a\""),
        ),
        (
            "{ name }",
            invalid("span filter field expressions must resolve to a boolean: name"),
        ),
        (
            "{ !name }",
            invalid("illegal operation for the given types: !(name)"),
        ),
        (
            "{ name = nil }",
            invalid("name=nil is not valid because intrinsics cannot be nil"),
        ),
        (
            "{ resource.service.name = nil }",
            invalid(
                "resource.service.name=nil is not valid because resource.service.name cannot be nil",
            ),
        ),
        (
            "{ .a > nil }",
            invalid("illegal operation for the given types: .a > nil"),
        ),
        (
            "{ parent.x = 1 }",
            invalid("parent not yet supported: parent.x"),
        ),
        (
            "{ } | avg(name) > 1",
            invalid("aggregate field expressions must resolve to a number type: avg(name) > 1"),
        ),
        (
            "{ } | count() > \"a\"",
            invalid("binary operations must operate on the same type: count() > \"a\""),
        ),
    ];
    for (query, want) in cases {
        assert_eq!(traceql::parse(query).map(|_| ()), want, "{query:?}");
    }
    let regex = traceql::parse("{ name =~ \"(\" }").unwrap_err().to_string();
    assert!(regex.starts_with("invalid regex: "), "{regex}");
}

/// Hostile queries get a clear error, never a stack overflow or unbounded memory.
/// `with(…)` hints: `most_recent=true` is read; other hints parse and change nothing; a hint
/// needs a name, `=` and a literal, and comes last.
#[test]
fn hints_parse_and_most_recent_is_read() {
    let parse = |q: &str| traceql::parse(q).map(|query| query.most_recent());
    assert_eq!(parse("{ } with(most_recent=true)"), Ok(true));
    assert_eq!(
        parse("{ status = error } | count() > 1 with (most_recent = true, sample = 0.1)"),
        Ok(true)
    );
    assert_eq!(parse("{ } with(most_recent=false)"), Ok(false));
    assert_eq!(parse("{ } with(exemplars=5)"), Ok(false));
    assert_eq!(parse("{ }"), Ok(false));
    for bad in [
        "{ } with(most_recent)",
        "{ } with()",
        "{ } with(most_recent=true",
        "{ } with(most_recent=true) | count() > 1",
        "{ } | with(most_recent=true)",
        "{ mostrecent = 1 }",
    ] {
        assert!(
            matches!(traceql::parse(bad), Err(ParseError::Syntax { .. })),
            "{bad:?} should be a syntax error"
        );
    }
}

#[test]
fn limits_turn_hostile_queries_into_errors() {
    let deep = format!("{}{{}}{}", "(".repeat(10_000), ")".repeat(10_000));
    let error = traceql::parse(&deep).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "parse error at line 1, col {}: query nests deeper than {MAX_DEPTH} levels",
            MAX_DEPTH + 1
        )
    );

    let nots = format!("{{ {}true }}", "!".repeat(10_000));
    assert!(
        traceql::parse(&nots)
            .unwrap_err()
            .to_string()
            .contains("nests deeper")
    );
    let parens = format!("{{ {}true{} }}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        traceql::parse(&parens)
            .unwrap_err()
            .to_string()
            .contains("nests deeper")
    );

    let chain = format!("{{ {} }}", vec![".a = 1"; 2_000].join(" && "));
    assert_eq!(
        traceql::parse(&chain).unwrap_err(),
        ParseError::Invalid(format!("query has more than {MAX_OPERATORS} operators"))
    );

    let long = format!("{{ .a = \"{}\" }}", "x".repeat(MAX_QUERY_BYTES));
    assert!(matches!(
        traceql::parse(&long),
        Err(ParseError::TooLong { .. })
    ));

    // A pattern whose compiled program passes the size limit is a 400, not a huge allocation.
    let huge = traceql::parse("{ name =~ \"(\\\\w{100}){100}\" }")
        .unwrap_err()
        .to_string();
    assert!(huge.starts_with("invalid regex: "), "{huge}");
}

/// The longest and deepest queries the limits allow parse and run in 1 MiB of stack (tokio's
/// workers have 2 MiB), so the limits are tight enough.
#[test]
fn the_worst_allowed_queries_fit_a_small_stack() {
    let half = MAX_OPERATORS / 2;
    let queries = [
        format!("{{ {} }}", vec!["!(.a = 1)"; half].join(" && ")),
        format!("{}{{ }}", "{ } >> ".repeat(MAX_OPERATORS)),
        format!(
            "{}{{ {}true{} }}{}",
            "(".repeat(MAX_DEPTH / 2),
            // `!(` is two levels (the `!` and the parenthesis), `{` one.
            "!(".repeat(MAX_DEPTH / 4 - 1),
            ")".repeat(MAX_DEPTH / 4 - 1),
            ")".repeat(MAX_DEPTH / 2)
        ),
    ];
    let worker = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let trace = support::Trace::new(1, Vec::new());
            // With a span too, where every condition and operator is evaluated to the bottom.
            let span = support::Span::new(1, None, "app-a", "GET /", 0, 1);
            let one_span = support::Trace::new(2, vec![span]);
            for text in &queries {
                let query = traceql::parse(text).unwrap_or_else(|e| panic!("{e}"));
                assert!(query.evaluate(&trace).is_empty());
                let _ = query.evaluate(&one_span);
            }
        });
    worker.unwrap().join().unwrap();
}
