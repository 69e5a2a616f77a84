//! The lab's control endpoint, which `tracelab fault`, `stop` and `start`
//! talk to: the lab owns the service processes and knows where each one's
//! fault control endpoint is.
//!
//! - `GET /lab`: where the lab's app-a and store answer (what `tracelab
//!   scenario run` loads and reads, so it needs only `--lab`).
//! - `GET /services`: each service, its address and state.
//! - `POST /services/{name}/stop`, `POST /services/{name}/start`.
//! - `GET`, `PUT`, `DELETE /services/{name}/faults`: passed on to the
//!   service's own fault endpoint (see `common::fault::control`).
//!
//! It listens where the store does (loopback unless `--bind` says
//! otherwise), and requires the store's token when there is one.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::ValueEnum as _;

use crate::cli::App;
use crate::services::Services;

/// A control request body larger than this is refused.
const MAX_BODY_BYTES: usize = 4096;

/// Where a lab's clients find it, for `GET /lab`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Addresses {
    /// app-a's URL, where requests start (`http://127.0.0.1:5000/`).
    pub app_a: String,
    /// The store's query API (`http://127.0.0.1:3200`).
    pub store: String,
}

#[derive(Clone)]
struct Lab {
    services: Arc<Services>,
    addresses: Addresses,
    http: reqwest::Client,
}

/// The control routes over `services`, requiring `token` if given.
pub fn router(services: Arc<Services>, addresses: Addresses, token: Option<String>) -> Router {
    let lab = Lab {
        services,
        addresses,
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default(),
    };
    Router::new()
        .route(
            "/lab",
            get(|State(lab): State<Lab>| async move { Json(lab.addresses) }),
        )
        .route("/services", get(list))
        .route("/services/{name}/stop", post(stop))
        .route("/services/{name}/start", post(start))
        .route(
            "/services/{name}/faults",
            get(faults).put(faults).delete(faults),
        )
        .with_state(lab)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let token = token.clone();
            async move {
                let given = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim);
                match token {
                    Some(token) if !trace_store_token_matches(given, &token) => {
                        (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response()
                    }
                    _ => next.run(request).await,
                }
            }
        }))
}

fn trace_store_token_matches(given: Option<&str>, token: &str) -> bool {
    let Some(given) = given else { return false };
    let (given, token) = (given.as_bytes(), token.trim().as_bytes());
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn app(name: &str) -> Result<App, (StatusCode, String)> {
    App::from_str(name, false).map_err(|_| {
        (
            StatusCode::NOT_FOUND,
            format!("no service {name:?}: the lab has app-a, app-b and app-c\n"),
        )
    })
}

fn conflict(e: anyhow::Error) -> Response {
    (StatusCode::CONFLICT, format!("{e:#}\n")).into_response()
}

async fn list(State(lab): State<Lab>) -> Response {
    Json(lab.services.states().await).into_response()
}

async fn stop(State(lab): State<Lab>, Path(name): Path<String>) -> Response {
    let app = match app(&name) {
        Ok(app) => app,
        Err(response) => return response.into_response(),
    };
    match lab.services.stop(app).await {
        Ok(()) => format!("{name} stopped\n").into_response(),
        Err(e) => conflict(e),
    }
}

async fn start(State(lab): State<Lab>, Path(name): Path<String>) -> Response {
    let app = match app(&name) {
        Ok(app) => app,
        Err(response) => return response.into_response(),
    };
    match lab.services.start(app).await {
        Ok(address) => format!("{name} started on {address}\n").into_response(),
        Err(e) => conflict(e),
    }
}

/// Pass the request on to the service's own fault endpoint.
async fn faults(
    State(lab): State<Lab>,
    Path(name): Path<String>,
    method: Method,
    body: Bytes,
) -> Response {
    let app = match app(&name) {
        Ok(app) => app,
        Err(response) => return response.into_response(),
    };
    let control = match lab.services.control(app).await {
        Ok(control) => control,
        Err(e) => return conflict(e),
    };
    let answer = lab
        .http
        .request(method, format!("http://{control}/faults"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("{name}'s fault endpoint did not answer: {e}\n"),
            )
                .into_response();
        }
    };
    let status = answer.status();
    let body = answer.bytes().await.unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
