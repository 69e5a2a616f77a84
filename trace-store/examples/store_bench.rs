//! The store's benchmark: ingest over OTLP/HTTP protobuf into a running
//! `tracelab store`, then measure its memory per stored span, trace-by-id
//! latency, TraceQL search latency and TraceQL metrics latency (`/api/metrics/query_range`).
//! Run it with `scripts/bench-store.sh`,
//! which builds in release mode, starts the store and reports.
//!
//! The spans look like the chain's: traces of five spans over three
//! services, each span with the HTTP semantic-convention attributes the
//! services record; 1 trace in 100 has an error. With `--unique`, every
//! span also carries an attribute whose value no other span has (a request
//! id), so no two spans have the same attribute list: the store's worst
//! case for memory, since it shares equal lists.
//!
//! Three more modes serve the side-by-side comparisons in
//! `scripts/bench-store.sh --ingest` / `--jaeger`, which drive load with wrk
//! and measure other backends too:
//!
//! - `--write-bodies DIR`: writes `--bodies` (2,000) OTLP protobuf bodies of
//!   `--body-spans` (512) spans each, `DIR/00000.pb`…, the same chain-shaped
//!   traces cut into batches as an exporter cuts them (a trace may straddle
//!   two bodies), every span of every body distinct; plus `DIR/trace-ids.txt`
//!   (500 trace ids spread over the set) and `DIR/meta.json`.
//! - `--load DIR --otlp HOST:PORT`: sends every body of DIR once
//!   (`--connections`, default 4) and fails on any non-2xx answer.
//! - `--get FILE`: GETs each URL of FILE (one a line) in turn and prints one
//!   JSON line with p50/p99 latency; fails on any non-2xx answer.

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
    write_bodies: Option<String>,
    bodies: usize,
    body_spans: usize,
    load: Option<String>,
    get: Option<String>,
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
        write_bodies: None,
        bodies: 2000,
        body_spans: 512,
        load: None,
        get: None,
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
            "--write-bodies" => a.write_bodies = Some(value()),
            "--bodies" => a.bodies = value().parse().expect("--bodies"),
            "--body-spans" => a.body_spans = value().parse().expect("--body-spans"),
            "--load" => a.load = Some(value()),
            "--get" => a.get = Some(value()),
            "--help" | "-h" => {
                println!(
                    "store_bench --otlp HOST:PORT --query HOST:PORT --pid STORE_PID [--spans N] [--connections N] [--flood] [--unique]\n\
                     store_bench --write-bodies DIR [--bodies 2000] [--body-spans 512]\n\
                     store_bench --load DIR --otlp HOST:PORT [--connections N]\n\
                     store_bench --get URLS_FILE"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if a.write_bodies.is_none() && a.get.is_none() {
        assert!(!a.otlp.is_empty(), "--otlp is required");
    }
    if a.write_bodies.is_none() && a.get.is_none() && a.load.is_none() {
        assert!(
            !a.query.is_empty() && a.pid != 0,
            "--query and --pid are required"
        );
    }
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
    encode_request(per_service)
}

/// One OTLP request: the spans of app-a, app-b and app-c under their resources.
fn encode_request(per_service: [Vec<Span>; 3]) -> Vec<u8> {
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
        .filter(|r: &ResourceSpans| !r.scope_spans[0].spans.is_empty())
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// `--write-bodies`: the spans of traces 0, 1, 2, … in order (five per trace, as
/// `trace_spans` makes them), cut into `args.bodies` requests of `args.body_spans`
/// spans each. Every span is in exactly one body.
fn write_bodies(args: &Args, dir: &str) {
    let now = 1_760_000_000_000_000_000u64;
    let spans = args.bodies * args.body_spans;
    assert!(
        spans.is_multiple_of(SPANS_PER_TRACE),
        "bodies × body spans must be a multiple of {SPANS_PER_TRACE}, so every trace is whole"
    );
    let traces = spans / SPANS_PER_TRACE;
    std::fs::create_dir_all(dir).expect("create the bodies' directory");
    let mut wire = 0;
    for body in 0..args.bodies {
        let (first, last) = (body * args.body_spans, (body + 1) * args.body_spans);
        let mut per_service: [Vec<Span>; 3] = Default::default();
        for n in first / SPANS_PER_TRACE..last.div_ceil(SPANS_PER_TRACE) {
            let mut position = n * SPANS_PER_TRACE;
            for (service, trace_part) in trace_spans(n as u64, now + n as u64 * 1_000_000, false)
                .into_iter()
                .enumerate()
            {
                for span in trace_part {
                    if (first..last).contains(&position) {
                        per_service[service].push(span);
                    }
                    position += 1;
                }
            }
        }
        let bytes = encode_request(per_service);
        wire += bytes.len();
        std::fs::write(format!("{dir}/{body:05}.pb"), bytes).expect("write a body");
    }
    let ids: String = (0..500u64)
        .map(|i| {
            let n = (i * 7919) % traces as u64;
            hex(&[n.to_be_bytes(), 0x7472_6163_656c_6162u64.to_be_bytes()].concat()) + "\n"
        })
        .collect();
    std::fs::write(format!("{dir}/trace-ids.txt"), ids).expect("write trace-ids.txt");
    let error_traces = traces.div_ceil(100);
    let meta = serde_json::json!({
        "bodies": args.bodies,
        "body_spans": args.body_spans,
        "spans": spans,
        "traces": traces,
        "wire_bytes": wire,
        // Trace n has status code 502 on all five spans when n % 100 == 0.
        "error_traces": error_traces,
        "spans_with_502": error_traces * SPANS_PER_TRACE,
        "first_start_ns": now,
        "last_end_ns": now + traces as u64 * 1_000_000 + 1_000_000,
    });
    std::fs::write(format!("{dir}/meta.json"), format!("{meta}\n")).expect("write meta.json");
    eprintln!(
        "wrote {} bodies of {} spans ({spans} spans, {traces} traces, {:.1} MiB) to {dir}",
        args.bodies,
        args.body_spans,
        wire as f64 / 1048576.0
    );
}

/// The body files of `dir` (`*.pb`), in name order.
fn read_bodies(dir: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("read the bodies' directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no *.pb bodies in {dir}");
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read a body"))
        .collect()
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
/// the full store (`path` is the endpoint, up to `q=`: a search or a metrics query): the rate
/// and p99 of each, and how many queries ran.
async fn ingest_under_search(
    args: &Args,
    client: &reqwest::Client,
    bodies: Vec<Vec<u8>>,
    more: Vec<Vec<u8>>,
    path: &str,
    query: &str,
) {
    let spans = |b: &[Vec<u8>]| (b.len() * TRACES_PER_REQUEST * SPANS_PER_TRACE) as f64;
    let (alone_spans, busy_spans) = (spans(&bodies), spans(&more));
    let (alone, alone_took) = ingest_timed(args, client, bodies).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = {
        let (client, stop) = (client.clone(), stop.clone());
        let url = format!("http://{}{path}{}", args.query, percent(query));
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
        "| ingest while one client queries `{query}` back to back | {rate_busy:.0} spans/s ({:.0} % of alone) · request p99 {} ({:.1}× alone) · {} queries, p50 {} |",
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
    if let Some(dir) = &args.write_bodies {
        write_bodies(&args, dir);
        return;
    }
    if let Some(dir) = &args.load {
        let bodies = read_bodies(dir);
        let count = bodies.len();
        let took = ingest(&args, &client, bodies).await;
        println!(
            "{}",
            serde_json::json!({"bodies": count, "seconds": took.as_secs_f64()})
        );
        return;
    }
    if let Some(file) = &args.get {
        let urls: Vec<String> = std::fs::read_to_string(file)
            .expect("read the URL list")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        assert!(!urls.is_empty(), "no URLs in {file}");
        let (took, span_counts) = get_all(&client, &urls).await;
        println!(
            "{}",
            serde_json::json!({
                "n": urls.len(),
                "p50_ms": percentile(&took, 0.5).as_secs_f64() * 1000.0,
                "p99_ms": percentile(&took, 0.99).as_secs_f64() * 1000.0,
                "spans_per_answer_min": span_counts.iter().min(),
                "spans_per_answer_max": span_counts.iter().max(),
            })
        );
        return;
    }
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

    // Full scans: nothing matches. Blocks without a required value are skipped (the first
    // equality); the next two skip nothing and look at every trace.
    let full_scan_regex = "{ span.url.path =~ \".*no-such-path.*\" }";
    for (label, q) in [
        ("full scan: regex on a span attribute", full_scan_regex),
        (
            "full scan: equality on a span attribute",
            "{ span.http.response.status_code = 599 }",
        ),
        // Every block holds app-c and client spans, just never together: no block is skipped,
        // so this is what evaluating every span costs.
        (
            "full scan: equalities every block holds, never on one span",
            "{ resource.service.name = \"app-c\" && kind = client }",
        ),
        (
            "full scan: range on a span attribute (skips no block)",
            "{ span.http.response.status_code > 598 }",
        ),
        ("newest 20 traces", "{ }"),
        ("most recent 20 by start time", "{ } with(most_recent=true)"),
    ] {
        let url = format!("http://{}/api/search?limit=20&q={}", args.query, percent(q));
        let took = latencies(&client, &vec![url; 10], false).await;
        println!(
            "| {label} `{q}` (10 runs) | p50 {} · p99 {} |",
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99))
        );
    }

    // TraceQL metrics over every stored span, the last hour from just before the first trace
    // (targets at 1M spans: rate by service 200 ms, duration quantiles 300 ms).
    let (from, to) = (1_759_999_990u64, 1_760_003_590u64);
    for (label, q, target) in [
        (
            "metrics: rate by service",
            "{ } | rate() by (resource.service.name)",
            "200 ms",
        ),
        (
            "metrics: duration quantiles",
            "{ } | quantile_over_time(duration, .5, .99)",
            "300 ms",
        ),
    ] {
        let url = format!(
            "http://{}/api/metrics/query_range?start={from}&end={to}&q={}",
            args.query,
            percent(q)
        );
        let took = latencies(&client, &vec![url; 10], false).await;
        println!(
            "| {label} `{q}`, 1 h in 15 s steps (10 runs; target at 1M spans {target}) | p50 {} · p99 {} |",
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
    let search = "/api/search?limit=20&q=";
    ingest_under_search(&args, &client, alone, busy, search, full_scan_regex).await;
    // The same with a metrics query over the whole store as the reader.
    let (alone, busy) = (
        new_bodies(requests + 2 * extra),
        new_bodies(requests + 3 * extra),
    );
    let metrics = format!("/api/metrics/query_range?start={from}&end={to}&q=");
    let rate = "{ } | rate() by (resource.service.name)";
    ingest_under_search(&args, &client, alone, busy, &metrics, rate).await;
}

/// GETs every URL in turn (JSON answers). Returns the sorted latencies and, per answer,
/// how many span ids it holds (`"spanId"` or `"spanID"`, in every JSON shape compared).
async fn get_all(client: &reqwest::Client, urls: &[String]) -> (Vec<Duration>, Vec<usize>) {
    let mut took = Vec::with_capacity(urls.len());
    let mut span_counts = Vec::with_capacity(urls.len());
    for url in urls {
        let started = Instant::now();
        let response = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status();
        let body = response.bytes().await.expect("read an answer");
        took.push(started.elapsed());
        assert!(
            status.is_success(),
            "{url}: {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        let lower = body.to_ascii_lowercase();
        span_counts.push(lower.windows(8).filter(|w| w == b"\"spanid\"").count());
    }
    took.sort();
    (took, span_counts)
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
