//! app-c, the end of the chain: answers `I'm app-c`.
//!
//! Environment: `PORT` (default 5002), `BIND_ADDR`, `SHUTDOWN_GRACE_MS`,
//! and the `OTEL_*` variables (see the README's settings table).

use axum::Router;
use axum::routing::get;
use common::service::BuildError;
use common::{ConfigErrors, Env, ServerSettings, Service};

/// The seed's port for app-c.
pub const DEFAULT_PORT: u16 = common::ports::APP_C;

/// app-c's configuration.
#[derive(Debug, Clone)]
pub struct AppC {
    /// Where to listen.
    pub server: ServerSettings,
}

impl Service for AppC {
    const NAME: &'static str = "app-c";

    fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        Self {
            server: ServerSettings::from_env(env, DEFAULT_PORT, errors),
        }
    }

    fn server(&self) -> &ServerSettings {
        &self.server
    }

    fn routes(self) -> Result<Router, BuildError> {
        Ok(app())
    }
}

/// app-c's routes.
pub fn app() -> Router {
    Router::new().route("/", get(|| async { "I'm app-c" }))
}
