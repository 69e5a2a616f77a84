//! Faults on demand, for teaching: a service can be made slow, failing,
//! hanging, down, or careless with trace context, without a restart.
//!
//! [`Faults`] says what to inject. It is read at start from the `FAULT_*`
//! variables ([`Faults::from_env`]) and can be changed at run time through
//! the control endpoint ([`control`]), which is off unless
//! `FAULT_CONTROL_ADDR` is set. [`FaultSwitch`] holds the current faults;
//! [`inject`] applies them to each request inside its SERVER span, and
//! [`down`] makes the listener refuse connections.
//!
//! Every injected fault is named on the span it affects: the attribute
//! `fault.injected` lists the kinds, and a `fault.injected` event carries
//! the details, so a trace never hides what was done to it. A service that
//! is down makes no span at all (nothing reaches it): its callers' CLIENT
//! spans show the refused connection, as in a real outage.

pub mod control;
pub mod down;
mod inject;

pub use inject::{inject, mark, propagation_dropped};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::env::{ConfigErrors, Env};

/// The longest delay a fault may add (10 minutes): a typo must not park
/// requests for days.
pub const MAX_DELAY: Duration = Duration::from_secs(600);

/// The span attribute (and event name) that marks an injected fault.
pub const FAULT_ATTRIBUTE: &str = "fault.injected";

/// What to do to each request. The default injects nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added latency in milliseconds (0: none).
    pub delay_ms: u64,
    /// The delay varies by up to this much either way, uniformly.
    pub jitter_ms: u64,
    /// The share of requests that are delayed, from 0 to 1.
    pub share: f64,
    /// The share of requests answered with `status` instead of served, 0 to 1.
    pub error_rate: f64,
    /// The status of an injected error, 400 to 599.
    pub status: u16,
    /// Accept requests and never answer, until the caller gives up.
    pub hang: bool,
    /// Refuse connections, as if the service were not running.
    pub down: bool,
    /// Call the next hop without the trace context (`traceparent`).
    pub no_propagation: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            jitter_ms: 0,
            share: 1.0,
            error_rate: 0.0,
            status: 500,
            hang: false,
            down: false,
            no_propagation: false,
        }
    }
}

/// The variables that set faults at start.
pub mod vars {
    /// Added latency, in milliseconds.
    pub const DELAY_MS: &str = "FAULT_DELAY_MS";
    /// Jitter around the delay, in milliseconds.
    pub const JITTER_MS: &str = "FAULT_JITTER_MS";
    /// Share of requests delayed, 0 to 1 (default 1).
    pub const DELAY_SHARE: &str = "FAULT_DELAY_SHARE";
    /// Share of requests failed, 0 to 1.
    pub const ERROR_RATE: &str = "FAULT_ERROR_RATE";
    /// Status of a failed request (default 500).
    pub const ERROR_STATUS: &str = "FAULT_ERROR_STATUS";
    /// `true`: never answer.
    pub const HANG: &str = "FAULT_HANG";
    /// `true`: refuse connections.
    pub const DOWN: &str = "FAULT_DOWN";
    /// `true`: drop the trace context on calls to the next hop.
    pub const NO_PROPAGATION: &str = "FAULT_NO_PROPAGATION";
}

impl Faults {
    /// Read the `FAULT_*` variables, recording every bad one in `errors`.
    pub fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        let defaults = Self::default();
        let share = |name: &str, default: f64, errors: &mut ConfigErrors| {
            let value = env.parse_or(name, default, "a number from 0 to 1", errors);
            if (0.0..=1.0).contains(&value) {
                value
            } else {
                errors.push(name, &value.to_string(), "a number from 0 to 1");
                default
            }
        };
        let faults = Self {
            delay_ms: env.parse_or(vars::DELAY_MS, 0, "a whole number of milliseconds", errors),
            jitter_ms: env.parse_or(vars::JITTER_MS, 0, "a whole number of milliseconds", errors),
            share: share(vars::DELAY_SHARE, defaults.share, errors),
            error_rate: share(vars::ERROR_RATE, 0.0, errors),
            status: env.parse_or(
                vars::ERROR_STATUS,
                defaults.status,
                "an HTTP status from 400 to 599",
                errors,
            ),
            hang: env.bool_or(vars::HANG, false, errors),
            down: env.bool_or(vars::DOWN, false, errors),
            no_propagation: env.bool_or(vars::NO_PROPAGATION, false, errors),
        };
        if let Err(problem) = faults.check() {
            let (name, value) = match problem {
                FaultError::Status(s) => (vars::ERROR_STATUS, s.to_string()),
                FaultError::Delay(ms) => (vars::DELAY_MS, ms.to_string()),
                FaultError::Jitter(ms) => (vars::JITTER_MS, ms.to_string()),
                FaultError::Share(v) => (vars::DELAY_SHARE, v.to_string()),
                FaultError::ErrorRate(v) => (vars::ERROR_RATE, v.to_string()),
            };
            errors.push(name, &value, &problem.to_string());
            return defaults;
        }
        faults
    }

    /// Whether the values are in range.
    pub fn check(&self) -> Result<(), FaultError> {
        let max = MAX_DELAY.as_millis() as u64;
        if !(400..=599).contains(&self.status) {
            return Err(FaultError::Status(self.status));
        }
        if self.delay_ms > max {
            return Err(FaultError::Delay(self.delay_ms));
        }
        if self.jitter_ms > max {
            return Err(FaultError::Jitter(self.jitter_ms));
        }
        if !(0.0..=1.0).contains(&self.share) {
            return Err(FaultError::Share(self.share));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(FaultError::ErrorRate(self.error_rate));
        }
        Ok(())
    }

    /// Whether any fault is set.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The delay for one request: `None` if this request is not delayed.
    pub(crate) fn pick_delay(&self) -> Option<Duration> {
        if self.delay_ms == 0 || fastrand::f64() >= self.share {
            return None;
        }
        let jitter = self.jitter_ms.min(self.delay_ms) as i64;
        let offset = if jitter == 0 {
            0
        } else {
            fastrand::i64(-jitter..=jitter)
        };
        Some(Duration::from_millis(
            self.delay_ms.saturating_add_signed(offset),
        ))
    }
}

/// One line saying what a service is made to do, e.g. `delay 300 ms ± 50 ms
/// on 50% of requests`, or `no faults`.
impl std::fmt::Display for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let faults = self;
        let mut parts = Vec::new();
        if faults.down {
            parts.push("down (refusing connections)".to_owned());
        }
        if faults.hang {
            parts.push("hanging (never answers)".to_owned());
        }
        if faults.delay_ms > 0 {
            let mut delay = format!("delay {} ms", faults.delay_ms);
            if faults.jitter_ms > 0 {
                delay.push_str(&format!(" ± {} ms", faults.jitter_ms));
            }
            if faults.share < 1.0 {
                delay.push_str(&format!(" on {}% of requests", percent(faults.share)));
            }
            parts.push(delay);
        }
        if faults.error_rate > 0.0 {
            parts.push(format!(
                "{}% of requests answer {}",
                percent(faults.error_rate),
                faults.status
            ));
        }
        if faults.no_propagation {
            parts.push("calls the next hop without trace context".to_owned());
        }
        if parts.is_empty() {
            f.write_str("no faults")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A share as a percentage with at most two decimals: 0.07 is `7`, not
/// `7.000000000000001`.
fn percent(share: f64) -> f64 {
    (share * 10_000.0).round() / 100.0
}

/// A fault setting out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// Not an error status.
    #[error("an HTTP error status from 400 to 599, not {0}")]
    Status(u16),
    /// Longer than [`MAX_DELAY`].
    #[error("a delay of at most 600000 ms, not {0}")]
    Delay(u64),
    /// Longer than [`MAX_DELAY`].
    #[error("a jitter of at most 600000 ms, not {0}")]
    Jitter(u64),
    /// Not a share.
    #[error("a delay share from 0 to 1, not {0}")]
    Share(f64),
    /// Not a share.
    #[error("an error rate from 0 to 1, not {0}")]
    ErrorRate(f64),
}

/// The faults in force in one process, shared by the request path, the
/// listener and the control endpoint.
#[derive(Debug, Clone)]
pub struct FaultSwitch {
    faults: watch::Sender<Faults>,
    service: &'static str,
}

impl FaultSwitch {
    /// A switch for `service` (named in its log lines) starting with `faults`.
    pub fn new(service: &'static str, faults: Faults) -> Self {
        Self {
            faults: watch::Sender::new(faults),
            service,
        }
    }

    /// The faults now.
    pub fn get(&self) -> Faults {
        self.faults.borrow().clone()
    }

    /// Replace the faults; takes effect for the next request (and at once
    /// for `down` and for requests hanging).
    pub fn set(&self, faults: Faults) {
        if faults != *self.faults.borrow() {
            // A warning, so it shows among the lab's `RUST_LOG=warn` lines.
            tracing::warn!(service = self.service, "faults now: {faults}");
        }
        self.faults.send_replace(faults);
    }

    /// A receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<Faults> {
        self.faults.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (Faults, ConfigErrors) {
        let mut errors = ConfigErrors::default();
        let faults = Faults::from_env(&Env::from_pairs(pairs.iter().copied()), &mut errors);
        (faults, errors)
    }

    #[test]
    fn no_variable_means_no_fault() {
        let (faults, errors) = parse(&[]);
        assert!(errors.is_empty());
        assert!(!faults.any());
    }

    #[test]
    fn every_variable_is_read() {
        let (faults, errors) = parse(&[
            ("FAULT_DELAY_MS", "300"),
            ("FAULT_JITTER_MS", "50"),
            ("FAULT_DELAY_SHARE", "0.5"),
            ("FAULT_ERROR_RATE", "0.3"),
            ("FAULT_ERROR_STATUS", "503"),
            ("FAULT_HANG", "true"),
            ("FAULT_DOWN", "false"),
            ("FAULT_NO_PROPAGATION", "TRUE"),
        ]);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(
            faults,
            Faults {
                delay_ms: 300,
                jitter_ms: 50,
                share: 0.5,
                error_rate: 0.3,
                status: 503,
                hang: true,
                down: false,
                no_propagation: true,
            }
        );
    }

    #[test]
    fn bad_values_are_named() {
        let (_, errors) = parse(&[
            ("FAULT_DELAY_MS", "300ms"),
            ("FAULT_ERROR_RATE", "30%"),
            ("FAULT_DELAY_SHARE", "1.5"),
            ("FAULT_HANG", "yes"),
        ]);
        let names: Vec<_> = errors.errors().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "FAULT_DELAY_MS",
                "FAULT_DELAY_SHARE",
                "FAULT_ERROR_RATE",
                "FAULT_HANG"
            ]
        );
        let (_, errors) = parse(&[("FAULT_ERROR_STATUS", "200")]);
        assert_eq!(errors.errors()[0].name, "FAULT_ERROR_STATUS");
    }

    #[test]
    fn faults_read_as_one_line() {
        assert_eq!(Faults::default().to_string(), "no faults");
        let faults = Faults {
            error_rate: 0.07,
            status: 503,
            no_propagation: true,
            ..Faults::default()
        };
        assert_eq!(
            faults.to_string(),
            "7% of requests answer 503, calls the next hop without trace context"
        );
    }

    #[test]
    fn delays_stay_within_the_jitter_and_the_share() {
        let faults = Faults {
            delay_ms: 100,
            jitter_ms: 20,
            share: 0.5,
            ..Faults::default()
        };
        let picks: Vec<_> = (0..2000).map(|_| faults.pick_delay()).collect();
        let delayed = picks.iter().flatten().count();
        assert!((800..1200).contains(&delayed), "{delayed} of 2000 delayed");
        for d in picks.iter().flatten() {
            assert!((80..=120).contains(&d.as_millis()), "{d:?}");
        }
    }
}
