//! The comparison on its own: ordered children, several roots, wide sibling sets (the greedy
//! path) and hostile parent links, without a server.

mod support;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use support::{S, chain, request, trace_id};
use trace_expect::{Shape, Trace, compare};
use trace_store::Store;

fn stored(spans: &[S]) -> Trace {
    let store = Store::new(10_000);
    store.insert(request(trace_id(1), spans)).unwrap();
    (*store.trace(&trace_id(1)).unwrap()).clone()
}

fn child(id: u8, parent: u8, name: &'static str, start_ms: u64) -> S {
    S {
        id,
        parent: Some(parent),
        service: "svc",
        name,
        kind: SpanKind::Internal,
        status: 0,
        attrs: Vec::new(),
        start_ms,
        end_ms: start_ms + 1,
        events: Vec::new(),
    }
}

fn root_with(children: Vec<S>) -> Vec<S> {
    let mut spans = vec![S {
        parent: None,
        end_ms: 1_000,
        ..child(1, 0, "root", 0)
    }];
    spans.extend(children);
    spans
}

#[test]
fn ordered_children_must_have_started_in_the_order_listed() {
    // `a` starts first; the shape lists `b` first.
    let trace = stored(&root_with(vec![child(2, 1, "b", 20), child(3, 1, "a", 10)]));
    let yaml = |ordered: bool| {
        format!(
            "root:\n  name: root\n  ordered: {ordered}\n  children:\n    - name: b\n    - name: a\n"
        )
    };
    assert!(compare(&Shape::from_yaml(&yaml(false)).unwrap(), &trace).matches());
    let in_order = compare(&Shape::from_yaml(&yaml(true)).unwrap(), &trace);
    assert!(!in_order.matches());
    let problems = in_order.problems().join("\n");
    assert!(problems.contains("svc INTERNAL"), "{problems}");
}

#[test]
fn a_trace_with_several_roots_is_matched_by_roots() {
    let mut spans = chain();
    spans.push(S {
        parent: None,
        ..child(9, 0, "cron", 500)
    });
    let trace = stored(&spans);
    let shape = Shape::from_yaml(
        "roots:\n  - name: cron\n  - service: app-a\n    kind: server\n    children:\n      - kind: client\n        children:\n          - kind: server\n            children:\n              - kind: client\n                children:\n                  - service: app-c\n",
    )
    .unwrap();
    let comparison = compare(&shape, &trace);
    assert!(comparison.matches(), "{:?}", comparison.problems());
    let one_root = Shape::from_yaml("root:\n  name: cron\n").unwrap();
    let problems = compare(&one_root, &trace).problems();
    assert_eq!(
        problems.len(),
        5,
        "the chain's five spans are extra: {problems:?}"
    );
}

/// Thirty siblings are past the exact assignment; the greedy one still pairs each with its own
/// node and names the one that differs.
#[test]
fn wide_sibling_sets_are_paired_and_the_odd_one_named() {
    let names: Vec<&'static str> = (0..30)
        .map(|n| &*Box::leak(format!("op-{n}").into_boxed_str()))
        .collect();
    let children: Vec<S> = (0..30)
        .map(|n| child(n as u8 + 2, 1, names[n], 10 + n as u64))
        .collect();
    let trace = stored(&root_with(children));
    let mut yaml = "root:\n  name: root\n  children:\n".to_owned();
    for (n, name) in names.iter().enumerate() {
        let name = if n == 7 { "op-seven" } else { name };
        yaml.push_str(&format!("    - name: {name}\n"));
    }
    let comparison = compare(&Shape::from_yaml(&yaml).unwrap(), &trace);
    let problems = comparison.problems();
    assert_eq!(
        problems,
        [r#"svc INTERNAL op-7: name "op-7", expected "op-seven""#]
    );
}

/// Two spans that name each other as parent: each still appears once, and nothing loops.
#[test]
fn parent_links_that_form_a_cycle_do_not_hang_the_comparison() {
    let spans = vec![child(1, 2, "x", 0), child(2, 1, "y", 1)];
    let trace = stored(&spans);
    let comparison = compare(&Shape::from_yaml("root:\n  name: x\n").unwrap(), &trace);
    assert_eq!(comparison.rows.len(), 2);
    let recorded = trace_expect::record(&trace);
    assert_eq!(recorded.node_count(), 2);
}

/// Colour only when asked: the same report with and without escape codes.
#[test]
fn the_report_is_coloured_only_when_asked() {
    let mut spans = chain();
    spans[4].status = 2;
    let trace = stored(&spans);
    let shape = Shape::from_yaml("root:\n  status: error\n").unwrap();
    let comparison = compare(&shape, &trace);
    let plain = trace_expect::report::render(&comparison, false);
    let coloured = trace_expect::report::render(&comparison, true);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(coloured.contains("\x1b[1;31m> "), "{coloured:?}");
    assert_eq!(
        plain.lines().filter(|l| l.starts_with("> ")).count(),
        1,
        "{plain}"
    );
}

/// A leaf node against a span with forty children: each child is an extra span (the exact
/// assignment is not tried on a set that wide).
#[test]
fn a_leaf_node_against_a_wide_span_reports_each_extra_child() {
    let children: Vec<S> = (0..40)
        .map(|n| child(n + 2, 1, "op", 10 + u64::from(n)))
        .collect();
    let trace = stored(&root_with(children));
    let comparison = compare(&Shape::from_yaml("root:\n  name: root\n").unwrap(), &trace);
    assert_eq!(comparison.problems().len(), 40);
}

/// Past the pair limit, children pair by position and the odd one is still named.
#[test]
fn very_wide_sibling_sets_pair_by_position() {
    let names: Vec<String> = (0..1_100).map(|n| format!("op-{n}")).collect();
    let store = Store::new(10_000);
    let mut spans = root_with(Vec::new());
    for (n, name) in names.iter().enumerate() {
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        let mut span = child(0, 1, name, 10 + n as u64);
        span.id = 0;
        spans.push(span);
    }
    // Span ids are one byte in the builder; give these unique ones through the request.
    let mut request = support::request(trace_id(1), &spans);
    for (n, span) in request.resource_spans[0].scope_spans[0]
        .spans
        .iter_mut()
        .enumerate()
        .skip(1)
    {
        span.span_id = (n as u64 + 1000).to_be_bytes().to_vec();
    }
    store.insert(request).unwrap();
    let trace = (*store.trace(&trace_id(1)).unwrap()).clone();
    assert_eq!(trace.spans.len(), 1_101);

    let mut yaml = "root:\n  name: root\n  children:\n".to_owned();
    for (n, name) in names.iter().enumerate() {
        let name = if n == 500 { "op-odd" } else { name };
        yaml.push_str(&format!("    - name: {name}\n"));
    }
    let comparison = compare(&Shape::from_yaml(&yaml).unwrap(), &trace);
    assert_eq!(
        comparison.problems(),
        [r#"svc INTERNAL op-500: name "op-500", expected "op-odd""#]
    );
}

/// A span with a node's service, name and kind is that node, however many other things differ:
/// app-c down leaves four spans, each with an error status and its own attributes, and the
/// comparison says what differs on each and that app-c's span is missing, not that all five
/// are missing and four are extra.
#[test]
fn same_spans_with_many_differences_are_paired_not_missing_and_extra() {
    let mut spans = chain();
    spans.pop();
    for span in &mut spans {
        span.status = 2;
        span.attrs = vec![
            support::int_attr("http.response.status_code", 502),
            support::str_attr("error.type", "502"),
        ];
    }
    let shape = "root:
  service: app-a
  name: GET /
  kind: server
  status: unset
  attributes:
    http.response.status_code: 200
    error.type: { absent: true }
  children:
    - service: app-a
      kind: client
      status: unset
      attributes: { http.response.status_code: 200, error.type: { absent: true } }
      children:
        - service: app-b
          name: GET /
          kind: server
          status: unset
          attributes: { http.response.status_code: 200, error.type: { absent: true } }
          children:
            - service: app-b
              kind: client
              status: unset
              attributes: { http.response.status_code: 200, error.type: { absent: true } }
              children:
                - service: app-c
                  name: GET /
                  kind: server
";
    let comparison = compare(&Shape::from_yaml(shape).unwrap(), &stored(&spans));
    assert_eq!(comparison.missing(), ["app-c SERVER GET /"]);
    let problems = comparison.problems().join("\n");
    assert!(!problems.contains("extra span"), "{problems}");
    assert!(
        problems.contains("app-a SERVER GET /: status error, expected unset"),
        "{problems}"
    );
    assert!(
        problems.contains("attribute http.response.status_code is int 502, expected int 200"),
        "{problems}"
    );
}
