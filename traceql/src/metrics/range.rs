//! The time axis of a metrics query: [`Range`], Tempo's step alignment, default step and the
//! mapping of a span's start time to the step it is counted in (Tempo 2.9's
//! `pkg/traceql/engine_metrics.go`: `AlignRequest`, `DefaultQueryRangeStep`, `IntervalMapper`).
//!
//! A range query's start is rounded down and its end up to multiples of the step, and one more
//! step is added in front. Steps are right-closed intervals `(t - step, t]`, and each sample is
//! stamped with its interval's end `t`: a span that starts at `t - step + 1ns … t` counts in the
//! sample at `t`. An instant query has one interval, `[start, end]`, stamped `end`.

/// Nanoseconds in a second.
const SECOND: u64 = 1_000_000_000;

/// Why a time range cannot be queried. The text is the 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `end` is not after `start`.
    #[error("invalid start and end: end ({end}) must be after start ({start})")]
    EndNotAfterStart {
        /// Unix nanoseconds.
        start: u64,
        /// Unix nanoseconds.
        end: u64,
    },
    /// A step of zero.
    #[error("step must be greater than 0")]
    ZeroStep,
    /// Too many steps: every series holds one value per step.
    #[error(
        "step of {step_nanos}ns gives {intervals} steps over the range, more than the limit of {max}: use a larger step"
    )]
    TooManySteps {
        /// The step asked for.
        step_nanos: u64,
        /// How many steps that makes.
        intervals: u64,
        /// [`Range::MAX_INTERVALS`].
        max: usize,
    },
}

/// The time axis of a metrics query, in Unix nanoseconds, already aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    start: u64,
    end: u64,
    step: u64,
    instant: bool,
}

impl Range {
    /// Most steps one query may have (Prometheus' limit too): each series keeps a value per
    /// step, so this and the series limit bound a query's memory.
    pub const MAX_INTERVALS: usize = 11_000;

    /// A range query from `start` to `end` with `step` (Tempo's default step when `None`),
    /// aligned as Tempo aligns it. If `end - start` equals the step, the query is instant.
    pub fn query_range(start: u64, end: u64, step: Option<u64>) -> Result<Range, RangeError> {
        if end <= start {
            return Err(RangeError::EndNotAfterStart { start, end });
        }
        let step = step.unwrap_or_else(|| Range::default_step(start, end));
        if step == 0 {
            return Err(RangeError::ZeroStep);
        }
        if end - start == step {
            return Range::instant(start, end);
        }
        let mut aligned_start = start - start % step;
        let aligned_end = match end % step {
            0 => end,
            rest => end.saturating_add(step - rest),
        };
        // Tempo adds a step in front, so the first partial step has its own sample.
        if aligned_start > step {
            aligned_start -= step;
        }
        let intervals = (aligned_end - aligned_start) / step;
        if intervals > Range::MAX_INTERVALS as u64 {
            return Err(RangeError::TooManySteps {
                step_nanos: step,
                intervals,
                max: Range::MAX_INTERVALS,
            });
        }
        Ok(Range {
            start: aligned_start,
            end: aligned_end,
            step,
            instant: false,
        })
    }

    /// An instant query: one value per series over `[start, end]`.
    pub fn instant(start: u64, end: u64) -> Result<Range, RangeError> {
        if end <= start {
            return Err(RangeError::EndNotAfterStart { start, end });
        }
        Ok(Range {
            start,
            end,
            step: end - start,
            instant: true,
        })
    }

    /// Tempo 2.9's default step: about 240 points over the range, rounded down to a multiple of
    /// 5 s (of 1 s below 5 s), at least 1 s.
    pub fn default_step(start: u64, end: u64) -> u64 {
        let baseline = end.saturating_sub(start) / 240;
        let mut step = baseline / (5 * SECOND) * (5 * SECOND);
        if step < 5 * SECOND {
            step = baseline / SECOND * SECOND;
        }
        step.max(SECOND)
    }

    /// The aligned start, Unix nanoseconds.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The aligned end, Unix nanoseconds.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The step in nanoseconds (the whole range for an instant query).
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Whether this is an instant query (one value per series).
    pub fn is_instant(&self) -> bool {
        self.instant
    }

    /// How many values each series has.
    pub fn intervals(&self) -> usize {
        if self.instant {
            1
        } else {
            ((self.end - self.start) / self.step) as usize
        }
    }

    /// The interval a span starting at `ts` counts in, if any.
    pub fn interval(&self, ts: u64) -> Option<usize> {
        if self.instant {
            return (self.start..=self.end).contains(&ts).then_some(0);
        }
        if ts <= self.start || ts > self.end {
            return None;
        }
        Some(((ts - self.start - 1) / self.step) as usize)
    }

    /// The timestamp of interval `i`'s sample, Unix milliseconds: its end.
    pub fn timestamp_ms(&self, i: usize) -> i64 {
        let nanos = if self.instant {
            self.end
        } else {
            self.start + (i as u64 + 1) * self.step
        };
        (nanos / 1_000_000) as i64
    }

    /// The step in seconds, what `rate()` divides by.
    pub(crate) fn step_seconds(&self) -> f64 {
        self.step as f64 / SECOND as f64
    }
}
