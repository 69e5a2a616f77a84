//! The values inside a shape node: what an attribute must be ([`AttrExpect`], exact and typed,
//! or a [`Matcher`]) and bounds on a duration ([`DurationBounds`], written like `100ms`). Their
//! (de)serialisation is by hand where serde's derive would lose the reason for an error.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What one attribute must be: an exact value of a given type, or a matcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrExpect {
    /// This boolean.
    Bool(bool),
    /// This integer (an int attribute; a double 200.0 does not match 200).
    Int(i64),
    /// This double.
    Float(f64),
    /// This string.
    Str(String),
    /// A matcher: `{ regex: … }`, `{ present: true }` or `{ absent: true }`.
    Matcher(Matcher),
}

impl<'de> Deserialize<'de> for AttrExpect {
    /// By hand rather than `untagged`, so a bad matcher says what is wrong with it instead of
    /// "did not match any variant".
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AttrExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, int, double or bool, or { regex | present | absent }")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AttrExpect, E> {
                Ok(AttrExpect::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AttrExpect, E> {
                Ok(AttrExpect::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AttrExpect, E> {
                i64::try_from(v)
                    .map(AttrExpect::Int)
                    .map_err(|_| E::custom(format!("{v} is too large for an int attribute")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<AttrExpect, E> {
                Ok(AttrExpect::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AttrExpect, E> {
                Ok(AttrExpect::Str(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AttrExpect, A::Error> {
                Matcher::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(AttrExpect::Matcher)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `{ regex: "…" }`, `{ present: true }` or `{ absent: true }`: exactly one key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// A string attribute that this regex finds (unanchored: write `^…$` to anchor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<Pattern>,
    /// `true`: the attribute is there, of any type and value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// `true`: the attribute is not there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<bool>,
}

/// A compiled regular expression that reads and writes as its source text.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::RegexBuilder::new(&text)
            .size_limit(1 << 20)
            .build()
            .map(Pattern)
            .map_err(serde::de::Error::custom)
    }
}

/// `{ min: 100ms, max: 5s }`: either bound may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationBounds {
    /// The shortest allowed.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub min: Option<Duration>,
    /// The longest allowed.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max: Option<Duration>,
}

/// Durations as humans write them (`100ms`, `5s`, `1m 30s`).
mod opt_duration {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&humantime::format_duration(*d).to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map(Some).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write like 100ms or 5s"
            ))
        })
    }
}
