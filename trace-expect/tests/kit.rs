//! The kit against real traces: one test per kind of mismatch, checking the words of the
//! failure; the waits; snapshot mode; and the store's ports.

mod support;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use support::{CHAIN_SHAPE, S, chain, int_attr, request, str_attr, trace_id};
use trace_expect::{FailureKind, Shape, TestStore};

const WAIT: Duration = Duration::from_secs(5);

/// Sends `spans` into a fresh kit and expects them against the chain shape (edited by
/// `edit`): the failure's text, or "" when it matches.
async fn verdict(spans: Vec<S>, edit: impl FnOnce(&mut Shape)) -> (Option<FailureKind>, String) {
    let kit = TestStore::start()
        .await
        .with_quiet(Duration::from_millis(100));
    let mut shape = Shape::from_yaml(CHAIN_SHAPE).unwrap();
    edit(&mut shape);
    let id = trace_id(1);
    kit.store().insert(request(id, &spans)).unwrap();
    match kit.expect_trace(id, &shape, Duration::from_secs(1)).await {
        Ok(_) => (None, String::new()),
        Err(failure) => (Some(failure.kind), failure.to_string()),
    }
}

fn contains_all(text: &str, words: &[&str]) {
    for word in words {
        assert!(text.contains(word), "{word:?} not in:\n{text}");
    }
}

/// The chain matches its shape, and the assertion returns the trace.
#[tokio::test]
async fn the_chain_matches_its_shape() {
    let (kind, text) = verdict(chain(), |_| {}).await;
    assert_eq!(kind, None, "{text}");
}

#[tokio::test]
async fn a_missing_span_is_named() {
    let mut spans = chain();
    spans.pop(); // app-c never reports
    let (kind, text) = verdict(spans, |_| {}).await;
    assert_eq!(kind, Some(FailureKind::Timeout));
    contains_all(
        &text,
        &[
            "4 of 5 spans after",
            "missing: app-c SERVER GET /",
            "(missing)",
        ],
    );
}

#[tokio::test]
async fn an_extra_span_is_a_mismatch_unless_allowed() {
    let mut spans = chain();
    let mut extra = spans[4].clone();
    (extra.id, extra.parent, extra.name, extra.kind) = (6, Some(5), "SELECT", SpanKind::Client);
    spans.push(extra);
    let (kind, text) = verdict(spans.clone(), |_| {}).await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(
        &text,
        &["extra span: app-c CLIENT SELECT", "(not in the shape)"],
    );

    let (kind, text) = verdict(spans, |shape| shape.options.extra_spans = true).await;
    assert_eq!(kind, None, "{text}");
}

#[tokio::test]
async fn a_wrong_status_says_which_span_and_what_was_expected() {
    let (kind, text) = verdict(chain(), |shape| {
        let c = &mut shape.root.as_mut().unwrap().children[0].children[0].children[0].children[0];
        c.status = Some(trace_expect::Status::Error);
    })
    .await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(&text, &["app-c SERVER GET /: status unset, expected error"]);
    // The first mismatch is marked on its row.
    let marked: Vec<_> = text.lines().filter(|l| l.starts_with("> ")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].contains("app-c SERVER GET /"), "{text}");
}

#[tokio::test]
async fn a_wrong_attribute_value_is_shown_with_both_values() {
    let mut spans = chain();
    spans[0].attrs[1] = int_attr("http.response.status_code", 502);
    let (kind, text) = verdict(spans, |_| {}).await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(
        &text,
        &["app-a SERVER GET /: attribute http.response.status_code is int 502, expected int 200"],
    );
}

#[tokio::test]
async fn an_attribute_of_the_wrong_type_is_a_mismatch() {
    let mut spans = chain();
    spans[0].attrs[1] = str_attr("http.response.status_code", "200");
    let (kind, text) = verdict(spans, |_| {}).await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(
        &text,
        &["attribute http.response.status_code is string \"200\", expected int 200"],
    );
}

#[tokio::test]
async fn a_duration_out_of_bounds_gives_the_duration_and_the_bound() {
    let mut spans = chain();
    spans[0].end_ms = 50; // 49 ms, under the 100 ms minimum
    let (kind, text) = verdict(spans, |_| {}).await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(
        &text,
        &["app-a SERVER GET /: duration 49ms, expected at least 100ms"],
    );
}

#[tokio::test]
async fn a_missing_event_is_named() {
    let (kind, text) = verdict(chain(), |shape| {
        shape.root.as_mut().unwrap().events = vec!["exception".to_owned()];
    })
    .await;
    assert_eq!(kind, Some(FailureKind::Mismatch));
    contains_all(&text, &["app-a SERVER GET /: missing event exception"]);

    let mut spans = chain();
    spans[0].events = vec!["exception"];
    let (kind, _) = verdict(spans, |shape| {
        shape.root.as_mut().unwrap().events = vec!["exception".to_owned()];
    })
    .await;
    assert_eq!(kind, None);
}

/// No span at all: the failure says so, at the timeout and not before.
#[tokio::test]
async fn a_trace_that_never_arrives_times_out_with_the_count_expected() {
    let kit = TestStore::start().await;
    let shape = Shape::from_yaml(CHAIN_SHAPE).unwrap();
    let started = Instant::now();
    let failure = kit
        .expect_trace(trace_id(9), &shape, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(failure.kind, FailureKind::Timeout);
    contains_all(
        &failure.to_string(),
        &[
            "trace ababababababababababababababab09: no span arrived within 300ms",
            "5 spans",
        ],
    );
}

/// `assert_trace` panics with the diff.
#[tokio::test]
#[should_panic(expected = "status unset, expected error")]
async fn assert_trace_panics_with_the_diff() {
    let kit = TestStore::start()
        .await
        .with_quiet(Duration::from_millis(50));
    let shape =
        Shape::from_yaml(&CHAIN_SHAPE.replacen("status: unset", "status: error", 1)).unwrap();
    kit.store().insert(request(trace_id(1), &chain())).unwrap();
    kit.assert_trace(trace_id(1), &shape, WAIT).await;
}

/// Spans that come in several exports: the wait wakes on each and returns once all arrived,
/// long before its timeout.
#[tokio::test]
async fn waits_wake_on_ingest() {
    let kit = TestStore::start().await;
    let id = trace_id(2);
    let spans = chain();
    let store = kit.store().clone();
    let feeder = tokio::spawn(async move {
        for span in spans.iter().rev() {
            tokio::task::yield_now().await;
            store
                .insert(request(id, std::slice::from_ref(span)))
                .unwrap();
        }
    });
    let started = Instant::now();
    let shape = Shape::from_yaml(CHAIN_SHAPE).unwrap();
    let trace = kit
        .expect_trace(id, &shape, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(trace.spans.len(), 5);
    assert!(started.elapsed() < Duration::from_secs(5));
    feeder.await.unwrap();

    let found = kit
        .wait_for(r#"{ resource.service.name = "app-c" }"#, 1, WAIT)
        .await
        .unwrap();
    assert_eq!(found[0].id, id);
    let failure = kit
        .wait_for(
            r#"{ resource.service.name = "app-c" }"#,
            2,
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    contains_all(
        &failure.to_string(),
        &["1 of 2 matching traces after 200ms"],
    );
    let bad = kit.wait_for("{ nonsense", 1, WAIT).await.unwrap_err();
    assert_eq!(bad.kind, FailureKind::BadInput);

    let settled = kit.wait_for_trace(id, WAIT).await.unwrap();
    assert_eq!(settled.spans.len(), 5);
    // A timeout too large to add to a clock is no deadline, not a panic.
    let spans = kit.wait_for_spans(id, 5, Duration::MAX).await.unwrap();
    assert_eq!(spans.spans.len(), 5);
}

/// Spans sent over OTLP/HTTP to the kit's endpoint arrive; dropping the kit closes its ports
/// before `drop` returns.
#[tokio::test]
async fn the_kit_serves_otlp_and_stops_on_drop() {
    let kit = TestStore::start().await;
    let body = prost::Message::encode_to_vec(&request(trace_id(3), &chain()));
    let response = reqwest::Client::new()
        .post(kit.otlp_traces_url())
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    kit.wait_for_spans(trace_id(3), 5, WAIT).await.unwrap();

    // Closed by the time drop returns: the very next connection is refused.
    let query = kit.query_url();
    drop(kit);
    let answer = reqwest::get(format!("{query}/ready")).await;
    assert!(
        answer.is_err(),
        "the store still answers after drop: {answer:?}"
    );
}

/// Snapshot mode: recording writes a shape the same trace matches; a changed trace fails
/// against it.
#[tokio::test]
async fn a_recorded_shape_matches_its_trace_and_catches_a_change() {
    let kit = TestStore::start()
        .await
        .with_quiet(Duration::from_millis(50));
    kit.store().insert(request(trace_id(4), &chain())).unwrap();
    let trace = kit.wait_for_trace(trace_id(4), WAIT).await.unwrap();
    let recorded = trace_expect::record(&trace);
    let text = recorded.to_yaml();
    assert!(!text.contains("abab"), "ids are left out:\n{text}");
    let reread = Shape::from_yaml(&text).unwrap();
    assert_eq!(reread, recorded);
    assert!(trace_expect::compare(&reread, &trace).matches());

    let dir = std::env::temp_dir().join(format!("trace-expect-{}", std::process::id()));
    let path = dir.join("chain.yaml");
    let missing = trace_expect::record::check_snapshot(&trace, &path, false).unwrap_err();
    assert!(
        missing.to_string().contains("TRACE_EXPECT_UPDATE=always"),
        "{missing}"
    );
    // Updating writes the file (and its folder); the trace then matches it.
    let written = trace_expect::record::snapshot(&trace, &path, true, false).unwrap();
    assert_eq!(written, trace_expect::record::Snapshot::Written);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    kit.assert_snapshot(trace_id(4), &path, WAIT).await;

    let mut changed = chain();
    changed[4].status = 2;
    kit.store().insert(request(trace_id(5), &changed)).unwrap();
    let trace = kit.wait_for_trace(trace_id(5), WAIT).await.unwrap();
    let failure = trace_expect::record::check_snapshot(&trace, &path, false).unwrap_err();
    contains_all(
        &failure.to_string(),
        &["app-c SERVER GET /: status error, expected unset"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `expect_query` right after a request: the kit holds the previous matching trace, and the new
/// one arrives after the first look. The newer match, here a broken trace, is the one checked;
/// taking the old one would pass.
#[tokio::test]
async fn expect_query_checks_a_newer_match_that_arrives_while_it_waits() {
    let kit = TestStore::start().await.with_quiet(Duration::from_secs(2));
    kit.store().insert(request(trace_id(1), &chain())).unwrap();
    let shape = Shape::from_yaml(CHAIN_SHAPE).unwrap();
    let mut broken = chain();
    for span in &mut broken {
        (span.start_ms, span.end_ms) = (span.start_ms + 1000, span.end_ms + 1000);
    }
    broken[4].status = 2;

    // One thread: the query looks first and finds trace 1, then waits; the new trace comes.
    let (checked, _) = tokio::join!(
        kit.expect_query(r#"{ resource.service.name = "app-c" }"#, &shape, WAIT),
        async { kit.store().insert(request(trace_id(2), &broken)).unwrap() },
    );
    let text = checked.unwrap_err().to_string();
    assert!(text.contains(&trace_id(2).to_string()), "{text}");
    assert!(
        text.contains("app-c SERVER GET /: status error, expected unset"),
        "{text}"
    );
}
