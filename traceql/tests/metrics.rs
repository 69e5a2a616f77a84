//! Metrics queries over a generated dataset, each answer checked against series the test
//! computes itself from the raw spans (plain loops over start times and durations), not through
//! the engine.

mod support;

use std::collections::BTreeMap;

use support::{Span, Trace};
use traceql::{LabelValue, MetricsAnswer, Range, parse_metrics};

const S: u64 = 1_000_000_000;
const SERVICES: [&str; 3] = ["app-a", "app-b", "app-c"];

/// 60 traces, one every 7 s from 1000 s; trace `n` has one root span per service, each starting
/// `n * 7 s + service index` after 1000 s and lasting `(n % 5 + 1) * 1000 ns` times the service
/// index plus one; every fourth trace's app-b span is an error.
fn dataset() -> Vec<Trace> {
    (0..60u8)
        .map(|n| {
            let spans = SERVICES
                .iter()
                .enumerate()
                .map(|(s, service)| {
                    let start = 1000 * S + u64::from(n) * 7 * S + s as u64 * S;
                    let len = (u64::from(n) % 5 + 1) * 1000 * (s as u64 + 1);
                    let mut span = Span::new(s as u8 + 1, None, service, "op", start, start + len)
                        .attr("n", traceql_int(i64::from(n)));
                    if s == 1 && n % 4 == 0 {
                        span.status = 2;
                    }
                    span
                })
                .collect();
            Trace::new(n, spans)
        })
        .collect()
}

fn traceql_int(i: i64) -> opentelemetry_proto::tonic::common::v1::any_value::Value {
    opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i)
}

/// Every span of the dataset as (service, start ns, duration ns, error).
fn spans(data: &[Trace]) -> Vec<(String, u64, u64, bool)> {
    data.iter()
        .flat_map(|t| &t.spans)
        .map(|s| {
            let service = match &s.resource[0].value.as_ref().unwrap().value {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(v)) => {
                    v.clone()
                }
                _ => unreachable!(),
            };
            (service, s.start, s.end - s.start, s.status == 2)
        })
        .collect()
}

fn run(query: &str, range: Range) -> MetricsAnswer {
    let query = parse_metrics(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut eval = query.evaluator(range, 10, 1000);
    for trace in dataset() {
        eval.observe(&trace);
    }
    eval.finish()
}

/// The answer as label text → (timestamp ms → value).
fn table(answer: &MetricsAnswer) -> BTreeMap<String, BTreeMap<i64, f64>> {
    answer
        .series
        .iter()
        .map(|s| {
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={}", label(v)))
                .collect::<Vec<_>>()
                .join(",");
            let samples = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value))
                .collect();
            (labels, samples)
        })
        .collect()
}

fn label(v: &LabelValue) -> String {
    match v {
        LabelValue::Nil => "nil".into(),
        LabelValue::Str(s) => s.clone(),
        LabelValue::Int(i) => i.to_string(),
        LabelValue::Float(x) => x.to_string(),
        LabelValue::Bool(b) => b.to_string(),
    }
}

/// The step end a span starting at `start` is stamped with: the first multiple of `step` at or
/// after it (steps are right-closed), in ms.
fn stamp(start: u64, step: u64) -> i64 {
    (start.div_ceil(step) * step / 1_000_000) as i64
}

/// `{ } | rate() by (resource.service.name)`: spans per second of step, per service, zeros for
/// steps without spans.
#[test]
fn rate_by_service() {
    let step = 30 * S;
    let range = Range::query_range(1000 * S, 1500 * S, Some(step)).unwrap();
    let answer = run("{ } | rate() by (resource.service.name)", range);

    let mut want: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for service in SERVICES {
        let series = want
            .entry(format!("resource.service.name={service}"))
            .or_default();
        // Every step of the aligned range: 960 s .. 1500 s (one more in front).
        for i in 0..range.intervals() {
            series.insert(range.timestamp_ms(i), 0.0);
        }
    }
    for (service, start, _, _) in spans(&dataset()) {
        if start > 1500 * S {
            continue;
        }
        *want
            .get_mut(&format!("resource.service.name={service}"))
            .unwrap()
            .get_mut(&stamp(start, step))
            .unwrap() += 1.0 / 30.0;
    }
    assert_eq!(answer.truncated_at, None);
    let got = table(&answer);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, series) in &want {
        for (ts, value) in series {
            assert!((got[key][ts] - value).abs() < 1e-12, "{key} at {ts}");
        }
        assert_eq!(got[key].len(), series.len(), "{key}");
    }
}

/// `count_over_time()` without `by` is one series named after the function.
#[test]
fn count_over_time_of_errors() {
    let step = 60 * S;
    let range = Range::query_range(1000 * S, 1420 * S, Some(step)).unwrap();
    let answer = run("{ status = error } | count_over_time()", range);
    let mut want: BTreeMap<i64, f64> = (0..range.intervals())
        .map(|i| (range.timestamp_ms(i), 0.0))
        .collect();
    for (_, start, _, error) in spans(&dataset()) {
        if error && start <= 1420 * S {
            *want.get_mut(&stamp(start, step)).unwrap() += 1.0;
        }
    }
    let got = table(&answer);
    assert_eq!(got.len(), 1);
    assert_eq!(got["__name__=count_over_time"], want);
}

/// min, max, sum and avg of durations, in seconds; steps without spans have no sample.
#[test]
fn duration_aggregates_in_seconds() {
    let step = 20 * S;
    let range = Range::query_range(1000 * S, 1300 * S, Some(step)).unwrap();
    let data = spans(&dataset());
    type Expected = fn(&[f64]) -> f64;
    let cases: [(&str, Expected); 4] = [
        ("min_over_time", |v| {
            v.iter().copied().fold(f64::INFINITY, f64::min)
        }),
        ("max_over_time", |v| {
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        }),
        ("sum_over_time", |v| v.iter().sum()),
        ("avg_over_time", |v| v.iter().sum::<f64>() / v.len() as f64),
    ];
    for (func, expected) in cases {
        let answer = run(
            &format!("{{ }} | {func}(duration) by (resource.service.name)"),
            range,
        );
        let got = table(&answer);
        for service in SERVICES {
            let mut per_step: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for (s, start, len, _) in &data {
                if s == service && *start <= 1300 * S {
                    per_step
                        .entry(stamp(*start, step))
                        .or_default()
                        .push(*len as f64 / 1e9);
                }
            }
            let want: BTreeMap<i64, f64> =
                per_step.iter().map(|(ts, v)| (*ts, expected(v))).collect();
            let key = format!("resource.service.name={service}");
            assert_eq!(
                got[&key].keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{func} {key}"
            );
            for (ts, value) in &want {
                assert!((got[&key][ts] - value).abs() < 1e-15, "{func} {key} {ts}");
            }
        }
    }
}

/// Quantiles over power-of-two buckets, one series per quantile with a `p` label; histogram
/// buckets are labelled with their upper bound in seconds.
#[test]
fn quantiles_and_histograms_over_one_instant() {
    let range = Range::instant(1000 * S, 1500 * S).unwrap();
    // app-a durations are (n % 5 + 1) µs: 1000, 2000, 3000, 4000, 5000 ns, buckets 1024, 2048,
    // 4096, 4096, 8192 ns.
    let starts: Vec<u64> = spans(&dataset())
        .into_iter()
        .filter(|(s, start, _, _)| s == "app-a" && *start <= 1500 * S)
        .map(|(_, _, len, _)| len)
        .collect();
    let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
    for len in &starts {
        *buckets.entry(len.next_power_of_two()).or_default() += 1;
    }
    let histogram = run(
        r#"{ resource.service.name = "app-a" } | histogram_over_time(duration)"#,
        range,
    );
    let got = table(&histogram);
    let want: BTreeMap<String, BTreeMap<i64, f64>> = buckets
        .iter()
        .map(|(b, n)| {
            (
                format!("__bucket={}", *b as f64 / 1e9),
                BTreeMap::from([(1_500_000, *n as f64)]),
            )
        })
        .collect();
    assert_eq!(got, want);

    // p50 by hand: total n, wanted = ceil(n/2) samples; walk the buckets.
    let total: u64 = buckets.values().sum();
    let by_hand = |p: f64| {
        let wanted = ((p * total as f64).ceil() as u64).max(1);
        let list: Vec<(u64, u64)> = buckets.iter().map(|(b, n)| (*b, *n)).collect();
        let mut seen = 0;
        for (i, (bound, n)) in list.iter().enumerate() {
            if seen + n >= wanted {
                if seen + n == wanted {
                    return *bound as f64 / 1e9;
                }
                let low = if i == 0 {
                    (*bound as f64).log2() - 1.0
                } else {
                    (list[i - 1].0 as f64).log2()
                };
                let high = (*bound as f64).log2();
                let frac = (wanted - seen) as f64 / *n as f64;
                return 2f64.powf(low + (high - low) * frac) / 1e9;
            }
            seen += n;
        }
        unreachable!()
    };
    let answer = run(
        r#"{ resource.service.name = "app-a" } | quantile_over_time(duration, .5, 0.99)"#,
        range,
    );
    let got = table(&answer);
    assert_eq!(got.len(), 2);
    assert!((got["p=0.5"][&1_500_000] - by_hand(0.5)).abs() < 1e-15);
    assert!((got["p=0.99"][&1_500_000] - by_hand(0.99)).abs() < 1e-15);
}

/// `topk`/`bottomk` keep the k highest (lowest) series per step; a comparison leaves gaps.
#[test]
fn second_stages() {
    let range = Range::instant(1000 * S, 1500 * S).unwrap();
    // Sum of durations: app-c's spans are 3x app-a's, app-b's 2x.
    let top = table(&run(
        "{ } | sum_over_time(duration) by (resource.service.name) | topk(1)",
        range,
    ));
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        ["resource.service.name=app-c"]
    );
    let bottom = table(&run(
        "{ } | sum_over_time(duration) by (resource.service.name) | bottomk(2)",
        range,
    ));
    assert_eq!(
        bottom.keys().collect::<Vec<_>>(),
        ["resource.service.name=app-a", "resource.service.name=app-b"]
    );
    // Per-step filter: 30 s steps hold 4 or 5 spans per service; keep counts > 4.
    let step = 30 * S;
    let range = Range::query_range(1000 * S, 1400 * S, Some(step)).unwrap();
    let filtered = table(&run(
        r#"{ resource.service.name = "app-a" } | count_over_time() > 4"#,
        range,
    ));
    let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
    for (s, start, _, _) in spans(&dataset()) {
        if s == "app-a" && start <= 1400 * S {
            *counts.entry(stamp(start, step)).or_default() += 1.0;
        }
    }
    counts.retain(|_, v| *v > 4.0);
    assert!(!counts.is_empty());
    assert_eq!(filtered["__name__=count_over_time"], counts);
}

/// compare(): selection and baseline counts per attribute value, and their totals.
#[test]
fn compare_splits_selection_and_baseline() {
    let range = Range::instant(1000 * S, 1500 * S).unwrap();
    let answer = run("{ } | compare({ status = error })", range);
    let got = table(&answer);
    let data: Vec<_> = spans(&dataset())
        .into_iter()
        .filter(|s| s.1 <= 1500 * S)
        .collect();
    let errors = data.iter().filter(|s| s.3).count() as f64;
    let rest = data.len() as f64 - errors;
    let at = 1_500_000;
    assert_eq!(got["__meta_type=selection,status=error"][&at], errors);
    assert_eq!(got["__meta_type=selection_total,status=nil"][&at], errors);
    assert_eq!(got["__meta_type=baseline,status=unset"][&at], rest);
    assert_eq!(
        got["__meta_type=baseline_total,resource.service.name=nil"][&at],
        rest
    );
    assert_eq!(
        got["__meta_type=selection,resource.service.name=app-b"][&at],
        errors
    );
    assert!(!got.contains_key("__meta_type=selection,resource.service.name=app-a"));
}

/// Exemplars carry the trace id of a span in the series, on a step that has a value.
#[test]
fn exemplars_point_at_real_traces() {
    let range = Range::query_range(1000 * S, 1500 * S, Some(60 * S)).unwrap();
    let answer = run(r#"{ resource.service.name = "app-b" } | rate()"#, range);
    let series = &answer.series[0];
    assert!(!series.exemplars.is_empty() && series.exemplars.len() <= 10);
    let ids: Vec<String> = dataset()
        .iter()
        .map(|t| t.id.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    for exemplar in &series.exemplars {
        let LabelValue::Str(id) = &exemplar.labels[0].1 else {
            panic!()
        };
        assert_eq!(exemplar.labels[0].0, "trace:id");
        assert!(ids.contains(id), "{id}");
        assert!(exemplar.value.is_nan());
    }
}

/// More series than the limit: the answer is cut and says so.
#[test]
fn series_limit_makes_a_partial_answer() {
    let query = parse_metrics("{ } | count_over_time() by (span.n)").unwrap();
    let mut eval = query.evaluator(Range::instant(1000 * S, 1500 * S).unwrap(), 0, 5);
    for trace in dataset() {
        eval.observe(&trace);
    }
    let answer = eval.finish();
    assert_eq!(answer.series.len(), 5);
    assert_eq!(answer.truncated_at, Some(5));
}

/// Bad metrics queries are errors that say what is wrong; plain parsing refuses metrics.
#[test]
fn invalid_metrics_queries() {
    for (query, needle) in [
        ("{ } | rate(", "unexpected end of query"),
        (
            "{ } | quantile_over_time(duration, 1.5)",
            "quantile must be between 0 and 1",
        ),
        ("{ } | quantile_over_time(duration)", "expecting ,"),
        ("{ } | topk(2)", "comes after a metrics function"),
        ("{ } | rate() | topk(0)", "limit must be greater than 0"),
        ("{ } | rate() by ()", "attribute or intrinsic"),
        ("{ } | compare({ status = error }, 0)", "between 1 and 1000"),
        ("{ } | count()", "not a metrics query"),
        (
            "{ } | rate() by (a, .b, .c, .d, .e, .f)",
            "unknown identifier",
        ),
        (
            "{ } | rate() by (.a, .b, .c, .d, .e, .f)",
            "group by 6 values",
        ),
        (
            "{ } | histogram_over_time(duration) by (.a, .b, .c, .d, .e)",
            "group by 5 values",
        ),
        ("{ status = \"x\" } | rate()", "same type"),
    ] {
        let error = parse_metrics(query).expect_err(query).to_string();
        assert!(error.contains(needle), "{query}: {error}");
    }
    let error = traceql::parse("{ } | rate()").unwrap_err().to_string();
    assert!(error.contains("metrics function"), "{error}");
    // Hints are accepted; exemplars=false asks for none.
    let query = parse_metrics("{ } | rate() with(sample=true, exemplars=false)").unwrap();
    assert_eq!(query.exemplars_hint(), Some(0));
    assert_eq!(
        parse_metrics("{ } | rate() with (exemplars=7)")
            .unwrap()
            .exemplars_hint(),
        Some(7)
    );
}

/// Labels: a missing `by` value keeps the label as nil; unscoped fields keep their spelling;
/// duration literals in a comparison are seconds.
#[test]
fn labels_and_duration_comparisons() {
    let range = Range::instant(1000 * S, 1500 * S).unwrap();
    let missing = table(&run("{ } | count_over_time() by (span.missing)", range));
    let total = spans(&dataset()).iter().filter(|s| s.1 <= 1500 * S).count() as f64;
    assert_eq!(missing["span.missing=nil"][&1_500_000], total);

    let unscoped = table(&run(
        "{ } | count_over_time() by (.service.name, span.missing)",
        range,
    ));
    assert_eq!(unscoped.len(), 3);
    assert!(unscoped.contains_key(".service.name=app-b"), "{unscoped:?}");

    // Longest duration per service: app-a 5 µs, app-b 10 µs, app-c 15 µs; keep those > 7 µs.
    let long = table(&run(
        "{ } | max_over_time(duration) by (resource.service.name) > 7us",
        range,
    ));
    assert_eq!(
        long,
        BTreeMap::from([
            (
                "resource.service.name=app-b".to_owned(),
                BTreeMap::from([(1_500_000, 10e-6)])
            ),
            (
                "resource.service.name=app-c".to_owned(),
                BTreeMap::from([(1_500_000, 15e-6)])
            ),
        ])
    );
}

/// Series × steps is bounded too: with 10,000 steps at most 4,194,304 / 10,000 = 419 series.
#[test]
fn many_steps_lower_the_series_limit() {
    let range = Range::query_range(S, 10_001 * S, Some(S)).unwrap();
    assert_eq!(range.intervals(), 10_000);
    let traces: Vec<Trace> = (0..500u16)
        .map(|i| {
            let start = 100 * S + u64::from(i) * S;
            let span = Span::new(1, None, "app-a", "op", start, start + 10)
                .attr("i", traceql_int(i64::from(i)));
            Trace::new((i % 250) as u8, vec![span])
        })
        .collect();
    let query = parse_metrics("{ } | count_over_time() by (span.i)").unwrap();
    let mut eval = query.evaluator(range, 0, 1000);
    for trace in &traces {
        eval.observe(trace);
    }
    let answer = eval.finish();
    assert_eq!(answer.truncated_at, Some(4_194_304 / 10_000));
    assert_eq!(answer.series.len(), 4_194_304 / 10_000);
}

/// Evaluating a range a window of steps at a time (`only_steps`) gives, in each window, the
/// samples the whole evaluation has there, for every function whose steps are independent;
/// `compare()` and `topk`/`bottomk` say they cannot be split.
#[test]
fn windows_of_steps_give_the_whole_answers_samples() {
    // 1000 s .. 1420 s by 30 s: 15 steps, split 0..4, 4..11, 11..15.
    let range = Range::query_range(1000 * S, 1420 * S, Some(30 * S)).unwrap();
    let windows = [0..4, 4..11, 11..range.intervals()];
    for text in [
        "{ } | rate() by (resource.service.name)",
        "{ status = error } | count_over_time()",
        "{ } | max_over_time(duration) by (resource.service.name)",
        "{ } | avg_over_time(duration)",
        "{ } | quantile_over_time(duration, .5, .9) by (resource.service.name)",
        "{ } | histogram_over_time(duration)",
        "{ } | count_over_time() by (resource.service.name) > 0",
    ] {
        let query = parse_metrics(text).unwrap();
        assert!(query.splits_by_step(), "{text}");
        let whole = table(&run(text, range));
        let mut stitched: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
        for steps in windows.clone() {
            let (first, last) = (
                range.timestamp_ms(steps.start),
                range.timestamp_ms(steps.end - 1),
            );
            let mut eval = query.evaluator(range, 0, 1000).only_steps(steps);
            for trace in dataset() {
                eval.observe(&trace);
            }
            for (labels, samples) in table(&eval.finish()) {
                if text.contains("rate") {
                    // Spans outside the window are not counted: only zeros there.
                    let outside = samples.iter().filter(|(t, _)| !(first..=last).contains(t));
                    assert!(outside.clone().all(|(_, v)| *v == 0.0), "{labels}");
                }
                let mine = samples
                    .into_iter()
                    .filter(|(t, _)| (first..=last).contains(t));
                stitched.entry(labels).or_default().extend(mine);
            }
        }
        stitched.retain(|_, samples| !samples.is_empty());
        // Series without spans in a window lack its zero samples; every other sample matches.
        for (labels, samples) in &stitched {
            for (t, v) in samples {
                assert_eq!(whole[labels].get(t), Some(v), "{text}: {labels} at {t}");
            }
        }
        let nonzero = |t: &BTreeMap<String, BTreeMap<i64, f64>>| -> usize {
            t.values()
                .flat_map(|s| s.values())
                .filter(|v| **v != 0.0)
                .count()
        };
        assert_eq!(nonzero(&stitched), nonzero(&whole), "{text}");
    }
    for text in [
        "{ } | rate() by (resource.service.name) | topk(1)",
        "{ } | count_over_time() by (resource.service.name) | bottomk(2)",
        "{ } | compare({ status = error })",
    ] {
        assert!(!parse_metrics(text).unwrap().splits_by_step(), "{text}");
    }
}
