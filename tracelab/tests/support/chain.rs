//! The chain: app-c, app-b, app-a and a store as processes, and
//! misbehaving stand-ins for app-c.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::process::Process;
use super::store::{FlatSpan, StoreProcess};

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
