//! One service process from start to exit: configuration, telemetry,
//! listening, serving until told to stop, draining, flushing spans.
//!
//! Each app describes itself with the [`Service`] trait; [`run`] does the
//! rest the same way for all three, so their `main.rs` are three lines.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;

use crate::env::{ConfigErrors, Env};
use crate::fault::control::{self, ControlSettings};
use crate::fault::down::DownListener;
use crate::fault::{self, FaultSwitch, Faults};
use crate::http_server::{self, Readiness};
use crate::telemetry::{self, LogSettings, TelemetrySettings};

/// Exit code for a configuration error (BSD `EX_USAGE`), so an orchestrator
/// can tell "fix your settings" from a crash.
pub const EX_USAGE: u8 = 64;

/// The answer to `--version` or `--help`, the only arguments a service binary
/// takes (its settings are environment variables); `None` means "run".
pub fn version_or_help(name: &str, mut args: impl Iterator<Item = String>) -> Option<String> {
    let version = env!("CARGO_PKG_VERSION");
    match args.next().as_deref() {
        Some("--version" | "-V") => Some(format!("{name} {version}")),
        Some("--help" | "-h") => Some(format!(
            "{name} {version}: one service of the tracelab chain.\n\
             Configured by environment variables (PORT, BIND_ADDR, OTEL_*, ...): see the README."
        )),
        _ => None,
    }
}

/// Where and how a service listens, from `BIND_ADDR`, `PORT` and
/// `SHUTDOWN_GRACE_MS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Address to bind: `0.0.0.0` by default, for containers.
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// How long in-flight requests may run on after SIGTERM.
    pub shutdown_grace: Duration,
}

impl ServerSettings {
    /// The variable naming the address to bind.
    pub const BIND_ADDR: &'static str = "BIND_ADDR";
    /// The variable naming the port.
    pub const PORT: &'static str = "PORT";
    /// The variable naming the drain time after SIGTERM, in milliseconds.
    pub const SHUTDOWN_GRACE_MS: &'static str = "SHUTDOWN_GRACE_MS";

    /// Read the settings; `default_port` is the seed's port for the app.
    pub fn from_env(env: &Env, default_port: u16, errors: &mut ConfigErrors) -> Self {
        Self {
            bind: env.parse_or(
                Self::BIND_ADDR,
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                "an IP address such as 0.0.0.0 or 127.0.0.1",
                errors,
            ),
            port: env.listen_port_or(Self::PORT, default_port, errors),
            shutdown_grace: env.millis_or(Self::SHUTDOWN_GRACE_MS, Duration::from_secs(10), errors),
        }
    }

    /// The environment that makes [`ServerSettings::from_env`] listen on `address`: what a
    /// parent process (the lab) gives a service it starts. The drain time is left to the
    /// parent's own environment.
    pub fn listen_env(address: SocketAddr) -> [(&'static str, String); 2] {
        [
            (Self::BIND_ADDR, address.ip().to_string()),
            (Self::PORT, address.port().to_string()),
        ]
    }
}

/// An error building a service's routes.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// What a service is: its name, its configuration, its routes.
pub trait Service: Sized {
    /// The service's name: `service.name` unless `OTEL_SERVICE_NAME` says
    /// otherwise, and the prefix of its error messages.
    const NAME: &'static str;

    /// Read the configuration, recording every bad variable in `errors`.
    fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self;

    /// Where to listen.
    fn server(&self) -> &ServerSettings;

    /// The service's own routes (tracing and health are added around them).
    fn routes(self) -> Result<Router, BuildError>;
}

/// Where a started service listens, once it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    /// The service's own address (port 0 resolved).
    pub address: SocketAddr,
    /// The fault control endpoint's address, when it is on.
    pub control: Option<SocketAddr>,
}

/// Run service `S` with the environment `env` until `shutdown` completes,
/// then drain and flush. Returns the process's exit code: 0 after a clean
/// shutdown (even if the final flush failed, which is logged), [`EX_USAGE`] for bad configuration, 1 for other failures.
pub async fn run<S: Service>(
    env: &Env,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> ExitCode {
    run_announcing::<S>(env, shutdown, |_| {}).await
}

/// [`run`], calling `announce` once the service listens (the lab learns
/// its children's addresses so, from the child itself).
pub async fn run_announcing<S: Service>(
    env: &Env,
    shutdown: impl Future<Output = ()> + Send + 'static,
    announce: impl FnOnce(&Listening),
) -> ExitCode {
    let mut errors = ConfigErrors::default();
    let service = S::from_env(env, &mut errors);
    let faults = Faults::from_env(env, &mut errors);
    let control = ControlSettings::from_env(env, &mut errors);
    let logs = LogSettings::from_env(env, &mut errors);
    let otel = TelemetrySettings::from_env(env, S::NAME)
        .map_err(|e| errors.extend(e))
        .ok();
    let Some(otel) = otel.filter(|_| errors.is_empty()) else {
        eprintln!("{}: {errors}", S::NAME);
        return ExitCode::from(EX_USAGE);
    };
    let telemetry = match telemetry::init(&otel, &logs, env!("CARGO_PKG_VERSION")) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("{}: {e}", S::NAME);
            return ExitCode::from(EX_USAGE);
        }
    };

    let faults = Faulting {
        switch: FaultSwitch::new(S::NAME, faults),
        control,
    };
    let code = serve_until(service, telemetry.stats(), faults, shutdown, announce).await;
    // A failed flush (collector down or hanging) loses spans, which the log
    // says, but the service itself stopped cleanly: the exit code is the
    // server's, so an orchestrator does not report a crash.
    if let Err(e) = telemetry.shutdown().await {
        tracing::error!("{e}; spans still queued are lost");
    }
    code
}

/// The faults of one service and where they are controlled.
struct Faulting {
    switch: FaultSwitch,
    control: ControlSettings,
}

async fn serve_until<S: Service>(
    service: S,
    stats: std::sync::Arc<crate::telemetry::ExportStats>,
    faults: Faulting,
    shutdown: impl Future<Output = ()> + Send + 'static,
    announce: impl FnOnce(&Listening),
) -> ExitCode {
    let settings = service.server().clone();
    let address = SocketAddr::new(settings.bind, settings.port);
    let listener = match http_server::bind(address) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%address, "cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let control = match faults.control.address {
        Some(at) => match http_server::bind(at) {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::error!(address = %at, "cannot listen for fault control: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let routes = match service.routes() {
        Ok(routes) => routes,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().unwrap_or(address);
    // Tests and the lab read this line to learn a port 0 choice.
    tracing::info!(service = S::NAME, %address, "listening");
    let control = control.map(|listener| {
        let at = listener.local_addr().ok();
        control::spawn(
            listener,
            faults.switch.clone(),
            faults.control.token.clone(),
        );
        if let Some(at) = at {
            // Tests read this line to find the endpoint's port.
            tracing::info!(address = %at, "fault control listening");
        }
        at
    });
    if faults.switch.get().any() {
        tracing::warn!(
            service = S::NAME,
            "faults from FAULT_* variables: {}",
            faults.switch.get()
        );
    }
    announce(&Listening {
        address,
        control: control.flatten(),
    });

    let readiness = Readiness::new();
    // Inside the tracing layer, so each fault is named on the SERVER span.
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        faults.switch.clone(),
        fault::inject,
    ));
    let router = http_server::with_tracing_and_health(routes, readiness.clone(), stats);
    let listener = match DownListener::new(listener, faults.switch.subscribe()) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match http_server::serve(
        listener,
        router,
        readiness,
        settings.shutdown_grace,
        release_hangs_at(shutdown, faults.switch.clone()),
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `shutdown`, and then the `hang` fault lifted: requests hanging go on and
/// finish, so the service drains instead of waiting out its grace period.
async fn release_hangs_at(shutdown: impl Future<Output = ()>, switch: FaultSwitch) {
    shutdown.await;
    let faults = switch.get();
    if faults.hang {
        switch.set(Faults {
            hang: false,
            ..faults
        });
    }
}

#[cfg(test)]
mod tests {
    use super::version_or_help;

    fn answer(args: &[&str]) -> Option<String> {
        version_or_help("app-x", args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn version_and_help_answer_and_nothing_else_does() {
        assert_eq!(
            answer(&["--version"]).as_deref(),
            Some(concat!("app-x ", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(answer(&["-V"]), answer(&["--version"]));
        assert!(
            answer(&["--help"])
                .unwrap()
                .contains("environment variables")
        );
        assert_eq!(answer(&[]), None);
        assert_eq!(answer(&["serve"]), None);
    }
}
