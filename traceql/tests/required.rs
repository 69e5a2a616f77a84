//! `Query::required_values`: which equalities every match must hold, and which queries
//! promise nothing (an `||`, a negation, a non-equality, the left side of a negated
//! structural operator).

use traceql::{RequiredValue, Value, ValueSite, parse};

/// A required value as (site, key, the value's `Debug`), easy to compare.
type Found = (ValueSite, String, String);

fn required(text: &str) -> Vec<Found> {
    let query = parse(text).unwrap();
    query
        .required_values()
        .into_iter()
        .map(|RequiredValue { site, key, value }| (site, key.to_owned(), format!("{value:?}")))
        .collect()
}

#[test]
fn equalities_joined_by_and_are_required() {
    use ValueSite::*;
    let f = |site, key: &str, value: Value<'_>| (site, key.to_owned(), format!("{value:?}"));
    let cases: Vec<(&str, Vec<Found>)> = vec![
        (
            "{ span.code = 599 }",
            vec![f(Span, "code", Value::Int(599))],
        ),
        (
            "{ 599 = span.code }",
            vec![f(Span, "code", Value::Int(599))],
        ),
        (
            "{ resource.service.name = \"app-c\" && .x = 1.5 }",
            vec![
                f(Resource, "service.name", Value::Str("app-c")),
                f(SpanOrResource, "x", Value::Float(1.5)),
            ],
        ),
        ("{ name = \"GET\" }", vec![f(Name, "", Value::Str("GET"))]),
        (
            "{ span.a = true } >> { span:name = \"b\" }",
            vec![
                f(Span, "a", Value::Bool(true)),
                f(Name, "", Value::Str("b")),
            ],
        ),
        (
            "{ span.a = 1 } !> { span.b = 2 }",
            vec![f(Span, "b", Value::Int(2))],
        ),
        (
            "({ span.a = 1 } | count() > 1) && { }",
            vec![f(Span, "a", Value::Int(1))],
        ),
    ];
    for (query, want) in cases {
        let want: Vec<_> = want
            .into_iter()
            .map(|(s, k, v)| (s, k.to_owned(), v))
            .collect();
        assert_eq!(required(query), want, "{query}");
    }
}

#[test]
fn queries_that_promise_no_value_require_nothing() {
    for query in [
        "{ }",
        "{ span.a = 1 || span.b = 2 }",
        "{ !(span.a = 1) }",
        "{ span.a != 1 }",
        "{ span.a > 1 }",
        "{ span.a =~ \"x.*\" }",
        "{ span.a = 1 } || { span.b = 2 }",
        "{ status = error }",
        "{ event.name = \"exception\" }",
        "{ span.a + 1 = 2 }",
    ] {
        assert_eq!(required(query), vec![], "{query}");
    }
}
