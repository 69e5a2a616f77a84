//! `tracelab expect`: assert on a trace from any language's CI. It reads a running store over
//! HTTP (the lab, `tracelab store`, or a test's store), waits for the trace with the store's
//! long-poll (`/tracelab/v1/traces/{id}/settled`), and compares it with a shape file using the
//! `trace-expect` crate, so the words of a failure are the Rust API's. Against Grafana Tempo,
//! which has no long-poll, it polls Tempo's own API instead (`source.rs`).
//!
//! Exit codes: 0 the trace matches; 1 it does not (the diff on stdout), or it did not arrive
//! within `--wait`; 2 a bad shape file, bad arguments, or a store that cannot be reached.
//! `--record ID` prints the shape of a stored trace instead.

mod source;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args};
use trace_expect::shape::MAX_SHAPE_BYTES;
use trace_expect::{Arrival, Failure, FailureKind, Shape};

use crate::cli::{ColorChoice, StoreUrl};
use source::{Polled, TraceSource};

/// The longest `--quiet` accepted: the store's own bound on it.
const MAX_QUIET: Duration = Duration::from_secs(10);

/// The longest `--wait` accepted.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

/// Options of `tracelab expect`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["trace", "query", "record"])))]
#[command(
    after_help = "Exit codes: 0 the trace matches; 1 it does not, or it did not arrive \
within --wait (the diff is on stdout); 2 a bad shape file, bad arguments or an unreachable store.

--store may also be Grafana Tempo's query API: without tracelab's long-poll, Tempo's own API \
is polled every 500ms.

Examples:
  tracelab expect chain.yaml --trace 4bf92f3577b34da6a3ce929d0e0e4736
  generate-shape | tracelab expect - --trace 4bf92f3577b34da6a3ce929d0e0e4736
  tracelab expect chain.yaml --query '{ resource.service.name = \"app-c\" }' --wait 30s
  tracelab expect --record 4bf92f3577b34da6a3ce929d0e0e4736 > chain.yaml"
)]
pub struct ExpectArgs {
    /// The shape file (YAML; `docs/shape.schema.json` describes it), or `-` for standard input.
    #[arg(required_unless_present = "record", conflicts_with = "record")]
    pub shape: Option<PathBuf>,
    /// The trace to check (hex id).
    #[arg(long)]
    pub trace: Option<String>,
    /// A TraceQL query: the newest matching trace is checked, once no newer match has arrived
    /// for --quiet.
    #[arg(long)]
    pub query: Option<String>,
    /// With --query: how long no newer match must arrive before the newest is chosen (at most
    /// 10s). A request sent just before is otherwise missed while its spans sit in the
    /// exporters' batches: set it above their batch delay (the SDKs' default is 5s).
    #[arg(long, default_value = "1s", value_parser = parse_quiet)]
    pub quiet: Duration,
    /// Print the shape of this stored trace (ids and times left out) instead of checking.
    #[arg(long, value_name = "ID")]
    pub record: Option<String>,
    /// How long to wait for the trace to arrive and settle, like 10s or 1m (at most 1h).
    #[arg(long, default_value = "10s", value_parser = parse_wait)]
    pub wait: Duration,
    /// Print the verdict as JSON (`{"matched": …, "failure": …}`).
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
    /// When to colour the diff.
    #[arg(long, env = "TRACELAB_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// `--quiet`: a duration like `1s`, at most [`MAX_QUIET`].
fn parse_quiet(text: &str) -> Result<Duration, String> {
    let quiet = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if quiet > MAX_QUIET {
        return Err(format!("at most {}", humantime::format_duration(MAX_QUIET)));
    }
    Ok(quiet)
}

/// `--wait`: a duration like `10s`, at most [`MAX_WAIT`].
fn parse_wait(text: &str) -> Result<Duration, String> {
    let wait = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if wait > MAX_WAIT {
        return Err(format!("at most {}", humantime::format_duration(MAX_WAIT)));
    }
    Ok(wait)
}

/// Runs `tracelab expect`; returns the exit code (0, 1 or 2, see the module docs).
pub async fn run(args: ExpectArgs) -> ExitCode {
    match expect(&args).await {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(failure)) => {
            if args.json {
                let json = serde_json::json!({ "matched": false, "failure": failure });
                println!("{json}");
            } else {
                print!("{}", failure.render(args.color.enabled()));
            }
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("tracelab expect: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(None)`: success (and what to print was printed); `Ok(Some)`: exit 1; `Err`: exit 2.
async fn expect(args: &ExpectArgs) -> anyhow::Result<Option<Failure>> {
    let started = Instant::now();
    let deadline = started + args.wait;
    let store = TraceSource::new(&args.store)?;
    if let Some(raw) = &args.record {
        let id = crate::viewer::parse_trace_id(raw)?;
        let polled = store.wait(id, None, deadline).await?;
        let Some(trace) = polled.trace else {
            let headline = format!(
                "trace {id}: no span arrived within {}",
                humantime::format_duration(args.wait)
            );
            let mut failure = Failure::new(FailureKind::Timeout, headline);
            failure.trace_id = Some(id.to_string());
            return Ok(Some(failure));
        };
        if polled.timed_out {
            eprintln!(
                "tracelab expect: trace {id} had not settled within {} (a parent is missing, or \
                 spans kept coming); recording its {} spans as they are",
                humantime::format_duration(args.wait),
                trace.spans.len()
            );
        }
        print!("{}", trace_expect::record(&trace).to_yaml());
        return Ok(None);
    }
    let path = args.shape.as_ref().context("a shape file is required")?;
    let shape = read_shape(path)?;
    let (id, query) = match (&args.trace, &args.query) {
        (Some(raw), _) => (crate::viewer::parse_trace_id(raw)?, None),
        (None, Some(query)) => match store.newest(query, args.quiet, deadline).await? {
            Some(id) => (id, Some(query.as_str())),
            None => {
                let headline = format!(
                    "no trace matched within {}",
                    humantime::format_duration(args.wait)
                );
                return Ok(Some(
                    Failure::new(FailureKind::Timeout, headline).with_query(query),
                ));
            }
        },
        (None, None) => bail!("give --trace ID or --query TRACEQL"),
    };

    // First until the trace has as many spans as the shape has nodes; if it does not match
    // then, until it settles (it may still be growing), and judge it as it is.
    let nodes = shape.node_count().max(1);
    let mut polled = store.wait(id, Some(nodes), deadline).await?;
    let matched = |p: &Polled| {
        p.trace
            .as_ref()
            .is_some_and(|t| trace_expect::compare(&shape, t).matches())
    };
    if !polled.timed_out && !matched(&polled) {
        polled = store.wait(id, None, deadline).await?;
    }
    let waited = if polled.timed_out {
        args.wait
    } else {
        started.elapsed()
    };
    match trace_expect::judge(id, &shape, arrival(&polled, waited)) {
        Ok(comparison) => {
            if args.json {
                let json = serde_json::json!({
                    "matched": true, "trace_id": id.to_string(), "spans": comparison.spans,
                });
                println!("{json}");
            } else {
                let name = if path == Path::new("-") {
                    "the shape on standard input".to_owned()
                } else {
                    path.display().to_string()
                };
                println!("trace {id} matches {name} ({} spans)", comparison.spans);
            }
            Ok(None)
        }
        Err(failure) => Ok(Some(match query {
            Some(query) => failure.with_query(query),
            None => failure,
        })),
    }
}

/// The shape in the file at `path`, or on standard input for `-` (read up to one byte past
/// the size limit, so a larger input is refused rather than held).
fn read_shape(path: &Path) -> anyhow::Result<Shape> {
    if path != Path::new("-") {
        return Ok(Shape::from_file(path)?);
    }
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_SHAPE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .context("cannot read the shape from standard input")?;
    Shape::from_yaml(&text).context("standard input")
}

fn arrival(polled: &Polled, waited: Duration) -> Arrival<'_> {
    Arrival {
        trace: polled.trace.as_ref(),
        timed_out: polled.timed_out,
        waited,
    }
}
