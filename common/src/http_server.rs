//! The server side: a SERVER span per request, health endpoints, and a
//! graceful serve loop with a drain deadline.
//!
//! [`trace_requests`] continues the caller's trace from the W3C
//! `traceparent` header and names the span after the route template
//! (`GET /`), with the stable HTTP semantic conventions. Health endpoints
//! are added after the tracing layer so probes make no spans.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Method, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use tokio::net::TcpListener;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::ExportStats;

/// Whether the process takes new work; `/readyz` answers from it.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Ready from the start: the services need nothing to warm up.
    pub fn new() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// Stop reporting ready (at shutdown, so load balancers stop sending).
    pub fn set_draining(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Whether the process reports ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

/// `routes` with a SERVER span around every request, plus the untraced
/// `/healthz` (liveness), `/readyz` (readiness; never asks other apps) and
/// `/metrics` (span counters).
pub fn with_tracing_and_health(
    routes: Router,
    readiness: Readiness,
    stats: Arc<ExportStats>,
) -> Router {
    let health = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
                    }
                }
            }),
        );
    routes
        .layer(middleware::from_fn(trace_requests))
        .merge(health)
        .merge(crate::metrics::router(stats))
}

/// The SERVER span of one request (axum middleware).
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let (method, method_original) = semconv_method(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{} {route}", span_method(method)),
        None => span_method(method).to_owned(),
    };
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok());
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());

    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %name,
        otel.kind = "server",
        { HTTP_REQUEST_METHOD } = method,
        { HTTP_REQUEST_METHOD_ORIGINAL } = method_original,
        { URL_PATH } = request.uri().path(),
        { URL_QUERY } = request.uri().query(),
        // Behind a TLS-terminating proxy this would come from X-Forwarded-Proto;
        // the services themselves only speak plain HTTP.
        { URL_SCHEME } = "http",
        { HTTP_ROUTE } = route.as_deref(),
        { SERVER_ADDRESS } = authority.as_ref().map(|a| a.host()),
        { SERVER_PORT } = authority.as_ref().map(|a| i64::from(a.port_u16().unwrap_or(80))),
        { CLIENT_ADDRESS } = client.as_deref(),
        { USER_AGENT_ORIGINAL } = user_agent,
        { NETWORK_PROTOCOL_VERSION } = protocol_version(request.version()),
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
        { ERROR_TYPE } = Empty,
    );
    // The parent must be set before the span is first entered: after that,
    // tracing-opentelemetry has started the span and ignores a new parent.
    // A malformed traceparent is ignored: a new root, as the W3C spec says.
    let parent = crate::propagation::extract(request.headers());
    let _ = span.set_parent(parent);

    span.in_scope(|| tracing::debug!(path = request.uri().path(), "request started"));
    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    // i64, not u16: other integer types reach the collector as strings.
    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
    // A 4xx is the client's fault, not the server's: only 5xx is an error here.
    if status.is_server_error() {
        span.record(ERROR_TYPE, status.as_str());
        span.set_status(Status::error(""));
    }
    response
}

/// The method as semconv wants it: one of the known methods, or `_OTHER`
/// plus the original.
fn semconv_method(method: &Method) -> (&str, Option<&str>) {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    if KNOWN.contains(method) {
        (method.as_str(), None)
    } else {
        ("_OTHER", Some(method.as_str()))
    }
}

/// Span names use `HTTP` for an unknown method.
fn span_method(method: &str) -> &str {
    if method == "_OTHER" { "HTTP" } else { method }
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// How many connections may wait to be accepted. Tokio's default is 128:
/// when app-a opens hundreds of connections to app-b at once (the burst
/// benchmark), the kernel drops the overflow and clients retry a second
/// later. Linux caps this at `net.core.somaxconn` (4096 by default).
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `address` with [`LISTEN_BACKLOG`].
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // Restarting on the same port must not wait for old connections' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serve `router` on `listener` until `shutdown` completes, then stop
/// accepting, report not-ready, and let in-flight requests finish for up to
/// `grace`. Requests still running after that are cut off (their spans end
/// then, so they are still exported).
pub async fn serve<L>(
    listener: L,
    router: Router,
    readiness: Readiness,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (draining_tx, mut draining_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        readiness.set_draining();
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: draining in-flight requests"
        );
        let _ = draining_tx.send(true);
    };
    // A no-op tap: axum gives connect info (the client address) to tapped
    // listeners of any kind, and to plain `TcpListener`s only.
    let listener = listener.tap_io(|_| {});
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    let deadline = async move {
        let _ = draining_rx.wait_for(|draining| *draining).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over: cutting off requests still in flight");
            Ok(())
        }
    }
}
