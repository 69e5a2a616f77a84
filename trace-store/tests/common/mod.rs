//! Test harness shared by the integration tests: a real [`trace_store::serve`] on port-0
//! listeners, a reqwest client, and builders for OTLP requests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trace_store::{Config, IngestLimits, Listeners, ServeError, Store};

/// A running store: base URLs of both listeners, the store itself, and a way to stop it.
pub(crate) struct TestApp {
    pub(crate) otlp_url: String,
    pub(crate) query_url: String,
    pub(crate) store: Store,
    pub(crate) client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), ServeError>>,
}

impl TestApp {
    /// A store of 1000 spans with the default limits.
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Store::new(1000), IngestLimits::default()).await
    }

    /// [`TestApp::spawn`] with `requests` exported to it (each answered 200).
    pub(crate) async fn spawn_loaded(requests: Vec<ExportTraceServiceRequest>) -> Self {
        let app = Self::spawn().await;
        for request in requests {
            assert_eq!(app.export(&request).await.status(), 200);
        }
        app
    }

    pub(crate) async fn spawn_with(store: Store, limits: IngestLimits) -> Self {
        let config = Config {
            limits,
            ..Config::ephemeral()
        };
        let listeners = Listeners::bind(&config).await.unwrap();
        let otlp_url = format!("http://{}", listeners.otlp_http.local_addr().unwrap());
        let query_url = format!("http://{}", listeners.query.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = store.clone();
        let server = tokio::spawn(async move {
            trace_store::serve(listeners, serving, &config, async {
                let _ = stopped.await;
            })
            .await
        });
        TestApp {
            otlp_url,
            query_url,
            store,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server,
        }
    }

    /// POSTs `body` to the receiver's `path` with the given headers.
    pub(crate) async fn post(
        &self,
        path: &str,
        content_type: &str,
        gzip: bool,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.otlp_url))
            .header("content-type", content_type);
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        request.body(body).send().await.unwrap()
    }

    /// POSTs an export request as protobuf.
    pub(crate) async fn export(&self, request: &ExportTraceServiceRequest) -> reqwest::Response {
        self.post(
            "/v1/traces",
            "application/x-protobuf",
            false,
            request.encode_to_vec(),
        )
        .await
    }

    /// GETs a query-API path, optionally with an `Accept` header.
    pub(crate) async fn get(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.query_url));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.unwrap()
    }

    /// Completes the shutdown future given to `serve`.
    pub(crate) fn request_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Triggers graceful shutdown and returns what `serve` returned.
    pub(crate) async fn shutdown(mut self) -> Result<(), ServeError> {
        self.request_shutdown();
        self.server.await.unwrap()
    }
}

/// `google.rpc.Status`, declared independently of the crate so the tests check the wire format.
#[derive(Clone, PartialEq, prost::Message, serde::Deserialize)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A 16-byte trace id ending in `n`, and its hex.
pub(crate) fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0xc0, 0xff, 0xee];
    id.resize(15, 0);
    id.push(n);
    id
}

pub(crate) fn span_id(n: u8) -> Vec<u8> {
    vec![0xb0, 0, 0, 0, 0, 0, 0, n]
}

pub(crate) fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    start: u64,
    end: u64,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Default::default()
    }
}

pub(crate) fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// One request with all `spans` from `service`.
pub(crate) fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr(
                    "service.name",
                    any_value::Value::StringValue(service.to_owned()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Percent-encodes every byte but letters and digits, as a browser's `encodeURIComponent` would
/// (and more), so queries reach the server exactly as written.
pub(crate) fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
