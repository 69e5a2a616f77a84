//! The TraceQL metrics parser and engine under random input (proptest): token soup from the
//! metrics vocabulary plus stray characters. Parsing never panics and syntax errors have a
//! position; what parses evaluates over the fixture dataset, range and instant, without
//! panicking, and its answer has at most the series limit.

#[path = "fixtures/dataset.rs"]
mod dataset;

use proptest::prelude::*;
use traceql::{ParseError, Range};

const TOKENS: &[&str] = &[
    "{ }",
    "{ status = error }",
    "{ resource.service.name = \"app-a\" }",
    "{",
    "}",
    "(",
    ")",
    "|",
    ",",
    ">",
    ">=",
    "<",
    "!=",
    "=",
    "rate()",
    "rate",
    "count_over_time()",
    "min_over_time",
    "max_over_time(duration)",
    "avg_over_time(span.http.response.status_code)",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time(duration)",
    "compare",
    "topk",
    "bottomk",
    "by",
    "by (resource.service.name)",
    "with",
    "with(sample=true)",
    "exemplars=false",
    "duration",
    "name",
    ".x",
    "span.http.response.status_code",
    "resource.service.name",
    ".5",
    "0.99",
    "1",
    "0",
    "-3",
    "1000",
    "2s",
    "\"x\"",
];

fn query() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        10 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.join(" "))
}

const S: u64 = 1_000_000_000;

fn parse_and_run(q: &str) -> Result<(), TestCaseError> {
    match traceql::parse_metrics(q) {
        Ok(query) => {
            let store = dataset::store();
            for range in [
                Range::query_range(900 * S, 6000 * S, Some(700 * S)).unwrap(),
                Range::instant(0, 10_000 * S).unwrap(),
            ] {
                let mut evaluator = query.evaluator(range, 5, 3);
                for trace in store.recent_traces(usize::MAX) {
                    evaluator.observe(&*trace);
                }
                prop_assert!(evaluator.finish().series.len() <= 3);
            }
        }
        Err(ParseError::Syntax { line, col, .. }) => prop_assert!(line >= 1 && col >= 1),
        Err(_) => {}
    }
    Ok(())
}

#[test]
fn the_drilldown_shapes_parse() {
    for q in [
        "{ } | rate() by (resource.service.name)",
        "{ status = error } | rate() by (resource.service.name) | topk(10)",
        "{ } | quantile_over_time(duration, 0.9) by (resource.service.name)",
        "{ } | histogram_over_time(duration) with(sample=true)",
        "{ } | compare({ status = error }, 10, 1000000000000, 2000000000000)",
        "{ } | rate() > 0.5 | bottomk(2) with(exemplars=5)",
    ] {
        traceql::parse_metrics(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_metrics_queries_parse_or_fail_with_a_position(q in query()) {
        parse_and_run(&format!("{{ }} | {q}"))?;
        parse_and_run(&q)?;
    }

    #[test]
    fn arbitrary_strings_never_panic_the_metrics_parser(q in ".{0,200}") {
        let _ = traceql::parse_metrics(&q);
    }
}
