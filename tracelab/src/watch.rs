//! Prints a waterfall for every trace that completes in the store.
//!
//! Spans of one trace arrive in several OTLP batches, one or more per
//! service, so "complete" is a judgement ([`trace_store::settle`]): nothing
//! is missing and no span came for a quiet period. A trace that never
//! completes (a service was killed mid-request) is printed anyway after a
//! longer wait, marked incomplete.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use trace_store::settle::{SettleRules, Settled, Settling};
use trace_store::waterfall::{self, WaterfallOptions};
use trace_store::{Store, TraceId};

/// Draw each trace of `store` to `out` once it completes; runs until the
/// store is dropped.
pub async fn print_completed_traces(store: Store, options: WaterfallOptions, mut out: impl Write) {
    let mut updates = store.subscribe();
    let rules = SettleRules::default();
    let mut pending: HashMap<TraceId, Settling> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(id) => {
                    pending.entry(id).or_insert_with(|| Settling::new(Instant::now()));
                }
                // Missed some ids under load: those traces are not drawn.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                pending.retain(|id, settling| {
                    let Some(trace) = store.trace(id) else { return false };
                    let verdict = settling.judge(&trace, &rules, now);
                    if verdict == Settled::Waiting {
                        return true;
                    }
                    let mut text = waterfall::render(&trace, &options);
                    if verdict == Settled::Incomplete {
                        text.push_str("  (incomplete: some spans never arrived)\n");
                    }
                    let _ = writeln!(out, "{text}");
                    let _ = out.flush();
                    false
                });
            }
        }
    }
}
