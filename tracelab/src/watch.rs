//! Prints a waterfall for every trace that completes in the store.
//!
//! Spans of one trace arrive in several OTLP batches, one or more per
//! service, so "complete" is a judgement: the trace has its root span, every
//! span's parent has arrived, and no span came for [`SETTLE`]. A trace that
//! never completes (a service was killed mid-request) is printed anyway
//! after [`GIVE_UP`], marked incomplete.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use trace_store::waterfall::{self, WaterfallOptions};
use trace_store::{Store, TraceId};

/// Quiet time after the last span of a trace before it is drawn.
pub const SETTLE: Duration = Duration::from_millis(800);
/// Longest wait for a trace to complete.
pub const GIVE_UP: Duration = Duration::from_secs(10);

/// Draw each trace of `store` to `out` once it completes; runs until the
/// store is dropped.
pub async fn print_completed_traces(store: Store, options: WaterfallOptions, mut out: impl Write) {
    let mut updates = store.subscribe();
    // When each trace was first and last seen.
    let mut pending: HashMap<TraceId, (Instant, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(id) => {
                    let now = Instant::now();
                    pending.entry(id).and_modify(|(_, last)| *last = now).or_insert((now, now));
                }
                // Missed some ids under load: those traces are not drawn.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                pending.retain(|id, (first, last)| {
                    if last.elapsed() < SETTLE {
                        return true;
                    }
                    let Some(trace) = store.trace(id) else { return false };
                    let complete = trace.is_complete();
                    if !complete && first.elapsed() < GIVE_UP {
                        return true;
                    }
                    let mut text = waterfall::render(&trace, &options);
                    if !complete {
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
