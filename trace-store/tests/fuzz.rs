//! Bad input to the receiver: mutated copies of a committed corpus, random
//! bytes, huge values, many spans, a client that never finishes its body.
//! Never a 5xx or a panic, never more than the bound; generated with
//! proptest (cargo-fuzz needs a nightly toolchain, which is not used here).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message;
use tower::ServiceExt;
use trace_store::{Config, IngestLimits, Listeners, Store};

/// The corpus: (name, OTLP/JSON bytes, protobuf bytes).
fn corpus() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/otlp");
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|path| {
            let json = std::fs::read(&path).unwrap();
            let request: ExportTraceServiceRequest =
                serde_json::from_slice(&json).expect("corpus files are valid OTLP/JSON");
            (path.display().to_string(), json, request.encode_to_vec())
        })
        .collect()
}

const MAX_SPANS: usize = 1000;

/// Post `body` as `content_type` to a fresh receiver; its status and the store.
fn post(body: Vec<u8>, content_type: &str, gzip: bool) -> (StatusCode, Store) {
    let store = Store::new(MAX_SPANS);
    let limits = IngestLimits {
        max_body_bytes: 1 << 20,
        max_decompressed_bytes: 4 << 20,
        ..IngestLimits::default()
    };
    let mut request = Request::post("/v1/traces").header("content-type", content_type);
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    let request = request.body(Body::from(body)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = runtime
        .block_on(trace_store::ingest::router(store.clone(), limits).oneshot(request))
        .unwrap();
    (response.status(), store)
}

fn acceptable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 400 | 413 | 415)
}

#[test]
fn every_corpus_entry_is_accepted_in_both_encodings() {
    for (name, json, proto) in corpus() {
        assert_eq!(
            post(json, "application/json", false).0,
            StatusCode::OK,
            "{name} as JSON"
        );
        assert_eq!(
            post(proto, "application/x-protobuf", false).0,
            StatusCode::OK,
            "{name} as protobuf"
        );
    }
}

/// A mutation of one input: flip, truncate, insert, or splice bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Repeat(usize, usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ];
    prop::collection::vec(one, 1..6)
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len().max(1);
        match mutation {
            Mutation::Flip(at, bits) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= bits;
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            Mutation::Insert(at, new) => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Repeat(at, n) => {
                let at = (at % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_entries_get_a_clear_answer(pick in any::<usize>(), mutations in mutations(), json in any::<bool>()) {
        let corpus = corpus();
        let (_, json_bytes, proto_bytes) = &corpus[pick % corpus.len()];
        let (body, content_type) = if json {
            (apply(json_bytes.clone(), &mutations), "application/json")
        } else {
            (apply(proto_bytes.clone(), &mutations), "application/x-protobuf")
        };
        let (status, store) = post(body, content_type, false);
        prop_assert!(acceptable(status), "status {}", status);
        prop_assert!(store.span_count() <= MAX_SPANS);
        if status != StatusCode::OK {
            prop_assert_eq!(store.span_count(), 0, "a refused request stored spans");
        }
    }

    #[test]
    fn random_bytes_get_a_clear_answer(body in prop::collection::vec(any::<u8>(), 0..2048), gzip in any::<bool>(), json in any::<bool>()) {
        let content_type = if json { "application/json" } else { "application/x-protobuf" };
        let (status, store) = post(body, content_type, gzip);
        prop_assert!(acceptable(status), "status {}", status);
        prop_assert!(store.span_count() <= MAX_SPANS);
    }
}

/// 10,000 spans in one request, and an attribute value of 512 KiB: stored.
#[test]
fn many_spans_and_huge_values_within_the_limits_are_stored() {
    let (_, json, _) = corpus()
        .into_iter()
        .find(|(name, ..)| name.ends_with("chain-trace.json"))
        .unwrap();
    let mut request: ExportTraceServiceRequest = serde_json::from_slice(&json).unwrap();
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    let template = spans[0].clone();
    spans.clear();
    for n in 0..10_000u32 {
        let mut span = template.clone();
        span.trace_id[..4].copy_from_slice(&n.to_be_bytes());
        span.span_id[..4].copy_from_slice(&n.to_be_bytes());
        spans.push(span);
    }
    spans[0].name = "x".repeat(512 * 1024);
    let store = Store::new(20_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = request.encode_to_vec();
    let response = runtime
        .block_on(
            trace_store::ingest::router(store.clone(), IngestLimits::default()).oneshot(
                Request::post("/v1/traces")
                    .header("content-type", "application/x-protobuf")
                    .body(Body::from(body))
                    .unwrap(),
            ),
        )
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(store.span_count(), 10_000);
}

/// A client that sends half a body and stops gets 408 when the request
/// timeout runs out, instead of holding a connection (and shutdown) forever.
#[test]
fn a_client_that_never_finishes_its_body_times_out() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        request_timeout: Duration::from_millis(500),
        ..Config::ephemeral()
    };
    let listeners = runtime.block_on(Listeners::bind(&config)).unwrap();
    let addr = listeners.otlp_http.local_addr().unwrap();
    runtime.spawn(async move {
        trace_store::serve(listeners, Store::new(100), &config, std::future::pending()).await
    });

    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    socket
        .write_all(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\nhalf")
        .unwrap();
    let mut answer = [0u8; 12];
    socket.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 408");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
