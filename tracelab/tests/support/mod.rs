//! A harness that runs the store and the services as real processes, the
//! way the lab and Kubernetes do, and reads traces back from the store.
//!
//! Every process is `tracelab` itself (`tracelab store`, `tracelab serve
//! app-x`) with a clean environment and port 0; the harness learns the
//! chosen ports from the processes' own output. Waits are on conditions
//! with deadlines, never fixed sleeps.

#![allow(dead_code, unreachable_pub)]

pub mod python;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData};
use prost::Message;

/// Deadline for anything the harness waits on.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Lines a child wrote, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

/// A `tracelab` child process with its output captured line by line.
pub struct Process {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

impl Process {
    /// Start `tracelab <args>` with exactly `env` as its environment.
    pub fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tracelab starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// The first stdout line matching `pred`, waiting up to `DEADLINE`.
    pub fn stdout_line(&self, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stdout, &pred, "stdout", self)
    }

    /// The first stderr line matching `pred`, waiting up to `DEADLINE`.
    pub fn stderr_line(&self, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stderr, &pred, "stderr", self)
    }

    /// Everything written to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lines.lock().unwrap().join("\n")
    }

    /// Everything written to stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout.lines.lock().unwrap().join("\n")
    }

    /// Send a signal (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait for the process to exit, up to `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "process did not exit within {deadline:?}\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Lines> {
    let lines = Arc::new(Lines::default());
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            sink.lines.lock().unwrap().push(line);
            sink.grew.notify_all();
        }
    });
    lines
}

fn wait_line(lines: &Lines, pred: &dyn Fn(&str) -> bool, which: &str, process: &Process) -> String {
    let until = Instant::now() + DEADLINE;
    let mut guard = lines.lines.lock().unwrap();
    loop {
        if let Some(line) = guard.iter().find(|l| pred(l)) {
            return line.clone();
        }
        let left = until.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no matching {which} line within {DEADLINE:?}; stderr:\n{}",
            {
                drop(guard);
                process.stderr_text()
            }
        );
        guard = lines.grew.wait_timeout(guard, left).unwrap().0;
    }
}

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

    /// The trace `trace_id` (32 hex digits) once it has `spans` spans.
    pub async fn wait_for_trace(&self, trace_id: &str, spans: usize) -> Vec<FlatSpan> {
        let client = reqwest::Client::new();
        let url = format!("http://{}/api/traces/{trace_id}", self.query);
        let until = Instant::now() + DEADLINE;
        let mut seen = 0;
        loop {
            let response = client
                .get(&url)
                .header("Accept", "application/protobuf")
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                let data =
                    TracesData::decode(response.bytes().await.unwrap()).expect("protobuf trace");
                let flat = flatten(&data);
                seen = flat.len();
                if seen >= spans {
                    return flat;
                }
            }
            assert!(
                Instant::now() < until,
                "trace {trace_id} has {seen} of {spans} spans after {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The id of the only trace in the store, waiting for it to appear.
    pub async fn only_trace_id(&self) -> String {
        let url = format!("http://{}/api/search", self.query);
        let until = Instant::now() + DEADLINE;
        loop {
            let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            if let Some(traces) = body["traces"].as_array().filter(|t| !t.is_empty()) {
                assert_eq!(traces.len(), 1, "one trace expected: {body}");
                // Search strips leading zeros; ids in URLs accept that form.
                return format!("{:0>32}", traces[0]["traceID"].as_str().unwrap());
            }
            assert!(
                Instant::now() < until,
                "no trace in the store after {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// How app-c behaves in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A real app-c.
    Up,
    /// Nothing listens on app-c's port.
    Down,
    /// app-c accepts connections and never answers.
    Hanging,
    /// Something else (a misbehaving fake) listens at this address.
    At(SocketAddr),
}

/// A misbehaving HTTP server for fault tests: it answers every connection
/// with `reply` (raw bytes, written after the request head arrives), waits
/// `delay` first, and closes the connection when `close` (mid-response, if
/// `reply` promised more than it sent).
pub async fn fake_server(reply: &'static [u8], delay: Duration) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

/// Open file descriptors of a process (sockets included), to spot leaks.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The three services and the store, as processes.
pub struct Chain {
    pub store: StoreProcess,
    pub a: ServiceProcess,
    pub b: ServiceProcess,
    pub c: Option<ServiceProcess>,
    _hanging: Option<std::net::TcpListener>,
}

/// A service process and its address.
pub struct ServiceProcess {
    pub process: Process,
    pub addr: SocketAddr,
}

/// Options of a test chain.
#[derive(Debug, Clone)]
pub struct ChainOptions {
    pub delay_ms: u64,
    pub timeout_ms: u64,
    pub app_c: Next,
    /// Point the exporters at a port where nothing listens.
    pub store_down: bool,
    /// Export over OTLP/gRPC instead of OTLP/HTTP.
    pub grpc: bool,
    /// Export to this endpoint instead of the store.
    pub otlp_endpoint: Option<String>,
    /// Extra environment for app-b only.
    pub b_env: Vec<(&'static str, String)>,
    /// Extra environment for every service.
    pub env: Vec<(&'static str, String)>,
}

impl Default for ChainOptions {
    fn default() -> Self {
        Self {
            delay_ms: 300,
            timeout_ms: 3000,
            app_c: Next::Up,
            store_down: false,
            grpc: false,
            otlp_endpoint: None,
            b_env: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl Chain {
    /// Start store, app-c, app-b, app-a.
    pub fn start(options: ChainOptions) -> Self {
        let store = StoreProcess::start();
        let endpoint = if let Some(endpoint) = &options.otlp_endpoint {
            endpoint.clone()
        } else if options.store_down {
            "http://127.0.0.1:9".to_owned()
        } else if options.grpc {
            format!("http://{}", store.grpc)
        } else {
            format!("http://{}", store.otlp)
        };
        let base = vec![
            ("BIND_ADDR", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "info,common::http_server=debug".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("APP_B_DELAY_MS", options.delay_ms.to_string()),
            ("DOWNSTREAM_TIMEOUT_MS", options.timeout_ms.to_string()),
        ];
        let mut base = base;
        if options.grpc {
            base.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()));
        }
        base.extend(options.env.iter().cloned());
        let (c, c_addr, hanging) = match options.app_c {
            Next::Up => {
                let c = ServiceProcess::start("app-c", &base);
                let addr = c.addr;
                (Some(c), addr, None)
            }
            Next::Down => {
                // Bind and drop: a port where nothing listens.
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                (None, addr, None)
            }
            Next::Hanging => {
                // The kernel completes connections into the backlog; nobody reads.
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                (None, addr, Some(l))
            }
            Next::At(addr) => (None, addr, None),
        };
        let mut env_b = base.clone();
        env_b.push(("SERVICE_C_HOST", "127.0.0.1".into()));
        env_b.push(("SERVICE_C_PORT", c_addr.port().to_string()));
        env_b.extend(options.b_env.iter().cloned());
        let b = ServiceProcess::start("app-b", &env_b);
        let mut env_a = base;
        // A caller's timeout must outlast its callee's wait and timeout, or
        // app-a gives up first and never sees app-b's answer.
        let a_timeout = options.timeout_ms + options.delay_ms + 2000;
        env_a.retain(|(k, _)| *k != "DOWNSTREAM_TIMEOUT_MS");
        env_a.push(("DOWNSTREAM_TIMEOUT_MS", a_timeout.to_string()));
        env_a.push(("SERVICE_B_HOST", "127.0.0.1".into()));
        env_a.push(("SERVICE_B_PORT", b.addr.port().to_string()));
        let a = ServiceProcess::start("app-a", &env_a);
        Self {
            store,
            a,
            b,
            c,
            _hanging: hanging,
        }
    }

    /// `GET /` on app-a with extra headers: status, body, time taken.
    pub async fn get(&self, headers: &[(&str, &str)]) -> (u16, String, Duration) {
        let started = Instant::now();
        let mut request = reqwest::Client::new()
            .get(format!("http://{}/", self.a.addr))
            .header("User-Agent", "tracelab-test");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("app-a answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        (status, body, started.elapsed())
    }
}

impl ServiceProcess {
    /// Start `tracelab serve <app>` and learn its address from its log.
    pub fn start(app: &str, env: &[(&str, String)]) -> Self {
        let process = Process::start(&["serve", app], env);
        let line = process.stderr_line(|l| l.contains("\"message\":\"listening\""));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let addr = json["address"].as_str().unwrap().parse().unwrap();
        Self { process, addr }
    }
}

/// The spans of the chain in order from the root down, checking that each
/// is the parent of the next; panics with the whole trace otherwise.
pub fn chain_order(spans: &[FlatSpan]) -> Vec<FlatSpan> {
    let mut ordered = Vec::new();
    let mut parent: Vec<u8> = Vec::new();
    for _ in 0..spans.len() {
        let next = spans
            .iter()
            .find(|s| s.span.parent_span_id == parent)
            .unwrap_or_else(|| panic!("no child of {parent:?} in {spans:#?}"));
        parent = next.span.span_id.clone();
        ordered.push(next.clone());
    }
    ordered
}
