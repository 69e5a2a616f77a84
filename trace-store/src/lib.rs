//! An embedded trace store for laptops and tests: it receives OTLP/HTTP like a collector, keeps a
//! bounded number of spans in memory, and answers Grafana Tempo's query API, so Grafana's Tempo
//! data source (and curl) can read the traces of the app-a → app-b → app-c chain.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use trace_store::{Config, Store};
//!
//! let config = Config::default();
//! let otlp = tokio::net::TcpListener::bind(config.otlp_addr).await?;
//! let query = tokio::net::TcpListener::bind(config.query_addr).await?;
//! let store = Store::new(config.max_spans);
//! trace_store::serve(otlp, query, store, config.limits, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
//!
//! # Layout
//!
//! - [`auth`]: the optional bearer token, required when the store is not on loopback.
//! - [`model`]: [`TraceId`] and [`SpanId`], with Tempo's rules for ids in URLs.
//! - [`store`]: the bounded in-memory [`Store`]; readers get [`Trace`] snapshots of
//!   [`SpanRecord`]s (a compact span, sharing strings and its resource and scope with the store).
//!   They implement the [`traceql`] crate's view traits, so queries evaluate over them in place.
//! - [`ingest`]: the OTLP/HTTP receiver (`POST /v1/traces`, protobuf or JSON, gzip), an axum router.
//! - [`api`]: Tempo's query API (`/api/traces/{id}`, `/api/search`, `/api/echo`), an axum router;
//!   search and tag listings take TraceQL, parsed and evaluated by the [`traceql`] crate.
//! - [`waterfall`]: one trace drawn as a tree of time bars for the terminal.
//! - [`metrics`]: `GET /metrics` on the query port: spans and traces held, the bound.
//! - [`web`]: the web trace viewer, served at `/` on the query port.
//! - [`serve`] runs both routers on their listeners until a shutdown future completes.

pub mod api;
pub mod auth;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod store;
pub mod waterfall;
pub mod web;

#[cfg(test)]
mod testing;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::StatusCode;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

pub use ingest::IngestLimits;
pub use model::{SpanId, TraceId};
pub use store::{SpanRecord, Store, Trace};

/// Longest a request may take, body upload included. Graceful shutdown waits for requests in
/// flight, so without this one stalled client could hold shutdown open forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of a running store. The defaults match Tempo's and the OTel Collector's ports, on
/// loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the OTLP/HTTP receiver listens. Default `127.0.0.1:4318`.
    pub otlp_addr: SocketAddr,
    /// Where the Tempo query API listens. Default `127.0.0.1:3200`.
    pub query_addr: SocketAddr,
    /// Most spans held at once; older traces are evicted whole past it. Default 1 000 000.
    pub max_spans: usize,
    /// Request body limits of the receiver. Default 16 MiB as sent, 64 MiB decompressed.
    pub limits: IngestLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            otlp_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 4318)),
            query_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 3200)),
            max_spans: 1_000_000,
            limits: IngestLimits::default(),
        }
    }
}

/// How [`serve_with`] serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Body limits of the receiver.
    pub limits: IngestLimits,
    /// When set, every request but `/ready` and the viewer's files must carry it.
    pub token: Option<auth::Token>,
    /// Longest a request may take, body upload included (a client that never
    /// finishes its body gets 408). Default [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            limits: IngestLimits::default(),
            token: None,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

/// Serve the OTLP receiver on `otlp` and the query API on `query` until `shutdown` completes,
/// with default options but `limits` (see [`serve_with`]).
pub async fn serve(
    otlp: TcpListener,
    query: TcpListener,
    store: Store,
    limits: IngestLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = ServeOptions {
        limits,
        ..ServeOptions::default()
    };
    serve_with(otlp, query, store, options, shutdown).await
}

/// Serve the OTLP receiver on `otlp` and the query API on `query` until `shutdown` completes.
/// Shutdown is graceful: both listeners stop accepting, and requests in flight finish (each is
/// capped at `options.request_timeout`). Returns the first I/O error of either server.
pub async fn serve_with(
    otlp: TcpListener,
    query: TcpListener,
    store: Store,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One shutdown future, two servers: a watch channel fans the signal out to both.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        // An error means the sender is gone, which also means "stop".
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, options.request_timeout);

    let mut otlp_app = ingest::router(store.clone(), options.limits);
    let mut query_app = api::router(store.clone())
        .merge(metrics::router(store))
        .merge(web::router());
    if let Some(token) = options.token {
        let guard = move |request, next| auth::require(token.clone(), request, next);
        otlp_app = otlp_app.layer(axum::middleware::from_fn(guard.clone()));
        query_app = query_app.layer(axum::middleware::from_fn(guard));
    }
    let otlp_app = otlp_app.layer(timeout);
    let query_app = query_app.layer(timeout);
    tracing::info!(otlp = %otlp.local_addr()?, query = %query.local_addr()?, "trace store listening");

    let otlp_server = axum::serve(otlp, otlp_app).with_graceful_shutdown(stopped(stop_rx.clone()));
    let query_server = axum::serve(query, query_app).with_graceful_shutdown(stopped(stop_rx));
    let result =
        tokio::try_join!(otlp_server.into_future(), query_server.into_future()).map(|_| ());
    signal.abort();
    result
}
