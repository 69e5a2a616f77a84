//! The store's benchmark: ingest over OTLP/HTTP protobuf into a running
//! `tracelab store`, then measure its memory per stored span, trace-by-id
//! latency and TraceQL search latency. Run it with `scripts/bench-store.sh`,
//! which builds in release mode, starts the store and reports.
//!
//! The spans look like the chain's: traces of five spans over three
//! services, each span with the HTTP semantic-convention attributes the
//! services record; 1 trace in 100 has an error. With `--unique`, every
//! span also carries an attribute whose value no other span has (a request
//! id), so no two spans have the same attribute list: the store's worst
//! case for memory, since it shares equal lists.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use prost::Message;

const TRACES_PER_REQUEST: usize = 200;
const SPANS_PER_TRACE: usize = 5;

struct Args {
    otlp: String,
    query: String,
    pid: u32,
    spans: usize,
    connections: usize,
    flood: bool,
    unique: bool,
}

fn args() -> Args {
    let mut a = Args {
        otlp: String::new(),
        query: String::new(),
        pid: 0,
        spans: 100_000,
        connections: 4,
        flood: false,
        unique: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--otlp" => a.otlp = value(),
            "--query" => a.query = value(),
            "--pid" => a.pid = value().parse().expect("--pid"),
            "--spans" => a.spans = value().parse().expect("--spans"),
            "--connections" => a.connections = value().parse().expect("--connections"),
            "--flood" => a.flood = true,
            "--unique" => a.unique = true,
            "--help" | "-h" => {
                println!(
                    "store_bench --otlp HOST:PORT --query HOST:PORT --pid STORE_PID [--spans N] [--connections N] [--flood] [--unique]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        !a.otlp.is_empty() && !a.query.is_empty() && a.pid != 0,
        "--otlp, --query and --pid are required"
    );
    a
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.to_owned())
}

fn resource(service: &str, instance: usize) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("service.version", s("0.1.0")),
            kv("service.instance.id", s(&format!("instance-{instance:08}"))),
            kv("telemetry.sdk.language", s("rust")),
            kv("telemetry.sdk.name", s("opentelemetry")),
            kv("telemetry.sdk.version", s("0.33.1")),
        ],
        ..Default::default()
    }
}

/// Trace number `n`: app-a SERVER, app-a CLIENT, app-b SERVER, app-b CLIENT, app-c SERVER.
fn trace_spans(n: u64, start: u64, unique: bool) -> [Vec<Span>; 3] {
    let trace_id = [n.to_be_bytes(), 0x7472_6163_656c_6162u64.to_be_bytes()].concat();
    let id = |i: u64| (n * 8 + i + 1).to_be_bytes().to_vec();
    let error = n.is_multiple_of(100);
    let status = |code: i64| if error { code } else { 200 };
    let server = |i: u64, parent: Option<u64>, port: i64, offset: u64, len: u64| {
        let code = status(502);
        Span {
            trace_id: trace_id.clone(),
            span_id: id(i),
            parent_span_id: parent.map(id).unwrap_or_default(),
            name: "GET /".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start + offset,
            end_time_unix_nano: start + offset + len,
            attributes: vec![
                kv("http.request.method", s("GET")),
                kv("url.path", s("/")),
                kv("url.scheme", s("http")),
                kv("http.route", s("/")),
                kv("server.address", s("127.0.0.1")),
                kv("server.port", Value::IntValue(port)),
                kv("client.address", s("127.0.0.1")),
                kv("user_agent.original", s("tracelab/0.1.0")),
                kv("network.protocol.version", s("1.1")),
                kv("http.response.status_code", Value::IntValue(code)),
            ],
            status: error.then(|| Status {
                code: StatusCode::Error as i32,
                message: String::new(),
            }),
            ..Default::default()
        }
    };
    let client = |i: u64, parent: u64, port: i64, offset: u64, len: u64| Span {
        trace_id: trace_id.clone(),
        span_id: id(i),
        parent_span_id: id(parent),
        name: "GET".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start + offset,
        end_time_unix_nano: start + offset + len,
        attributes: vec![
            kv("http.request.method", s("GET")),
            kv("url.full", s(&format!("http://127.0.0.1:{port}/"))),
            kv("server.address", s("127.0.0.1")),
            kv("server.port", Value::IntValue(port)),
            kv("http.response.status_code", Value::IntValue(status(502))),
        ],
        ..Default::default()
    };
    let mut spans = [
        vec![
            server(0, None, 5000, 0, 900_000),
            client(1, 0, 5001, 50_000, 800_000),
        ],
        vec![
            server(2, Some(1), 5001, 100_000, 700_000),
            client(3, 2, 5002, 150_000, 400_000),
        ],
        vec![server(4, Some(3), 5002, 200_000, 100_000)],
    ];
    if unique {
        for (i, span) in spans.iter_mut().flatten().enumerate() {
            span.attributes
                .push(kv("request.id", s(&format!("{n:016x}-{i}"))));
        }
    }
    spans
}

/// One OTLP request of `TRACES_PER_REQUEST` traces starting at trace `first`.
fn request(first: u64, unique: bool) -> Vec<u8> {
    let now = 1_760_000_000_000_000_000u64;
    let mut per_service: [Vec<Span>; 3] = Default::default();
    for n in first..first + TRACES_PER_REQUEST as u64 {
        for (service, spans) in trace_spans(n, now + n * 1_000_000, unique)
            .into_iter()
            .enumerate()
        {
            per_service[service].extend(spans);
        }
    }
    let resource_spans = ["app-a", "app-b", "app-c"]
        .iter()
        .zip(per_service)
        .enumerate()
        .map(|(i, (service, spans))| ResourceSpans {
            resource: Some(resource(service, i)),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracelab.http".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn ingest(args: &Args, client: &reqwest::Client, bodies: Vec<Vec<u8>>) -> Duration {
    ingest_timed(args, client, bodies).await.0
}

/// Sends `bodies` over `args.connections` connections; the total time and each request's
/// latency, sorted.
async fn ingest_timed(
    args: &Args,
    client: &reqwest::Client,
    bodies: Vec<Vec<u8>>,
) -> (Duration, Vec<Duration>) {
    let url = format!("http://{}/v1/traces", args.otlp);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let (queue, client, url) = (queue.clone(), client.clone(), url.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                loop {
                    let Some(body) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert!(
                        response.status().is_success(),
                        "ingest answered {}",
                        response.status()
                    );
                    took.push(sent.elapsed());
                }
                took
            })
        })
        .collect();
    let mut took = Vec::new();
    for w in workers {
        took.extend(w.await.unwrap());
    }
    took.sort();
    (started.elapsed(), took)
}

/// Ingest of `bodies` alone and then of `more` while one client runs `query` back to back over
/// the full store: the rate and p99 of each, and how many searches ran.
async fn ingest_under_search(
    args: &Args,
    client: &reqwest::Client,
    bodies: Vec<Vec<u8>>,
    more: Vec<Vec<u8>>,
    query: &str,
) {
    let spans = |b: &[Vec<u8>]| (b.len() * TRACES_PER_REQUEST * SPANS_PER_TRACE) as f64;
    let (alone_spans, busy_spans) = (spans(&bodies), spans(&more));
    let (alone, alone_took) = ingest_timed(args, client, bodies).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = {
        let (client, stop) = (client.clone(), stop.clone());
        let url = format!(
            "http://{}/api/search?limit=20&q={}",
            args.query,
            percent(query)
        );
        tokio::spawn(async move {
            let mut searches = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let response = client.get(&url).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "search: {}",
                    response.status()
                );
                response.bytes().await.unwrap();
                searches.push(started.elapsed());
            }
            searches.sort();
            searches
        })
    };
    let (busy, busy_took) = ingest_timed(args, client, more).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let searches = searcher.await.unwrap();
    let (rate_alone, rate_busy) = (
        alone_spans / alone.as_secs_f64(),
        busy_spans / busy.as_secs_f64(),
    );
    let (p99_alone, p99_busy) = (percentile(&alone_took, 0.99), percentile(&busy_took, 0.99));
    println!(
        "| ingest alone | {rate_alone:.0} spans/s · request p99 {} |",
        ms(p99_alone)
    );
    println!(
        "| ingest while one client searches `{query}` back to back | {rate_busy:.0} spans/s ({:.0} % of alone) · request p99 {} ({:.1}× alone) · {} searches, p50 {} |",
        100.0 * rate_busy / rate_alone,
        ms(p99_busy),
        p99_busy.as_secs_f64() / p99_alone.as_secs_f64(),
        searches.len(),
        ms(percentile(&searches, 0.5)),
    );
}

async fn latencies(client: &reqwest::Client, urls: &[String], protobuf: bool) -> Vec<Duration> {
    let mut took = Vec::with_capacity(urls.len());
    for url in urls {
        let mut request = client.get(url);
        if protobuf {
            request = request.header("accept", "application/protobuf");
        }
        let started = Instant::now();
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    took
}

#[tokio::main]
async fn main() {
    let args = args();
    let client = reqwest::Client::new();
    let requests = args.spans / (TRACES_PER_REQUEST * SPANS_PER_TRACE);
    eprintln!(
        "encoding {requests} requests of {} spans…",
        TRACES_PER_REQUEST * SPANS_PER_TRACE
    );
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|r| request((r * TRACES_PER_REQUEST) as u64, args.unique))
        .collect();
    let wire: usize = bodies.iter().map(Vec::len).sum();
    let spans = requests * TRACES_PER_REQUEST * SPANS_PER_TRACE;

    let rss_before = rss_bytes(args.pid);
    if args.flood {
        // Flood past the bound, sampling memory, while queries keep answering.
        let sampler = {
            let pid = args.pid;
            tokio::spawn(async move {
                let mut peak = 0;
                for _ in 0..600 {
                    peak = peak.max(rss_bytes(pid));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                peak
            })
        };
        let searcher = {
            let (client, url) = (
                client.clone(),
                format!("http://{}/api/search?q=%7B%7D&limit=20", args.query),
            );
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                let mut answered = 0;
                for _ in 0..50 {
                    let started = Instant::now();
                    if client
                        .get(&url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                    {
                        answered += 1;
                    }
                    worst = worst.max(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (answered, worst)
            })
        };
        let took = ingest(&args, &client, bodies).await;
        let (answered, worst) = searcher.await.unwrap();
        sampler.abort();
        let rss_after = rss_bytes(args.pid);
        println!(
            "| flood: spans sent | {spans} in {:.1} s ({:.0} spans/s) |",
            took.as_secs_f64(),
            spans as f64 / took.as_secs_f64()
        );
        println!(
            "| flood: RSS before / after | {:.1} MiB / {:.1} MiB |",
            rss_before as f64 / 1048576.0,
            rss_after as f64 / 1048576.0
        );
        println!(
            "| flood: searches answered during the flood | {answered} of 50, slowest {} |",
            ms(worst)
        );
        return;
    }

    let took = ingest(&args, &client, bodies).await;
    let rss_after = rss_bytes(args.pid);
    println!(
        "| spans ingested | {spans} ({:.1} MiB of protobuf) |",
        wire as f64 / 1048576.0
    );
    println!(
        "| ingest rate | {:.0} spans/s ({} connections) |",
        spans as f64 / took.as_secs_f64(),
        args.connections
    );
    println!(
        "| resident memory per stored span | {:.0} bytes (RSS {:.1} → {:.1} MiB) |",
        (rss_after.saturating_sub(rss_before)) as f64 / spans as f64,
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0
    );

    let traces = (spans / SPANS_PER_TRACE) as u64;
    let by_id: Vec<String> = (0..1000u64)
        .map(|i| {
            let n = (i * 7919) % traces;
            let id = [n.to_be_bytes(), 0x7472_6163_656c_6162u64.to_be_bytes()].concat();
            format!("http://{}/api/traces/{}", args.query, hex(&id))
        })
        .collect();
    let took = latencies(&client, &by_id, true).await;
    println!(
        "| trace by id (protobuf, 1000 lookups) | p50 {} · p99 {} |",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99))
    );

    for (label, q) in [
        (
            "search: one span attribute",
            "{ span.http.response.status_code = 502 }",
        ),
        (
            "search: one resource attribute",
            "{ resource.service.name = \"app-c\" }",
        ),
        (
            "search: attribute and intrinsic",
            "{ span.http.response.status_code = 502 && kind = server }",
        ),
    ] {
        let url = format!("http://{}/api/search?limit=20&q={}", args.query, percent(q));
        let took = latencies(&client, &vec![url; 20], false).await;
        println!(
            "| {label} `{q}` (20 runs) | p50 {} · p99 {} |",
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99))
        );
    }

    // Full scans: every trace is looked at, nothing matches.
    let full_scan_regex = "{ span.url.path =~ \".*no-such-path.*\" }";
    for (label, q) in [
        ("full scan: regex on a span attribute", full_scan_regex),
        (
            "full scan: equality on a span attribute",
            "{ span.http.response.status_code = 599 }",
        ),
        ("newest 20 traces", "{ }"),
    ] {
        let url = format!("http://{}/api/search?limit=20&q={}", args.query, percent(q));
        let took = latencies(&client, &vec![url; 10], false).await;
        println!(
            "| {label} `{q}` (10 runs) | p50 {} · p99 {} |",
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99))
        );
    }

    // Readers against the writer: new traces, ingested alone and then under a full-scan search.
    let extra = (requests / 5).max(20);
    let new_bodies = |from: usize| -> Vec<Vec<u8>> {
        (from..from + extra)
            .map(|r| request((r * TRACES_PER_REQUEST) as u64, args.unique))
            .collect()
    };
    let (alone, busy) = (new_bodies(requests), new_bodies(requests + extra));
    ingest_under_search(&args, &client, alone, busy, full_scan_regex).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn percent(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
