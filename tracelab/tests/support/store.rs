//! The store as its own process, and its traces read back as flat spans.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData};
use prost::Message;

use super::process::{DEADLINE, Process};

/// The embedded store as its own process.
pub struct StoreProcess {
    pub process: Process,
    pub otlp: SocketAddr,
    pub grpc: SocketAddr,
    pub query: SocketAddr,
}

impl StoreProcess {
    /// Start a store on free ports.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Start a store whose OTLP/HTTP receiver listens on `otlp_port`.
    pub fn start_on(otlp_port: u16) -> Self {
        Self::start_with(otlp_port, &[])
    }

    /// Start a store on `otlp_port` with `env` (e.g. a token).
    pub fn start_with(otlp_port: u16, env: &[(&str, String)]) -> Self {
        let otlp_port = otlp_port.to_string();
        let process = Process::start(
            &[
                "store",
                "--otlp-port",
                &otlp_port,
                "--grpc-port",
                "0",
                "--query-port",
                "0",
            ],
            env,
        );
        let otlp = address_after(
            &process.stdout_line(|l| l.starts_with("OTLP receiver on")),
            "http://",
        );
        let grpc = address_after(
            &process.stdout_line(|l| l.starts_with("OTLP/gRPC receiver on")),
            "http://",
        );
        let query = address_after(
            &process.stdout_line(|l| l.starts_with("query API on")),
            "http://",
        );
        Self {
            process,
            otlp,
            grpc,
            query,
        }
    }

    /// The trace `trace_id` (32 hex digits) once it has `spans` spans, waiting with the
    /// store's long-poll (`/tracelab/v1/traces/{id}/settled?spans=N`): it answers the moment
    /// the spans arrive, so there is no polling here.
    pub async fn wait_for_trace(&self, trace_id: &str, spans: usize) -> Vec<FlatSpan> {
        let timeout = format!("{}ms", DEADLINE.as_millis());
        let response = reqwest::Client::new()
            .get(format!(
                "http://{}/tracelab/v1/traces/{trace_id}/settled",
                self.query
            ))
            .query(&[("spans", spans.to_string()), ("timeout", timeout)])
            .header("Accept", "application/protobuf")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        let flat = flatten(&TracesData::decode(body).expect("protobuf trace"));
        assert_eq!(
            status,
            200,
            "trace {trace_id} has {} of {spans} spans after {DEADLINE:?}",
            flat.len()
        );
        flat
    }

    /// The id of the only trace in the store, waiting for it to appear with the store's
    /// newest-match long-poll (`/tracelab/v1/search/newest`), which answers when spans arrive.
    pub async fn only_trace_id(&self) -> String {
        let client = reqwest::Client::new();
        let base = format!("http://{}", self.query);
        let timeout = format!("{}ms", DEADLINE.as_millis());
        let response = client
            .get(format!("{base}/tracelab/v1/search/newest"))
            .query(&[("q", "{ }"), ("timeout", timeout.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "no trace in the store after {DEADLINE:?}"
        );
        let newest: serde_json::Value = response.json().await.unwrap();
        let body: serde_json::Value = reqwest::get(format!("{base}/api/search"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let traces = body["traces"].as_array().expect("search lists traces");
        assert_eq!(traces.len(), 1, "one trace expected: {body}");
        newest["traceID"].as_str().unwrap().to_owned()
    }
}

impl StoreProcess {
    /// Runs `tracelab expect SHAPE --trace ID` against this store, as a CI script would, and
    /// returns its exit code and output. `shape` is under `tests/shapes/`.
    pub fn expect(&self, shape: &str, args: &[&str]) -> (i32, String) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/shapes/").to_owned() + shape;
        let store = format!("http://{}", self.query);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .args(["expect", &path, "--store", &store, "--color", "never"])
            .args(args)
            .env_remove("TRACELAB_TOKEN")
            .output()
            .expect("tracelab runs");
        super::code_and_text(&output)
    }

    /// Asserts that trace `trace_id` has the shape in `tests/shapes/{shape}`, waiting for it.
    pub fn assert_shape(&self, shape: &str, trace_id: &str) {
        let wait = format!("{}s", DEADLINE.as_secs());
        let (code, text) = self.expect(shape, &["--trace", trace_id, "--wait", &wait]);
        assert_eq!(
            code, 0,
            "trace {trace_id} does not have the shape {shape}:\n{text}"
        );
    }
}

fn address_after(line: &str, prefix: &str) -> SocketAddr {
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    rest.split('/').next().unwrap().parse().unwrap()
}

/// One span with its service, flattened for assertions.
#[derive(Debug, Clone)]
pub struct FlatSpan {
    pub service: String,
    pub resource: HashMap<String, Value>,
    pub span: Span,
}

impl FlatSpan {
    /// A span attribute.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .as_ref()?
            .value
            .as_ref()
    }
}

fn flatten(data: &TracesData) -> Vec<FlatSpan> {
    let mut out = Vec::new();
    for rs in &data.resource_spans {
        let resource: HashMap<String, Value> = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?.value?)))
            .collect();
        let service = match resource.get("service.name") {
            Some(Value::StringValue(s)) => s.clone(),
            _ => String::new(),
        };
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                out.push(FlatSpan {
                    service: service.clone(),
                    resource: resource.clone(),
                    span: span.clone(),
                });
            }
        }
    }
    out
}

/// A string attribute value.
pub fn s(v: &str) -> Value {
    Value::StringValue(v.to_owned())
}

/// An integer attribute value.
pub fn i(v: i64) -> Value {
    Value::IntValue(v)
}

/// Keep `AnyValue` in scope for callers that build values.
pub type Any = AnyValue;
