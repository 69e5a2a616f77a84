//! `tempopb.StreamingQuerier` over gRPC on the query port, beside HTTP, as Tempo serves both on
//! 3200: Grafana's Tempo data source with streaming on calls it at the host and port of its HTTP
//! URL (h2c for `http://`).
//!
//! | method | answers as |
//! |---|---|
//! | `Search` | `GET /api/search` (q, limit, spss, start, end, minDuration, maxDuration, tags), streamed |
//! | `SearchTags` / `SearchTagsV2` | `GET /api/search/tags` / `GET /api/v2/search/tags` |
//! | `SearchTagValues` / `SearchTagValuesV2` | `GET /api/search/tag/{name}/values` / `…/v2/…` |
//! | `MetricsQueryRange` | `GET /api/metrics/query_range` (times in nanoseconds), streamed |
//! | `MetricsQueryInstant` | `GET /api/metrics/query` (times in nanoseconds) |
//! | any other method | `UNIMPLEMENTED` |
//!
//! `Search` and `MetricsQueryRange`, the two calls Grafana streams, send partial results as
//! their jobs finish, then the final answer, as Tempo's query frontend does (`partial.rs` says
//! how the work is split and what each message holds). They run the HTTP API's own search and
//! evaluation (`api/search.rs`, `api/metrics_query.rs`) over one part of the store or of the
//! range at a time, so each partial is a slice of what HTTP answers and the final message is
//! what HTTP answers: the same traces in the same order, the same series and samples. A search
//! over one block (a small store) and a query that cannot be split send only the final message.
//!
//! The other calls are turned into the GET their HTTP twin answers, run through the query API's
//! own router in-process, and the JSON answer read into the proto message (`tempopb.rs`): one
//! implementation, so the two protocols cannot disagree. They send one message, the final
//! answer: the tag calls and `MetricsQueryInstant` are one quick pass over memory, and
//! Grafana reads them whole.
//!
//! A 400 becomes `INVALID_ARGUMENT` with the same text, a 404 `NOT_FOUND`, anything else
//! `INTERNAL`; a streamed call checks its request before the first message, so a bad one fails
//! the same way. The query port's token, when set, applies to these calls too (gRPC sends it as
//! the `authorization` header).

mod partial;
mod segment;
mod tempopb;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use tonic::server::{NamedService, ServerStreamingService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;
use tower::ServiceExt;

use crate::store::Store;

/// The service's name, the prefix of its methods' paths.
const SERVICE: &str = "tempopb.StreamingQuerier";

/// The routes to add to the query port's router: every path under the service.
pub(crate) fn router(store: Store) -> Router {
    let querier = StreamingQuerier {
        http: super::router(store.clone()),
        store,
    };
    Router::new().route_service(&format!("/{SERVICE}/{{method}}"), querier)
}

/// The service: a tower service of HTTP/2 requests, over the plain HTTP API router (no token
/// check or timeout of its own: the outer router applies those to the gRPC call itself).
#[derive(Clone)]
struct StreamingQuerier {
    http: Router,
    /// What the streamed calls (`partial.rs`) read.
    store: Store,
}

impl NamedService for StreamingQuerier {
    const NAME: &'static str = SERVICE;
}

impl tower::Service<http::Request<Body>> for StreamingQuerier {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (http, store) = (self.http.clone(), self.store.clone());
        let method = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Box::pin(async move {
            let response = match method.as_str() {
                "Search" => {
                    let open = |store, r: &_| partial::search(store, &params(search_params(r)));
                    streamed(store, request, open).await
                }
                "SearchTags" => {
                    stream::<_, tempopb::SearchTagsResponse>(http, request, |r| {
                        tags_path("/api/search/tags", r)
                    })
                    .await
                }
                "SearchTagsV2" => {
                    stream::<_, tempopb::SearchTagsV2Response>(http, request, |r| {
                        tags_path("/api/v2/search/tags", r)
                    })
                    .await
                }
                "SearchTagValues" => {
                    stream::<_, tempopb::SearchTagValuesResponse>(http, request, |r| {
                        values_path("/api/search/tag", r)
                    })
                    .await
                }
                "SearchTagValuesV2" => {
                    stream::<_, tempopb::SearchTagValuesV2Response>(http, request, |r| {
                        values_path("/api/v2/search/tag", r)
                    })
                    .await
                }
                "MetricsQueryRange" => {
                    let open = |store, r: &_| partial::query_range(store, &params(range_params(r)));
                    streamed(store, request, open).await
                }
                "MetricsQueryInstant" => {
                    stream::<_, tempopb::QueryInstantResponse>(http, request, instant_path).await
                }
                _ => Status::unimplemented(format!("{SERVICE}/{method} is not served")).into_http(),
            };
            Ok(response)
        })
    }
}

/// Serves one server-streaming call: decode `Req`, ask the HTTP API at `path(req)`, answer with
/// its JSON read as `Res`.
async fn stream<Req, Res>(
    http: Router,
    request: http::Request<Body>,
    path: fn(&Req) -> String,
) -> http::Response<tonic::body::Body>
where
    Req: prost::Message + Default + Send + 'static,
    Res: prost::Message + DeserializeOwned + Send + 'static,
{
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<Res, Req>::default());
    let bridge = Bridge {
        http,
        path,
        answer: PhantomData,
    };
    grpc.server_streaming(bridge, request).await
}

/// One method, answered by the HTTP API at the path its request maps to, read as `Res`.
struct Bridge<Req, Res> {
    http: Router,
    path: fn(&Req) -> String,
    answer: PhantomData<fn() -> Res>,
}

impl<Req, Res> ServerStreamingService<Req> for Bridge<Req, Res>
where
    Req: Send + 'static,
    Res: DeserializeOwned + Send + 'static,
{
    type Response = Res;
    type ResponseStream = tokio_stream::Once<Result<Res, Status>>;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<Self::ResponseStream>, Status>> + Send>>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let (http, path) = (self.http.clone(), (self.path)(request.get_ref()));
        Box::pin(async move {
            let answer = ask(http, &path).await?;
            Ok(Response::new(tokio_stream::once(Ok(answer))))
        })
    }
}

/// Serves `Search` or `MetricsQueryRange`: decode `Req`, then stream what `open` produces
/// (partial results, then the final one; see `partial.rs`).
async fn streamed<Req, Res>(
    store: Store,
    request: http::Request<Body>,
    open: fn(Store, &Req) -> Result<partial::Messages<Res>, Status>,
) -> http::Response<tonic::body::Body>
where
    Req: prost::Message + Default + Send + 'static,
    Res: prost::Message + Send + 'static,
{
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<Res, Req>::default());
    grpc.server_streaming(Partial { store, open }, request)
        .await
}

/// One method answered as a stream of partial results.
struct Partial<Req, Res> {
    store: Store,
    open: fn(Store, &Req) -> Result<partial::Messages<Res>, Status>,
}

impl<Req, Res> ServerStreamingService<Req> for Partial<Req, Res>
where
    Req: Send + 'static,
    Res: Send + 'static,
{
    type Response = Res;
    type ResponseStream = partial::Messages<Res>;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<Self::ResponseStream>, Status>> + Send>>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let opened = (self.open)(self.store.clone(), request.get_ref());
        Box::pin(async move { opened.map(Response::new) })
    }
}

/// GETs `path` from the HTTP API and reads its JSON answer as `Res`.
async fn ask<Res: DeserializeOwned>(http: Router, path: &str) -> Result<Res, Status> {
    let get = http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(Body::empty())
        .map_err(|e| Status::internal(format!("request for {path}: {e}")))?;
    let response = match http.oneshot(get).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .to_bytes();
    let text = || String::from_utf8_lossy(&body).trim().to_owned();
    match status.as_u16() {
        200 => serde_json::from_slice(&body)
            .map_err(|e| Status::internal(format!("answer of {path} unreadable: {e}"))),
        400 => Err(Status::invalid_argument(text())),
        404 => Err(Status::not_found(text())),
        _ => Err(Status::internal(text())),
    }
}

/// Whether a request field is set: proto3 sends empty strings and zeros for unset fields.
fn is_set(value: &str) -> bool {
    !value.is_empty() && value != "0"
}

/// The HTTP API's parameters from the set fields of a request.
fn params(pairs: Vec<(&str, String)>) -> HashMap<String, String> {
    pairs
        .into_iter()
        .filter(|(_, value)| is_set(value))
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// `?name=value&…` of the non-empty pairs, values percent-encoded.
fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .filter(|(_, value)| is_set(value))
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(&value, NON_ALPHANUMERIC)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn search_params(r: &tempopb::SearchRequest) -> Vec<(&'static str, String)> {
    // Tempo's legacy tag search takes logfmt `k=v` pairs; values with spaces are quoted.
    let mut tags: Vec<String> = r
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={}", logfmt_value(v)))
        .collect();
    tags.sort();
    let millis = |ms: u32| {
        if ms == 0 {
            String::new()
        } else {
            format!("{ms}ms")
        }
    };
    vec![
        ("q", r.query.clone()),
        ("tags", tags.join(" ")),
        ("limit", r.limit.to_string()),
        // 0 means "every span" in the HTTP API, but "unset" here: Tempo's default applies.
        ("spss", r.spans_per_span_set.to_string()),
        ("start", r.start.to_string()),
        ("end", r.end.to_string()),
        ("minDuration", millis(r.min_duration_ms)),
        ("maxDuration", millis(r.max_duration_ms)),
    ]
}

fn logfmt_value(value: &str) -> String {
    if value.contains([' ', '"', '=']) {
        format!("{value:?}")
    } else {
        value.to_owned()
    }
}

fn tags_path(base: &str, r: &tempopb::SearchTagsRequest) -> String {
    format!(
        "{base}{}",
        query_string([
            ("scope", r.scope.clone()),
            ("q", r.query.clone()),
            ("start", r.start.to_string()),
            ("end", r.end.to_string()),
        ])
    )
}

fn values_path(base: &str, r: &tempopb::SearchTagValuesRequest) -> String {
    format!(
        "{base}/{}/values{}",
        utf8_percent_encode(&r.tag_name, NON_ALPHANUMERIC),
        query_string([
            ("q", r.query.clone()),
            ("start", r.start.to_string()),
            ("end", r.end.to_string()),
        ])
    )
}

fn range_params(r: &tempopb::QueryRangeRequest) -> Vec<(&'static str, String)> {
    vec![
        ("q", r.query.clone()),
        ("start", r.start.to_string()),
        ("end", r.end.to_string()),
        // A Go duration in nanoseconds, which the HTTP API's `step` takes as well.
        (
            "step",
            if r.step == 0 {
                String::new()
            } else {
                format!("{}ns", r.step)
            },
        ),
        ("exemplars", r.exemplars.to_string()),
    ]
}

fn instant_path(r: &tempopb::QueryInstantRequest) -> String {
    format!(
        "/api/metrics/query{}",
        query_string([
            ("q", r.query.clone()),
            ("start", r.start.to_string()),
            ("end", r.end.to_string()),
        ])
    )
}
