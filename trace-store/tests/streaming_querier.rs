//! `tempopb.StreamingQuerier` on the query port: a real tonic client (with message definitions of
//! its own, from Tempo's `tempo.proto`) against a real server on port 0, every stream read to its
//! end, and the same port still answering HTTP.

use std::net::SocketAddr;

use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;
use trace_store::{Config, Listeners, Store};

#[path = "streaming_querier/normalise.rs"]
mod normalise;
#[path = "streaming_querier/partials.rs"]
mod partials;
#[path = "streaming_querier/proto.rs"]
mod proto;

use proto::*;

// ---- Helpers ----

/// The string value of label `key`.
fn label<'a>(labels: &'a [KeyValue], key: &str) -> &'a str {
    labels
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The chain traces start at this second.
const T0: u64 = 1_700_000_000_000_000_000;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// One trace: `GET /` on app-a (root, 0–3 ms) calling app-b (1–2 ms, status error).
fn chain(trace: u8) -> ExportTraceServiceRequest {
    let span =
        |service: &str, id: u8, parent: Option<u8>, name: &str, start: u64, end: u64, code| {
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![text("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![trace; 16],
                        span_id: vec![id; 8],
                        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
                        name: name.into(),
                        kind: 2,
                        start_time_unix_nano: T0 + start,
                        end_time_unix_nano: T0 + end,
                        attributes: vec![text("http.route", name)],
                        status: Some(opentelemetry_proto::tonic::trace::v1::Status {
                            code,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }
        };
    ExportTraceServiceRequest {
        resource_spans: vec![
            span("app-a", 1, None, "GET /", 0, 3_000_000, 0),
            span("app-b", 2, Some(1), "GET /b", 1_000_000, 2_000_000, 2),
        ],
    }
}

/// A store with two chain traces, serving on free ports; its query address.
async fn serve(config: Config) -> SocketAddr {
    let store = Store::new(1_000);
    store.insert(chain(0xa1)).unwrap();
    store.insert(chain(0xa2)).unwrap();
    let listeners = Listeners::bind(&config).await.unwrap();
    let addr = listeners.query.local_addr().unwrap();
    tokio::spawn(async move {
        trace_store::serve(listeners, store, &config, std::future::pending()).await
    });
    addr
}

async fn client(addr: SocketAddr) -> tonic::client::Grpc<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

/// Calls `method` and reads the whole stream.
async fn call<Req, Res>(
    grpc: &mut tonic::client::Grpc<Channel>,
    method: &'static str,
    request: tonic::Request<Req>,
) -> Result<Vec<Res>, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static(method);
    let codec = ProstCodec::<Req, Res>::default();
    let mut stream = grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok(messages)
}

// ---- Tests ----

#[tokio::test]
async fn a_search_of_one_block_answers_what_http_answers_in_one_message() {
    let addr = serve(Config::ephemeral()).await;
    let mut grpc = client(addr).await;
    let request = SearchRequest {
        query: r#"{ resource.service.name = "app-b" }"#.into(),
        limit: 10,
        ..Default::default()
    };
    let messages: Vec<SearchResponse> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/Search",
        tonic::Request::new(request),
    )
    .await
    .unwrap();
    assert_eq!(
        messages.len(),
        1,
        "one block, one job: only the final answer"
    );
    let mut traces = messages[0].traces.clone();
    traces.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    assert_eq!(traces.len(), 2);
    let first = &traces[0];
    assert_eq!(first.trace_id, "a1".repeat(16));
    assert_eq!(first.root_service_name, "app-a");
    assert_eq!(first.root_trace_name, "GET /");
    assert_eq!(first.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(first.duration_ms, 3);
    assert_eq!(first.span_sets.len(), 1);
    let set = &first.span_sets[0];
    assert_eq!(set.matched, 1);
    assert_eq!(set.spans[0].span_id, "02".repeat(8));
    assert_eq!(set.spans[0].duration_nanos, 1_000_000);
    assert_eq!(first.service_stats["app-b"].error_count, 1);
    assert_eq!(first.service_stats["app-a"].span_count, 1);

    // The same port still speaks HTTP/1.1, and HTTP says the same.
    let http: serde_json::Value = reqwest::get(format!(
        "http://{addr}/api/search?limit=10&q=%7B%20resource.service.name%20%3D%20%22app-b%22%20%7D"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(http["traces"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_bad_query_is_invalid_argument_with_the_http_text() {
    let addr = serve(Config::ephemeral()).await;
    let mut grpc = client(addr).await;
    let request = SearchRequest {
        query: "{ .a = }".into(),
        ..Default::default()
    };
    let error = call::<_, SearchResponse>(
        &mut grpc,
        "/tempopb.StreamingQuerier/Search",
        tonic::Request::new(request),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let http = reqwest::get(format!("http://{addr}/api/search?q=%7B%20.a%20%3D%20%7D"))
        .await
        .unwrap();
    assert_eq!(http.status(), 400);
    assert_eq!(error.message(), http.text().await.unwrap().trim());
}

#[tokio::test]
async fn tags_and_tag_values_v1_and_v2() {
    let addr = serve(Config::ephemeral()).await;
    let mut grpc = client(addr).await;

    let tags: Vec<SearchTagsResponse> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/SearchTags",
        tonic::Request::new(SearchTagsRequest::default()),
    )
    .await
    .unwrap();
    assert_eq!(tags.len(), 1);
    let names = &tags[0].tag_names;
    assert!(names.contains(&"service.name".to_owned()), "{names:?}");
    assert!(names.contains(&"http.route".to_owned()), "{names:?}");

    let v2: Vec<SearchTagsV2Response> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/SearchTagsV2",
        tonic::Request::new(SearchTagsRequest {
            scope: "resource".into(),
        }),
    )
    .await
    .unwrap();
    let scopes: Vec<(&str, &[String])> = v2[0]
        .scopes
        .iter()
        .map(|s| (s.name.as_str(), s.tags.as_slice()))
        .collect();
    assert_eq!(scopes, [("resource", &["service.name".to_owned()][..])]);

    let values: Vec<SearchTagValuesResponse> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/SearchTagValues",
        tonic::Request::new(SearchTagValuesRequest {
            tag_name: "http.route".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(values[0].tag_values, ["GET /", "GET /b"]);

    let typed: Vec<SearchTagValuesV2Response> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/SearchTagValuesV2",
        tonic::Request::new(SearchTagValuesRequest {
            tag_name: "resource.service.name".into(),
            query: r#"{ name = "GET /b" }"#.into(),
        }),
    )
    .await
    .unwrap();
    let typed: Vec<(&str, &str)> = typed[0]
        .tag_values
        .iter()
        .map(|v| (v.kind.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(typed, [("string", "app-b")]);
}

/// Two traces, each with one app-a and one app-b span: two of each per service, in one step.
#[tokio::test]
async fn metrics_range_and_instant_answer_what_http_answers() {
    let addr = serve(Config::ephemeral()).await;
    let mut grpc = client(addr).await;
    let minute = 60_000_000_000;
    let query = "{ } | count_over_time() by (resource.service.name)".to_owned();
    let range: Vec<QueryRangeResponse> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/MetricsQueryRange",
        tonic::Request::new(QueryRangeRequest {
            query: query.clone(),
            start: T0 - minute,
            end: T0 + minute,
            step: minute,
        }),
    )
    .await
    .unwrap();
    // Partial windows first (see `partials.rs`); the last message is the whole answer.
    let range = range.last().expect("a final message");
    assert_eq!(range.status, 0, "complete");
    let mut totals: Vec<(String, f64)> = range
        .series
        .iter()
        .map(|s| {
            let total = s.samples.iter().map(|x| x.value).sum();
            (label(&s.labels, "resource.service.name").to_owned(), total)
        })
        .collect();
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        totals,
        [("app-a".to_owned(), 2.0), ("app-b".to_owned(), 2.0)]
    );
    let stamped = range.series[0].samples.iter().any(|x| x.value == 2.0);
    assert!(stamped, "both traces fall in one step: {:?}", range.series);

    let instant: Vec<QueryInstantResponse> = call(
        &mut grpc,
        "/tempopb.StreamingQuerier/MetricsQueryInstant",
        tonic::Request::new(QueryInstantRequest {
            query,
            start: T0 - minute,
            end: T0 + minute,
        }),
    )
    .await
    .unwrap();
    let values: Vec<(&str, f64)> = instant[0]
        .series
        .iter()
        .map(|s| (label(&s.labels, "resource.service.name"), s.value))
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values.iter().all(|(_, v)| *v == 2.0), "{values:?}");

    let bad = call::<_, QueryRangeResponse>(
        &mut grpc,
        "/tempopb.StreamingQuerier/MetricsQueryRange",
        tonic::Request::new(QueryRangeRequest {
            query: "{ } | rate(".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let http = reqwest::get(format!(
        "http://{addr}/api/metrics/query_range?q=%7B%20%7D%20%7C%20rate("
    ))
    .await
    .unwrap();
    assert_eq!(http.status(), 400);
    assert_eq!(bad.message(), http.text().await.unwrap().trim());
}

#[tokio::test]
async fn other_methods_are_unimplemented() {
    let addr = serve(Config::ephemeral()).await;
    let mut grpc = client(addr).await;
    let error = call::<_, SearchResponse>(
        &mut grpc,
        "/tempopb.StreamingQuerier/NoSuchMethod",
        tonic::Request::new(SearchRequest::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert!(
        error.message().contains("NoSuchMethod"),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn the_query_port_token_applies_to_grpc() {
    let config = Config {
        token: trace_store::auth::Token::new("s3cret"),
        ..Config::ephemeral()
    };
    let addr = serve(config).await;
    let mut grpc = client(addr).await;
    let search = || SearchRequest {
        query: "{ }".into(),
        ..Default::default()
    };
    let refused = call::<_, SearchResponse>(
        &mut grpc,
        "/tempopb.StreamingQuerier/Search",
        tonic::Request::new(search()),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let range = QueryRangeRequest {
        query: "{ } | rate()".into(),
        start: T0 - 60_000_000_000,
        end: T0 + 60_000_000_000,
        step: 10_000_000_000,
    };
    let refused = call::<_, QueryRangeResponse>(
        &mut grpc,
        "/tempopb.StreamingQuerier/MetricsQueryRange",
        tonic::Request::new(range),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    let mut with_token = tonic::Request::new(search());
    with_token
        .metadata_mut()
        .insert("authorization", MetadataValue::from_static("Bearer s3cret"));
    let answered: Vec<SearchResponse> =
        call(&mut grpc, "/tempopb.StreamingQuerier/Search", with_token)
            .await
            .unwrap();
    assert_eq!(answered[0].traces.len(), 2);
}
