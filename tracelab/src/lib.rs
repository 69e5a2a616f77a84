//! The tracing lab: one command that runs the traced chain app-a → app-b →
//! app-c and an embedded trace store on a laptop, no cluster needed.
//!
//! # Layout
//!
//! - [`cli`]: the command line (`tracelab`, `tracelab store`, `tracelab serve`).
//! - [`lab`]: the whole lab: store in-process, services as child processes.
//! - [`children`]: starting, waiting for and stopping the service processes.
//! - [`services`]: the lab's three services as a set, each stopped and
//!   started again on demand.
//! - [`lab_control`]: the lab's control endpoint (services and their faults).
//! - [`fault_cmd`]: `tracelab fault`, `stop`, `start`, clients of that endpoint.
//! - [`load`]: `tracelab load`, traffic with a report.
//! - [`scenario`]: `tracelab scenario`, the lessons: faults, load, what to look for.
//! - [`stats_cmd`]: `tracelab stats`, the store's analysis as tables or JSON.
//! - [`watch`]: a terminal waterfall for every trace that completes.
//! - [`store_cmd`]: the store, alone or in the lab.
//! - [`client`] and [`viewer`]: the terminal viewers (`traces`, `show`,
//!   `tail`, `export`), clients of a running store's query API.
//! - [`details`]: each span's status, attributes and events (`show -v`).
//! - [`expect_cmd`]: `tracelab expect`, shape assertions for any language's CI.
//! - [`metrics_cmd`]: `tracelab metrics`, TraceQL metrics as sparklines or a table.
//! - [`run`]: dispatch a parsed command line.

pub mod children;
pub mod cli;
pub mod client;
pub mod details;
pub mod expect_cmd;
pub mod fault_cmd;
pub mod lab;
pub mod lab_control;
pub mod load;
pub mod metrics_cmd;
pub mod scenario;
pub mod services;
pub mod stats_cmd;
pub mod store_cmd;
pub mod viewer;
pub mod watch;

use std::process::ExitCode;

use common::Env;
use common::shutdown::{shutdown_signal, stdin_closed};

use cli::{App, Cli, Command, ServeArgs};

/// Run what `cli` asks for; returns the process's exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Store(args)) => report(init_logging().and(store_cmd::run(args).await)),
        Some(Command::Expect(args)) => expect_cmd::run(args).await,
        None => report(init_logging().and(lab::run(cli.lab, shutdown_signal()).await)),
        Some(command) => report(view(command).await),
    }
}

/// The viewers: clients of a running store.
async fn view(command: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let waterfall = |color: cli::ColorChoice| trace_store::waterfall::WaterfallOptions {
        width: 40,
        color: color.enabled(),
        critical_path: false,
    };
    match command {
        Command::Traces(args) => {
            let client = client::StoreClient::new(&args.store.url, args.store.token.as_deref())?;
            viewer::traces(&client, &args.query, usize::try_from(args.limit)?, &mut out).await
        }
        Command::Show(args) => {
            let client = client::StoreClient::new(&args.store.url, args.store.token.as_deref())?;
            let id = viewer::parse_trace_id(&args.trace_id)?;
            viewer::show(&client, id, &waterfall(args.color), args.verbose, &mut out).await
        }
        Command::Tail(args) => {
            let client = client::StoreClient::new(&args.store.url, args.store.token.as_deref())?;
            viewer::tail(&client, &waterfall(args.color), &mut out, shutdown_signal()).await
        }
        Command::Export(args) => {
            let client = client::StoreClient::new(&args.store.url, args.store.token.as_deref())?;
            let id = viewer::parse_trace_id(&args.trace_id)?;
            match args.output {
                Some(path) => {
                    let mut file =
                        std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| {
                            anyhow::anyhow!("cannot create {}: {e}", path.display())
                        })?);
                    viewer::export(&client, id, &mut file).await
                }
                None => viewer::export(&client, id, &mut out).await,
            }
        }
        Command::Fault(args) => fault_cmd::fault(args, &mut out).await,
        Command::Stop(args) => fault_cmd::stop_or_start(args, "stop", &mut out).await,
        Command::Start(args) => fault_cmd::stop_or_start(args, "start", &mut out).await,
        Command::Load(args) => load::run(args, &mut out).await,
        Command::Scenario(args) => scenario::run(args, &mut out).await,
        Command::Stats(args) => stats_cmd::run(args, &mut out).await,
        Command::Metrics(args) => metrics_cmd::run(&args, &mut out).await,
        Command::Serve(_) | Command::Store(_) | Command::Expect(_) => {
            unreachable!("handled by run")
        }
    }
}

/// One service, exactly as its own binary runs it.
async fn serve(args: ServeArgs) -> ExitCode {
    let env = Env::from_process();
    let exit_on_stdin_close = args.exit_on_stdin_close;
    // Handlers now, before the service starts: see `shutdown_signal`.
    let signal = shutdown_signal();
    let shutdown = async move {
        if exit_on_stdin_close {
            tokio::select! { () = signal => {}, () = stdin_closed() => {} }
        } else {
            signal.await;
        }
    };
    let announce = move |listening: &common::service::Listening| {
        if args.announce {
            println!("{}", children::announce_line(listening));
        }
    };
    use common::service::run_announcing;
    match args.app {
        App::AppA => run_announcing::<app_a::AppA>(&env, shutdown, announce).await,
        App::AppB => run_announcing::<app_b::AppB>(&env, shutdown, announce).await,
        App::AppC => run_announcing::<app_c::AppC>(&env, shutdown, announce).await,
    }
}

/// Logs of the lab and the store itself: warnings and errors on stderr.
fn init_logging() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| anyhow::anyhow!(e))
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracelab: {e:#}");
            ExitCode::FAILURE
        }
    }
}
