//! Proof against the original: the seed's own Python stack (its three Flask
//! apps under `opentelemetry-instrument`, the OpenTelemetry Python SDK 1.45
//! and the reference protobuf classes, pinned in `interop/requirements.txt`)
//! talking to ours, in both directions, as real processes.
//!
//! - Mixed chains, Python → Rust → Python and Rust → Python → Rust: the seed's
//!   answer, one trace of five spans with the right parents across the
//!   language boundary, and an incoming `traceparent` continued.
//! - The Python exporters → our store: stored, listed by `/api/search`, drawn
//!   as a waterfall; the Python log exporter's `/v1/logs` posts accepted.
//! - Our exporters → a reference Python receiver: every span decodes with
//!   the ids, kinds, names, attributes and attribute types we mean.
//!
//! The first test to run builds the venv with `scripts/python-env.sh` (once,
//! about a minute from PyPI); later runs reuse it.

mod support;

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::{Value as Json, json};
use support::python::{PythonApp, Receiver, SeedApp, export_logs};
use support::{Chain, ChainOptions, FlatSpan, ServiceProcess, StoreProcess, i, s};
use trace_store::waterfall::{WaterfallOptions, render};
use trace_store::{Store, TraceId};

const SERVER: i32 = SpanKind::Server as i32;
const CLIENT: i32 = SpanKind::Client as i32;
const ANSWER: &str = "I'm app-a I'm app-b I'm app-c";

/// Which implementation serves a hop of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
}

use Lang::{Python, Rust};

impl Lang {
    /// `telemetry.sdk.language` of its spans.
    fn sdk(self) -> &'static str {
        match self {
            Rust => "rust",
            Python => "python",
        }
    }
}

/// One hop of a mixed chain: our service or the seed's app.
enum Hop {
    Rust(ServiceProcess),
    Python(PythonApp),
}

impl Hop {
    /// Start `app` in `lang`, exporting to `store`, with the next hop's
    /// address in `env`. app-b's wait is 0 in both languages.
    fn start(app: SeedApp, lang: Lang, store: &StoreProcess, env: &[(&str, String)]) -> Self {
        match lang {
            Rust => {
                let mut all = vec![
                    ("BIND_ADDR", "127.0.0.1".to_owned()),
                    ("PORT", "0".to_owned()),
                    ("LOG_FORMAT", "json".to_owned()),
                    ("APP_B_DELAY_MS", "0".to_owned()),
                    (
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                        format!("http://{}", store.otlp),
                    ),
                    ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
                ];
                all.extend(env.iter().cloned());
                Hop::Rust(ServiceProcess::start(app.name(), &all))
            }
            Python => {
                let mut all = vec![("APP_B_DELAY_S", "0".to_owned())];
                all.extend(env.iter().cloned());
                Hop::Python(PythonApp::start(app, store.otlp, &all))
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Hop::Rust(p) => p.addr,
            Hop::Python(p) => p.addr,
        }
    }
}

/// A hop's environment: `python_env` for a Python hop, and the next hop's
/// address under the seed's names (`SERVICE_B_HOST`, ...).
fn hop_env<'a>(
    lang: Lang,
    python_env: &[(&'a str, String)],
    next: Option<(&'a str, &'a str, &Hop)>,
) -> Vec<(&'a str, String)> {
    let mut env = match lang {
        Python => python_env.to_vec(),
        Rust => Vec::new(),
    };
    if let Some((host, port, hop)) = next {
        env.push((host, "127.0.0.1".to_owned()));
        env.push((port, hop.addr().port().to_string()));
    }
    env
}

/// The store and a chain whose hops are each Rust or Python.
struct Mixed {
    store: StoreProcess,
    langs: [Lang; 3],
    hops: [Hop; 3],
}

impl Mixed {
    /// Start the store, then app-c, app-b and app-a; `python_env` goes to
    /// every Python hop.
    fn start(langs: [Lang; 3], python_env: &[(&str, String)]) -> Self {
        let store = StoreProcess::start();
        let c = Hop::start(
            SeedApp::C,
            langs[2],
            &store,
            &hop_env(langs[2], python_env, None),
        );
        let b_env = hop_env(
            langs[1],
            python_env,
            Some(("SERVICE_C_HOST", "SERVICE_C_PORT", &c)),
        );
        let b = Hop::start(SeedApp::B, langs[1], &store, &b_env);
        let a_env = hop_env(
            langs[0],
            python_env,
            Some(("SERVICE_B_HOST", "SERVICE_B_PORT", &b)),
        );
        let a = Hop::start(SeedApp::A, langs[0], &store, &a_env);
        Self {
            store,
            langs,
            hops: [a, b, c],
        }
    }

    /// Send unsampled requests through the chain until one gets the seed's
    /// answer. A cold Python app imports lazily on its first request, which
    /// on a loaded machine can pass the seed's 3 s timeout; an unsampled
    /// `traceparent` (flags `00`) makes every hop, in both languages, record
    /// nothing, so the store stays empty for the test's own request.
    async fn warm_up(&self) {
        let until = std::time::Instant::now() + support::DEADLINE;
        for n in 1u64.. {
            let traceparent = format!("00-{:032x}-{:016x}-00", 0xfeed_0000 + n, n);
            let (_, body) = self.get(&[("traceparent", &traceparent)]).await;
            if body == ANSWER {
                return;
            }
            assert!(
                std::time::Instant::now() < until,
                "the chain never answered {ANSWER:?}; last: {body:?}"
            );
        }
    }

    /// `GET /` on app-a: status and body.
    async fn get(&self, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = reqwest::Client::new().get(format!("http://{}/", self.hops[0].addr()));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("app-a answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Check the five spans of one request and return them root first: the
    /// seed's shape, each hop's SDK, an integer status code in each
    /// language's conventions, the client spans' target, and parents
    /// covering their children in time.
    fn check_trace(&self, spans: &[FlatSpan]) -> Vec<FlatSpan> {
        assert_eq!(spans.len(), 5, "{spans:#?}");
        let ordered = root_first(spans);
        let shape: Vec<_> = ordered
            .iter()
            .map(|s| (s.service.as_str(), s.span.name.as_str(), s.span.kind))
            .collect();
        assert_eq!(
            shape,
            [
                ("app-a", "GET /", SERVER),
                ("app-a", "GET", CLIENT),
                ("app-b", "GET /", SERVER),
                ("app-b", "GET", CLIENT),
                ("app-c", "GET /", SERVER),
            ]
        );
        for (n, span) in ordered.iter().enumerate() {
            let lang = self.langs[n / 2];
            assert_eq!(
                span.resource.get("telemetry.sdk.language"),
                Some(&s(lang.sdk())),
                "span {n}"
            );
            // Python's instrumentations keep the old conventions by default
            // (the seed sets no OTEL_SEMCONV_STABILITY_OPT_IN); both are integers.
            let status = match lang {
                Rust => "http.response.status_code",
                Python => "http.status_code",
            };
            assert_eq!(span.attr(status), Some(&i(200)), "span {n}: {span:#?}");
        }
        for (client, next) in [(&ordered[1], 1), (&ordered[3], 2)] {
            let url = match self.langs[next - 1] {
                Rust => "url.full",
                Python => "http.url",
            };
            let port = self.hops[next].addr().port();
            assert_eq!(
                client.attr(url),
                Some(&s(&format!("http://127.0.0.1:{port}/")))
            );
        }
        for pair in ordered.windows(2) {
            let (parent, child) = (&pair[0].span, &pair[1].span);
            assert!(parent.start_time_unix_nano <= child.start_time_unix_nano);
            assert!(parent.end_time_unix_nano >= child.end_time_unix_nano);
        }
        ordered
    }
}

/// The spans from the root down, each the parent of the next. The root is
/// the span whose parent is not in the trace: none, or the caller's span when
/// the request came with a `traceparent`.
fn root_first(spans: &[FlatSpan]) -> Vec<FlatSpan> {
    let root = spans
        .iter()
        .find(|s| {
            !spans
                .iter()
                .any(|p| p.span.span_id == s.span.parent_span_id)
        })
        .unwrap_or_else(|| panic!("no root in {spans:#?}"));
    let mut ordered = vec![root.clone()];
    while ordered.len() < spans.len() {
        let parent = &ordered.last().unwrap().span.span_id;
        let child = spans
            .iter()
            .find(|s| s.span.parent_span_id == *parent)
            .unwrap_or_else(|| panic!("no child of {parent:?} in {spans:#?}"));
        ordered.push(child.clone());
    }
    ordered
}

/// One request through a mixed chain, then one with an incoming
/// `traceparent`: the seed's answer, one trace of five spans with the
/// parents right across both language boundaries, and the caller's trace
/// continued.
async fn mixed_chain_makes_one_trace(langs: [Lang; 3]) {
    let chain = Mixed::start(langs, &[]);
    chain.warm_up().await;

    let (code, body) = chain.get(&[]).await;
    assert_eq!((code, body.as_str()), (200, ANSWER));
    let trace_id = chain.store.only_trace_id().await;
    let spans = chain.store.wait_for_trace(&trace_id, 5).await;
    let ordered = chain.check_trace(&spans);
    assert!(ordered[0].span.parent_span_id.is_empty());
    assert!(
        spans
            .iter()
            .all(|s| hex::encode(&s.span.trace_id) == trace_id)
    );

    let (trace_id, parent_id) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let traceparent = format!("00-{trace_id}-{parent_id}-01");
    let (code, body) = chain.get(&[("traceparent", &traceparent)]).await;
    assert_eq!((code, body.as_str()), (200, ANSWER));
    let spans = chain.store.wait_for_trace(trace_id, 5).await;
    let ordered = chain.check_trace(&spans);
    assert_eq!(hex::encode(&ordered[0].span.parent_span_id), parent_id);
}

/// Python app-a → Rust app-b → Python app-c. Python's SDK 1.45 sends
/// `traceparent` flags `03` (sampled, random trace id); app-b continues it.
#[tokio::test(flavor = "multi_thread")]
async fn python_a_then_rust_b_then_python_c_make_one_trace() {
    mixed_chain_makes_one_trace([Python, Rust, Python]).await;
}

/// Rust app-a → Python app-b → Rust app-c.
#[tokio::test(flavor = "multi_thread")]
async fn rust_a_then_python_b_then_rust_c_make_one_trace() {
    mixed_chain_makes_one_trace([Rust, Python, Rust]).await;
}

/// The seed's stack exports to our store as it would to the Collector: its
/// spans are stored, `/api/search` lists the trace under the Python root,
/// the trace draws as a waterfall, and its logs posts get 200.
#[tokio::test(flavor = "multi_thread")]
async fn the_seed_stack_exports_to_our_store() {
    // Logs on, as a user of the seed would turn them on: werkzeug's
    // access-log lines become OTLP log records posted to the store's /v1/logs.
    let logs = [
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        (
            "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED",
            "true".to_owned(),
        ),
        ("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()),
    ];
    let chain = Mixed::start([Python; 3], &logs);
    chain.warm_up().await;

    let (code, body) = chain.get(&[]).await;
    assert_eq!((code, body.as_str()), (200, ANSWER));
    let trace_id = chain.store.only_trace_id().await;
    let spans = chain.store.wait_for_trace(&trace_id, 5).await;
    chain.check_trace(&spans);
    // The same trace, checked as a Python project's CI would: `tracelab expect` on its shape.
    chain.store.assert_shape("seed-python.yaml", &trace_id);

    // Listed by search, under the Python root.
    let query = chain.store.query;
    let search: Json = reqwest::get(format!("http://{query}/api/search?limit=20"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &search["traces"][0];
    assert_eq!(
        format!("{:0>32}", listed["traceID"].as_str().unwrap()),
        trace_id
    );
    assert_eq!(listed["rootServiceName"], "app-a", "{search}");
    assert_eq!(listed["rootTraceName"], "GET /", "{search}");

    // Tempo's JSON: three batches (one per service) holding five spans.
    let url = format!("http://{query}/api/traces/{trace_id}");
    let tempo: Json = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let batches = tempo["batches"].as_array().expect("batches");
    let span_count: usize = batches
        .iter()
        .flat_map(|b| b["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!((batches.len(), span_count), (3, 5), "{tempo}");

    // Drawn: the protobuf trace, loaded into a store of our own, renders as
    // the same waterfall the lab prints.
    let bytes = reqwest::Client::new()
        .get(&url)
        .header("Accept", "application/protobuf")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let data = TracesData::decode(bytes).unwrap();
    let local = Store::new(100);
    local
        .insert(ExportTraceServiceRequest {
            resource_spans: data.resource_spans,
        })
        .unwrap();
    let id = TraceId(hex::decode(&trace_id).unwrap().try_into().unwrap());
    let drawing = render(&local.trace(&id).unwrap(), &WaterfallOptions::default());
    let rows: Vec<String> = drawing
        .lines()
        .skip(1)
        .map(|l| l.split('│').next().unwrap().trim_end().to_owned())
        .collect();
    assert_eq!(
        rows,
        [
            "app-a  GET /",
            "app-a    GET",
            "app-b      GET /",
            "app-b        GET",
            "app-c          GET /",
        ],
        "{drawing}"
    );

    // Logs. The apps above ran with their log exporter on; it reports
    // nothing (its errors go to a logging handler of its own), so the
    // verdict comes from the same exporter class run by hand: it must
    // report SUCCESS against our /v1/logs.
    let (ok, output) = export_logs(&format!("http://{}/v1/logs", chain.store.otlp));
    assert!(ok, "the Python log exporter failed: {output}");
}

/// Our exporters, checked by the reference Python protobuf classes: every
/// span of one request decodes with the ids, kinds, names and statuses we
/// mean, and each attribute arrives with the type we mean (a status code is
/// an `intValue`, never a string). app-b exports gzip-compressed.
#[tokio::test(flavor = "multi_thread")]
async fn our_spans_decode_with_the_reference_python_classes() {
    let receiver = Receiver::start();
    let chain = Chain::start(ChainOptions {
        delay_ms: 0,
        env: vec![(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.addr),
        )],
        b_env: vec![("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned())],
        ..Default::default()
    });

    let (code, body, _) = chain.get(&[]).await;
    assert_eq!((code, body.as_str()), (200, ANSWER));
    let spans = receiver.spans(5);
    assert_eq!(spans.len(), 5, "{spans:#?}");

    // Root first, following the parent ids as decoded by Python.
    let mut ordered: Vec<&Json> = Vec::new();
    let mut parent = String::new();
    for _ in 0..5 {
        let next = spans
            .iter()
            .find(|s| s["parent_span_id"] == parent.as_str())
            .unwrap_or_else(|| panic!("no child of {parent:?} in {spans:#?}"));
        parent = next["span_id"].as_str().unwrap().to_owned();
        ordered.push(next);
    }
    let trace_id = ordered[0]["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    for span in &ordered {
        assert_eq!(span["trace_id"], trace_id);
        assert_eq!(span["span_id"].as_str().unwrap().len(), 16);
        assert_eq!(span["status"], "STATUS_CODE_UNSET");
    }

    let shape: Vec<_> = ordered
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("app-a", "GET /", "SPAN_KIND_SERVER"),
            ("app-a", "GET", "SPAN_KIND_CLIENT"),
            ("app-b", "GET /", "SPAN_KIND_SERVER"),
            ("app-b", "GET", "SPAN_KIND_CLIENT"),
            ("app-c", "GET /", "SPAN_KIND_SERVER"),
        ]
    );

    let typed = |t: &str, v: Json| json!({"type": t, "value": v});
    let version = env!("CARGO_PKG_VERSION");
    for span in &ordered {
        let resource = &span["resource"];
        assert_eq!(
            resource["service.name"],
            typed("stringValue", span["service"].clone())
        );
        assert_eq!(
            resource["service.version"],
            typed("stringValue", json!(version))
        );
        assert_eq!(
            resource["telemetry.sdk.language"],
            typed("stringValue", json!("rust"))
        );
        let attrs = &span["attributes"];
        assert_eq!(
            attrs["http.request.method"],
            typed("stringValue", json!("GET"))
        );
        assert_eq!(
            attrs["http.response.status_code"],
            typed("intValue", json!(200))
        );
        assert_eq!(
            attrs["server.address"],
            typed("stringValue", json!("127.0.0.1"))
        );
    }

    let addrs = [chain.a.addr, chain.b.addr, chain.c.as_ref().unwrap().addr];
    for (span, addr) in [ordered[0], ordered[2], ordered[4]].into_iter().zip(addrs) {
        let attrs = &span["attributes"];
        assert_eq!(attrs["server.port"], typed("intValue", json!(addr.port())));
        assert_eq!(attrs["url.path"], typed("stringValue", json!("/")));
        assert_eq!(attrs["url.scheme"], typed("stringValue", json!("http")));
        assert_eq!(attrs["http.route"], typed("stringValue", json!("/")));
        assert_eq!(
            attrs["client.address"],
            typed("stringValue", json!("127.0.0.1"))
        );
        assert_eq!(
            attrs["network.protocol.version"],
            typed("stringValue", json!("1.1"))
        );
    }
    for (span, addr) in [ordered[1], ordered[3]].into_iter().zip(&addrs[1..]) {
        let attrs = &span["attributes"];
        let url = format!("http://127.0.0.1:{}/", addr.port());
        assert_eq!(attrs["url.full"], typed("stringValue", json!(url)));
        assert_eq!(attrs["server.port"], typed("intValue", json!(addr.port())));
    }

    // After a graceful stop (each service flushes its exporter), still
    // exactly five: no duplicates, nothing the receiver could not decode.
    let mut services = vec![chain.a, chain.b];
    services.extend(chain.c);
    for service in &mut services {
        service.process.signal("TERM");
        assert!(service.process.wait_exit(support::DEADLINE).success());
    }
    assert_eq!(receiver.spans(5).len(), 5);
}
