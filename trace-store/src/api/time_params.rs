//! The time parameters of the metrics endpoints, parsed as Tempo parses them
//! (`pkg/api/http.go`): `start`/`end` as unix seconds, unix nanoseconds, fractional seconds or
//! RFC 3339; `since` as a Prometheus duration; `step` as seconds or a Go duration.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::params;

/// The range queried when neither `start` nor `since` says otherwise.
const DEFAULT_SINCE_NANOS: u64 = 3600 * 1_000_000_000;

/// A parameter, absent if empty.
pub(super) fn get<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Now, unix nanoseconds.
pub(super) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Tempo's bounds: `end` or now; `start` or (`end`, if not in the future, else now) − `since`.
pub(super) fn bounds(params: &HashMap<String, String>, now: u64) -> Result<(u64, u64), String> {
    let since = match get(params, "since") {
        None => DEFAULT_SINCE_NANOS,
        Some(text) => prometheus_duration(text).ok_or_else(|| {
            format!("could not parse 'since' parameter: not a valid duration string: {text:?}")
        })?,
    };
    let end = match get(params, "end") {
        None => now,
        Some(text) => {
            timestamp(text).ok_or_else(|| format!("could not parse 'end' parameter: {text:?}"))?
        }
    };
    let start = match get(params, "start") {
        None => end.min(now).saturating_sub(since),
        Some(text) => {
            timestamp(text).ok_or_else(|| format!("could not parse 'start' parameter: {text:?}"))?
        }
    };
    Ok((start, end))
}

/// A step: seconds (`15`, `0.5`) or a Go duration (`30s`), positive.
pub(super) fn step(text: &str) -> Result<u64, String> {
    let nanos = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() => (seconds * 1e9) as i64,
        _ => params::go_duration(text)
            .map_err(|_| format!("cannot parse {text:?} to a valid duration"))?,
    };
    u64::try_from(nanos)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("cannot parse {text:?}: step must be positive"))
}

/// A Prometheus duration as `since` takes it: `90s`, `1h30m`, `2d`, `1w`.
fn prometheus_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: u64 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        let unit = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let scale: u64 = match &after[..unit] {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(scale)?)?;
        rest = &after[unit..];
    }
    Some(total)
}

/// A timestamp as Tempo parses it: unix seconds (10 digits or fewer), unix nanoseconds,
/// fractional seconds, or RFC 3339.
fn timestamp(text: &str) -> Option<u64> {
    if text.contains('.')
        && let Ok(seconds) = text.parse::<f64>()
    {
        return (seconds >= 0.0).then(|| (seconds * 1e9).round() as u64);
    }
    if let Ok(n) = text.parse::<u64>() {
        return Some(if text.len() <= 10 {
            n * 1_000_000_000
        } else {
            n
        });
    }
    rfc3339(text)
}

/// `2026-11-30T12:00:00Z`, `…T12:00:00.5+01:00`, in unix nanoseconds.
fn rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.find(|c: char| !c.is_ascii_digit())?;
        let digits = &frac[..len.min(9)];
        nanos = format!("{digits:0<9}").parse().ok()?;
        rest = &frac[len..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(seconds)
        .ok()
        .map(|s| s * 1_000_000_000 + nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn timestamps_parse_like_tempo() {
        assert_eq!(timestamp("1700000000"), Some(1_700_000_000 * S));
        assert_eq!(
            timestamp("1700000000123456789"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(timestamp("1700000000.5"), Some(1_700_000_000 * S + S / 2));
        assert_eq!(timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000 * S));
        assert_eq!(
            timestamp("2023-11-14T23:13:20.25+01:00"),
            Some(1_700_000_000 * S + S / 4)
        );
        assert_eq!(timestamp("yesterday"), None);
    }

    #[test]
    fn bounds_default_to_the_last_hour() {
        let now = 10_000 * S;
        let none = HashMap::new();
        assert_eq!(bounds(&none, now), Ok((6_400 * S, now)));
        let since = HashMap::from([("since".to_owned(), "30m".to_owned())]);
        assert_eq!(bounds(&since, now), Ok((8_200 * S, now)));
        let bad = HashMap::from([("since".to_owned(), "soon".to_owned())]);
        assert!(bounds(&bad, now).unwrap_err().contains("since"));
    }

    #[test]
    fn steps_are_seconds_or_go_durations() {
        assert_eq!(step("15"), Ok(15 * S));
        assert_eq!(step("1m30s"), Ok(90 * S));
        assert!(step("0").is_err());
        assert!(step("fast").is_err());
    }
}
