//! The seed's Python stack as test processes: its three Flask apps under
//! `opentelemetry-instrument`, a reference OTLP receiver, and the Python log
//! exporter (all under `interop/`).
//!
//! The venv comes from `scripts/python-env.sh`, which the first caller runs
//! (it returns at once when the venv is current), so `cargo test` works on a
//! fresh machine with Python 3 and access to PyPI.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{DEADLINE, Process};

/// The workspace root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The seed's venv (`target/python-seed-venv`), built on first use.
/// Panics with the script's output if it fails.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let output = Command::new(root().join("scripts/python-env.sh"))
            .current_dir(root())
            .output()
            .expect("scripts/python-env.sh runs");
        assert!(
            output.status.success(),
            "scripts/python-env.sh failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        root().join("target/python-seed-venv")
    })
}

/// Start `program args` from the venv with exactly `env` (plus a `PATH` to
/// the venv and unbuffered output), its output captured like a `tracelab`
/// child's.
pub fn spawn(program: &str, args: &[&str], env: &[(&str, String)]) -> Process {
    let bin = venv().join("bin");
    let mut command = Command::new(bin.join(program));
    command
        .args(args)
        .current_dir(root())
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("PYTHONUNBUFFERED", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    Process::spawn(command)
}

/// A port that was free a moment ago. Flask's development server needs a
/// concrete port, so the harness cannot use port 0 as it does for ours.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One of the seed's apps: `interop/seed/app_x.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedApp {
    /// app-a, calls app-b.
    A,
    /// app-b, waits `APP_B_DELAY_S` and calls app-c.
    B,
    /// app-c.
    C,
}

impl SeedApp {
    /// The service name, as the seed's manifests set `OTEL_SERVICE_NAME`.
    pub fn name(self) -> &'static str {
        match self {
            SeedApp::A => "app-a",
            SeedApp::B => "app-b",
            SeedApp::C => "app-c",
        }
    }

    fn script(self) -> &'static str {
        match self {
            SeedApp::A => "interop/seed/app_a.py",
            SeedApp::B => "interop/seed/app_b.py",
            SeedApp::C => "interop/seed/app_c.py",
        }
    }
}

/// A seed app running under `opentelemetry-instrument`, and its address.
pub struct PythonApp {
    /// The Python process (`opentelemetry-instrument` execs into it).
    pub process: Process,
    /// Where it serves, on loopback.
    pub addr: SocketAddr,
}

impl PythonApp {
    /// Start `app` exporting to the OTLP/HTTP receiver at `otlp` with the
    /// seed's `OTEL_*` settings, plus `env` (which wins), and wait until it
    /// accepts connections. Readiness is a TCP connect: the seed's apps have
    /// no health route, and a request would make spans.
    pub fn start(app: SeedApp, otlp: SocketAddr, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut all = vec![
            ("PORT", port.to_string()),
            ("OTEL_SERVICE_NAME", app.name().to_owned()),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("http://{otlp}/v1/traces"),
            ),
            // Used once a test turns logs on with OTEL_LOGS_EXPORTER=otlp.
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                format!("http://{otlp}/v1/logs"),
            ),
            ("OTEL_TRACES_EXPORTER", "console,otlp".to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
            ("OTEL_LOGS_EXPORTER", "none".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ];
        all.extend(env.iter().cloned());
        let mut process = spawn("opentelemetry-instrument", &["python", app.script()], &all);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let until = Instant::now() + DEADLINE;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = process.try_wait() {
                panic!(
                    "{} exited ({status}) before serving:\n{}",
                    app.name(),
                    process.stderr_text()
                );
            }
            assert!(
                Instant::now() < until,
                "{} not serving on {addr} after {DEADLINE:?}:\n{}",
                app.name(),
                process.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { process, addr }
    }
}

/// `interop/otlp_receiver.py`: OTLP/HTTP in, one JSON line per span out,
/// decoded by the reference `opentelemetry-proto` package.
pub struct Receiver {
    /// The Python process.
    pub process: Process,
    /// Its OTLP/HTTP address.
    pub addr: SocketAddr,
}

impl Receiver {
    /// Start the receiver on a free port.
    pub fn start() -> Self {
        let process = spawn("python", &["interop/otlp_receiver.py", "--port", "0"], &[]);
        let line = process.stdout_line(|l| l.starts_with("listening on http://"));
        let addr = line
            .trim_start_matches("listening on http://")
            .parse()
            .unwrap();
        Self { process, addr }
    }

    /// The decoded spans, once there are at least `count` (or an export failed to decode):
    /// a wait on the receiver's output, woken by each line it prints.
    pub fn spans(&self, count: usize) -> Vec<serde_json::Value> {
        let decoded = |lines: &[String]| -> Vec<serde_json::Value> {
            lines
                .iter()
                .filter(|l| l.starts_with('{'))
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let failed = |spans: &[serde_json::Value]| spans.iter().any(|s| s.get("error").is_some());
        self.process.wait_stdout(
            &format!("{count} spans decoded by the receiver"),
            DEADLINE,
            |lines| {
                let spans = decoded(lines);
                spans.len() >= count || failed(&spans)
            },
        );
        let lines: Vec<String> = self
            .process
            .stdout_text()
            .lines()
            .map(str::to_owned)
            .collect();
        let spans = decoded(&lines);
        if let Some(error) = spans.iter().find(|s| s.get("error").is_some()) {
            panic!("the receiver could not decode an export: {error}");
        }
        spans
    }
}

/// Export one log record with the Python SDK's OTLP/HTTP log exporter
/// (`interop/export_logs.py`) to `url`: whether it succeeded, and its output.
pub fn export_logs(url: &str) -> (bool, String) {
    let output = Command::new(venv().join("bin/python"))
        .args(["interop/export_logs.py", url])
        .current_dir(root())
        .env_clear()
        .output()
        .expect("export_logs.py runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
