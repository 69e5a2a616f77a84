//! Running a store: one [`Config`], the three listeners it names ([`Listeners`]), and one
//! [`serve`] that runs them all (OTLP/HTTP, OTLP/gRPC, the query API) until a shutdown future
//! completes. The lab, `tracelab store` and the tests all start a store this way.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::serve::ListenerExt;
use http::StatusCode;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::auth::Token;
use crate::ingest::{self, IngestLimits};
use crate::store::Store;
use crate::{analysis, api, metrics, web};

/// Longest a request may take, body upload included. Graceful shutdown waits for requests in
/// flight, so without this one stalled client could hold shutdown open forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of a running store. The defaults are Tempo's and the OTel Collector's ports, on
/// loopback only, without a token.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where OTLP/HTTP is received (`POST /v1/traces`). Default `127.0.0.1:4318`.
    pub otlp_http_addr: SocketAddr,
    /// Where OTLP/gRPC is received (`TraceService/Export`). Default `127.0.0.1:4317`.
    pub otlp_grpc_addr: SocketAddr,
    /// Where the Tempo query API, `/metrics` and the web viewer answer. Default `127.0.0.1:3200`.
    pub query_addr: SocketAddr,
    /// Most spans held at once; older traces are evicted whole past it. Default 1 000 000.
    pub max_spans: usize,
    /// Request body limits of both receivers.
    pub limits: IngestLimits,
    /// When set, every request but `/ready` and the viewer's files must carry it, on every
    /// listener (`Authorization: Bearer <token>`, or gRPC's `authorization` metadata).
    pub token: Option<Token>,
    /// Longest an HTTP request may take, body upload included (a client that never finishes
    /// its body gets 408). Default [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Config {
            otlp_http_addr: loopback(4318),
            otlp_grpc_addr: loopback(4317),
            query_addr: loopback(3200),
            max_spans: 1_000_000,
            limits: IngestLimits::default(),
            token: None,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

impl Config {
    /// The same settings with every port 0 on loopback, so the system picks free ones: what
    /// tests and embedded stores want.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Config {
            otlp_http_addr: any,
            otlp_grpc_addr: any,
            query_addr: any,
            ..Config::default()
        }
    }
}

/// The three bound listeners of a store. Binding is separate from serving so a caller learns
/// the ports (when they were 0) and reports a port in use before anything starts.
#[derive(Debug)]
pub struct Listeners {
    /// OTLP/HTTP.
    pub otlp_http: TcpListener,
    /// OTLP/gRPC.
    pub otlp_grpc: TcpListener,
    /// The query API.
    pub query: TcpListener,
}

impl Listeners {
    /// Binds the three addresses of `config`.
    pub async fn bind(config: &Config) -> std::io::Result<Self> {
        Ok(Listeners {
            otlp_http: TcpListener::bind(config.otlp_http_addr).await?,
            otlp_grpc: TcpListener::bind(config.otlp_grpc_addr).await?,
            query: TcpListener::bind(config.query_addr).await?,
        })
    }
}

/// Why [`serve`] stopped other than by its shutdown future.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An HTTP listener (OTLP/HTTP or the query API) failed.
    #[error("the store's HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    /// The OTLP/gRPC server failed.
    #[error("the store's OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// Serves `store` on all three `listeners` until `shutdown` completes. Shutdown is graceful:
/// every listener stops accepting and requests in flight finish (each HTTP request is capped at
/// `config.request_timeout`). The addresses in `config` are not used; the listeners are.
pub async fn serve(
    listeners: Listeners,
    store: Store,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // One shutdown future, three servers: a watch channel fans the signal out.
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
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout);

    let mut otlp_app = ingest::router(store.clone(), config.limits);
    let mut query_app = api::router(store.clone())
        .merge(api::grpc_router(store.clone()))
        .merge(metrics::router(store.clone()))
        .merge(analysis::route::router(store.clone()))
        .merge(web::router());
    if let Some(token) = config.token.clone() {
        let guard = move |request, next| crate::auth::require(token.clone(), request, next);
        otlp_app = otlp_app.layer(axum::middleware::from_fn(guard.clone()));
        query_app = query_app.layer(axum::middleware::from_fn(guard));
    }
    let (otlp_app, query_app) = (otlp_app.layer(timeout), query_app.layer(timeout));
    tracing::info!(
        otlp_http = %listeners.otlp_http.local_addr()?,
        otlp_grpc = %listeners.otlp_grpc.local_addr()?,
        query = %listeners.query.local_addr()?,
        "trace store listening"
    );

    let otlp_http = axum::serve(listeners.otlp_http, otlp_app)
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
    // Without TCP_NODELAY a streamed gRPC answer's last frames wait for the client's delayed
    // ACK (about 40 ms on Linux): Nagle's algorithm holds small writes while one is unacked.
    let query_listener = listeners.query.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
    });
    let query = axum::serve(query_listener, query_app)
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
    let grpc = ingest::grpc::serve(
        listeners.otlp_grpc,
        store,
        config.limits,
        config.token.clone(),
        stopped(stop_rx),
    );
    let result = tokio::try_join!(
        async { otlp_http.await.map_err(ServeError::from) },
        async { query.await.map_err(ServeError::from) },
        async { grpc.await.map_err(ServeError::from) },
    )
    .map(|_| ());
    signal.abort();
    result
}
