//! The waits of `tracelab expect` against a store without our long-polls (Grafana Tempo):
//! Tempo's own API, asked every [`POLL_EVERY`] until the trace is ready or the deadline passes.
//! Polling is the only way here; our store's long-polls (the parent module) wake on ingest.

use std::time::{Duration, Instant};

use trace_expect::TraceId;
use trace_store::settle::{SettleRules, Settled, Settling};

use super::{Polled, TraceSource};

/// How often a store without the long-polls is asked again.
pub(super) const POLL_EVERY: Duration = Duration::from_millis(500);

/// How many search results are compared to find the newest match: Tempo returns matches in
/// the order it finds them, not newest first.
const SEARCH_LIMIT: usize = 50;

impl TraceSource {
    /// Tempo's `GET /api/search`, asked every [`POLL_EVERY`]; of the matches, the one that
    /// started last, once it has stayed the newest for `quiet` (or at `deadline`, if one
    /// matched by then).
    pub(super) async fn newest_by_polling(
        &self,
        query: &str,
        quiet: Duration,
        deadline: Instant,
    ) -> anyhow::Result<Option<TraceId>> {
        // The newest match so far, and since when it has been the newest.
        let mut newest: Option<(TraceId, Instant)> = None;
        loop {
            let matches = self.client.search(query, SEARCH_LIMIT).await?;
            let found = matches
                .iter()
                .max_by_key(|t| t.start_time_unix_nano.parse::<u64>().unwrap_or(0));
            if let Some(found) = found {
                let id = crate::viewer::parse_trace_id(&found.trace_id)?;
                let since = match newest {
                    Some((kept, since)) if kept == id => since,
                    _ => Instant::now(),
                };
                if since.elapsed() >= quiet {
                    return Ok(Some(id));
                }
                newest = Some((id, since));
            }
            if !pause(deadline).await {
                return Ok(newest.map(|(id, _)| id));
            }
        }
    }

    /// Tempo's `GET /api/traces/{id}`, asked every [`POLL_EVERY`] until the trace has `spans`
    /// spans, or (without `spans`) has settled by the store's rules, or `deadline` passes.
    pub(super) async fn wait_by_polling(
        &self,
        id: TraceId,
        spans: Option<usize>,
        deadline: Instant,
    ) -> anyhow::Result<Polled> {
        // Only the deadline gives up: `judge` then never says `Incomplete` before it.
        let rules = SettleRules {
            give_up: Duration::from_secs(24 * 3600),
            ..SettleRules::default()
        };
        let mut settling = Settling::new(Instant::now());
        let mut last = None;
        loop {
            // Tempo answers 404 (`None`) until a span of the trace is in.
            let trace = self.client.trace(id).await?;
            if let Some(trace) = trace.filter(|t| !t.spans.is_empty()) {
                let ready = match spans {
                    Some(n) => trace.spans.len() >= n,
                    None => settling.judge(&trace, &rules, Instant::now()) == Settled::Complete,
                };
                if ready {
                    return Ok(Polled {
                        trace: Some(trace),
                        timed_out: false,
                    });
                }
                last = Some(trace);
            }
            if !pause(deadline).await {
                return Ok(Polled {
                    trace: last,
                    timed_out: true,
                });
            }
        }
    }
}

/// Sleeps [`POLL_EVERY`] (less if `deadline` is nearer); `false` when the deadline has passed.
async fn pause(deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
    true
}
