//! Unit tests for search parameters and matching (the HTTP shape is tested in `tests/api.rs`).

use super::*;
use crate::testing::{attr, request, span};

fn parse(pairs: &[(&str, &str)]) -> Result<SearchRequest, String> {
    SearchRequest::parse(
        &pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn defaults() {
    let request = parse(&[]).unwrap();
    assert_eq!(request.limit, 20);
    assert_eq!(request.spss, 3);
    assert!(matches!(&request.filter, Filter::Tags(pairs) if pairs.is_empty()));
    assert!(matches!(
        parse(&[("q", "{ }")]).unwrap().filter,
        Filter::TraceQl(_)
    ));
    assert!(
        matches!(parse(&[("q", "")]).unwrap().filter, Filter::Tags(_)),
        "an empty q counts as absent"
    );
    assert_eq!(
        parse(&[("spss", "0")]).unwrap().spss,
        0,
        "0 lists every span"
    );
}

/// Every 400 the endpoint can give, with Tempo's wording.
#[test]
fn bad_parameters_say_what_is_wrong() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("limit", "0")],
            "invalid limit: must be a positive number",
        ),
        (
            &[("limit", "-3")],
            "invalid limit: must be a positive number",
        ),
        (
            &[("limit", "262145")],
            "limit 262145 exceeds max limit 262144",
        ),
        (
            &[("limit", "ten")],
            r#"invalid limit: strconv.Atoi: parsing "ten": invalid syntax"#,
        ),
        (
            &[("start", "20"), ("end", "10")],
            "http parameter start must be before end. received start=20 end=10",
        ),
        (
            &[("end", "soon")],
            r#"invalid end: strconv.ParseInt: parsing "soon": invalid syntax"#,
        ),
        (
            &[("minDuration", "5")],
            r#"invalid minDuration: time: missing unit in duration "5""#,
        ),
        (
            &[("minDuration", "2s"), ("maxDuration", "1s")],
            "invalid maxDuration: must be greater than minDuration",
        ),
        (
            &[("q", "{}"), ("tags", "a=b")],
            "invalid request: can't specify tags and q in the same query",
        ),
        (
            &[("q", "{ status = \"error\" }")],
            "invalid TraceQL query: binary operations must operate on the same type: status = \"error\"",
        ),
        (
            &[("q", "{ .a = 1 }}")],
            "invalid TraceQL query: parse error at line 1, col 11: syntax error: unexpected }, expecting end of query",
        ),
        (
            &[("spss", "101")],
            "spans per span set exceeds 100. received 101",
        ),
        (
            &[("spss", "x")],
            r#"invalid spss: strconv.Atoi: parsing "x": invalid syntax"#,
        ),
        (
            &[("tags", r#"a="open"#)],
            "invalid tags: logfmt syntax error at pos 8: unterminated quoted value",
        ),
    ];
    for (pairs, want) in cases {
        assert_eq!(parse(pairs).unwrap_err(), *want, "{pairs:?}");
    }
    let too_long = "{ .a = 1 }".repeat(20_000);
    assert!(
        parse(&[("q", too_long.as_str())])
            .unwrap_err()
            .starts_with("TraceQL expression exceeds the configured maximum size of 131072 bytes")
    );
}

fn trace(n: u8, start: u64, end: u64, span_attrs: &[(&str, &str)], service: &str) -> Trace {
    let store = Store::new(10);
    let mut root = span(n, 1, None, "root", start, end);
    root.attributes = span_attrs.iter().map(|(k, v)| attr(k, v)).collect();
    store.insert(request(service, vec![root])).unwrap();
    Trace::clone(&store.recent_traces(1)[0])
}

#[test]
fn tags_match_span_or_resource_attributes_as_substrings() {
    let t = trace(1, 0, 10, &[("http.route", "/api/Price")], "app-b");
    let matches = |tags: &str| parse(&[("tags", tags)]).unwrap().matches(&t);
    assert!(matches("service.name=app-b"), "resource attribute");
    assert!(
        matches("http.route=price"),
        "span attribute, case-insensitive substring"
    );
    assert!(
        matches("service.name=app http.route=/api"),
        "all pairs must match"
    );
    assert!(!matches("service.name=app-b http.route=/checkout"));
    assert!(!matches("missing=x"));
}

#[test]
fn durations_and_time_window_filter_traces() {
    const S: u64 = 1_000_000_000;
    // 100 s to 102 s, so 2 s long.
    let t = trace(1, 100 * S, 102 * S, &[], "svc");
    let matches = |pairs: &[(&str, &str)]| parse(pairs).unwrap().matches(&t);
    assert!(
        matches(&[("minDuration", "2s"), ("maxDuration", "2s")]),
        "bounds are inclusive"
    );
    assert!(!matches(&[("minDuration", "2001ms")]));
    assert!(!matches(&[("maxDuration", "1.5s")]));
    assert!(
        matches(&[("start", "101"), ("end", "200")]),
        "overlap at the end"
    );
    assert!(
        matches(&[("start", "50"), ("end", "100")]),
        "overlap at the start"
    );
    assert!(!matches(&[("start", "103"), ("end", "200")]));
    assert!(!matches(&[("start", "10"), ("end", "99")]));
}

#[test]
fn summaries_follow_tempo() {
    let store = Store::new(10);
    store
        .insert(request(
            "app-b",
            vec![span(0, 2, Some(1), "child", 1_000, 3_000_000)],
        ))
        .unwrap();
    let summary = serde_json::to_value(TraceSummary::of(&store.recent_traces(1)[0])).unwrap();
    assert_eq!(
        summary,
        serde_json::json!({
            "traceID": "c0ffee00000000000000000000000000",
            "rootServiceName": "<root span not yet received>",
            "startTimeUnixNano": "1000",
            "durationMs": 2
        })
    );
}
