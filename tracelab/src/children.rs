//! The services of the lab as child processes: started, waited for,
//! stopped front to back.
//!
//! Each child runs `tracelab serve app-x` with its own environment, as a
//! pod would: its own `service.name`, exporter and port, talking real HTTP
//! over loopback. Children get a pipe as stdin and stop when it closes, so
//! they never outlive the lab, and they sit in their own process group so a
//! Ctrl-C in the terminal reaches the lab alone, which stops them in order.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use common::service::ServerSettings;
use tokio::process::{Child, ChildStdin, Command};

use crate::cli::App;

/// How long a child may take to answer `/readyz` after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One running service.
#[derive(Debug)]
pub struct ServiceProcess {
    app: App,
    address: SocketAddr,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ServiceProcess {
    /// Start `app` listening on `address`, with `env` added to the lab's own
    /// environment, and wait until it is ready.
    pub async fn start(
        app: App,
        address: SocketAddr,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the tracelab executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(["serve", app.name(), "--exit-on-stdin-close"])
            .envs(env)
            .env("OTEL_SERVICE_NAME", app.name())
            .envs(ServerSettings::listen_env(address))
            .stdin(Stdio::piped())
            .process_group(0);
        let mut child = Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", app.name()))?;
        let stdin = child.stdin.take();
        let mut process = Self {
            app,
            address,
            child,
            stdin,
        };
        process.wait_ready().await?;
        Ok(process)
    }

    /// Poll `/readyz` until it answers 200, the child exits, or time runs out.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let url = format!("http://{}/readyz", self.address);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited at start ({status}); its message is above (is port {} free?)",
                    self.app.name(),
                    self.address.port()
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not become ready within {START_TIMEOUT:?}",
                    self.app.name()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ask the service to stop (close its stdin) and wait for it to drain
    /// and flush; kill it if it takes longer than `patience`.
    pub async fn stop(mut self, patience: Duration) -> anyhow::Result<()> {
        drop(self.stdin.take());
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("{} exited with {status}", self.app.name());
                }
                Ok(())
            }
            Err(_) => {
                self.child.start_kill()?;
                bail!(
                    "{} did not stop within {patience:?} and was killed",
                    self.app.name()
                );
            }
        }
    }

    /// The service's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}
