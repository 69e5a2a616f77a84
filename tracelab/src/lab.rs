//! The whole lab: the trace store in this process, the three services as
//! child processes pointed at it, a waterfall for each trace, and an
//! orderly stop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::downstream::Hop;
use trace_store::settle::SettleRules;
use trace_store::waterfall::WaterfallOptions;

use crate::children::ServiceProcess;
use crate::cli::{App, LabArgs};
use crate::store_cmd::RunningStore;
use crate::watch;

/// How long a service may take to drain and flush before it is killed:
/// its default grace period plus an export timeout.
const STOP_PATIENCE: Duration = Duration::from_secs(25);

/// Run the lab until `shutdown` completes.
pub async fn run(args: LabArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let bind = args.store.bind;
    let store = RunningStore::start(&args.store).await?;
    let (otlp_addr, query_addr) = (store.otlp_http, store.query);

    // Start from the back of the chain, so each service's next hop is up.
    let mut env = service_env(otlp_addr);
    if let Some(token) = &args.store.token {
        // The exporters' way to send a header; the space is percent-encoded.
        env.push((
            "OTEL_EXPORTER_OTLP_HEADERS".into(),
            format!("authorization=Bearer%20{}", token.trim()),
        ));
    }
    let reach = |port: u16| SocketAddr::new(reachable(bind), port);
    let app_c = ServiceProcess::start(
        App::AppC,
        SocketAddr::new(bind, args.app_c_port),
        env.clone(),
    )
    .await?;
    let next_hop = |hop: Hop, next: &ServiceProcess| {
        let host = reach(0).ip().to_string();
        hop.to_env(&host, next.address().port())
            .map(|(name, value)| (name.to_owned(), value))
    };
    let mut env_b = env.clone();
    env_b.extend(next_hop(Hop::APP_C, &app_c));
    let app_b =
        ServiceProcess::start(App::AppB, SocketAddr::new(bind, args.app_b_port), env_b).await?;
    let mut env_a = env;
    env_a.extend(next_hop(Hop::APP_B, &app_b));
    let app_a =
        ServiceProcess::start(App::AppA, SocketAddr::new(bind, args.app_a_port), env_a).await?;

    print_banner(
        reach(app_a.address().port()),
        otlp_addr,
        store.otlp_grpc,
        reach(query_addr.port()),
    );
    let options = WaterfallOptions {
        width: 40,
        color: args.color.enabled(),
    };
    let watcher = tokio::spawn(watch::print_completed_traces(
        store.store.clone(),
        options,
        std::io::stdout(),
    ));

    shutdown.await;
    println!("stopping: app-a, app-b, app-c drain and flush their spans, then the store stops");
    // Front to back, so no request in flight finds its next hop gone.
    let mut failures = Vec::new();
    for service in [app_a, app_b, app_c] {
        if let Err(e) = service.stop(STOP_PATIENCE).await {
            failures.push(e);
        }
    }
    // Let the last spans show before the store goes.
    tokio::time::sleep(SettleRules::default().quiet + Duration::from_millis(300)).await;
    watcher.abort();
    store.stop().await?;
    match failures.pop() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// An address clients can connect to for a server bound to `bind`.
fn reachable(bind: IpAddr) -> IpAddr {
    if bind.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind
    }
}

/// What the lab adds to its own environment for every service: spans go to
/// the lab's store, each service names itself, and batches leave quickly so
/// traces show soon. Settings the user made win where that makes sense.
fn service_env(otlp: SocketAddr) -> Vec<(String, String)> {
    let otlp = SocketAddr::new(reachable(otlp.ip()), otlp.port());
    // An empty value counts as unset (the OTel spec's rule, and ours), so
    // these clear whatever the user's shell has for them.
    let mut env = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            format!("http://{otlp}"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned(),
            String::new(),
        ),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
            "http/protobuf".to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL".to_owned(),
            String::new(),
        ),
    ];
    let defaults = [("OTEL_BSP_SCHEDULE_DELAY", "500"), ("RUST_LOG", "warn")];
    for (name, value) in defaults {
        if std::env::var_os(name).is_none() {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    env
}

fn print_banner(app_a: SocketAddr, otlp: SocketAddr, grpc: SocketAddr, query: SocketAddr) {
    println!(
        "\
tracelab is running: app-a → app-b → app-c, traced into the embedded store

  app-a        http://{app_a}/
  OTLP in      http://{otlp}/v1/traces  (gRPC: {grpc})
  query API    http://{query}  (Tempo's API: /api/search, /api/traces/<id>)

Try:
  curl {app_a}/
  curl {query}/api/search
  curl {query}/api/traces/<trace id>

Each trace is drawn below when it completes. Ctrl-C stops everything.
"
    );
}
