//! The command line: `tracelab` runs the lab; subcommands run one part.
//!
//! Every option also reads an environment variable (shown by `--help`), so
//! the lab can be configured the same way in a shell, a script or compose.

use std::net::{IpAddr, Ipv4Addr};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The tracing lab: three traced services (app-a → app-b → app-c) and an
/// embedded trace store, on one machine.
///
/// Without a subcommand it starts the whole lab: the store in this process
/// and the three services as separate processes, each exporting its spans
/// to the store. Then `curl localhost:5000/` and watch the trace appear.
#[derive(Debug, Parser)]
#[command(name = "tracelab", version, about, long_about)]
pub struct Cli {
    /// What to run; the whole lab when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of the lab.
    #[command(flatten)]
    pub lab: LabArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded trace store alone (OTLP/HTTP in, Tempo's API out).
    Store(StoreArgs),
    /// Run one service of the chain, configured by its environment (this
    /// is what the lab starts, three times).
    Serve(ServeArgs),
    /// List the traces that match a TraceQL query, newest first.
    Traces(TracesArgs),
    /// Draw one trace as a waterfall.
    Show(ShowArgs),
    /// Draw each new trace as it completes (what the lab shows).
    Tail(TailArgs),
    /// Write one trace as OTLP/JSON; POST it to /v1/traces to restore it.
    Export(ExportArgs),
    /// Make a service of a running lab misbehave, or behave again (--clear);
    /// without options, show its faults.
    Fault(crate::fault_cmd::FaultArgs),
    /// Stop a service of a running lab (its callers then get connection errors).
    Stop(crate::fault_cmd::ServiceArgs),
    /// Start a stopped service of a running lab again, on the same port.
    Start(crate::fault_cmd::ServiceArgs),
    /// Send the chain a known amount of traffic; print status codes, errors
    /// and latency percentiles.
    Load(crate::load::LoadArgs),
    /// The lab's lessons: `scenario list`, `scenario run NAME`.
    Scenario(crate::scenario::ScenarioArgs),
    /// Check that a trace has the shape a YAML file describes (exit 0 yes, 1 no, 2 bad input).
    Expect(crate::expect_cmd::ExpectArgs),
    /// Run a TraceQL metrics query, e.g. '{ } | rate() by (resource.service.name)', and
    /// draw each series as a sparkline (or --table).
    Metrics(crate::metrics_cmd::MetricsArgs),
    /// What the stored spans say: requests, errors and latency per service
    /// and per call, and findings (slowest hop, failing hop, broken propagation).
    Stats(crate::stats_cmd::StatsArgs),
}

/// Where a viewer finds the store.
#[derive(Debug, Clone, Args)]
pub struct StoreUrl {
    /// The store's query API.
    #[arg(long = "store", env = "TRACELAB_STORE", default_value = crate::client::DEFAULT_STORE)]
    pub url: String,
    /// The store's token, if it has one (sent as `Authorization: Bearer`).
    #[arg(long, env = "TRACELAB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Options of `tracelab traces`.
#[derive(Debug, Args)]
pub struct TracesArgs {
    /// A TraceQL query, e.g. '{ resource.service.name = "app-c" }'.
    #[arg(default_value = "{}")]
    pub query: String,
    /// Traces to list at most.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub limit: u64,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
}

/// Options of `tracelab show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The trace id (hex, as `traces` lists it).
    pub trace_id: String,
    /// Also print each span's status message, attributes and events.
    #[arg(long, short)]
    pub verbose: bool,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
    /// When to colour the waterfall.
    #[arg(long, env = "TRACELAB_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Options of `tracelab tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
    /// When to colour the waterfalls.
    #[arg(long, env = "TRACELAB_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Options of `tracelab export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace id.
    pub trace_id: String,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
}

/// Which service to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum App {
    /// The front: calls app-b.
    #[value(name = "app-a")]
    AppA,
    /// The middle: waits, then calls app-c.
    #[value(name = "app-b")]
    AppB,
    /// The end.
    #[value(name = "app-c")]
    AppC,
}

impl App {
    /// The service's name.
    pub fn name(self) -> &'static str {
        match self {
            App::AppA => "app-a",
            App::AppB => "app-b",
            App::AppC => "app-c",
        }
    }
}

/// Options of `tracelab serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service to run.
    pub app: App,
    /// Also shut down gracefully when standard input closes. The lab uses
    /// it so that its services never outlive it, however it ends.
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Once listening, write `tracelab-serve: listening on ADDR [control
    /// ADDR]` on stdout. The lab uses it to learn that its own child, not
    /// some other process, holds the port.
    #[arg(long)]
    pub announce: bool,
}

/// Options of the trace store, alone or in the lab.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Address the store listens on (in the lab, the services too). Loopback
    /// by default; any other address needs a token (`--token`).
    #[arg(long, env = "TRACELAB_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Port of the OTLP/HTTP receiver (`POST /v1/traces`); 0 picks a free one.
    #[arg(long, env = "TRACELAB_OTLP_PORT", default_value_t = 4318)]
    pub otlp_port: u16,
    /// Port of the OTLP/gRPC receiver; 0 picks a free one.
    #[arg(long, env = "TRACELAB_GRPC_PORT", default_value_t = 4317)]
    pub grpc_port: u16,
    /// Port of the query API (Tempo's `/api/traces/{id}`, `/api/search`); 0 picks a free one.
    #[arg(long, env = "TRACELAB_QUERY_PORT", default_value_t = 3200)]
    pub query_port: u16,
    /// A shared secret every client must send as `Authorization: Bearer
    /// <token>`. Required when `--bind` is not a loopback address. Prefer the
    /// environment variable: command lines are visible to other users.
    #[arg(long, env = "TRACELAB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Spans kept in memory at most; the oldest traces are evicted first.
    #[arg(long, env = "TRACELAB_MAX_SPANS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_spans: u64,
}

/// Options of the lab.
#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// The store's options.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Port of app-a, where requests start.
    #[arg(long, env = "TRACELAB_APP_A_PORT", default_value_t = common::ports::APP_A)]
    pub app_a_port: u16,
    /// Port of app-b.
    #[arg(long, env = "TRACELAB_APP_B_PORT", default_value_t = common::ports::APP_B)]
    pub app_b_port: u16,
    /// Port of app-c.
    #[arg(long, env = "TRACELAB_APP_C_PORT", default_value_t = common::ports::APP_C)]
    pub app_c_port: u16,
    /// Port of the lab's control endpoint (`tracelab fault`, `stop`, `start`).
    #[arg(long, env = "TRACELAB_CONTROL_PORT", default_value_t = crate::fault_cmd::DEFAULT_CONTROL_PORT)]
    pub control_port: u16,
    /// When to colour the waterfalls.
    #[arg(long, env = "TRACELAB_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to stdout.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_seeds_ports() {
        let cli = Cli::try_parse_from(["tracelab"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(
            (cli.lab.app_a_port, cli.lab.app_b_port, cli.lab.app_c_port),
            (5000, 5001, 5002)
        );
        assert_eq!(
            (cli.lab.store.otlp_port, cli.lab.store.query_port),
            (4318, 3200)
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["tracelab", "--app-a-port", "http"]).is_err());
        assert!(Cli::try_parse_from(["tracelab", "store", "--max-spans", "0"]).is_err());
        assert!(Cli::try_parse_from(["tracelab", "serve", "app-d"]).is_err());
    }
}
