//! `tracelab scenario`: the lessons of the lab, one command each. A
//! scenario says what it does and what to look for, injects its faults
//! through the running lab, drives load, then clears the faults.
//!
//! Then it waits for the load's spans to reach the store and prints what
//! the store's analysis finds in them (`tracelab stats` over the scenario's
//! own window), after where to see it by hand (the waterfall, `tracelab
//! show -v`, a TraceQL query for the web viewer or Grafana).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use common::fault::Faults;

use crate::cli::App;
use crate::client::StoreClient;
use crate::fault_cmd::{LabClient, LabUrl, describe};
use crate::lab_control::Addresses;
use crate::load::LoadArgs;
use crate::stats_cmd::{self, Report};

/// One lesson: the faults it injects and what it teaches.
#[derive(Debug)]
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line: what happens.
    pub summary: &'static str,
    /// The service misbehaving, and how.
    pub fault: (App, Faults),
    /// What to look for, and where.
    pub look_for: &'static str,
}

/// The scenarios, in the order of the workshop.
pub fn all() -> Vec<Scenario> {
    let none = Faults::default();
    vec![
        Scenario {
            name: "slow-hop",
            summary: "app-b takes 300 ms longer: where does the latency happen?",
            fault: (
                App::AppB,
                Faults {
                    delay_ms: 300,
                    ..none.clone()
                },
            ),
            look_for: "Every trace is ~300 ms longer, and the waterfall puts the extra time in app-b's \
                       SERVER span before its call to app-c: app-b's own work, not its callees. \
                       `tracelab show -v` shows fault.injected=delay on that span. TraceQL: \
                       { resource.service.name = \"app-b\" && kind = server && duration > 300ms }",
        },
        Scenario {
            name: "flaky",
            summary: "app-c fails 30 % of requests: which service failed?",
            fault: (
                App::AppC,
                Faults {
                    error_rate: 0.3,
                    status: 500,
                    ..none.clone()
                },
            ),
            look_for: "About 30 % of answers are 502. In a failed trace all five spans are errors, \
                       but only app-c's SERVER span answered 500 on its own (fault.injected=error); \
                       app-b and app-a relay it. TraceQL: { status = error && resource.service.name = \"app-c\" }",
        },
        Scenario {
            name: "app-c-down",
            summary: "app-c refuses connections: what does an outage look like?",
            fault: (
                App::AppC,
                Faults {
                    down: true,
                    ..none.clone()
                },
            ),
            look_for: "Every answer is 502 \"Error calling Service C\", after app-b's usual wait: the \
                       refused connection fails at once, with no timeout to sit out (app-b's CLIENT \
                       span is a sliver). Traces have four spans: app-c made none. app-b's CLIENT \
                       span has error.type=connection_error and an exception event. TraceQL: \
                       { span.error.type = \"connection_error\" }",
        },
        Scenario {
            name: "timeout-cascade",
            summary: "app-c hangs: how do timeouts travel up the chain?",
            fault: (
                App::AppC,
                Faults {
                    hang: true,
                    ..none.clone()
                },
            ),
            look_for: "app-a gives up on app-b after DOWNSTREAM_TIMEOUT_MS (3 s) and answers 502 \
                       \"Error calling Service B\": app-b spent 2 s of those in its wait, so it had \
                       waited on app-c only 1 s and its own 3 s timeout never ran out. app-a's CLIENT \
                       span ends with error.type=timeout; app-c's span (fault.injected=hang) ends \
                       only when its caller hangs up. Start the lab with APP_B_DELAY_MS=0 to see \
                       app-b time out first and app-a relay it. TraceQL: { span.error.type = \"timeout\" }",
        },
        Scenario {
            name: "broken-propagation",
            summary: "app-b drops the trace context: how does the request flow?",
            fault: (
                App::AppB,
                Faults {
                    no_propagation: true,
                    ..none
                },
            ),
            look_for: "Answers are all 200, but each request makes two traces: app-a and app-b's four \
                       spans, and app-c's span alone as the root of a new trace. app-b's CLIENT span \
                       has fault.injected=no_propagation. `tracelab traces` shows both kinds; TraceQL: \
                       { trace:rootService = \"app-c\" }",
        },
    ]
}

/// Options of `tracelab scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

/// `scenario list` or `scenario run NAME`.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// List the scenarios.
    List,
    /// Run one against a running lab: inject, drive load, clear.
    Run(RunArgs),
}

/// Options of `tracelab scenario run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario (see `tracelab scenario list`).
    pub name: String,
    /// Requests to send.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub requests: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub concurrency: u32,
    /// app-a's URL, where the load goes [default: the lab's app-a, as the lab reports it].
    #[arg(long = "url", id = "app_url")]
    pub app_url: Option<String>,
    /// Leave the fault on afterwards (clear it with `tracelab fault SERVICE --clear`).
    #[arg(long)]
    pub keep: bool,
    /// The lab.
    #[command(flatten)]
    pub lab: LabUrl,
    /// The lab's store, whose analysis names the finding (the lab's token is its token)
    /// [default: the lab's store, as the lab reports it].
    #[arg(long = "store", env = "TRACELAB_STORE")]
    pub store: Option<String>,
}

/// How long to wait for the load's spans to reach the store. The lab's services export
/// every 500 ms; a hanging hop's spans end when its caller gives up, within the load.
const SETTLE_DEADLINE: Duration = Duration::from_secs(20);

/// Run `tracelab scenario ...`.
pub async fn run(args: ScenarioArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match args.command {
        ScenarioCommand::List => {
            for scenario in all() {
                writeln!(out, "{:<20}{}", scenario.name, scenario.summary)?;
            }
            Ok(())
        }
        ScenarioCommand::Run(args) => run_one(args, out).await,
    }
}

async fn run_one(args: RunArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let Some(scenario) = all().into_iter().find(|s| s.name == args.name) else {
        let names: Vec<_> = all().iter().map(|s| s.name).collect();
        bail!(
            "no scenario {:?}; there are {}",
            args.name,
            names.join(", ")
        );
    };
    let (app, faults) = &scenario.fault;
    let lab = LabClient::new(&args.lab)?;
    // A lab on other ports than the defaults (5000 taken, a second lab) is found
    // through its control endpoint alone: it knows where its app-a and store are.
    let (app_url, store_url) = match (args.app_url, args.store) {
        (Some(app), Some(store)) => (app, store),
        (app, store) => {
            let reported: Addresses =
                serde_json::from_str(&lab.send(reqwest::Method::GET, "/lab", None).await?)
                    .context("the lab's GET /lab answered something else than its addresses")?;
            (
                app.unwrap_or(reported.app_a),
                store.unwrap_or(reported.store),
            )
        }
    };
    let store = StoreClient::new(&store_url, args.lab.token.as_deref())?;
    let started = Instant::now();
    let path = format!("/services/{}/faults", app.name());
    writeln!(out, "scenario {}: {}", scenario.name, scenario.summary)?;
    lab.send(
        reqwest::Method::PUT,
        &path,
        Some(serde_json::to_string(faults)?),
    )
    .await?;
    writeln!(out, "{}: {}", app.name(), describe(faults))?;
    writeln!(
        out,
        "sending {} requests to {}, {} at a time\n",
        args.requests, app_url, args.concurrency
    )?;
    out.flush()?;
    let load = crate::load::run(
        LoadArgs {
            url: app_url,
            requests: Some(args.requests),
            duration: None,
            concurrency: Some(args.concurrency),
            rate: None,
            timeout: Duration::from_secs(30),
            allow_remote: false,
        },
        out,
    )
    .await;
    if !args.keep {
        lab.send(reqwest::Method::DELETE, &path, None).await?;
        writeln!(out, "\n{}: faults cleared", app.name())?;
    }
    load?;
    writeln!(out, "\nwhat to look for:\n  {}", wrap(scenario.look_for))?;
    out.flush()?;
    let report = settled(&store, started, args.requests).await?;
    writeln!(out, "\nwhat the traces say:\n{}", stats_cmd::table(&report))?;
    Ok(())
}

/// The analysis of the scenario's window once its spans have arrived: some service has
/// seen every request and two reads 500 ms apart agree; or whatever is there at the deadline.
async fn settled(store: &StoreClient, started: Instant, requests: u64) -> anyhow::Result<Report> {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    let mut last: Option<(u64, u64)> = None;
    loop {
        let (_, report) = store.stats(&stats_cmd::since(started.elapsed())).await?;
        let seen = report
            .services
            .iter()
            .map(|s| s.requests)
            .max()
            .unwrap_or(0);
        let count = (
            report.services.iter().map(|s| s.requests).sum::<u64>(),
            report.edges.iter().map(|e| e.requests).sum::<u64>(),
        );
        if (seen >= requests && last == Some(count)) || Instant::now() >= deadline {
            return Ok(report);
        }
        last = Some(count);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Collapse the source's runs of spaces into one.
fn wrap(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_a_valid_fault_with_a_unique_name() {
        let scenarios = all();
        assert_eq!(scenarios.len(), 5);
        for s in &scenarios {
            s.fault.1.check().unwrap();
            assert!(s.fault.1.any(), "{}", s.name);
            assert_eq!(scenarios.iter().filter(|o| o.name == s.name).count(), 1);
        }
    }
}
