//! When is a trace done arriving? Spans of one trace come in several exports, one or more per
//! service, so "done" is a judgement: nothing is missing ([`Trace::is_complete`]) and no span came
//! for a quiet period; a trace that never completes (a service died mid-request) is given up on
//! after a longer wait. The lab's live waterfalls and `tracelab tail` both judge this way.
//!
//! [`wait`] waits for one trace to reach a given span count or to settle, and [`newest`] for
//! the newest trace a query matches, both waking on ingest ([`Store::subscribe`]) rather than
//! polling: the test kit and the query API's long-polls (`/tracelab/v1/traces/{id}/settled`,
//! `/tracelab/v1/search/newest`) wait this way.

mod newest;

pub use newest::newest;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;

use crate::model::TraceId;
use crate::store::{Store, Trace};

/// How long to wait. The defaults suit services that export every half second (the lab's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleRules {
    /// Quiet time after the last new span before a trace counts as settled. Default 800 ms.
    pub quiet: Duration,
    /// Longest wait for a trace to complete. Default 10 s.
    pub give_up: Duration,
}

impl Default for SettleRules {
    fn default() -> Self {
        SettleRules {
            quiet: Duration::from_millis(800),
            give_up: Duration::from_secs(10),
        }
    }
}

/// The verdict on a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Spans may still come.
    Waiting,
    /// Nothing is missing and nothing new came for the quiet period.
    Complete,
    /// Something is still missing, but it has been too long.
    Incomplete,
}

/// What is known of one trace being watched: when it was first seen and when it last grew.
#[derive(Debug, Clone, Copy)]
pub struct Settling {
    first_seen: Instant,
    last_change: Instant,
    spans: usize,
}

impl Settling {
    /// A trace first seen at `now`.
    pub fn new(now: Instant) -> Self {
        Settling {
            first_seen: now,
            last_change: now,
            spans: 0,
        }
    }

    /// Judges `trace` (the latest copy) at `now`; a span count that changed since the last look
    /// restarts the quiet period.
    pub fn judge(&mut self, trace: &Trace, rules: &SettleRules, now: Instant) -> Settled {
        if trace.spans.len() != self.spans {
            self.spans = trace.spans.len();
            self.last_change = now;
        }
        if now.duration_since(self.last_change) < rules.quiet {
            Settled::Waiting
        } else if trace.is_complete() {
            Settled::Complete
        } else if now.duration_since(self.first_seen) >= rules.give_up {
            Settled::Incomplete
        } else {
            Settled::Waiting
        }
    }
}

/// What [`wait`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// At least this many spans of the trace have arrived.
    Spans(usize),
    /// Nothing is missing ([`Trace::is_complete`]) and no span came for this long.
    Quiet(Duration),
}

/// How a [`wait`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// The span count asked for arrived.
    Spans,
    /// The trace is complete and was quiet for the period asked for.
    Quiet,
    /// The time ran out first.
    Timeout,
}

/// The end of a [`wait`]: how it ended and the trace as it was then (`None`: no span of it
/// arrived at all).
#[derive(Debug, Clone)]
pub struct Waited {
    /// Why the wait ended.
    pub reached: Reached,
    /// The latest snapshot of the trace.
    pub trace: Option<Arc<Trace>>,
}

/// Waits until trace `id` in `store` is as `until` says, or `timeout` passes. Wakes when the
/// store reports new spans of the trace (and, for [`Until::Quiet`], when a quiet period would
/// end); it never polls. A trace already there is judged at once.
pub async fn wait(store: &Store, id: TraceId, until: Until, timeout: Duration) -> Waited {
    // Subscribe before the first look, so spans that arrive between the look and the first
    // `recv` are not missed.
    let mut updates = store.subscribe();
    let started = tokio::time::Instant::now();
    // A timeout too large to add (`Duration::MAX`) means "no deadline" in practice.
    let deadline = started
        .checked_add(timeout)
        .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 24 * 3600));
    let mut last_count = 0;
    let mut last_change = started;
    loop {
        let now = tokio::time::Instant::now();
        let trace = store.trace(&id);
        let count = trace.as_ref().map_or(0, |t| t.spans.len());
        if count != last_count {
            last_count = count;
            last_change = now;
        }
        // The moment to look again even if no span comes: the end of the quiet period.
        let mut wake = deadline;
        match (until, &trace) {
            (Until::Spans(wanted), Some(t)) if t.spans.len() >= wanted => {
                return Waited {
                    reached: Reached::Spans,
                    trace,
                };
            }
            (Until::Quiet(quiet), Some(t)) if t.is_complete() => {
                if now.duration_since(last_change) >= quiet {
                    return Waited {
                        reached: Reached::Quiet,
                        trace,
                    };
                }
                wake = wake.min(last_change + quiet);
            }
            _ => {}
        }
        if now >= deadline {
            return Waited {
                reached: Reached::Timeout,
                trace,
            };
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            changed = next_of(&mut updates, id) => {
                if !changed {
                    // The store is gone: nothing will ever arrive.
                    return Waited { reached: Reached::Timeout, trace };
                }
            }
        }
    }
}

/// Waits for news of trace `id`: true when it got spans (or when some ids were missed, which
/// might include it); false when the store is gone.
async fn next_of(updates: &mut tokio::sync::broadcast::Receiver<TraceId>, id: TraceId) -> bool {
    loop {
        match updates.recv().await {
            Ok(got) if got == id => return true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{request, span};

    fn trace(spans: &[(u8, Option<u8>)]) -> Trace {
        let store = crate::Store::new(100);
        let spans = spans
            .iter()
            .map(|&(id, parent)| span(1, id, parent, "s", u64::from(id), 100))
            .collect();
        store.insert(request("svc", spans)).unwrap();
        std::sync::Arc::unwrap_or_clone(store.recent_traces(1).remove(0))
    }

    #[test]
    fn a_trace_settles_after_a_quiet_period_or_is_given_up() {
        let rules = SettleRules::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let partial = trace(&[(1, None), (2, Some(1))]);
        let mut settling = Settling::new(t0);
        assert_eq!(settling.judge(&partial, &rules, at(100)), Settled::Waiting);
        // It grows: the quiet period starts again.
        let whole = trace(&[(1, None), (2, Some(1)), (3, Some(2))]);
        assert_eq!(settling.judge(&whole, &rules, at(700)), Settled::Waiting);
        assert_eq!(settling.judge(&whole, &rules, at(1_400)), Settled::Waiting);
        assert_eq!(settling.judge(&whole, &rules, at(1_500)), Settled::Complete);

        let orphan = trace(&[(1, None), (3, Some(2))]);
        let mut settling = Settling::new(t0);
        assert_eq!(settling.judge(&orphan, &rules, at(900)), Settled::Waiting);
        assert_eq!(settling.judge(&orphan, &rules, at(9_999)), Settled::Waiting);
        assert_eq!(
            settling.judge(&orphan, &rules, at(10_000)),
            Settled::Incomplete
        );
    }

    /// `wait` returns as soon as the span count arrives (woken by the insert, well before its
    /// timeout), after the quiet period for a complete trace, and at the timeout otherwise.
    #[tokio::test]
    async fn wait_wakes_on_ingest_and_gives_up_at_its_timeout() {
        let store = crate::Store::new(100);
        let id = TraceId::from_bytes(&crate::testing::trace_id(1)).unwrap();
        let long = Duration::from_secs(20);

        let waiting = tokio::spawn({
            let store = store.clone();
            async move { wait(&store, id, Until::Spans(2), long).await }
        });
        store
            .insert(request("svc", vec![span(1, 1, None, "root", 10, 100)]))
            .unwrap();
        store
            .insert(request("svc", vec![span(1, 2, Some(1), "child", 20, 90)]))
            .unwrap();
        let started = Instant::now();
        let waited = waiting.await.unwrap();
        assert_eq!(waited.reached, Reached::Spans);
        assert_eq!(waited.trace.unwrap().spans.len(), 2);
        assert!(started.elapsed() < Duration::from_secs(5));

        let quiet = wait(&store, id, Until::Quiet(Duration::from_millis(50)), long).await;
        assert_eq!(quiet.reached, Reached::Quiet);

        let started = Instant::now();
        let short = Duration::from_millis(100);
        let more = wait(&store, id, Until::Spans(3), short).await;
        assert_eq!(more.reached, Reached::Timeout);
        assert_eq!(more.trace.unwrap().spans.len(), 2);
        assert!(started.elapsed() >= short);
        let unknown = TraceId::from_bytes(&crate::testing::trace_id(9)).unwrap();
        let none = wait(&store, unknown, Until::Quiet(short), short).await;
        assert_eq!(
            (none.reached, none.trace.is_none()),
            (Reached::Timeout, true)
        );
    }
}
