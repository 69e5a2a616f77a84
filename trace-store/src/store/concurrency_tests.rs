//! Tests of the store under readers and writers at once, of duplicate spans, and of the reads
//! that use the blocks' time ranges (`most_recent`, time windows) against brute force.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use proptest::prelude::*;

use super::*;
use crate::model::TimeWindow;
use crate::testing::request;

/// Spans per insert in the concurrency tests: a reader must only ever see multiples of it.
const PART: u32 = 4;

fn wide_id(n: u32) -> Vec<u8> {
    let mut id = vec![0xab; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

/// Span `span` of trace `trace`, starting at `start` nanoseconds.
fn wide_span(trace: u32, span: u32, start: u64) -> Span {
    Span {
        trace_id: wide_id(trace),
        span_id: [[0xcd; 4], span.to_be_bytes()].concat(),
        name: format!("span {span}"),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 10,
        ..Default::default()
    }
}

/// Part `part` of trace `trace`: [`PART`] spans.
fn part(trace: u32, part: u32) -> ExportTraceServiceRequest {
    let spans = (0..PART)
        .map(|i| wide_span(trace, part * PART + i, 1_000 + u64::from(trace)))
        .collect();
    request("svc", spans)
}

#[test]
fn a_reader_that_holds_a_trace_does_not_stall_an_insert() {
    let store = Store::new(10_000);
    store.insert(part(1, 0)).unwrap();
    let (inserted_tx, inserted_rx) = mpsc::channel();
    let writer = {
        let store = store.clone();
        move || {
            store.insert(part(2, 0)).unwrap();
            inserted_tx.send(()).unwrap();
        }
    };
    // The reader's closure runs while it holds a trace; the insert on another thread must
    // complete before the closure returns. If `select` ran under the store's lock, it would
    // wait here until the deadline and fail.
    let found = store.search(TimeWindow::ALL, 10, |trace| {
        std::thread::spawn(writer.clone());
        inserted_rx.recv_timeout(Duration::from_secs(10)).ok()?;
        Some(trace.id)
    });
    assert_eq!(
        found.results.len(),
        1,
        "the insert finished while the reader held its trace"
    );
    assert_eq!(store.trace_count(), 2);
}

#[test]
fn readers_never_see_a_torn_trace_while_writers_add_and_evict() {
    // Small enough that writers evict while readers read.
    let store = Store::new(2_000);
    let traces: u32 = 600;
    let parts: u32 = 3;
    std::thread::scope(|scope| {
        for writer in 0..2u32 {
            let store = store.clone();
            scope.spawn(move || {
                for p in 0..parts {
                    for t in (writer..traces).step_by(2) {
                        store.insert(part(t, p)).unwrap();
                    }
                }
            });
        }
        for _ in 0..2 {
            let store = store.clone();
            scope.spawn(move || {
                for _ in 0..50 {
                    for trace in store.traces(TimeWindow::ALL) {
                        let n = trace.spans.len() as u32;
                        assert!(n > 0 && n.is_multiple_of(PART), "torn trace: {n} spans");
                        assert!(trace.spans.is_sorted_by_key(SpanRecord::start_unix_nano));
                    }
                    let by_id = store.trace(&TraceId::from_bytes(&wide_id(7)).unwrap());
                    assert!(by_id.is_none_or(|t| (t.spans.len() as u32).is_multiple_of(PART)));
                }
            });
        }
    });
    assert!(store.span_count() <= 2_000);
    let held: usize = store.traces(TimeWindow::ALL).map(|t| t.spans.len()).sum();
    assert_eq!(
        held,
        store.span_count(),
        "the count matches what readers see"
    );
    let totals = store.totals();
    assert_eq!(
        totals.stored - totals.evicted,
        store.span_count() as u64,
        "stored − evicted = held"
    );
}

#[test]
fn a_span_already_held_is_not_stored_again() {
    let store = Store::new(100);
    let chain = || part(1, 0);
    assert_eq!(store.insert(chain()), Ok(PART as usize));
    // An exporter's retry of the same request, and a request that repeats a span inside itself.
    assert_eq!(store.insert(chain()), Ok(0));
    let mut repeated = part(1, 1);
    let again = repeated.resource_spans[0].scope_spans[0].spans[0].clone();
    repeated.resource_spans[0].scope_spans[0].spans.push(again);
    assert_eq!(store.insert(repeated), Ok(PART as usize));

    let trace = store
        .trace(&TraceId::from_bytes(&wide_id(1)).unwrap())
        .unwrap();
    assert_eq!(trace.spans.len(), 2 * PART as usize);
    assert_eq!(store.span_count(), 2 * PART as usize);
    let totals = store.totals();
    assert_eq!(
        (totals.received, totals.stored, totals.duplicates),
        (
            3 * u64::from(PART) + 1,
            2 * u64::from(PART),
            u64::from(PART) + 1
        )
    );
}

#[test]
fn a_resent_chain_is_still_complete() {
    let store = Store::new(100);
    let chain = || {
        request(
            "svc",
            vec![
                wide_span(9, 1, 10),
                Span {
                    parent_span_id: wide_span(9, 1, 10).span_id,
                    ..wide_span(9, 2, 20)
                },
            ],
        )
    };
    store.insert(chain()).unwrap();
    store.insert(chain()).unwrap();
    let trace = store
        .trace(&TraceId::from_bytes(&wide_id(9)).unwrap())
        .unwrap();
    assert_eq!(trace.spans.len(), 2);
    assert!(trace.is_complete(), "a re-sent trace has one root, not two");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever is sent, how often and in what grouping, the store holds each distinct
    /// (trace, span) once, and its totals add up.
    #[test]
    fn duplicates_are_dropped_whatever_the_grouping(
        sends in prop::collection::vec(prop::collection::vec((0u32..5, 0u32..40), 1..50), 1..20)
    ) {
        let store = Store::new(100_000);
        let mut distinct = BTreeSet::new();
        let mut sent = 0u64;
        for send in &sends {
            let spans = send.iter().map(|&(t, s)| wide_span(t, s, u64::from(s))).collect();
            store.insert(request("svc", spans)).unwrap();
            distinct.extend(send.iter().copied());
            sent += send.len() as u64;
        }
        prop_assert_eq!(store.span_count(), distinct.len());
        let mut held = BTreeSet::new();
        for trace in store.traces(TimeWindow::ALL) {
            let t = u32::from_be_bytes(trace.id.0[12..].try_into().unwrap());
            for span in &trace.spans {
                let s = u32::from_be_bytes(span.span_id().0[4..].try_into().unwrap());
                prop_assert!(held.insert((t, s)), "span ({}, {}) held twice", t, s);
            }
        }
        prop_assert_eq!(&held, &distinct);
        let totals = store.totals();
        prop_assert_eq!(totals.received, sent);
        prop_assert_eq!(totals.duplicates, sent - distinct.len() as u64);
    }

    /// `most_recent` and windowed reads, over several blocks with starts that do not follow
    /// arrival order, give what sorting and filtering every trace gives.
    #[test]
    fn block_ranges_prune_nothing_they_should_not(
        starts in prop::collection::vec(0u64..1_000_000, 1..3_000),
        limit in 1usize..50,
        window in (0u64..1_000_000, 0u64..200_000),
    ) {
        let store = Store::new(1_000_000);
        for (t, start) in starts.iter().enumerate() {
            store.insert(request("svc", vec![wide_span(t as u32, 1, *start)])).unwrap();
        }
        let (from, width) = window;
        let window = TimeWindow { start: Some(from), end: Some(from + width) };

        let mut expected: Vec<(u64, TraceId)> = starts
            .iter()
            .enumerate()
            .map(|(t, s)| (*s, TraceId::from_bytes(&wide_id(t as u32)).unwrap()))
            .collect();
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let newest: Vec<TraceId> = expected.iter().take(limit).map(|e| e.1).collect();
        let got = store.most_recent(TimeWindow::ALL, limit, |t| Some(t.id)).results;
        prop_assert_eq!(got, newest);

        let in_window: BTreeMap<TraceId, u64> = expected
            .iter()
            .filter(|(s, _)| window.overlaps(*s, s + 10))
            .map(|(s, id)| (*id, *s))
            .collect();
        let seen: BTreeMap<TraceId, u64> =
            store.traces(window).map(|t| (t.id, t.start_unix_nano())).collect();
        prop_assert_eq!(seen, in_window);
    }
}
