//! The lab's three services as one set: started back to front, stopped
//! front to back, and each stopped or started again on demand
//! (`tracelab stop app-c`, `tracelab start app-c`) on the same address, so
//! the chain finds it where it was.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use tokio::sync::Mutex;

use crate::children::ServiceProcess;
use crate::cli::App;

/// How long a service may take to drain and flush before it is killed:
/// its default grace period plus an export timeout.
pub const STOP_PATIENCE: Duration = Duration::from_secs(25);

/// One service: how to start it, and the process when it runs.
#[derive(Debug)]
struct Slot {
    app: App,
    address: SocketAddr,
    env: Vec<(String, String)>,
    process: Option<ServiceProcess>,
}

/// What a service is doing, for `GET /services`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceState {
    /// `app-a`, `app-b` or `app-c`.
    pub name: &'static str,
    /// Its address.
    pub address: SocketAddr,
    /// `running`, `stopped` (by the lab) or `exited` (on its own).
    pub state: &'static str,
}

/// The lab's services. Front first: app-a, app-b, app-c.
#[derive(Debug, Default)]
pub struct Services {
    slots: Mutex<Vec<Slot>>,
}

impl Services {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start `app` on `address` with `env`, and keep it in the set; its
    /// actual address (port 0 resolved) is returned.
    pub async fn add(
        &self,
        app: App,
        address: SocketAddr,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<SocketAddr> {
        let process = ServiceProcess::start(app, address, env.clone()).await?;
        let address = process.address();
        self.slots.lock().await.insert(
            0,
            Slot {
                app,
                address,
                env,
                process: Some(process),
            },
        );
        Ok(address)
    }

    /// Stop `app`; an error if it is not running.
    pub async fn stop(&self, app: App) -> anyhow::Result<()> {
        let process = {
            let mut slots = self.slots.lock().await;
            let slot = slot(&mut slots, app)?;
            slot.process
                .take()
                .ok_or_else(|| anyhow!("{} is not running", app.name()))?
        };
        if process.exit_status().is_some() {
            return Ok(());
        }
        process.stop(STOP_PATIENCE).await
    }

    /// Start `app` again where it was; an error if it is running.
    pub async fn start(&self, app: App) -> anyhow::Result<SocketAddr> {
        let mut slots = self.slots.lock().await;
        let slot = slot(&mut slots, app)?;
        if let Some(process) = &slot.process
            && process.exit_status().is_none()
        {
            bail!("{} is already running on {}", app.name(), slot.address);
        }
        let process = ServiceProcess::start(app, slot.address, slot.env.clone()).await?;
        slot.process = Some(process);
        Ok(slot.address)
    }

    /// The fault control address of `app`, if it runs.
    pub async fn control(&self, app: App) -> anyhow::Result<SocketAddr> {
        let mut slots = self.slots.lock().await;
        let slot = slot(&mut slots, app)?;
        slot.process
            .as_ref()
            .filter(|p| p.exit_status().is_none())
            .ok_or_else(|| {
                anyhow!(
                    "{} is not running (`tracelab start {}`)",
                    app.name(),
                    app.name()
                )
            })?
            .control()
            .ok_or_else(|| anyhow!("{} has no fault control endpoint", app.name()))
    }

    /// Every service and what it is doing.
    pub async fn states(&self) -> Vec<ServiceState> {
        let slots = self.slots.lock().await;
        slots
            .iter()
            .map(|slot| ServiceState {
                name: slot.app.name(),
                address: slot.address,
                state: match &slot.process {
                    None => "stopped",
                    Some(p) if p.exit_status().is_some() => "exited",
                    Some(_) => "running",
                },
            })
            .collect()
    }

    /// Stop every service, front to back; the last failure, if any.
    pub async fn stop_all(&self) -> anyhow::Result<()> {
        let processes: Vec<ServiceProcess> = {
            let mut slots = self.slots.lock().await;
            slots.iter_mut().filter_map(|s| s.process.take()).collect()
        };
        let mut failure = None;
        for process in processes {
            if process.exit_status().is_some() {
                continue;
            }
            if let Err(e) = process.stop(STOP_PATIENCE).await {
                failure = Some(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

fn slot(slots: &mut [Slot], app: App) -> anyhow::Result<&mut Slot> {
    slots
        .iter_mut()
        .find(|s| s.app == app)
        .ok_or_else(|| anyhow!("{} is not part of this lab", app.name()))
}
