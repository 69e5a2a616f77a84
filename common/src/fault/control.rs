//! The fault control endpoint: `GET`, `PUT` and `DELETE /faults` on an
//! address of its own, so it still answers while the service is down.
//!
//! Off unless `FAULT_CONTROL_ADDR` is set. On a loopback address it takes
//! any local caller (the lab uses it so); on any other address it needs
//! `FAULT_CONTROL_TOKEN`, sent as `Authorization: Bearer <token>`, or the
//! service refuses to start. Never set these in a production deployment.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{FaultSwitch, Faults};
use crate::env::{ConfigErrors, Env};

/// The variable naming the control endpoint's address (unset: no endpoint).
pub const FAULT_CONTROL_ADDR: &str = "FAULT_CONTROL_ADDR";
/// The variable holding the token the control endpoint requires.
pub const FAULT_CONTROL_TOKEN: &str = "FAULT_CONTROL_TOKEN";

/// A control request body larger than this is refused; a `Faults` is ~200 bytes.
const MAX_BODY_BYTES: usize = 4096;

/// Where and how the control endpoint listens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlSettings {
    /// Its address; `None` when the endpoint is off.
    pub address: Option<SocketAddr>,
    /// The bearer token it requires, if any.
    pub token: Option<String>,
}

impl ControlSettings {
    /// Read `FAULT_CONTROL_ADDR` and `FAULT_CONTROL_TOKEN`.
    pub fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        let token = env
            .get(FAULT_CONTROL_TOKEN)
            .map(str::trim)
            .map(str::to_owned);
        let address = env
            .get(FAULT_CONTROL_ADDR)
            .and_then(|raw| match raw.parse::<SocketAddr>() {
                Ok(address) if !address.ip().is_loopback() && token.is_none() => {
                    errors.push(
                        FAULT_CONTROL_ADDR,
                        raw,
                        "a loopback address such as 127.0.0.1:0, or set FAULT_CONTROL_TOKEN too",
                    );
                    None
                }
                Ok(address) => Some(address),
                Err(_) => {
                    errors.push(
                        FAULT_CONTROL_ADDR,
                        raw,
                        "an address and port such as 127.0.0.1:0",
                    );
                    None
                }
            });
        Self { address, token }
    }
}

/// The control routes for `switch`, requiring `token` if given.
pub fn router(switch: FaultSwitch, token: Option<String>) -> Router {
    Router::new()
        .route("/faults", get(current).put(replace).delete(clear))
        .with_state(switch)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let token = token.clone();
            async move {
                match token {
                    Some(token) if !bearer_is(&request, &token) => {
                        (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response()
                    }
                    _ => next.run(request).await,
                }
            }
        }))
}

/// Serve the control endpoint on `listener` until the process ends.
pub fn spawn(listener: tokio::net::TcpListener, switch: FaultSwitch, token: Option<String>) {
    let router = router(switch, token);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("fault control endpoint failed: {e}");
        }
    });
}

async fn current(State(switch): State<FaultSwitch>) -> Json<Faults> {
    Json(switch.get())
}

async fn replace(State(switch): State<FaultSwitch>, Json(faults): Json<Faults>) -> Response {
    if let Err(e) = faults.check() {
        return (StatusCode::UNPROCESSABLE_ENTITY, format!("expected {e}\n")).into_response();
    }
    switch.set(faults.clone());
    Json(faults).into_response()
}

async fn clear(State(switch): State<FaultSwitch>) -> Json<Faults> {
    switch.set(Faults::default());
    Json(Faults::default())
}

/// Whether the request carries `Authorization: Bearer <token>`, compared
/// in constant time so the token cannot be guessed byte by byte.
fn bearer_is(request: &Request, token: &str) -> bool {
    let Some(given) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (ControlSettings, ConfigErrors) {
        let mut errors = ConfigErrors::default();
        let settings =
            ControlSettings::from_env(&Env::from_pairs(pairs.iter().copied()), &mut errors);
        (settings, errors)
    }

    #[test]
    fn off_unless_enabled() {
        assert_eq!(parse(&[]).0, ControlSettings::default());
    }

    #[test]
    fn loopback_needs_no_token_and_elsewhere_one_is_required() {
        let (settings, errors) = parse(&[("FAULT_CONTROL_ADDR", "127.0.0.1:0")]);
        assert!(errors.is_empty());
        assert_eq!(settings.address, Some("127.0.0.1:0".parse().unwrap()));

        let (settings, errors) = parse(&[("FAULT_CONTROL_ADDR", "0.0.0.0:7000")]);
        assert_eq!(errors.errors()[0].name, "FAULT_CONTROL_ADDR");
        assert_eq!(settings.address, None);

        let (settings, errors) = parse(&[
            ("FAULT_CONTROL_ADDR", "0.0.0.0:7000"),
            ("FAULT_CONTROL_TOKEN", "s3cret"),
        ]);
        assert!(errors.is_empty());
        assert_eq!(settings.token.as_deref(), Some("s3cret"));
    }
}
