//! The search page in a browser: span and error counts per result, sorting, the time range,
//! the tag pickers, the duration histogram and the larger-text setting.

use std::collections::HashMap;

use crate::dataset::{self, trace_id};
use crate::support::StoreProcess;
use crate::{dump_dom, page_state, tags_with};

fn url(store: &StoreProcess, params: &str) -> String {
    format!("http://{}/#/search?q=%7B%7D&limit=20{params}", store.query)
}

/// The page for `params`, which must have loaded its results.
fn ready(store: &StoreProcess, params: &str) -> String {
    let dom = dump_dom(&url(store, params));
    assert_eq!(page_state(&dom), ("search".into(), "ready".into()), "{dom}");
    dom
}

/// The result rows as trace numbers (the datasets's 1..=5), in the page's order.
fn order(dom: &str) -> Vec<u8> {
    let number = |id: &str| (1..=5).find(|n| trace_id(*n) == id).expect(id);
    let rows = tags_with(dom, "data-trace-id");
    let rows = rows.iter().filter(|r| r.contains_key("data-spans"));
    rows.map(|r| number(&r["data-trace-id"])).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_shows_counts_sorts_filters_and_a_histogram() {
    let store = StoreProcess::start();
    let old_ns = dataset::load(&store).await;

    // Counts per result from serviceStats: "spans errors" by trace.
    let dom = ready(&store, "");
    let rows = tags_with(&dom, "data-spans");
    let counts: HashMap<String, String> = rows
        .iter()
        .map(|r| {
            (
                r["data-trace-id"].clone(),
                format!("{} {}", r["data-spans"], r["data-errors"]),
            )
        })
        .collect();
    let want = [(1, "3 0"), (2, "5 2"), (3, "1 0"), (4, "2 1"), (5, "7 0")];
    let want: HashMap<String, String> = want.map(|(t, c)| (trace_id(t), c.into())).into();
    assert_eq!(counts, want);

    // The histogram holds every result once; 3 s (trace 3) is alone in its power-of-two bucket.
    let bars = tags_with(&dom, "data-count");
    let count = |b: &HashMap<String, String>| b["data-count"].parse::<u32>().unwrap();
    assert_eq!(bars.iter().map(count).sum::<u32>(), 5, "{dom}");
    let holds = |b: &&HashMap<String, String>, ns: u64| {
        b["data-from-ns"].parse::<u64>().unwrap() <= ns
            && ns < b["data-to-ns"].parse::<u64>().unwrap()
    };
    let three_s = bars
        .iter()
        .find(|b| holds(b, 3_000_000_000))
        .expect("a bucket for 3 s");
    assert_eq!(count(three_s), 1);

    // Sorting, through the URL the column headers link to.
    assert_eq!(
        order(&ready(&store, "&sort=duration&dir=asc")),
        [4, 2, 1, 5, 3]
    );
    assert_eq!(
        order(&ready(&store, "&sort=duration&dir=desc")),
        [3, 5, 1, 2, 4]
    );
    let dom = ready(&store, "&sort=spans");
    assert_eq!(
        order(&dom),
        [5, 2, 1, 4, 3],
        "spans sort descending by default"
    );
    let header = tags_with(&dom, "data-sort");
    let spans_header = header.iter().find(|h| h["data-sort"] == "spans").unwrap();
    assert_eq!(spans_header["aria-sort"], "descending");
    assert_eq!(order(&ready(&store, "&sort=errors"))[..2], [2, 4]);

    // Time range: the last hour leaves out the two-day-old trace; a custom range finds only it.
    let mut recent = order(&ready(&store, "&since=1h"));
    recent.sort_unstable();
    assert_eq!(recent, [1, 2, 3, 5]);
    let old_s = old_ns / 1_000_000_000;
    let custom = format!("&start={}&end={}", old_s - 60, old_s + 60);
    let dom = ready(&store, &custom);
    assert_eq!(order(&dom), [4]);
    let range = &tags_with(&dom, "data-custom-range")[0];
    assert!(
        !range.contains_key("hidden"),
        "the custom inputs show: {range:?}"
    );

    // The pickers list the tag values the store has.
    let pickers = tags_with(&dom, "data-tag");
    let loaded: Vec<_> = pickers
        .iter()
        .map(|p| format!("{} {}", p["data-tag"], p["data-loaded"]))
        .collect();
    // Span names: GET /one … /four, GET /tree, work, call a, side work, handle, query, publish, tiny.
    assert_eq!(loaded, ["resource.service.name 2", "name 12"]);
    let options: Vec<_> = tags_with(&dom, "data-option")
        .iter()
        .map(|o| o["data-option"].clone())
        .collect();
    assert!(
        options.starts_with(&["svc-x".into(), "svc-y".into()]),
        "{options:?}"
    );

    // A query a picker wrote (here by hand) shows as the picker's choice, and finds svc-y's root.
    let dom = dump_dom(&format!(
        "http://{}/#/search?q={}&limit=20",
        store.query, "%7B%20resource.service.name%20%3D%20%22svc-y%22%20%7D"
    ));
    assert_eq!(page_state(&dom), ("search".into(), "ready".into()), "{dom}");
    let chosen: Vec<_> = tags_with(&dom, "data-option")
        .into_iter()
        .filter(|o| o.contains_key("selected"))
        .map(|o| o["data-option"].clone())
        .collect();
    assert_eq!(chosen, ["svc-y"]);
    let mut found = order(&dom);
    found.sort_unstable();
    assert_eq!(found, [1, 2, 5], "traces with a span of svc-y");

    // Larger text for a projector, from the URL.
    let dom = ready(&store, "&text=large");
    assert!(dom.contains("<html lang=\"en\" class=\"large\">"), "{dom}");
}
