//! `tracelab stats`: the store's analysis of recent traces (RED per service and per edge,
//! findings), read from its `GET /tracelab/v1/stats` route, as a table or as JSON.
//!
//! ```text
//! service   requests  errors  error rate      p50      p90      p99
//! app-a           60      18       30.0 %  12.1 ms  14.0 ms  15.2 ms
//! ...
//! ```

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;

use crate::cli::StoreUrl;
use crate::client::StoreClient;

/// Options of `tracelab stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The window: traces that ended within this long ago (30s, 5m, 1h), or `all`.
    #[arg(long, default_value = "5m", value_parser = parse_since)]
    pub since: String,
    /// Print the store's JSON (`services[]`, `edges[]`, `findings[]`) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
}

fn parse_since(text: &str) -> Result<String, String> {
    if text == "all" {
        return Ok(text.to_owned());
    }
    humantime::parse_duration(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{e}; expected a duration like 30s, 5m, 1h, or all"))
}

/// The store's answer, as far as the terminal needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    /// Traces looked at.
    #[serde(default)]
    pub traces: u64,
    /// Per service.
    pub services: Vec<ServiceRow>,
    /// The service graph.
    pub edges: Vec<EdgeRow>,
    /// What stands out.
    pub findings: Vec<FindingRow>,
}

/// One service's SERVER spans.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRow {
    /// Its name.
    pub service: String,
    /// SERVER spans.
    pub requests: u64,
    /// Of those, errors.
    pub errors: u64,
    /// errors / requests.
    pub error_rate: f64,
    /// Percentiles of duration, ms.
    pub p50_ms: f64,
    /// 90th.
    pub p90_ms: f64,
    /// 99th.
    pub p99_ms: f64,
}

/// One edge of the service graph.
#[derive(Debug, Clone, Deserialize)]
pub struct EdgeRow {
    /// Caller.
    pub from: String,
    /// Callee.
    pub to: String,
    /// Calls.
    pub requests: u64,
    /// Failed calls.
    pub errors: u64,
}

/// One finding.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingRow {
    /// `broken_propagation`, `slowest_hop`, `failing_hop`.
    pub kind: String,
    /// The sentence.
    pub message: String,
}

/// Run `tracelab stats`.
pub async fn run(args: StatsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let client = StoreClient::new(&args.store.url, args.store.token.as_deref())?;
    let (raw, report) = client.stats(&args.since).await?;
    if args.json {
        writeln!(out, "{raw}")?;
    } else {
        write!(out, "{}", table(&report))?;
    }
    Ok(())
}

/// `since` for a window that began `elapsed` ago.
pub fn since(elapsed: Duration) -> String {
    format!("{}ms", elapsed.as_millis().max(1))
}

/// Parses the route's JSON.
pub fn parse(raw: &str) -> anyhow::Result<Report> {
    serde_json::from_str(raw).context("the store's stats answer is not the expected JSON")
}

/// The report as the terminal shows it: services, edges, findings.
pub fn table(report: &Report) -> String {
    let mut text = String::new();
    if report.services.is_empty() && report.edges.is_empty() {
        text.push_str("no SERVER or CLIENT spans in the window\n");
    }
    if !report.services.is_empty() {
        let width = report
            .services
            .iter()
            .map(|s| s.service.len())
            .chain([7])
            .max()
            .unwrap_or(7);
        text.push_str(&format!(
            "{:<width$}  {:>8}  {:>6}  {:>10}  {:>10}  {:>10}  {:>10}\n",
            "service", "requests", "errors", "error rate", "p50", "p90", "p99"
        ));
        for s in &report.services {
            text.push_str(&format!(
                "{:<width$}  {:>8}  {:>6}  {:>8.1} %  {:>7.1} ms  {:>7.1} ms  {:>7.1} ms\n",
                s.service,
                s.requests,
                s.errors,
                s.error_rate * 100.0,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms
            ));
        }
    }
    if !report.edges.is_empty() {
        let width = report
            .edges
            .iter()
            .map(|e| e.from.len() + e.to.len() + 3)
            .chain([4])
            .max()
            .unwrap_or(4);
        text.push_str(&format!(
            "\n{:<width$}  {:>8}  {:>6}\n",
            "call", "requests", "errors"
        ));
        for e in &report.edges {
            let call = format!("{} → {}", e.from, e.to);
            // `→` is one column but three bytes: pad by characters.
            let pad = width.saturating_sub(call.chars().count());
            text.push_str(&format!(
                "{call}{}  {:>8}  {:>6}\n",
                " ".repeat(pad),
                e.requests,
                e.errors
            ));
        }
    }
    if !report.findings.is_empty() {
        text.push_str("\nfindings:\n");
        for f in &report.findings {
            text.push_str(&format!("  {}: {}\n", f.kind, f.message));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_row_per_service_and_edge() {
        let report = parse(
            r#"{"traces":2,"services":[{"service":"app-c","requests":10,"errors":3,
            "error_rate":0.3,"p50_ms":1.5,"p90_ms":2.0,"p99_ms":9.25}],
            "edges":[{"from":"app-b","to":"app-c","requests":10,"errors":3}],
            "findings":[{"kind":"failing_hop","message":"errors start in app-c"}]}"#,
        )
        .unwrap();
        let text = table(&report);
        assert!(
            text.contains(
                "app-c          10       3      30.0 %      1.5 ms      2.0 ms      9.2 ms"
            ),
            "{text}"
        );
        assert!(text.contains("app-b → app-c        10       3"), "{text}");
        assert!(
            text.contains("  failing_hop: errors start in app-c\n"),
            "{text}"
        );
        assert!(parse("{}").is_err());
        assert!(parse_since("5m").is_ok() && parse_since("all").is_ok());
        assert!(parse_since("soon").is_err());
    }
}
