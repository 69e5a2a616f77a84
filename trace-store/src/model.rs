//! Trace and span identifiers, and the time window reads are restricted to.
//!
//! OTLP carries ids as raw bytes (`Vec<u8>`), which says nothing about their length. The store
//! turns them into these fixed-size types once, at the door ([`crate::Store::insert`]), so the
//! rest of the crate never has to wonder whether an id is 16 bytes.
//!
//! Parsing from text follows Tempo's rules for ids in URLs (`pkg/util/traceid.go`), so
//! `/api/traces/abc` finds the same trace as Tempo would: 1–32 hex characters, any case, an odd
//! length gets a leading `0`, and shorter ids are left-padded with zero bytes.

use std::fmt;
use std::str::FromStr;

/// A 128-bit trace id. Displays as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id. Displays as 16 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

/// Why a text id could not be parsed. The messages are Tempo's, word for word, because Grafana
/// shows them to the user as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    /// The text was empty.
    #[error("{kind} IDs can't be empty")]
    Empty {
        /// `trace` or `span`.
        kind: &'static str,
    },
    /// A character that is not a hex digit; `position` counts characters from 1.
    #[error(
        "{kind} IDs can only contain hex characters: invalid character '{character}' at position {position}"
    )]
    NotHex {
        /// `trace` or `span`.
        kind: &'static str,
        /// The offending character.
        character: char,
        /// Its position, counted in characters from 1 (as Tempo does).
        position: usize,
    },
    /// More hex digits than fit in the id.
    #[error("{kind} IDs can't be larger than {bits} bits")]
    TooLong {
        /// `trace` or `span`.
        kind: &'static str,
        /// The id's size in bits (128 or 64).
        bits: usize,
    },
}

/// Parses Tempo-style hex into `N` bytes, left-padding short ids with zeros.
fn parse_hex<const N: usize>(text: &str, kind: &'static str) -> Result<[u8; N], ParseIdError> {
    if text.is_empty() {
        return Err(ParseIdError::Empty { kind });
    }
    // Check characters first so the error names the first bad one, as Tempo's does.
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(ParseIdError::NotHex {
            kind,
            character,
            position: index + 1,
        });
    }
    // All ASCII from here on, so byte length == character count.
    if text.len() > N * 2 {
        return Err(ParseIdError::TooLong { kind, bits: N * 8 });
    }
    let padded = format!("{text:0>width$}", width = N * 2);
    let mut out = [0u8; N];
    // Cannot fail: every character is a hex digit and the length is exactly 2 * N.
    hex::decode_to_slice(padded, &mut out)
        .map_err(|_| ParseIdError::TooLong { kind, bits: N * 8 })?;
    Ok(out)
}

impl FromStr for TraceId {
    type Err = ParseIdError;

    /// Parses 1–32 hex characters the way Tempo parses `{traceID}` in a URL.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hex::<16>(text, "trace").map(TraceId)
    }
}

impl FromStr for SpanId {
    type Err = ParseIdError;

    /// Parses 1–16 hex characters, with the same rules as [`TraceId`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hex::<8>(text, "span").map(SpanId)
    }
}

impl TraceId {
    /// The id from OTLP bytes, or `None` unless there are exactly 16 of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TraceId)
    }

    /// Lowercase hex without leading zeros, as Tempo's search results spell trace ids
    /// (`TraceIDToHexString`). The all-zero id gives `"0"` rather than an empty string.
    pub fn to_short_hex(&self) -> String {
        let full = self.to_string();
        match full.trim_start_matches('0') {
            "" => "0".to_owned(),
            short => short.to_owned(),
        }
    }
}

impl SpanId {
    /// The id from OTLP bytes, or `None` unless there are exactly 8 of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SpanId)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

// Debug prints the hex too: `TraceId(0af7…)` is what a reader wants in a test failure.
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Which traces a read looks at: those that overlap `[start, end]`, in Unix nanoseconds, both
/// ends inclusive and either one open. Search, tags and the store's time index share it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// Traces that end before this are left out.
    pub start: Option<u64>,
    /// Traces that start after this are left out.
    pub end: Option<u64>,
}

impl TimeWindow {
    /// Every trace.
    pub const ALL: TimeWindow = TimeWindow {
        start: None,
        end: None,
    };

    /// The window between two optional Unix times in seconds, as Tempo's `start` and `end`
    /// parameters give them.
    pub fn from_seconds(start: Option<u32>, end: Option<u32>) -> Self {
        let nanos = |s: u32| u64::from(s) * 1_000_000_000;
        TimeWindow {
            start: start.map(nanos),
            end: end.map(nanos),
        }
    }

    /// Whether something that runs from `start` to `end` (Unix nanoseconds) overlaps the window.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start.is_none_or(|s| end >= s) && self.end.is_none_or(|e| start <= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tempo's URL rules, one row per rule: case, odd length, padding, and both error messages.
    #[test]
    fn trace_ids_parse_like_tempo() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            (
                "0af7651916cd43dd8448eb211c80319c",
                Ok("0af7651916cd43dd8448eb211c80319c"),
            ),
            (
                "0AF7651916CD43DD8448EB211C80319C",
                Ok("0af7651916cd43dd8448eb211c80319c"),
            ),
            ("abc", Ok("00000000000000000000000000000abc")),
            ("1", Ok("00000000000000000000000000000001")),
            ("c0ffee06", Ok("000000000000000000000000c0ffee06")),
            (
                "gabc",
                Err(
                    "trace IDs can only contain hex characters: invalid character 'g' at position 1",
                ),
            ),
            (
                "ab-c",
                Err(
                    "trace IDs can only contain hex characters: invalid character '-' at position 3",
                ),
            ),
            (
                "aé",
                Err(
                    "trace IDs can only contain hex characters: invalid character 'é' at position 2",
                ),
            ),
            (
                "0af7651916cd43dd8448eb211c80319c0",
                Err("trace IDs can't be larger than 128 bits"),
            ),
            ("", Err("trace IDs can't be empty")),
        ];
        for (input, want) in cases {
            let got = input
                .parse::<TraceId>()
                .map(|id| id.to_string())
                .map_err(|e| e.to_string());
            let want = want.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(got, want, "parsing {input:?}");
        }
    }

    #[test]
    fn span_ids_are_at_most_64_bits() {
        assert_eq!(
            "b00000000000060".parse::<SpanId>().unwrap().to_string(),
            "0b00000000000060"
        );
        assert_eq!(
            "b0000000000006011"
                .parse::<SpanId>()
                .unwrap_err()
                .to_string(),
            "span IDs can't be larger than 64 bits"
        );
    }

    #[test]
    fn from_bytes_wants_the_exact_length() {
        assert!(TraceId::from_bytes(&[1; 16]).is_some());
        assert!(TraceId::from_bytes(&[1; 15]).is_none());
        assert!(SpanId::from_bytes(&[1; 8]).is_some());
        assert!(SpanId::from_bytes(&[]).is_none());
    }

    #[test]
    fn short_hex_strips_leading_zeros() {
        let id: TraceId = "00c0ffee".parse().unwrap();
        assert_eq!(id.to_short_hex(), "c0ffee");
        assert_eq!(TraceId::default().to_short_hex(), "0");
    }
}
