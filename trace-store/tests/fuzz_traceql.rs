//! The TraceQL parser and evaluator under random input (proptest): token
//! soup from the language's own vocabulary plus stray bytes. Parsing never
//! panics and every error has a position; what parses evaluates over the
//! fixture dataset without panicking. Random arithmetic trees over numeric
//! fields and literals always parse (every operand is a number or an
//! attribute) and evaluate without panicking: overflow, division by zero,
//! NaN and strings met at run time included.

#[path = "fixtures/dataset.rs"]
mod dataset;

use proptest::prelude::*;
use traceql::ParseError;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "&&",
    "||",
    "!",
    ">",
    ">>",
    "~",
    "<",
    "<<",
    "|",
    "=",
    "!=",
    "=~",
    "!~",
    ">=",
    "<=",
    "span.http.route",
    "resource.service.name",
    ".x",
    "span.\"a b\"",
    "event.name",
    "name",
    "status",
    "kind",
    "duration",
    "traceDuration",
    "rootName",
    "span:id",
    "trace:id",
    "\"app-c\"",
    "\"a.*\"",
    "1",
    "-2",
    "1.5",
    "10ms",
    "2s",
    "error",
    "ok",
    "server",
    "client",
    "nil",
    "true",
    "count()",
    "avg(duration)",
    "max(span.x)",
    "by(name)",
    "select(.x)",
    ",",
    "`raw`",
    "\n",
    " ",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "0",
    "0.0",
    "9223372036854775807",
];

/// Operands of the arithmetic trees: numeric intrinsics, attributes that are ints, floats,
/// strings or missing in the dataset, and literals that overflow, divide by zero or are NaN-prone.
const OPERANDS: &[&str] = &[
    "duration",
    "traceDuration",
    "nestedSetLeft",
    "span.x",
    "span.ratio",
    "span.http.response.status_code",
    "span.missing",
    "event.n",
    "0",
    "1",
    "-2",
    "0.0",
    "1.5",
    "10ms",
    "9223372036854775807",
];

const ARITH_OPS: &[&str] = &["+", "-", "*", "/", "%", "^"];

/// A random arithmetic expression, at most 4 operators deep, fully parenthesised or not.
fn arith() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(OPERANDS).prop_map(str::to_owned);
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(ARITH_OPS),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
            (
                inner.clone(),
                prop::sample::select(ARITH_OPS),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            inner.prop_map(|e| format!("-({e})")),
        ]
    })
}

fn query() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        8 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.join(" "))
}

/// The committed corpus: one query per line, each valid.
fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/traceql.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Parse `q`; what parses is evaluated over the dataset, errors carry a position.
fn parse_and_run(q: &str) -> Result<(), TestCaseError> {
    match traceql::parse(q) {
        Ok(query) => {
            for trace in dataset::store().recent_traces(usize::MAX) {
                let _ = query.evaluate(&trace);
            }
        }
        Err(ParseError::Syntax { line, col, .. }) => prop_assert!(line >= 1 && col >= 1),
        Err(_) => {}
    }
    Ok(())
}

#[test]
fn every_corpus_query_parses() {
    for q in corpus() {
        traceql::parse(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_queries_parse_or_fail_with_a_position(
        pick in any::<usize>(),
        cuts in prop::collection::vec((any::<usize>(), any::<usize>(), prop::sample::select(TOKENS)), 1..4),
    ) {
        let corpus = corpus();
        let mut q: Vec<char> = corpus[pick % corpus.len()].chars().collect();
        for (at, len, token) in cuts {
            let at = at % (q.len() + 1);
            let end = (at + len % 4).min(q.len());
            q.splice(at..end, token.chars());
        }
        parse_and_run(&q.into_iter().collect::<String>())?;
    }

    #[test]
    fn random_queries_parse_or_fail_with_a_position(q in query()) {
        parse_and_run(&q)?;
    }

    #[test]
    fn arithmetic_trees_parse_and_evaluate(
        lhs in arith(),
        cmp in prop::sample::select(&["=", "!=", "<", "<=", ">", ">="][..]),
        rhs in arith(),
    ) {
        let q = format!("{{ {lhs} {cmp} {rhs} }} >> {{ }}");
        let query = traceql::parse(&q);
        prop_assert!(query.is_ok(), "{}: {:?}", q, query.err());
        parse_and_run(&q)?;
    }

    #[test]
    fn arbitrary_strings_never_panic_the_parser(q in ".{0,200}") {
        let _ = traceql::parse(&q);
    }
}
