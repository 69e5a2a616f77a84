//! `tracelab expect` against a store process behind a proxy of the test's own, which says when
//! the command asks, and which can hide our long-polls:
//!
//! - as Grafana Tempo: 404 under `/tracelab/`, everything else passed through, so only Tempo's
//!   API (`/api/echo`, `/api/traces/{id}`, `/api/search`) is left. No real Tempo runs here;
//!   this checks the fallback against the store's Tempo-compatible API;
//! - as itself, to send a newer trace right after `--query` first asked.

mod support;

// The kit's own builders of the seed chain as OTLP, shared rather than copied.
#[path = "../../trace-expect/tests/support/mod.rs"]
mod kit;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use kit::{CHAIN_SHAPE, S, chain, request, trace_id};
use prost::Message;
use support::StoreProcess;

const ID: &str = "ababababababababababababababab01";

/// The proxy's upstream, whether it hides the long-polls, and what the command asked.
#[derive(Clone)]
struct Upstream {
    base: String,
    as_tempo: bool,
    trace_fetches: Arc<AtomicUsize>,
    fetched: Arc<tokio::sync::Notify>,
    searched: Arc<tokio::sync::Notify>,
}

/// The store's API passed on; as Tempo, 404 for our extension.
async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/search") || path.starts_with("/tracelab/v1/search/") {
        upstream.searched.notify_waiters();
    }
    if upstream.as_tempo && path.starts_with("/tracelab/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let is_trace_fetch = path.starts_with("/api/traces/");
    let target = format!(
        "{}{}",
        upstream.base,
        request.uri().path_and_query().unwrap()
    );
    let mut outgoing = reqwest::Client::new().get(target);
    if let Some(accept) = request.headers().get(ACCEPT) {
        outgoing = outgoing.header(ACCEPT, accept.to_str().unwrap());
    }
    let answer = outgoing.send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = answer.bytes().await.unwrap();
    if is_trace_fetch {
        upstream.trace_fetches.fetch_add(1, Ordering::SeqCst);
        upstream.fetched.notify_waiters();
    }
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

/// A store with `spans` as trace 1, behind the proxy.
struct Proxied {
    store: StoreProcess,
    url: String,
    upstream: Upstream,
}

impl Proxied {
    /// As Tempo: the long-polls hidden.
    async fn start(spans: &[S]) -> Self {
        Self::start_as(spans, true).await
    }

    async fn start_as(spans: &[S], as_tempo: bool) -> Self {
        let store = StoreProcess::start();
        let upstream = Upstream {
            base: format!("http://{}", store.query),
            as_tempo,
            trace_fetches: Arc::default(),
            fetched: Arc::default(),
            searched: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let this = Proxied {
            store,
            url,
            upstream,
        };
        if !spans.is_empty() {
            this.post(spans).await;
        }
        this
    }

    async fn post(&self, spans: &[S]) {
        self.post_as(1, spans).await;
    }

    async fn post_as(&self, trace: u8, spans: &[S]) {
        let response = reqwest::Client::new()
            .post(format!("http://{}/v1/traces", self.store.otlp))
            .header("Content-Type", "application/x-protobuf")
            .body(request(trace_id(trace), spans).encode_to_vec())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// `tracelab expect` on the chain's shape against the proxy, not yet awaited.
    fn expect(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .arg("expect")
            .arg(shape_file())
            .args(["--store", &self.url, "--color", "never"])
            .args(args)
            .env_remove("TRACELAB_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }
}

/// The kit's chain shape in a file, written once under Cargo's temp folder for tests.
fn shape_file() -> &'static std::path::Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tempo-chain.yaml");
        std::fs::write(&path, CHAIN_SHAPE).unwrap();
        path
    })
}

/// Exit code and everything printed.
async fn finish(child: tokio::process::Child) -> (i32, String) {
    let output = child.wait_with_output().await.unwrap();
    support::code_and_text(&output)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_is_checked_through_tempos_api() {
    let tempo = Proxied::start(&chain()).await;
    let (code, text) = finish(tempo.expect(&["--trace", ID, "--wait", "5s"])).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("matches") && text.contains("(5 spans)"),
        "{text}"
    );
    assert!(
        text.contains("has no /tracelab/v1 long-poll") && text.contains("Tempo API every 500ms"),
        "{text}"
    );
    assert!(tempo.upstream.trace_fetches.load(Ordering::SeqCst) >= 1);

    // --query: the newest match, found with Tempo's search.
    let query = r#"{ resource.service.name = "app-c" }"#;
    let (code, text) = finish(tempo.expect(&["--query", query, "--wait", "5s"])).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("trace {ID} matches")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_span_that_comes_while_polling_is_seen() {
    let spans = chain();
    let tempo = Proxied::start(&spans[..4]).await;
    let fetched = tempo.upstream.fetched.notified();
    let child = tempo.expect(&["--trace", ID, "--wait", "20s"]);
    // Once the command has seen the trace with 4 spans, the fifth arrives.
    tokio::time::timeout(support::DEADLINE, fetched)
        .await
        .expect("tracelab expect fetches the trace through Tempo's API");
    tempo.post(&spans[4..]).await;
    let (code, text) = finish(child).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(5 spans)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_span_is_named_at_the_wait() {
    let mut spans = chain();
    spans.pop();
    let tempo = Proxied::start(&spans).await;
    let (code, text) = finish(tempo.expect(&["--trace", ID, "--wait", "2s"])).await;
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("4 of 5 spans after 2s") && text.contains("missing: app-c SERVER GET /"),
        "{text}"
    );
}

/// A URL that serves neither our long-polls nor Tempo's API is a bad `--store`: exit 2 at once,
/// not a wait for a trace that cannot come.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_url_that_is_neither_exits_2() {
    let tempo = Proxied::start(&chain()).await;
    let wrong = format!("{}/not-the-api", tempo.url);
    let started = std::time::Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .arg("expect")
        .arg(shape_file())
        .args(["--store", &wrong, "--trace", ID, "--wait", "30s"])
        .env_remove("TRACELAB_TOKEN")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("answers neither tracelab's long-poll nor Tempo's API"),
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// `--query` right after a request: the store still holds the previous matching trace, and the
/// new one arrives only after the command first asked (its spans were in the exporters'
/// batches). The command waits for `--quiet` without a newer match, so it checks the new trace
/// (here a broken one: exit 1), not the old one that matches. Both with our long-poll and
/// against Tempo's API.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_checks_a_trace_that_arrives_after_it_first_asked() {
    for as_tempo in [false, true] {
        let proxied = Proxied::start_as(&chain(), as_tempo).await;
        let asked = proxied.upstream.searched.notified();
        let query = r#"{ resource.service.name = "app-c" }"#;
        let child = proxied.expect(&["--query", query, "--wait", "10s", "--quiet", "2s"]);
        tokio::time::timeout(support::DEADLINE, asked)
            .await
            .expect("tracelab expect searches");
        // The newer trace: app-c failed. Its spans start later than trace 1's.
        let mut broken = chain();
        for span in &mut broken {
            (span.start_ms, span.end_ms) = (span.start_ms + 1000, span.end_ms + 1000);
        }
        broken[4].status = 2;
        proxied.post_as(2, &broken).await;
        let (code, text) = finish(child).await;
        assert_eq!(code, 1, "as Tempo: {as_tempo}\n{text}");
        assert!(
            text.contains("ababababababababababababababab02")
                && text.contains("app-c SERVER GET /: status error, expected unset"),
            "as Tempo: {as_tempo}\n{text}"
        );
    }
}
