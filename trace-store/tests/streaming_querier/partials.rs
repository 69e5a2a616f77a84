//! Streams of several messages: a store of 2,500 traces (three blocks of the store) searched and
//! queried over gRPC, each stream read to its end and checked against Tempo's streaming
//! semantics (partials are diffs, counters only grow, the final message is complete) and against
//! the HTTP answer to the same query.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;
use trace_store::{Config, Listeners, Store};

use super::normalise::*;
use super::proto::*;
use super::{T0, call, client, text};

/// Traces loaded: more than two blocks of 1,024.
const TRACES: u32 = 2_500;
const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;

/// Trace `i`: app-a's `GET /` (root) calling `GET /b` on app-b, starting `i` seconds after
/// [`T0`] plus 7 ms, so that no span starts on a step boundary. Every third `GET /b` is an
/// error, and app-b is `app-b-even` or `app-b-odd` by parity, so there are several series.
fn trace(i: u32) -> [ResourceSpans; 2] {
    let mut id = [0xb0; 16];
    id[12..].copy_from_slice(&i.to_be_bytes());
    let start = T0 + u64::from(i) * SECOND + 7_000_000;
    let span = |span: u8, parent: Option<u8>, name: &str, from: u64, to: u64, code| Span {
        trace_id: id.to_vec(),
        span_id: vec![span; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start + from,
        end_time_unix_nano: start + to,
        status: Some(Status {
            code,
            ..Default::default()
        }),
        ..Default::default()
    };
    let service = |name: &str, span| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", name)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    };
    let b = if i.is_multiple_of(2) {
        "app-b-even"
    } else {
        "app-b-odd"
    };
    let code = if i.is_multiple_of(3) { 2 } else { 0 };
    [
        service("app-a", span(1, None, "GET /", 0, 3_000_000, 0)),
        service(b, span(2, Some(1), "GET /b", 1_000_000, 2_000_000, code)),
    ]
}

/// A store of [`TRACES`] traces, oldest first, serving on free ports; its query address.
async fn serve_many() -> SocketAddr {
    let store = Store::new(10 * TRACES as usize);
    for first in (0..TRACES).step_by(500) {
        let resource_spans = (first..(first + 500).min(TRACES)).flat_map(trace).collect();
        store
            .insert(ExportTraceServiceRequest { resource_spans })
            .unwrap();
    }
    let config = Config::ephemeral();
    let listeners = Listeners::bind(&config).await.unwrap();
    let addr = listeners.query.local_addr().unwrap();
    tokio::spawn(async move {
        trace_store::serve(listeners, store, &config, std::future::pending()).await
    });
    addr
}

/// GETs `path` with `params` from the HTTP API and parses the JSON.
async fn http_json(addr: SocketAddr, path: &str, params: &[(&str, String)]) -> Value {
    let url = reqwest::Url::parse_with_params(&format!("http://{addr}{path}"), params).unwrap();
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Streams `Search` for `query` with `limit`, and asks HTTP the same.
async fn search_both(addr: SocketAddr, query: &str, limit: u32) -> (Vec<SearchResponse>, Value) {
    let mut grpc = client(addr).await;
    let request = SearchRequest {
        query: query.into(),
        limit,
        ..Default::default()
    };
    let messages = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/Search",
        tonic::Request::new(request),
    )
    .await
    .unwrap();
    let params = [("q", query.to_owned()), ("limit", limit.to_string())];
    (messages, http_json(addr, "/api/search", &params).await)
}

/// The counters of `messages` only grow, `totalJobs` never changes, and the last has
/// `completedJobs == totalJobs`.
fn assert_counters(metrics: &[SearchMetrics]) {
    let total = metrics[0].total_jobs;
    assert!(total >= 1, "{metrics:?}");
    for pair in metrics.windows(2) {
        assert!(
            pair[0].inspected_traces <= pair[1].inspected_traces,
            "{metrics:?}"
        );
        assert!(
            pair[0].completed_jobs < pair[1].completed_jobs,
            "{metrics:?}"
        );
        assert_eq!(pair[1].total_jobs, total, "{metrics:?}");
    }
    let last = metrics.last().unwrap();
    assert_eq!(last.completed_jobs, total, "{metrics:?}");
}

/// A search whose limit is never reached walks every block: one partial per block but the last,
/// each carrying only its new traces (Tempo's diffs), then the final with all of them, equal to
/// the HTTP answer in content and order.
#[tokio::test]
async fn search_streams_a_diff_per_block_then_the_http_answer() {
    let addr = serve_many().await;
    let (messages, http) =
        search_both(addr, r#"{ resource.service.name = "app-b-even" }"#, 5_000).await;

    assert_eq!(
        messages.len(),
        3,
        "three blocks: two partials and the final"
    );
    let metrics: Vec<SearchMetrics> = messages
        .iter()
        .map(|m| m.metrics.clone().unwrap())
        .collect();
    assert_counters(&metrics);
    assert_eq!(metrics[0].total_jobs, 3);

    let (partials, last) = messages.split_at(messages.len() - 1);
    let final_rows: Vec<Row> = last[0].traces.iter().map(row_of_proto).collect();
    let all: HashSet<&Row> = final_rows.iter().collect();
    let mut seen: HashSet<String> = HashSet::new();
    for partial in partials {
        assert!(!partial.traces.is_empty(), "each block holds matches");
        for row in partial.traces.iter().map(row_of_proto) {
            assert!(
                all.contains(&row),
                "a partial trace is in the final: {row:?}"
            );
            assert!(
                seen.insert(row.0.clone()),
                "a diff repeats no trace: {}",
                row.0
            );
        }
    }

    let http_rows: Vec<Row> = http["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(row_of_json)
        .collect();
    assert_eq!(http_rows.len(), (TRACES / 2) as usize);
    assert_eq!(final_rows, http_rows, "same traces, same order");
    assert_eq!(
        u64::from(metrics[2].inspected_traces),
        http["metrics"]["inspectedTraces"].as_u64().unwrap()
    );
}

/// A limit reached in the second block stops the walk there, as one walk stops: the final
/// holds the same traces, in the same order, after inspecting as many traces as HTTP did. The
/// newest block holds the last 2,500 % 1,024 = 452 traces, all matching.
#[tokio::test]
async fn search_with_a_limit_stops_where_the_http_search_stops() {
    let addr = serve_many().await;
    let (messages, http) = search_both(addr, r#"{ name = "GET /b" }"#, 1_000).await;

    assert_eq!(
        messages.len(),
        2,
        "a partial for the newest block, then the final"
    );
    assert_eq!(messages[0].traces.len(), 452);
    let metrics: Vec<SearchMetrics> = messages
        .iter()
        .map(|m| m.metrics.clone().unwrap())
        .collect();
    assert_counters(&metrics);

    let final_rows: Vec<Row> = messages[1].traces.iter().map(row_of_proto).collect();
    let http_rows: Vec<Row> = http["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(row_of_json)
        .collect();
    assert_eq!(final_rows.len(), 1_000);
    assert_eq!(final_rows, http_rows, "same traces, same order");
    assert_eq!(
        u64::from(metrics[1].inspected_traces),
        http["metrics"]["inspectedTraces"].as_u64().unwrap()
    );
}

/// `with(most_recent=true)` needs every block before it knows the newest: one message, the
/// HTTP answer.
#[tokio::test]
async fn a_most_recent_search_is_not_split() {
    let addr = serve_many().await;
    let query = r#"{ name = "GET /b" } with(most_recent=true)"#;
    let (messages, http) = search_both(addr, query, 7).await;

    assert_eq!(messages.len(), 1);
    let rows: Vec<Row> = messages[0].traces.iter().map(row_of_proto).collect();
    let http_rows: Vec<Row> = http["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(row_of_json)
        .collect();
    assert_eq!(rows, http_rows);
    let newest = format!(
        "{:032x}",
        u128::from_be_bytes({
            let mut id = [0xb0; 16];
            id[12..].copy_from_slice(&(TRACES - 1).to_be_bytes());
            id
        })
    );
    assert_eq!(rows[0].0, newest);
}

/// Streams `MetricsQueryRange` for `query` over the data (one-minute steps) and asks HTTP.
async fn range_both(addr: SocketAddr, query: &str) -> (Vec<QueryRangeResponse>, Value) {
    let (start, end) = (T0, T0 + u64::from(TRACES) * SECOND);
    let mut grpc = client(addr).await;
    let request = QueryRangeRequest {
        query: query.into(),
        start,
        end,
        step: MINUTE,
    };
    let path = "/tempopb.StreamingQuerier/MetricsQueryRange";
    let messages = call(&mut grpc, path, tonic::Request::new(request))
        .await
        .unwrap();
    let params = [
        ("q", query.to_owned()),
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("step", "60s".to_owned()),
    ];
    (
        messages,
        http_json(addr, "/api/metrics/query_range", &params).await,
    )
}

/// A range query streams the samples of one window of steps at a time, newest window first,
/// each sample what the final says at that time; the final equals the HTTP answer.
#[tokio::test]
async fn query_range_streams_windows_then_the_http_answer() {
    let addr = serve_many().await;
    let query = "{ } | count_over_time() by (resource.service.name)";
    let (messages, http) = range_both(addr, query).await;

    assert!(
        messages.len() >= 3,
        "partials then the final: {}",
        messages.len()
    );
    let metrics: Vec<SearchMetrics> = messages
        .iter()
        .map(|m| m.metrics.clone().unwrap())
        .collect();
    assert_counters(&metrics);
    assert_eq!(metrics[0].total_jobs as usize, messages.len());

    let (partials, last) = messages.split_at(messages.len() - 1);
    let last = &last[0];
    let http_series: Vec<SeriesRow> = http["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(series_of_json)
        .collect();
    let final_series: Vec<SeriesRow> = last.series.iter().map(series_of_proto).collect();
    assert_eq!(
        final_series, http_series,
        "same series, samples and exemplars"
    );
    assert_eq!(last.status, 0);
    assert!(http.get("status").is_none());
    assert_eq!(final_series.len(), 3, "app-a, app-b-even, app-b-odd");
    assert!(
        final_series.iter().any(|s| !s.2.is_empty()),
        "exemplars kept"
    );

    let at: BTreeMap<(Vec<(String, String)>, i64), f64> = final_series
        .iter()
        .flat_map(|(labels, samples, _)| samples.iter().map(|(t, v)| ((labels.clone(), *t), *v)))
        .collect();
    let mut newest_so_far = i64::MAX;
    let mut sent = HashSet::new();
    for partial in partials {
        let times: Vec<i64> = partial
            .series
            .iter()
            .flat_map(|s| s.samples.iter().map(|x| x.timestamp_ms))
            .collect();
        assert!(!times.is_empty(), "every window holds spans");
        let (oldest, newest) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        assert!(
            newest < newest_so_far,
            "windows go back in time, without overlap"
        );
        newest_so_far = oldest;
        for series in partial.series.iter().map(series_of_proto) {
            assert!(series.2.is_empty(), "partials carry no exemplars");
            for (t, v) in series.1 {
                let key = (series.0.clone(), t);
                assert_eq!(at.get(&key), Some(&v), "{key:?} as in the final");
                assert!(sent.insert(key), "each sample sent once");
            }
        }
    }
    assert_eq!(sent.len(), at.len(), "the partials add up to the final");
}

/// `topk` ranks series over every step, so the range is not split: one message, the HTTP answer.
#[tokio::test]
async fn a_topk_range_query_is_not_split() {
    let addr = serve_many().await;
    let query = "{ } | count_over_time() by (resource.service.name) | topk(1)";
    let (messages, http) = range_both(addr, query).await;

    assert_eq!(messages.len(), 1);
    let series: Vec<SeriesRow> = messages[0].series.iter().map(series_of_proto).collect();
    let http_series: Vec<SeriesRow> = http["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(series_of_json)
        .collect();
    assert_eq!(series, http_series);
    assert_eq!(series.len(), 1, "app-a has the most spans at every step");
}
