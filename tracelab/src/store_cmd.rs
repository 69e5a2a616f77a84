//! The embedded trace store as this process runs it: alone (`tracelab
//! store`) or inside the lab. Three listeners: OTLP/HTTP, OTLP/gRPC and the
//! query API.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trace_store::auth::Token;
use trace_store::{IngestLimits, ServeOptions, Store};

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
        let bind = |port: u16, what: &'static str| async move {
            common::http_server::bind(std::net::SocketAddr::new(args.bind, port)).with_context(|| {
                format!("cannot listen on {}:{port} for {what} (is another tracelab or collector running?)", args.bind)
            })
        };
        let otlp = bind(args.otlp_port, "OTLP/HTTP").await?;
        let grpc = bind(args.grpc_port, "OTLP/gRPC").await?;
        let query = bind(args.query_port, "the query API").await?;
        let (otlp_http, otlp_grpc, query_addr) =
            (otlp.local_addr()?, grpc.local_addr()?, query.local_addr()?);

        let store = Store::new(usize::try_from(args.max_spans).unwrap_or(usize::MAX));
        let limits = IngestLimits::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let (grpc_stop, grpc_stopped) = oneshot::channel::<()>();
        let options = ServeOptions {
            limits,
            token: token.clone(),
            ..ServeOptions::default()
        };
        let http = trace_store::serve_with(otlp, query, store.clone(), options, async move {
            let _ = stopped.await;
            let _ = grpc_stop.send(());
        });
        let grpc =
            trace_store::ingest::grpc::serve(grpc, store.clone(), limits, token, async move {
                let _ = grpc_stopped.await;
            });
        let task = tokio::spawn(async move {
            let (http, grpc) = tokio::join!(http, grpc);
            http.context("the store's HTTP server failed")?;
            grpc.context("the store's gRPC server failed")?;
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
