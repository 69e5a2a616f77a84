//! A snapshot of environment variables, and typed readers over it.
//!
//! Every setting of the services comes from the environment, as it does in
//! Kubernetes. Parsing goes through an [`Env`] value rather than
//! `std::env::var`, so tests build an `Env` from a table and never touch the
//! process environment. Readers record every problem in a [`ConfigErrors`]
//! instead of stopping at the first, so a user fixes all of them in one go.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Environment variables, read once.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The current process's environment. Variables that are not valid
    /// UTF-8 are left out (none of ours can be).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs; for tests and for the lab.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, trimmed; `None` when unset or blank.
    ///
    /// The OpenTelemetry specification treats an empty variable as unset,
    /// and so do we for every variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `default` when unset.
    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// `name` parsed as `T`, or `default` when unset; a bad value is recorded
    /// in `errors` (naming the variable and what it expects) and `default`
    /// returned so parsing can go on.
    pub fn parse_or<T>(
        &self,
        name: &str,
        default: T,
        expected: &str,
        errors: &mut ConfigErrors,
    ) -> T
    where
        T: FromStr,
    {
        match self.get(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                errors.push(name, raw, expected);
                default
            }),
        }
    }

    /// A TCP port (1 to 65535).
    pub fn port_or(&self, name: &str, default: u16, errors: &mut ConfigErrors) -> u16 {
        let port = self.parse_or(name, default, "a port number from 1 to 65535", errors);
        if port == 0 {
            errors.push(name, "0", "a port number from 1 to 65535");
            return default;
        }
        port
    }

    /// A port to listen on: like [`Env::port_or`], but 0 is allowed and asks
    /// the system for any free port (tests and the lab use it).
    pub fn listen_port_or(&self, name: &str, default: u16, errors: &mut ConfigErrors) -> u16 {
        self.parse_or(name, default, "a port number from 0 to 65535", errors)
    }

    /// A duration given in whole milliseconds, as the OTel variables are.
    pub fn millis_or(&self, name: &str, default: Duration, errors: &mut ConfigErrors) -> Duration {
        let ms = self.parse_or(
            name,
            u64::try_from(default.as_millis()).unwrap_or(u64::MAX),
            "a whole number of milliseconds",
            errors,
        );
        Duration::from_millis(ms)
    }

    /// A boolean: `true` or `false`, case-insensitive, as the OTel spec
    /// says; anything else is an error.
    pub fn bool_or(&self, name: &str, default: bool, errors: &mut ConfigErrors) -> bool {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                errors.push(name, other, "true or false");
                default
            }
        }
    }
}

/// One variable with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name, e.g. `PORT`.
    pub name: String,
    /// The value it had.
    pub value: String,
    /// What it should have been.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.name, self.value, self.expected
        )
    }
}

/// Every bad variable found while parsing a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// Record that `name` had `value` where `expected` was wanted.
    pub fn push(&mut self, name: &str, value: &str, expected: &str) {
        self.0.push(ConfigError {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        });
    }

    /// Whether no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors found, in the order they were found.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// `Ok(value)` when nothing went wrong, otherwise all the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Move the errors of `other` into `self`.
    pub fn extend(&mut self, other: ConfigErrors) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: ")?;
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_unset() {
        let env = Env::from_pairs([("A", "  "), ("B", " x ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), Some("x"));
        assert_eq!(env.get("C"), None);
    }

    #[test]
    fn bad_values_are_all_collected_with_their_names() {
        let env = Env::from_pairs([("PORT", "http"), ("OTHER_PORT", "0"), ("FLAG", "yes")]);
        let mut errors = ConfigErrors::default();
        assert_eq!(env.port_or("PORT", 5000, &mut errors), 5000);
        assert_eq!(env.port_or("OTHER_PORT", 5001, &mut errors), 5001);
        assert!(env.bool_or("FLAG", true, &mut errors));
        let names: Vec<_> = errors.errors().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["PORT", "OTHER_PORT", "FLAG"]);
        assert_eq!(
            errors.to_string(),
            "invalid configuration: PORT=\"http\": expected a port number from 1 to 65535; \
             OTHER_PORT=\"0\": expected a port number from 1 to 65535; FLAG=\"yes\": expected true or false"
        );
    }

    #[test]
    fn millis_and_bools_parse() {
        let env = Env::from_pairs([("T", "250"), ("B", "TRUE")]);
        let mut errors = ConfigErrors::default();
        assert_eq!(
            env.millis_or("T", Duration::from_secs(1), &mut errors),
            Duration::from_millis(250)
        );
        assert!(env.bool_or("B", false, &mut errors));
        assert!(errors.into_result(()).is_ok());
    }
}
