//! app-b, the middle of the chain: waits, then calls app-c and answers
//! `I'm app-b ` followed by app-c's answer.
//!
//! The wait stands for slow work, so the trace shows where time goes. It is
//! an async sleep: a thousand waiting requests hold no thread.
//!
//! Environment: `PORT` (default 5001), `SERVICE_C_HOST` / `SERVICE_C_PORT`
//! (default localhost:5002), `APP_B_DELAY_MS` (default 2000, 0 allowed),
//! `DOWNSTREAM_TIMEOUT_MS` (default 3000), `BIND_ADDR`,
//! `SHUTDOWN_GRACE_MS`, and the `OTEL_*` variables.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::downstream::{Downstream, DownstreamSettings, Hop};
use common::service::BuildError;
use common::{ConfigErrors, Env, ServerSettings, Service, relay};

/// The seed's port for app-b.
pub const DEFAULT_PORT: u16 = common::ports::APP_B;
/// The seed's `time.sleep(2)`.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(2);

/// app-b's configuration.
#[derive(Debug, Clone)]
pub struct AppB {
    /// Where to listen.
    pub server: ServerSettings,
    /// Where app-c is.
    pub app_c: DownstreamSettings,
    /// How long to wait before calling app-c.
    pub delay: Duration,
}

impl Service for AppB {
    const NAME: &'static str = "app-b";

    fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        Self {
            server: ServerSettings::from_env(env, DEFAULT_PORT, errors),
            app_c: DownstreamSettings::from_env(env, Hop::APP_C, common::ports::APP_C, errors),
            delay: env.millis_or("APP_B_DELAY_MS", DEFAULT_DELAY, errors),
        }
    }

    fn server(&self) -> &ServerSettings {
        &self.server
    }

    fn routes(self) -> Result<Router, BuildError> {
        let state = AppState {
            app_c: Downstream::new(&self.app_c)?,
            delay: self.delay,
        };
        Ok(app(Arc::new(state)))
    }
}

/// What a request needs: the client for app-c and the wait.
#[derive(Debug)]
pub struct AppState {
    /// The client for app-c.
    pub app_c: Downstream,
    /// The wait before calling app-c.
    pub delay: Duration,
}

/// app-b's routes.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new().route("/", get(call_app_c)).with_state(state)
}

async fn call_app_c(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    // Even a zero sleep waits for the timer's next tick (about 1 ms), which
    // would be most of a zero-wait request's latency.
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    relay::reply("app-b", "Service C", state.app_c.get().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (AppB, ConfigErrors) {
        let mut errors = ConfigErrors::default();
        let config = AppB::from_env(&Env::from_pairs(pairs.iter().copied()), &mut errors);
        (config, errors)
    }

    #[test]
    fn defaults_are_the_seeds() {
        let (config, errors) = parse(&[]);
        assert!(errors.is_empty());
        assert_eq!(config.server.port, 5001);
        assert_eq!(
            (config.app_c.host.as_str(), config.app_c.port),
            ("localhost", 5002)
        );
        assert_eq!(config.delay, Duration::from_secs(2));
        assert_eq!(config.app_c.timeout, Duration::from_secs(3));
    }

    #[test]
    fn the_seeds_manifest_variables_are_read() {
        let (config, errors) = parse(&[
            ("PORT", "5001"),
            ("SERVICE_C_HOST", "app-c"),
            ("SERVICE_C_PORT", "80"),
            ("APP_B_DELAY_MS", "0"),
        ]);
        assert!(errors.is_empty());
        assert_eq!(
            (config.app_c.host.as_str(), config.app_c.port),
            ("app-c", 80)
        );
        assert_eq!(config.delay, Duration::ZERO);
    }

    #[test]
    fn bad_values_are_all_reported() {
        let (_, errors) = parse(&[
            ("SERVICE_C_HOST", "bad host/"),
            ("SERVICE_C_PORT", "0"),
            ("APP_B_DELAY_MS", "2s"),
        ]);
        let names: Vec<_> = errors.errors().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["SERVICE_C_HOST", "SERVICE_C_PORT", "APP_B_DELAY_MS"]
        );
    }

    /// The wait is async: many requests wait at once on one thread.
    #[tokio::test(start_paused = true)]
    async fn the_wait_holds_no_thread() {
        let state = Arc::new(AppState {
            app_c: Downstream::new(&DownstreamSettings {
                host: "127.0.0.1".into(),
                port: 9,
                timeout: Duration::from_millis(100),
            })
            .unwrap(),
            delay: Duration::from_secs(2),
        });
        let started = tokio::time::Instant::now();
        let waits: Vec<_> = (0..100)
            .map(|_| tokio::spawn(call_app_c(State(state.clone()))))
            .collect();
        for wait in waits {
            // Port 9 refuses: each answers 502 after its wait.
            assert_eq!(wait.await.unwrap().0, StatusCode::BAD_GATEWAY);
        }
        // Paused time: 100 concurrent 2 s waits on a current-thread runtime
        // take 2 s of virtual time, not 200 s.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
