//! Evaluation over the plain implementation of the view traits in `support/`: every intrinsic
//! and attribute scope reads the method it should, the provided root and duration behave as
//! documented, the structural operators follow Tempo's tree rules, and pipelines report their
//! values. The full feature table over the store's own spans is trace-store's
//! `tests/traceql.rs`.

mod support;

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use std::sync::Arc;

use support::{Span, Trace, kv, span_id, text};
use traceql::{TraceView, Value, parse, parse_field};

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const ERROR: i32 = 2;

/// One trace, ids `b0…0n` for span `n` (index `n - 1`):
///
/// ```text
/// 1 app-a GET / (server, 0..100)
/// ├── 2 app-a GET (client, 10..90)
/// │   └── 3 app-b GET / (server, 20..80, error "boom", code 500, an event, a link)
/// └── 4 app-a cache (12..15)
/// 5 app-c SELECT (50..60), parent 9 never arrived
/// └── 6 app-c fetch (52..55)
/// ```
fn chain() -> Trace {
    let mut client = Span::new(2, Some(1), "app-a", "GET", 10, 90);
    client.kind = CLIENT;
    let mut failed = Span::new(3, Some(2), "app-b", "GET /", 20, 80)
        .attr("http.status_code", V::IntValue(500))
        .attr("tags", V::ArrayValue(Default::default()));
    failed.kind = SERVER;
    failed.status = ERROR;
    failed.status_message = "boom".to_owned();
    failed.scope_name = "lib".to_owned();
    failed.scope_version = "1.0".to_owned();
    failed.scope_attributes = vec![kv("team", text("x"))];
    failed.events = vec![Event {
        name: "exception".to_owned(),
        time_unix_nano: 30,
        attributes: vec![kv("exception.type", text("ValueError"))],
        ..Default::default()
    }];
    failed.links = vec![Link {
        trace_id: vec![0xee; 16],
        span_id: span_id(7),
        attributes: vec![kv("kind", text("follows"))],
        ..Default::default()
    }];
    let mut root = Span::new(1, None, "app-a", "GET /", 0, 100);
    root.kind = SERVER;
    let orphan =
        Span::new(5, Some(9), "app-c", "SELECT", 50, 60).attr("service.name", text("span-level"));
    Trace::new(
        1,
        vec![
            root,
            client,
            failed,
            Span::new(4, Some(1), "app-a", "cache", 12, 15),
            orphan,
            Span::new(6, Some(5), "app-c", "fetch", 52, 55),
        ],
    )
}

/// The indexes of the spans `query` selects in `trace`, over all spansets, ascending.
fn selected(trace: &Trace, query: &str) -> Vec<usize> {
    let query = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut spans: Vec<usize> = query
        .evaluate(trace)
        .into_iter()
        .flat_map(|set| set.spans)
        .collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

/// Runs a table of (query, selected span indexes) and reports every miss at once.
fn check(trace: &Trace, cases: &[(&str, &[usize])]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(query, want)| {
            let got = selected(trace, query);
            (got != *want).then(|| format!("{query}\n   got {got:?}, want {want:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_field_reads_through_the_view() {
    let all: &[usize] = &[0, 1, 2, 3, 4, 5];
    check(
        &chain(),
        &[
            ("{ name = \"GET\" }", &[1]),
            ("{ kind = client }", &[1]),
            ("{ status = error }", &[2]),
            ("{ statusMessage = \"boom\" }", &[2]),
            ("{ duration = 60ns }", &[2]),
            ("{ span:id = \"b000000000000003\" }", &[2]),
            ("{ span:parentID = \"b000000000000001\" }", &[1, 3]),
            ("{ trace:id = \"01\" }", all),
            ("{ resource.service.name = \"app-b\" }", &[2]),
            ("{ span.http.status_code = 500 }", &[2]),
            ("{ span.service.name = \"app-c\" }", &[]),
            // Unscoped: the span's attribute first, then the resource's.
            ("{ .service.name = \"app-c\" }", &[5]),
            ("{ .service.name = \"span-level\" }", &[4]),
            ("{ span.tags != \"a\" }", &[2]),
            ("{ instrumentation:name = \"lib\" }", &[2]),
            ("{ instrumentation:version = \"1.0\" }", &[2]),
            ("{ instrumentation.team = \"x\" }", &[2]),
            ("{ event:name = \"exception\" }", &[2]),
            ("{ event.exception.type = \"ValueError\" }", &[2]),
            ("{ event:timeSinceStart = 10ns }", &[2]),
            ("{ link:spanID = \"b000000000000007\" }", &[2]),
            (
                "{ link:traceID = \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\" }",
                &[2],
            ),
            ("{ link.kind = \"follows\" }", &[2]),
            ("{ event.kind = \"follows\" }", &[]),
        ],
    );
}

/// The provided `root_span` and `duration_nanos`: the first span without a parent, and the
/// latest end minus the earliest start.
#[test]
fn trace_level_intrinsics_use_the_provided_root_and_duration() {
    let all: &[usize] = &[0, 1, 2, 3, 4, 5];
    check(
        &chain(),
        &[
            ("{ traceDuration = 100ns }", all),
            ("{ rootName = \"GET /\" }", all),
            ("{ rootServiceName = \"app-a\" }", all),
        ],
    );
    // No root: root fields are nil, and nil compares false, `!=` included.
    let rootless = Trace::new(2, vec![Span::new(5, Some(9), "app-c", "SELECT", 7, 9)]);
    check(
        &rootless,
        &[
            ("{ rootName != \"x\" }", &[]),
            ("{ rootServiceName = \"app-c\" }", &[]),
            ("{ traceDuration = 2ns }", &[0]),
        ],
    );
    // Of two roots, the first in span order (the earliest start).
    let two_roots = Trace::new(
        3,
        vec![
            Span::new(1, Some(9), "app-a", "late", 0, 1),
            Span::new(2, None, "app-b", "first root", 1, 2),
            Span::new(3, None, "app-c", "second root", 2, 3),
        ],
    );
    check(
        &two_roots,
        &[("{ rootServiceName = \"app-b\" }", &[0, 1, 2])],
    );
    assert!(selected(&Trace::new(4, Vec::new()), "{ }").is_empty());
}

/// A store's view with its own root and duration, unlike the provided ones.
struct OwnRoot(Trace);

impl TraceView for OwnRoot {
    type Span = Span;

    fn trace_id(&self) -> &[u8] {
        self.0.trace_id()
    }

    fn spans(&self) -> &[Span] {
        self.0.spans()
    }

    fn root_span(&self) -> Option<&Span> {
        self.0.spans.last()
    }

    fn duration_nanos(&self) -> u64 {
        7
    }
}

/// Behind a reference, a box or an `Arc`, a trace keeps its own root and duration.
#[test]
fn pointers_to_a_trace_keep_its_own_root_and_duration() {
    let query = parse("{ rootName = \"cache\" && traceDuration = 7ns }").unwrap();
    let trace = OwnRoot(Trace::new(
        6,
        vec![
            Span::new(1, None, "app-a", "GET /", 0, 100),
            Span::new(4, Some(1), "app-a", "cache", 12, 15),
        ],
    ));
    assert_eq!(query.evaluate(&trace).len(), 1);
    assert_eq!(query.evaluate(&&trace).len(), 1);
    let boxed = Box::new(trace);
    assert_eq!(query.evaluate(&boxed).len(), 1);
    let shared = Arc::new(*boxed);
    assert_eq!(query.evaluate(&shared).len(), 1);
}

/// Structural operators return right-hand spans; only spans connected to a root take part.
#[test]
fn structural_operators_follow_the_span_tree() {
    check(
        &chain(),
        &[
            ("{ span:id = \"b000000000000001\" } > { }", &[1, 3]),
            ("{ span:id = \"b000000000000001\" } >> { }", &[1, 2, 3]),
            ("{ status = error } < { }", &[1]),
            ("{ status = error } << { }", &[0, 1]),
            ("{ name = \"GET\" } ~ { }", &[3]),
            ("{ name = \"GET\" } ~ { name = \"GET\" }", &[]),
            ("{ } > { name = \"fetch\" }", &[]),
            ("{ name = \"SELECT\" } > { }", &[]),
            ("{ } ~ { name = \"SELECT\" }", &[]),
        ],
    );
    // A cycle of parent ids reaches no root: nothing in it relates to anything.
    let cycle = Trace::new(
        5,
        vec![
            Span::new(1, Some(2), "app-a", "a", 0, 1),
            Span::new(2, Some(1), "app-a", "b", 0, 1),
        ],
    );
    check(&cycle, &[("{ } > { }", &[]), ("{ } << { }", &[])]);
}

/// Union forms keep the spans of both sides that take part; negated forms keep exactly the
/// right-hand spans the plain operator leaves out (spans not connected to a root included, since
/// they relate to nothing), and with no left span that is every right span.
#[test]
fn union_and_negated_structural_operators() {
    let root = "{ span:id = \"b000000000000001\" }";
    check(
        &chain(),
        &[
            (&format!("{root} &> {{ }}"), &[0, 1, 3]),
            (&format!("{root} &>> {{ }}"), &[0, 1, 2, 3]),
            ("{ status = error } &< { }", &[1, 2]),
            ("{ status = error } &<< { }", &[0, 1, 2]),
            ("{ name = \"GET\" } &~ { }", &[1, 3]),
            ("{ name = \"fetch\" } &> { }", &[]),
            (&format!("{root} !> {{ }}"), &[0, 2, 4, 5]),
            (&format!("{root} !>> {{ }}"), &[0, 4, 5]),
            ("{ status = error } !< { }", &[0, 2, 3, 4, 5]),
            ("{ status = error } !<< { }", &[2, 3, 4, 5]),
            ("{ name = \"GET\" } !~ { }", &[0, 1, 2, 4, 5]),
            ("{ name = \"nope\" } !> { name = \"GET\" }", &[1]),
            ("{ } !>> { name = \"fetch\" }", &[5]),
            // Inside braces `!~` is still the regex operator.
            ("{ name !~ \"GET.*\" }", &[3, 4, 5]),
        ],
    );
}

/// Tempo's nested-set numbering: depth first from the root, children in the trace's order
/// (client 2–5 with the failed span 3–4 under it, then cache 6–7, the root 1–8); spans not
/// connected to a root are unnumbered (0), and only roots have parent -1.
#[test]
fn nested_set_intrinsics_number_the_tree_as_tempo_does() {
    check(
        &chain(),
        &[
            ("{ nestedSetParent < 0 }", &[0]),
            ("{ nestedSetLeft = 1 && nestedSetRight = 8 }", &[0]),
            (
                "{ nestedSetLeft = 2 && nestedSetRight = 5 && nestedSetParent = 1 }",
                &[1],
            ),
            (
                "{ nestedSetLeft = 3 && nestedSetRight = 4 && nestedSetParent = 2 }",
                &[2],
            ),
            (
                "{ nestedSetLeft = 6 && nestedSetRight = 7 && nestedSetParent = 1 }",
                &[3],
            ),
            (
                "{ nestedSetLeft = 0 && nestedSetRight = 0 && nestedSetParent = 0 }",
                &[4, 5],
            ),
        ],
    );
    let err = parse("{ nestedSetLeft = \"x\" }").unwrap_err().to_string();
    assert!(err.contains("nestedSetLeft"), "{err}");
}

#[test]
fn pipelines_report_groups_aggregates_and_fetched_values() {
    let trace = chain();
    let query = parse("{ kind = server } | by(resource.service.name)").unwrap();
    type Group<'a> = (Vec<usize>, Vec<(String, Value<'a>)>);
    let groups: Vec<Group<'_>> = query
        .evaluate(&trace)
        .into_iter()
        .map(|set| (set.spans, set.attributes))
        .collect();
    let key = "by(resource.service.name)".to_owned();
    assert_eq!(
        groups,
        [
            (vec![0], vec![(key.clone(), Value::Str("app-a"))]),
            (vec![2], vec![(key, Value::Str("app-b"))]),
        ]
    );

    let query = parse("{ resource.service.name = \"app-a\" } | avg(duration) > 1ns").unwrap();
    let sets = query.evaluate(&trace);
    assert_eq!(
        sets[0].attributes,
        [("avg(duration)".to_owned(), Value::Duration(61))]
    );

    let query =
        parse("{ status = error } | select(span.http.status_code, resource.service.name, name)")
            .unwrap();
    assert!(query.reads_name());
    let sets = query.evaluate(&trace);
    assert_eq!(
        query.span_values(&trace, &sets[0].spans),
        [vec![
            ("status", Value::Status(ERROR)),
            ("http.status_code", Value::Int(500)),
            ("service.name", Value::Str("app-b")),
        ]]
    );

    let mut found = Vec::new();
    let field = parse_field("event.exception.type").unwrap();
    field.values(&trace, 0..trace.spans.len(), |v| found.push(v));
    assert_eq!(found, [Value::Str("ValueError")]);
}
