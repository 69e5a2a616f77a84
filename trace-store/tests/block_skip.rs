//! Searches skip blocks that cannot hold a value the query requires (`Scan::for_query`), and
//! never lose a match by it: over a store of three blocks with values planted in one trace each,
//! every query gives exactly what evaluating every trace gives, and the rare-value queries look
//! at one block at most. Random queries built from the same fields and values (proptest) check
//! the "never loses a match" part more widely.

use std::collections::BTreeSet;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;
use trace_store::store::{Scan, Trace};
use trace_store::{Store, TimeWindow};

/// Traces stored: three blocks of the store's 1,024.
const TRACES: u32 = 3000;

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn trace_id(n: u32) -> Vec<u8> {
    let mut id = vec![0xab; 12];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// Trace `n`: app-a's `GET /` and its child `GET`, with values planted in single traces.
fn trace(n: u32) -> ResourceSpans {
    let start = 1_000_000_000 * u64::from(n);
    let mut attributes = vec![
        kv(
            "http.response.status_code",
            V::IntValue(if n == 1500 { 599 } else { 200 }),
        ),
        kv("ratio", V::DoubleValue(if n == 100 { 2.0 } else { 0.5 })),
    ];
    if n == 50 {
        let items = ["x", "needle"].map(|s| AnyValue {
            value: Some(V::StringValue(s.to_owned())),
        });
        attributes.push(kv(
            "tags",
            V::ArrayValue(ArrayValue {
                values: items.to_vec(),
            }),
        ));
    }
    if n == 700 {
        attributes.push(kv("cached", V::BoolValue(true)));
    }
    let mut resource = vec![kv("service.name", V::StringValue("app-a".to_owned()))];
    if n == 2500 {
        resource.push(kv(
            "deployment.environment",
            V::StringValue("blue".to_owned()),
        ));
    }
    let span = |id: u8, parent: Option<u8>, name: &str, attributes| Span {
        trace_id: trace_id(n),
        span_id: vec![0xb0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent
            .map(|p| vec![0xb0, 0, 0, 0, 0, 0, 0, p])
            .unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        attributes,
        ..Default::default()
    };
    let child = if n == 2900 { "rare-op" } else { "GET" };
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![
                span(1, None, "GET /", Vec::new()),
                span(2, Some(1), child, attributes),
            ],
            ..Default::default()
        }],
        schema_url: String::new(),
    }
}

fn store() -> &'static Store {
    static STORE: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::new(1_000_000);
        for first in (0..TRACES).step_by(500) {
            let resource_spans = (first..first + 500).map(trace).collect();
            store
                .insert(ExportTraceServiceRequest { resource_spans })
                .unwrap();
        }
        store
    })
}

/// The index `n` of each trace a search returned.
fn numbers(ids: impl IntoIterator<Item = Vec<u8>>) -> BTreeSet<u32> {
    ids.into_iter()
        .map(|id| u32::from_be_bytes(id[12..].try_into().unwrap()))
        .collect()
}

/// (matches with block skipping, traces inspected, matches evaluating every trace).
fn both_ways(text: &str) -> (BTreeSet<u32>, usize, BTreeSet<u32>) {
    let query = traceql::parse(text).unwrap();
    let select = |t: &Arc<Trace>| (!query.evaluate(&**t).is_empty()).then(|| t.id.0.to_vec());
    let skipping = store().search(Scan::for_query(TimeWindow::ALL, &query), usize::MAX, select);
    let every = store().search(TimeWindow::ALL, usize::MAX, select);
    assert_eq!(every.inspected, TRACES as usize);
    (
        numbers(skipping.results),
        skipping.inspected,
        numbers(every.results),
    )
}

#[test]
fn rare_values_are_found_looking_at_one_block_at_most() {
    let cases: &[(&str, &[u32])] = &[
        ("{ span.http.response.status_code = 599 }", &[1500]),
        ("{ span.http.response.status_code = 599.0 }", &[1500]),
        ("{ .ratio = 2 }", &[100]),
        ("{ span.tags = \"needle\" }", &[50]),
        ("{ span.cached = true }", &[700]),
        ("{ name = \"rare-op\" }", &[2900]),
        ("{ resource.deployment.environment = \"blue\" }", &[2500]),
        ("{ .deployment.environment = \"blue\" }", &[2500]),
        (
            "{ name = \"GET /\" } > { span.http.response.status_code = 599 }",
            &[1500],
        ),
        ("{ span.ratio = 2.0 } && { name = \"GET /\" }", &[100]),
        (
            "{ span.http.response.status_code = 599 && kind = unspecified }",
            &[1500],
        ),
        ("{ span.http.response.status_code = 404 }", &[]),
        ("{ name = \"nope\" }", &[]),
    ];
    for (query, want) in cases {
        let (found, inspected, every) = both_ways(query);
        assert_eq!(found, every, "{query}: skipping changed the answer");
        assert_eq!(found, want.iter().copied().collect(), "{query}");
        assert!(inspected <= 1024, "{query}: inspected {inspected} traces");
    }
}

#[test]
fn queries_that_require_no_single_value_look_at_everything() {
    for query in [
        "{ span.http.response.status_code = 599 || name = \"rare-op\" }",
        "{ span.http.response.status_code != 200 }",
        "{ !(span.http.response.status_code = 200) }",
        "{ span.http.response.status_code = 599 } !> { name = \"GET\" }",
        "{ span.http.response.status_code > 598 }",
        "{ }",
    ] {
        let (found, inspected, every) = both_ways(query);
        assert_eq!(found, every, "{query}: skipping changed the answer");
        assert_eq!(inspected, TRACES as usize, "{query}");
    }
}

const FIELDS: &[&str] = &[
    "span.http.response.status_code",
    ".ratio",
    "span.ratio",
    "span.tags",
    ".cached",
    "name",
    "resource.deployment.environment",
    ".deployment.environment",
    "resource.service.name",
];
const VALUES: &[&str] = &[
    "599",
    "200",
    "2",
    "2.0",
    "0.5",
    "\"needle\"",
    "\"x\"",
    "true",
    "false",
    "\"rare-op\"",
    "\"GET\"",
    "\"blue\"",
    "\"app-a\"",
    "404",
];
const COMPARISONS: &[&str] = &["=", "=", "!=", ">"];
const JOINS: &[&str] = &["&&", "||"];
const SPANSET_OPS: &[&str] = &["&&", "||", ">", ">>", "<", "~", "&>", "!>", "!<<"];

fn condition() -> impl Strategy<Value = String> {
    let atom = (
        prop::sample::select(FIELDS),
        prop::sample::select(COMPARISONS),
        prop::sample::select(VALUES),
    )
        .prop_map(|(f, c, v)| format!("{f} {c} {v}"));
    atom.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(JOINS), inner.clone())
                .prop_map(|(a, j, b)| format!("({a} {j} {b})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

fn filter() -> impl Strategy<Value = String> {
    condition().prop_map(|c| format!("{{ {c} }}"))
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        filter(),
        (filter(), prop::sample::select(SPANSET_OPS), filter())
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        filter().prop_map(|f| format!("{f} | count() > 0")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn skipping_blocks_never_changes_an_answer(text in query()) {
        // Type errors (`name = 599`) are the parser's business, tested elsewhere.
        if traceql::parse(&text).is_ok() {
            let (found, _, every) = both_ways(&text);
            prop_assert_eq!(found, every, "{}", text);
        }
    }
}
