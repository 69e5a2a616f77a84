//! The services of the lab as child processes: started, watched, stopped.
//!
//! Each child runs `tracelab serve app-x` with its own environment, as a
//! pod would: its own `service.name`, exporter and port, talking real HTTP
//! over loopback. Children get a pipe as stdin and stop when it closes, so
//! they never outlive the lab, and they sit in their own process group so a
//! Ctrl-C in the terminal reaches the lab alone, which stops them in order.
//!
//! A child tells the lab where it listens with one line on its stdout
//! ([`ANNOUNCE`]), written once it holds its port: the lab never mistakes
//! another process on that port (a second lab's) for its own child. A child
//! that exits while the lab runs is reported at once, by name.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use common::service::{EX_USAGE, Listening, ServerSettings};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{oneshot, watch};

use crate::cli::App;

/// How long a child may take to announce its address after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The start of the line a child started with `--announce` writes on its
/// stdout once it listens: `tracelab-serve: listening on ADDR [control ADDR]`.
pub const ANNOUNCE: &str = "tracelab-serve: listening on ";

/// The line [`ANNOUNCE`] stands for.
pub fn announce_line(listening: &Listening) -> String {
    match listening.control {
        Some(control) => format!("{ANNOUNCE}{} control {control}", listening.address),
        None => format!("{ANNOUNCE}{}", listening.address),
    }
}

fn parse_announce(line: &str) -> Option<Listening> {
    let rest = line.strip_prefix(ANNOUNCE)?;
    let mut words = rest.split_whitespace();
    let address = words.next()?.parse().ok()?;
    let control = match (words.next(), words.next()) {
        (Some("control"), Some(at)) => Some(at.parse().ok()?),
        _ => None,
    };
    Some(Listening { address, control })
}

/// One running service.
#[derive(Debug)]
pub struct ServiceProcess {
    app: App,
    listening: Listening,
    stdin: Option<ChildStdin>,
    /// Set while the lab itself stops the child: its exit is then no news.
    expected: Arc<AtomicBool>,
    exited: watch::Receiver<Option<ExitStatus>>,
    kill: Option<oneshot::Sender<()>>,
}

impl ServiceProcess {
    /// Start `app` listening on `address`, with `env` added to the lab's own
    /// environment, and wait until it listens.
    pub async fn start(
        app: App,
        address: SocketAddr,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the tracelab executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(["serve", app.name(), "--exit-on-stdin-close", "--announce"])
            .envs(env)
            .env("OTEL_SERVICE_NAME", app.name())
            .envs(ServerSettings::listen_env(address))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0);
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", app.name()))?;
        let stdin = child.stdin.take();
        let announced = relay_stdout(child.stdout.take());

        let expected = Arc::new(AtomicBool::new(true));
        let (exit_tx, mut exited) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        let quiet = expected.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = killed => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let Ok(status) = status else { return };
            if !quiet.load(Ordering::SeqCst) {
                eprintln!(
                    "tracelab: {} exited ({status}); `tracelab start {}` starts it again",
                    app.name(),
                    app.name()
                );
            }
            let _ = exit_tx.send(Some(status));
        });

        // The announce line comes once the child listens; its stdout closes
        // without one when the child exits at start.
        let listening = tokio::time::timeout(START_TIMEOUT, announced).await;
        let Ok(Ok(listening)) = listening else {
            let exit =
                tokio::time::timeout(Duration::from_secs(5), exited.wait_for(Option::is_some));
            if let Ok(Ok(status)) = exit.await {
                return Err(start_failure(app, *status, address.port()));
            }
            let _ = kill.send(());
            bail!(
                "{} did not start listening within {START_TIMEOUT:?}",
                app.name()
            );
        };
        expected.store(false, Ordering::SeqCst);
        Ok(Self {
            app,
            listening,
            stdin,
            expected,
            exited,
            kill: Some(kill),
        })
    }

    /// Ask the service to stop (close its stdin) and wait for it to drain
    /// and flush; kill it if it takes longer than `patience`.
    pub async fn stop(mut self, patience: Duration) -> anyhow::Result<()> {
        self.expected.store(true, Ordering::SeqCst);
        drop(self.stdin.take());
        let name = self.app.name();
        let status =
            match tokio::time::timeout(patience, self.exited.wait_for(Option::is_some)).await {
                Ok(Ok(status)) => *status,
                Ok(Err(_)) => None,
                Err(_) => {
                    if let Some(kill) = self.kill.take() {
                        let _ = kill.send(());
                    }
                    bail!("{name} did not stop within {patience:?} and was killed");
                }
            };
        match status {
            Some(status) if !status.success() => bail!("{name} exited with {status}"),
            _ => Ok(()),
        }
    }

    /// The service's address.
    pub fn address(&self) -> SocketAddr {
        self.listening.address
    }

    /// Its fault control endpoint, if it has one.
    pub fn control(&self) -> Option<SocketAddr> {
        self.listening.control
    }

    /// How it exited, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exited.borrow()
    }
}

/// Why a child did not start, in words that name the likely cause.
fn start_failure(app: App, status: Option<ExitStatus>, port: u16) -> anyhow::Error {
    let name = app.name();
    match status {
        Some(status) if status.code() == Some(i32::from(EX_USAGE)) => anyhow!(
            "{name} refused its configuration ({status}); its message above names the variable"
        ),
        Some(status) if port != 0 => {
            anyhow!(
                "{name} exited at start ({status}); its message is above (is port {port} free?)"
            )
        }
        Some(status) => anyhow!("{name} exited at start ({status}); its message is above"),
        None => anyhow!("{name} exited at start"),
    }
}

/// Read the child's stdout: the announce line resolves the returned
/// receiver, every other line goes to the lab's stdout (the console
/// exporter writes spans there).
fn relay_stdout(stdout: Option<ChildStdout>) -> oneshot::Receiver<Listening> {
    let (tx, rx) = oneshot::channel();
    let Some(stdout) = stdout else { return rx };
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(listening) = parse_announce(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(listening);
                continue;
            }
            println!("{line}");
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_lines_read_back() {
        for control in [None, Some("127.0.0.1:4567".parse().unwrap())] {
            let listening = Listening {
                address: "127.0.0.1:5002".parse().unwrap(),
                control,
            };
            assert_eq!(parse_announce(&announce_line(&listening)), Some(listening));
        }
        assert_eq!(parse_announce("listening on 127.0.0.1:1"), None);
    }
}
