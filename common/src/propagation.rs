//! Reading the W3C trace context of an incoming request, strictly.
//!
//! The SDK's `TraceContextPropagator` (0.33) accepts ids shorter than the
//! spec's 32 and 16 hex digits (it left-pads them) and the forbidden version
//! `ff`, so a malformed `traceparent` could join an unrelated trace. The W3C
//! spec says a malformed header is ignored: the request starts a new trace.
//! We check the header's shape first and hide it from the propagator when
//! it is wrong; baggage is read either way.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::Extractor;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The context of the caller, as the global propagator reads it from
/// `headers`, with a malformed or repeated `traceparent` ignored.
pub fn extract(headers: &HeaderMap) -> Context {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let valid = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().is_ok_and(is_valid_traceparent),
        // None: nothing to hide. Two or more: the spec calls that invalid.
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    let extractor = StrictExtractor {
        headers,
        hide_trace_context: !valid,
    };
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&extractor))
}

/// Whether `value` is a `traceparent` the W3C Trace Context spec accepts:
/// `version-traceid-parentid-flags` in lower-case hex, version not `ff`,
/// ids not all zeros, exactly four fields for version `00`, and any later
/// version's extra fields after a `-`. Every flags value is accepted.
pub fn is_valid_traceparent(value: &str) -> bool {
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let not_zero = |s: &str| s.bytes().any(|b| b != b'0');
    let value = value.trim_matches([' ', '\t']);
    if value.len() < 55 || !value.is_char_boundary(55) {
        return false;
    }
    let (head, rest) = value.split_at(55);
    let fields: Vec<&str> = head.split('-').collect();
    let [version, trace_id, parent_id, flags] = fields[..] else {
        return false;
    };
    lower_hex(version, 2)
        && version != "ff"
        && (rest.is_empty() || (version != "00" && rest.starts_with('-')))
        && lower_hex(trace_id, 32)
        && not_zero(trace_id)
        && lower_hex(parent_id, 16)
        && not_zero(parent_id)
        && lower_hex(flags, 2)
}

/// Headers as the propagator sees them, optionally without the trace context.
struct StrictExtractor<'a> {
    headers: &'a HeaderMap,
    hide_trace_context: bool,
}

impl Extractor for StrictExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if self.hide_trace_context
            && (key.eq_ignore_ascii_case(TRACEPARENT) || key.eq_ignore_ascii_case(TRACESTATE))
        {
            return None;
        }
        self.headers.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.headers
            .keys()
            .map(http::HeaderName::as_str)
            .filter(|k| !self.hide_trace_context || (*k != TRACEPARENT && *k != TRACESTATE))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_shapes_follow_the_w3c_spec() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cases = [
            (ok, true),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
                true,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
                true,
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
                true,
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                true,
            ),
            // 31 and 15 hex digits: the SDK alone would accept these.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                false,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
                false,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                false,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                false,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                false,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                false,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                false,
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra",
                false,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                false,
            ),
            (
                "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                false,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                false,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902é-01",
                false,
            ),
            ("", false),
        ];
        for (value, want) in cases {
            assert_eq!(is_valid_traceparent(value), want, "{value:?}");
        }
    }

    #[test]
    fn a_repeated_traceparent_is_hidden() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT, ok.parse().unwrap());
        headers.append(TRACEPARENT, ok.parse().unwrap());
        headers.append(TRACESTATE, "a=b".parse().unwrap());
        headers.append("baggage", "k=v".parse().unwrap());
        let extractor = StrictExtractor {
            headers: &headers,
            hide_trace_context: true,
        };
        assert_eq!(extractor.get(TRACEPARENT), None);
        assert_eq!(extractor.get(TRACESTATE), None);
        assert_eq!(extractor.get("baggage"), Some("k=v"));
        assert_eq!(extractor.keys(), ["baggage"]);
    }
}
