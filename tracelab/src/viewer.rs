//! The terminal viewers: `tracelab traces`, `show`, `tail` and `export`.
//!
//! Each talks to a running store over its query API ([`StoreClient`]), so
//! they work in a second terminal next to the lab, or against a store on
//! another machine.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use trace_store::TraceId;
use trace_store::waterfall::{self, WaterfallOptions, human_duration};

use crate::client::{StoreClient, TraceSummary};
use trace_store::settle::{SettleRules, Settled, Settling};

/// How often `tail` asks the store for new traces.
const TAIL_POLL: Duration = Duration::from_millis(300);
/// How many of the newest traces `tail` looks at on each poll.
const TAIL_WINDOW: usize = 100;

/// `tracelab traces [QUERY]`: one line per matching trace.
pub async fn traces(
    client: &StoreClient,
    query: &str,
    limit: usize,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let traces = client.search(query, limit).await?;
    if traces.is_empty() {
        writeln!(out, "no trace matches {query}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32}  {:<20}  {:>9}  {:>5}  {:>6}  ROOT",
        "TRACE ID", "START (UTC)", "DURATION", "SPANS", "ERRORS"
    )?;
    for trace in &traces {
        writeln!(out, "{}", summary_line(trace))?;
    }
    Ok(())
}

fn summary_line(trace: &TraceSummary) -> String {
    let start = trace
        .start_time_unix_nano
        .parse::<u64>()
        .map(|nanos| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
        })
        .unwrap_or_default();
    let root = if trace.root_trace_name.is_empty() {
        trace.root_service_name.clone()
    } else {
        format!("{}: {}", trace.root_service_name, trace.root_trace_name)
    };
    // Tempo's search results carry whole milliseconds: a trace of 0.1 ms says 0.
    let duration = match trace.duration_ms {
        0 => "< 1 ms".to_owned(),
        ms => human_duration(ms.saturating_mul(1_000_000)),
    };
    format!(
        "{:0>32}  {start:<20}  {duration:>9}  {:>5}  {:>6}  {root}",
        trace.trace_id,
        trace.span_count(),
        trace.error_count(),
    )
}

/// Parse a trace id as Tempo does in URLs (1 to 32 hex digits).
pub fn parse_trace_id(id: &str) -> anyhow::Result<TraceId> {
    id.parse()
        .map_err(|e| anyhow::anyhow!("{id:?} is not a trace id: {e}"))
}

/// `tracelab show ID`: the trace's waterfall; with `verbose`, each span's
/// status message, attributes and events below it.
pub async fn show(
    client: &StoreClient,
    id: TraceId,
    options: &WaterfallOptions,
    verbose: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(trace) = client.trace(id).await? else {
        bail!("trace {id} not found in the store");
    };
    let options = WaterfallOptions {
        critical_path: true,
        ..options.clone()
    };
    write!(out, "{}", waterfall::render(&trace, &options))?;
    if verbose {
        write!(out, "{}", crate::details::render(&trace))?;
    }
    Ok(())
}

/// `tracelab export ID`: the trace as one OTLP/JSON `ExportTraceServiceRequest`,
/// which any OTLP/HTTP receiver accepts back (`POST /v1/traces`).
pub async fn export(client: &StoreClient, id: TraceId, out: &mut impl Write) -> anyhow::Result<()> {
    let Some(data) = client.traces_data(id).await? else {
        bail!("trace {id} not found in the store");
    };
    let request = ExportTraceServiceRequest {
        resource_spans: data.resource_spans,
    };
    serde_json::to_writer(&mut *out, &request).context("cannot write the trace")?;
    writeln!(out)?;
    Ok(())
}

/// `tracelab tail`: draw each new trace once it completes, until `stop`.
/// Traces already in the store when it starts are not drawn. When the store
/// goes away, `tail` says so once and keeps asking until it is back.
pub async fn tail(
    client: &StoreClient,
    options: &WaterfallOptions,
    out: &mut impl Write,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut done: HashSet<String> = client
        .search("{}", TAIL_WINDOW)
        .await?
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    eprintln!("following new traces (Ctrl-C stops)");
    let rules = SettleRules::default();
    let mut pending: HashMap<String, Settling> = HashMap::new();
    let mut lost = false;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(TAIL_POLL) => {}
        }
        match poll(client, &rules, options, &mut done, &mut pending, out).await {
            Ok(()) if lost => {
                eprintln!("the store is back; following new traces");
                lost = false;
            }
            Ok(()) => {}
            Err(PollError::Store(e)) => {
                if !lost {
                    eprintln!("lost the store ({e:#}); retrying every {TAIL_POLL:?}");
                    lost = true;
                }
            }
            Err(PollError::Output(e)) => return Err(e.into()),
        }
    }
}

/// Why one poll of `tail` failed: the store (retry) or our output (stop).
enum PollError {
    Store(anyhow::Error),
    Output(std::io::Error),
}

/// Look for new traces once; draw those that have settled.
async fn poll(
    client: &StoreClient,
    rules: &SettleRules,
    options: &WaterfallOptions,
    done: &mut HashSet<String>,
    pending: &mut HashMap<String, Settling>,
    out: &mut impl Write,
) -> Result<(), PollError> {
    let newest = client
        .search("{}", TAIL_WINDOW)
        .await
        .map_err(PollError::Store)?;
    let now = Instant::now();
    for summary in &newest {
        if !done.contains(&summary.trace_id) {
            pending
                .entry(summary.trace_id.clone())
                .or_insert_with(|| Settling::new(now));
        }
    }
    for (id, settling) in pending.iter_mut() {
        let id_parsed = parse_trace_id(id).map_err(PollError::Store)?;
        let Some(trace) = client.trace(id_parsed).await.map_err(PollError::Store)? else {
            continue;
        };
        if settling.judge(&trace, rules, now) != Settled::Waiting {
            writeln!(out, "{}", waterfall::render(&trace, options)).map_err(PollError::Output)?;
            out.flush().map_err(PollError::Output)?;
            done.insert(id.clone());
        }
    }
    pending.retain(|id, _| !done.contains(id));
    // Forget what has left the window, so memory stays bounded.
    let window: HashSet<&String> = newest.iter().map(|t| &t.trace_id).collect();
    done.retain(|id| window.contains(id));
    // A trace the store no longer lists (evicted, or a restarted store)
    // is not waited for forever.
    pending.retain(|id, _| window.contains(id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(duration_ms: u64) -> TraceSummary {
        serde_json::from_value(serde_json::json!({
            "traceID": "3669545594fcf2ca06c9cb660a37ab7",
            "rootServiceName": "app-c",
            "rootTraceName": "GET /",
            "startTimeUnixNano": "1796051913000000000",
            "durationMs": duration_ms,
        }))
        .unwrap()
    }

    /// Search results carry whole milliseconds, so a 0.1 ms trace arrives as 0: it is listed
    /// as under a millisecond, not as "0 ns".
    #[test]
    fn a_trace_under_a_millisecond_is_not_listed_as_zero() {
        let line = summary_line(&summary(0));
        assert!(line.contains("< 1 ms") && !line.contains("0 ns"), "{line}");
        let line = summary_line(&summary(2014));
        assert!(line.contains(&human_duration(2_014_000_000)), "{line}");
    }
}
