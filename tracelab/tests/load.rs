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
