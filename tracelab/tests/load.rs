//! Under load: 20,000 requests at concurrency 64, and every span accounted
//! for, from the services' counters to the store.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{Chain, ChainOptions, ServiceProcess};

const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 64;

/// The counters a service logs when it has flushed, at exit.
#[derive(Debug, Default, Clone, Copy)]
struct Flushed {
    exported: u64,
    failed: u64,
    dropped: u64,
}

/// Stop a service with SIGTERM and read its final span counts.
fn stop_and_count(service: &mut ServiceProcess) -> Flushed {
    service.process.signal("TERM");
    let status = service.process.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{}", service.process.stderr_text());
    let line = service
        .process
        .stderr_line(|l| l.contains("\"message\":\"spans flushed\""));
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    let n = |k: &str| json[k].as_u64().unwrap();
    Flushed {
        exported: n("exported"),
        failed: n("failed"),
        dropped: n("dropped"),
    }
}

/// A Prometheus sample's value from a `/metrics` body.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Zero errors, and the counts add up: for each service, spans queued plus
/// dropped is spans made; after the flush, exported is what the store holds.
/// With no drop, that is exactly 20,000 complete five-span traces.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_requests_lose_no_span_uncounted() {
    let mut chain = Chain::start(ChainOptions {
        delay_ms: 0,
        ..Default::default()
    });
    let client = reqwest::Client::new();
    let url = format!("http://{}/", chain.a.addr);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, next, errors) =
                (client.clone(), url.clone(), next.clone(), errors.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    let ok = match client.get(&url).send().await {
                        Ok(r) => {
                            r.status() == 200
                                && r.text()
                                    .await
                                    .is_ok_and(|b| b == "I'm app-a I'm app-b I'm app-c")
                        }
                        Err(_) => false,
                    };
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "requests failed under load"
    );

    // Every span each service made is counted as queued or dropped.
    let made = [(&chain.a, 2 * REQUESTS), (&chain.b, 2 * REQUESTS)];
    for (service, spans) in made {
        let m = metrics(service.addr).await;
        let queued = sample(&m, "tracelab_spans_queued_total");
        let dropped = sample(&m, "tracelab_spans_dropped_total");
        assert_eq!(queued + dropped, spans as u64, "{m}");
    }

    // Flush (front to back) and compare with what the store holds.
    let c = chain.c.as_mut().unwrap();
    let counts = [
        stop_and_count(&mut chain.a),
        stop_and_count(&mut chain.b),
        stop_and_count(c),
    ];
    let exported: u64 = counts.iter().map(|c| c.exported).sum();
    let dropped: u64 = counts.iter().map(|c| c.dropped).sum();
    assert!(counts.iter().all(|c| c.failed == 0), "{counts:?}");
    assert_eq!(exported + dropped, 5 * REQUESTS as u64, "{counts:?}");

    let store = metrics(chain.store.query).await;
    assert_eq!(
        sample(&store, "tracelab_store_spans"),
        exported,
        "{counts:?}"
    );
    if dropped == 0 {
        assert_eq!(sample(&store, "tracelab_store_traces"), REQUESTS as u64);
    } else {
        eprintln!("the export queue dropped {dropped} spans under this load (counted: {counts:?})");
    }
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// One OTLP request of 200 five-span traces, numbered from `first`.
fn flood_request(first: u64) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    let kv = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (first..first + 200)
        .flat_map(|n| {
            (0..5u64).map(move |i| Span {
                trace_id: [n.to_be_bytes(), [7; 8]].concat(),
                span_id: (n * 8 + i + 1).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    vec![]
                } else {
                    (n * 8 + i).to_be_bytes().to_vec()
                },
                name: "GET /".into(),
                start_time_unix_nano: 1_000 + i,
                end_time_unix_nano: 2_000 - i,
                attributes: vec![
                    kv("http.request.method", Value::StringValue("GET".into())),
                    kv("http.response.status_code", Value::IntValue(200)),
                    kv(
                        "url.full",
                        Value::StringValue(format!("http://127.0.0.1:5001/{n}")),
                    ),
                ],
                ..Default::default()
            })
        })
        .collect();
    let service = kv("service.name", Value::StringValue("flood".into()));
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![service],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A store flooded with ten times its bound: memory stays where it was when
/// the store was first full, the oldest traces are evicted, the newest kept,
/// and queries keep answering throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_flooded_store_stays_within_its_bound() {
    const BOUND: u64 = 20_000;
    let mut store = support::Process::start(
        &[
            "store",
            "--otlp-port",
            "0",
            "--grpc-port",
            "0",
            "--query-port",
            "0",
            "--max-spans",
            &BOUND.to_string(),
        ],
        &[],
    );
    let addr = |prefix: &str| -> std::net::SocketAddr {
        let line = store.stdout_line(|l| l.starts_with(prefix));
        line.rsplit("http://")
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (otlp, query) = (addr("OTLP receiver on"), addr("query API on"));
    let client = reqwest::Client::new();
    let post = |first: u64| {
        client
            .post(format!("http://{otlp}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(flood_request(first))
            .send()
    };
    // Fill to the bound: 20 requests of 1,000 spans.
    for r in 0..20 {
        assert_eq!(post(r * 200).await.unwrap().status(), 200);
    }
    let full = rss_bytes(store.pid());
    // Then nine times as much again, searching as it goes.
    let mut peak = full;
    for r in 20..200 {
        assert_eq!(post(r * 200).await.unwrap().status(), 200);
        if r % 20 == 0 {
            let search = client
                .get(format!("http://{query}/api/search?q=%7B%7D&limit=5"))
                .send()
                .await
                .unwrap();
            assert_eq!(search.status(), 200, "a query failed during the flood");
            peak = peak.max(rss_bytes(store.pid()));
        }
    }
    eprintln!(
        "store RSS: {} KiB when first full, {} KiB at peak during the flood",
        full >> 10,
        peak >> 10
    );
    let metrics = metrics(query).await;
    assert!(
        sample(&metrics, "tracelab_store_spans") <= BOUND,
        "{metrics}"
    );
    // Memory is flat: no more than a quarter above where it was when first full.
    assert!(
        peak <= full + full / 4,
        "RSS grew from {} MiB at the bound to {} MiB",
        full >> 20,
        peak >> 20
    );

    let trace = |n: u64| format!("http://{query}/api/traces/{:016x}0707070707070707", n);
    assert_eq!(
        client.get(trace(0)).send().await.unwrap().status(),
        404,
        "the oldest trace was kept"
    );
    assert_eq!(
        client
            .get(trace(200 * 200 - 1))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the newest trace is gone"
    );
    store.signal("TERM");
    assert!(store.wait_exit(Duration::from_secs(10)).success());
}
