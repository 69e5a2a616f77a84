//! Parsing query parameters the way Tempo's Go code does, down to its error messages: integers
//! (`strconv`), durations (`time.ParseDuration`) and logfmt tags (`k=v k2="v 2"`).

use std::collections::HashMap;

/// `start`/`end` in unix seconds. Either may be missing; when both are there `end` must be after
/// `start`. Errors are the 400 body Tempo sends.
pub(crate) fn time_range(
    query: &HashMap<String, String>,
) -> Result<(Option<u32>, Option<u32>), String> {
    let start = seconds(query, "start")?;
    let end = seconds(query, "end")?;
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(format!(
            "http parameter start must be before end. received start={s} end={e}"
        ));
    }
    Ok((start, end))
}

/// One unix-seconds parameter; Tempo parses these with `strconv.ParseInt(s, 10, 32)`.
fn seconds(query: &HashMap<String, String>, name: &str) -> Result<Option<u32>, String> {
    match query.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Ok(_) => Err(format!(
                "invalid {name}: strconv.ParseInt: parsing {text:?}: value out of range"
            )),
            Err(_) => Err(format!(
                "invalid {name}: strconv.ParseInt: parsing {text:?}: invalid syntax"
            )),
        },
    }
}

/// A Go duration (`300ms`, `1.5s`, `1h2m`, `-2s`, `0`) in nanoseconds, with Go's error text.
pub(crate) fn go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(tail) => tail.split_at(
                tail.find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(tail.len()),
            ),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        // Overlong digit runs cannot fit an i64 of nanoseconds anyway.
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        // Fraction digits past nanosecond precision do not change the result; 19 keeps u128 safe.
        let fraction = &fraction[..fraction.len().min(19)];
        if !fraction.is_empty() {
            let digits: u128 = fraction.parse().map_err(|_| invalid())?;
            value += digits * scale / 10u128.pow(fraction.len() as u32);
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= i64::MAX as u128)
            .ok_or_else(invalid)?;
        rest = after;
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// Logfmt pairs (`k=v k2="v 2" bare`); a bare key has an empty value.
pub(crate) fn logfmt(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(key_start, _)) = chars.peek() else {
            return Ok(pairs);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            if c == '"' {
                return Err(format!(
                    "logfmt syntax error at pos {}: unexpected '\"'",
                    key_start + 1
                ));
            }
            key.push(c);
        }
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '=').is_some() {
            if chars.next_if(|(_, c)| *c == '"').is_some() {
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!(
                                "logfmt syntax error at pos {}: unterminated quoted value",
                                text.len() + 1
                            ));
                        }
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, 't')) => value.push('\t'),
                            Some((_, c)) => value.push(c),
                            None => {
                                return Err(format!(
                                    "logfmt syntax error at pos {}: unterminated quoted value",
                                    text.len() + 1
                                ));
                            }
                        },
                        Some((_, c)) => value.push(c),
                    }
                }
            } else {
                while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(format!(
                "logfmt syntax error at pos {}: unexpected '='",
                key_start + 1
            ));
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("100ms", Ok(100_000_000)),
            ("2s", Ok(2_000_000_000)),
            ("1.5s", Ok(1_500_000_000)),
            ("1h2m", Ok(3_720_000_000_000)),
            ("250us", Ok(250_000)),
            ("250µs", Ok(250_000)),
            (".5ms", Ok(500_000)),
            ("-2s", Ok(-2_000_000_000)),
            ("0", Ok(0)),
            ("", Err(r#"time: invalid duration """#)),
            ("abc", Err(r#"time: invalid duration "abc""#)),
            ("100", Err(r#"time: missing unit in duration "100""#)),
            ("3x", Err(r#"time: unknown unit "x" in duration "3x""#)),
            (
                "9999999999h",
                Err(r#"time: invalid duration "9999999999h""#),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                go_duration(text),
                want.map_err(str::to_owned),
                "parsing {text:?}"
            );
        }
    }

    #[test]
    fn logfmt_pairs() {
        let pairs = logfmt(r#"service.name=app-a  http.route="/a b" flag"#).unwrap();
        let want = [
            ("service.name", "app-a"),
            ("http.route", "/a b"),
            ("flag", ""),
        ];
        assert_eq!(pairs, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert!(logfmt(r#"a="open"#).unwrap_err().contains("unterminated"));
        assert!(logfmt("=v").is_err());
    }

    #[test]
    fn time_range_errors() {
        let q = |s: &str, e: &str| {
            HashMap::from([
                ("start".to_owned(), s.to_owned()),
                ("end".to_owned(), e.to_owned()),
            ])
        };
        assert_eq!(time_range(&q("10", "20")), Ok((Some(10), Some(20))));
        assert_eq!(
            time_range(&q("20", "20")),
            Err("http parameter start must be before end. received start=20 end=20".to_owned())
        );
        assert_eq!(
            time_range(&q("x", "20")),
            Err(r#"invalid start: strconv.ParseInt: parsing "x": invalid syntax"#.to_owned())
        );
    }
}
