//! When is a trace done arriving? Spans of one trace come in several exports, one or more per
//! service, so "done" is a judgement: nothing is missing ([`Trace::is_complete`]) and no span came
//! for a quiet period; a trace that never completes (a service died mid-request) is given up on
//! after a longer wait. The lab's live waterfalls and `tracelab tail` both judge this way.

use std::time::{Duration, Instant};

use crate::store::Trace;

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
}
