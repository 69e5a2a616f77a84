//! The whole lab: the trace store in this process, the three services as
//! child processes pointed at it, a waterfall for each trace, and an
//! orderly stop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use common::downstream::Hop;
use common::fault::control::{FAULT_CONTROL_ADDR, FAULT_CONTROL_TOKEN};
use trace_store::settle::SettleRules;
use trace_store::waterfall::WaterfallOptions;

use crate::cli::{App, LabArgs};
use crate::services::Services;
use crate::store_cmd::RunningStore;
use crate::watch;

/// Run the lab until `shutdown` completes.
pub async fn run(args: LabArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let bind = args.store.bind;
    let control = SocketAddr::new(bind, args.control_port);
    let control_listener = common::http_server::bind(control).with_context(|| {
        format!("cannot listen on {control} for the lab's control (is another tracelab running?)")
    })?;
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
        env.push((FAULT_CONTROL_TOKEN.into(), token.trim().to_owned()));
    }
    let reach = |port: u16| SocketAddr::new(reachable(bind), port);
    let services = Arc::new(Services::new());
    let next_hop = |hop: Hop, port: u16| {
        let host = reach(0).ip().to_string();
        hop.to_env(&host, port)
            .map(|(name, value)| (name.to_owned(), value))
    };
    let app_c = services
        .add(
            App::AppC,
            SocketAddr::new(bind, args.app_c_port),
            env.clone(),
        )
        .await?;
    let mut env_b = env.clone();
    env_b.extend(next_hop(Hop::APP_C, app_c.port()));
    let app_b = services
        .add(App::AppB, SocketAddr::new(bind, args.app_b_port), env_b)
        .await?;
    let mut env_a = env;
    env_a.extend(next_hop(Hop::APP_B, app_b.port()));
    let app_a = services
        .add(App::AppA, SocketAddr::new(bind, args.app_a_port), env_a)
        .await?;

    let control_addr = control_listener.local_addr()?;
    let addresses = crate::lab_control::Addresses {
        app_a: format!("http://{}/", reach(app_a.port())),
        store: format!("http://{}", reach(query_addr.port())),
    };
    let router = crate::lab_control::router(services.clone(), addresses, args.store.token.clone());
    let control_task = tokio::spawn(async move { axum::serve(control_listener, router).await });

    print_banner(&Banner {
        app_a: reach(app_a.port()),
        otlp: otlp_addr,
        grpc: store.otlp_grpc,
        query: reach(query_addr.port()),
        control: reach(control_addr.port()),
    });
    let options = WaterfallOptions {
        width: 40,
        color: args.color.enabled(),
        critical_path: false,
    };
    let watcher = tokio::spawn(watch::print_completed_traces(
        store.store.clone(),
        options,
        std::io::stdout(),
    ));

    shutdown.await;
    control_task.abort();
    println!("stopping: app-a, app-b, app-c drain and flush their spans, then the store stops");
    // Front to back, so no request in flight finds its next hop gone.
    let stopped = services.stop_all().await;
    // Let the last spans show before the store goes.
    tokio::time::sleep(SettleRules::default().quiet + Duration::from_millis(300)).await;
    watcher.abort();
    store.stop().await?;
    stopped
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
    // Only the lab reaches the services' fault endpoints: loopback, any port.
    env.push((FAULT_CONTROL_ADDR.to_owned(), "127.0.0.1:0".to_owned()));
    let defaults = [("OTEL_BSP_SCHEDULE_DELAY", "500"), ("RUST_LOG", "warn")];
    for (name, value) in defaults {
        if std::env::var_os(name).is_none() {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    env
}

/// The addresses the banner shows.
struct Banner {
    app_a: SocketAddr,
    otlp: SocketAddr,
    grpc: SocketAddr,
    query: SocketAddr,
    control: SocketAddr,
}

fn print_banner(b: &Banner) {
    let Banner {
        app_a,
        otlp,
        grpc,
        query,
        control,
    } = b;
    println!(
        "\
tracelab is running: app-a → app-b → app-c, traced into the embedded store

  app-a        http://{app_a}/
  web viewer   http://{query}/
  OTLP in      http://{otlp}/v1/traces  (gRPC: {grpc})
  query API    http://{query}  (Tempo's API: /api/search, /api/traces/<id>)
  lab control  http://{control}  (tracelab fault | stop | start)

Try:
  curl {app_a}/
  tracelab traces
  tracelab fault app-b --delay 300ms     (tracelab fault app-b --clear)
  tracelab stop app-c                    (tracelab start app-c)

Each trace is drawn below when it completes. Ctrl-C stops everything.
"
    );
}
