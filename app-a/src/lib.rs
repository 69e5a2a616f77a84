//! app-a, the front of the chain: calls app-b and answers `I'm app-a `
//! followed by app-b's answer. `curl localhost:5000/` starts every trace.
//!
//! Environment: `PORT` (default 5000), `SERVICE_B_HOST` / `SERVICE_B_PORT`
//! (default localhost:5001), `DOWNSTREAM_TIMEOUT_MS` (default 3000),
//! `BIND_ADDR`, `SHUTDOWN_GRACE_MS`, and the `OTEL_*` variables.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::downstream::{Downstream, DownstreamSettings, Hop};
use common::service::BuildError;
use common::{ConfigErrors, Env, ServerSettings, Service, relay};

/// The seed's port for app-a.
pub const DEFAULT_PORT: u16 = common::ports::APP_A;

/// app-a's configuration.
#[derive(Debug, Clone)]
pub struct AppA {
    /// Where to listen.
    pub server: ServerSettings,
    /// Where app-b is.
    pub app_b: DownstreamSettings,
}

impl Service for AppA {
    const NAME: &'static str = "app-a";

    fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        Self {
            server: ServerSettings::from_env(env, DEFAULT_PORT, errors),
            app_b: DownstreamSettings::from_env(env, Hop::APP_B, common::ports::APP_B, errors),
        }
    }

    fn server(&self) -> &ServerSettings {
        &self.server
    }

    fn routes(self) -> Result<Router, BuildError> {
        Ok(app(Arc::new(Downstream::new(&self.app_b)?)))
    }
}

/// app-a's routes; `app_b` is the client for the next hop.
pub fn app(app_b: Arc<Downstream>) -> Router {
    Router::new().route("/", get(call_app_b)).with_state(app_b)
}

async fn call_app_b(State(app_b): State<Arc<Downstream>>) -> (StatusCode, String) {
    relay::reply("app-a", "Service B", app_b.get().await)
}
