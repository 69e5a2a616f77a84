//! The embedded trace store as this process runs it: alone (`tracelab
//! store`) or inside the lab. Three listeners: OTLP/HTTP, OTLP/gRPC and the
//! query API.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trace_store::auth::Token;
use trace_store::{Listeners, Store};

use crate::cli::StoreArgs;

/// A store serving in the background.
#[derive(Debug)]
pub struct RunningStore {
    /// The store itself, for in-process readers (the lab's waterfalls).
    pub store: Store,
    /// Where OTLP/HTTP is received.
    pub otlp_http: SocketAddr,
    /// Where OTLP/gRPC is received.
    pub otlp_grpc: SocketAddr,
    /// Where the query API answers.
    pub query: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningStore {
    /// Bind the three ports `args` name and start serving.
    pub async fn start(args: &StoreArgs) -> anyhow::Result<Self> {
        let token = match args.token.as_deref().map(Token::new) {
            Some(None) => anyhow::bail!("TRACELAB_TOKEN is empty"),
            Some(token) => token,
            None if args.bind.is_loopback() => None,
            None => anyhow::bail!(
                "refusing to listen on {} without a token: anyone who can reach it could read every trace \
                 and write spans. Set TRACELAB_TOKEN (clients send `Authorization: Bearer <token>`; exporters \
                 OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>), or bind 127.0.0.1",
                args.bind
            ),
        };
        let config = trace_store::Config {
            otlp_http_addr: SocketAddr::new(args.bind, args.otlp_port),
            otlp_grpc_addr: SocketAddr::new(args.bind, args.grpc_port),
            query_addr: SocketAddr::new(args.bind, args.query_port),
            max_spans: usize::try_from(args.max_spans).unwrap_or(usize::MAX),
            token,
            ..trace_store::Config::default()
        };
        let bind = |addr: SocketAddr, what: &'static str| {
            common::http_server::bind(addr).with_context(|| {
                format!(
                    "cannot listen on {addr} for {what} (is another tracelab or collector running?)"
                )
            })
        };
        let listeners = Listeners {
            otlp_http: bind(config.otlp_http_addr, "OTLP/HTTP")?,
            otlp_grpc: bind(config.otlp_grpc_addr, "OTLP/gRPC")?,
            query: bind(config.query_addr, "the query API")?,
        };
        let (otlp_http, otlp_grpc, query_addr) = (
            listeners.otlp_http.local_addr()?,
            listeners.otlp_grpc.local_addr()?,
            listeners.query.local_addr()?,
        );
        let store = Store::new(config.max_spans);
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = store.clone();
        let task = tokio::spawn(async move {
            trace_store::serve(listeners, serving, &config, async move {
                let _ = stopped.await;
            })
            .await?;
            Ok(())
        });
        Ok(Self {
            store,
            otlp_http,
            otlp_grpc,
            query: query_addr,
            stop,
            task,
        })
    }

    /// Stop accepting, finish requests in flight, and wait.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("the store task panicked")?
    }
}

/// `tracelab store`: serve until SIGTERM or SIGINT.
pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let running = RunningStore::start(&args).await?;
    // Tests and scripts read these lines to find ports chosen with 0.
    println!("OTLP receiver on http://{}/v1/traces", running.otlp_http);
    println!("OTLP/gRPC receiver on http://{}", running.otlp_grpc);
    println!("query API on http://{}", running.query);
    common::shutdown::shutdown_signal().await;
    running.stop().await
}
