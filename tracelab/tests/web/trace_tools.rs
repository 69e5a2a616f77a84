//! The trace view's tools in a browser: span kinds, the critical path, collapsed subtrees and
//! zoom, on [`dataset::tree_trace`], whose answers are worked out in its doc.

use std::time::Duration;

use crate::dataset::{self, span_id, trace_id};
use crate::support::StoreProcess;
use crate::{dump_dom, page_state, rows_as, tags_with, unescape};

/// The trace view of trace 5 with `params`, which must have drawn.
fn view(store: &StoreProcess, params: &str) -> String {
    let url = format!("http://{}/#/trace/{}{params}", store.query, trace_id(5));
    let dom = dump_dom(&url);
    assert_eq!(page_state(&dom), ("trace".into(), "ready".into()), "{dom}");
    dom
}

/// Row span numbers (1..=7 of trace 5) in the page's order.
fn numbers(dom: &str) -> Vec<u8> {
    let number = |id: &str| (1..=7).find(|n| span_id(5, *n) == id).expect(id);
    rows_as(dom, ["data-span-id"])
        .iter()
        .map(|id| number(id))
        .collect()
}

/// The span numbers whose rows are hidden.
fn hidden(dom: &str) -> Vec<u8> {
    let rows = tags_with(dom, "data-service");
    let hidden = rows
        .iter()
        .zip(numbers(dom))
        .filter(|(r, _)| r.contains_key("hidden"));
    hidden.map(|(_, n)| n).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_view_marks_kinds_and_critical_path_collapses_and_zooms() {
    let store = StoreProcess::start();
    let start = dataset::unix_nanos_ago(Duration::from_secs(60));
    dataset::post(&store, 5, start, &dataset::tree_trace()).await;

    // Tree order, each row's kind, and the critical path: all but span 3, which ran beside 2.
    let dom = view(&store, "");
    assert_eq!(numbers(&dom), [1, 2, 3, 4, 5, 7, 6]);
    let kinds = rows_as(&dom, ["data-kind", "data-critical"]);
    let want = [
        "server true",
        "client true",
        "internal false",
        "server true",
        "client true",
        "internal true",
        "client true",
    ];
    assert_eq!(kinds, want);
    let critical = rows_as(&dom, ["class"]);
    assert!(critical[1].contains("critical") && !critical[2].contains("critical"));
    assert!(hidden(&dom).is_empty());

    // Collapsing span 4 hides its subtree (5, 7, 6); collapsing only 5 hides only 7.
    let dom = view(&store, &format!("?collapse={}", span_id(5, 4)));
    assert_eq!(hidden(&dom), [5, 7, 6]);
    let rows = tags_with(&dom, "data-collapsed");
    let collapsed: Vec<_> = rows
        .iter()
        .filter(|r| r["data-collapsed"] == "true")
        .collect();
    assert_eq!(collapsed.len(), 1);
    assert_eq!(collapsed[0]["data-span-id"], span_id(5, 4));
    let dom = view(&store, &format!("?collapse={}", span_id(5, 5)));
    assert_eq!(hidden(&dom), [7]);

    // Unzoomed, the 5 µs span is a sliver of the 2 s trace; zoomed to it, it fills the track,
    // the root is cut to the window, the spans outside it are marked, and the axis reads in µs.
    let bars = |dom: &str| -> Vec<String> {
        let bars = tags_with(dom, "data-width");
        let line = |b: &std::collections::HashMap<String, String>| {
            format!("{} {}", b["data-left"], b["data-width"])
        };
        bars.iter().map(line).collect()
    };
    let whole = bars(&dom);
    assert_eq!(whole[0], "0.00 100.00");
    assert_eq!(whole[5], "55.00 0.00", "span 7 at 1.1 s of 2 s, 5 µs wide");
    let zoom = "?zoom=1100000000-1100005000";
    let dom = view(&store, zoom);
    let in_view = rows_as(&dom, ["data-in-view"]);
    let want = ["true", "false", "false", "true", "true", "true", "false"];
    assert_eq!(in_view, want);
    let zoomed = bars(&dom);
    assert_eq!(zoomed[5], "0.00 100.00", "{dom}");
    assert_eq!(zoomed[0], "0.00 100.00");
    let last_tick = dom.rfind("class=\"tick\"").unwrap();
    let text = &dom[last_tick..];
    let text = &text[text.find('>').unwrap() + 1..text.find('<').unwrap()];
    assert_eq!(unescape(text), "+5 µs");
    assert!(dom.contains("data-zoomed=\"true\""));
}
