//! TraceQL evaluated over the fixture dataset (`tests/fixtures/dataset.rs`): for each query, the
//! exact set of traces that match, covering every supported feature. Where real Tempo is known
//! to answer differently (a bug), the case says so. The spans are the store's own, ingested from
//! OTLP, so this also tests how the store shows them to the `traceql` crate
//! (`src/store/traceql_view.rs`).

mod common;
#[path = "fixtures/dataset.rs"]
mod dataset;

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use trace_store::{Store, Trace};
use traceql::Value;

use common::{TestApp, attr, enc, request, span};

/// The trace numbers (last id byte) that `query` matches, ascending.
fn matching(store: &Store, query: &str) -> Vec<u8> {
    let query = traceql::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut found: Vec<u8> = store
        .recent_traces(usize::MAX)
        .iter()
        .filter(|trace| !query.evaluate(trace).is_empty())
        .map(|trace| trace.id.0[15])
        .collect();
    found.sort_unstable();
    found
}

#[test]
fn queries_match_the_expected_traces() {
    let store = dataset::store();
    let cases: &[(&str, &[u8])] = &[
        // Filters, intrinsics and literals.
        ("{}", &[1, 2, 3, 4, 5]),
        ("{ }", &[1, 2, 3, 4, 5]),
        ("{ true }", &[1, 2, 3, 4, 5]),
        ("{ false }", &[]),
        ("{ status = error }", &[2]),
        ("{ status = ok }", &[1]),
        ("{ span:status != error }", &[1, 2, 3, 4, 5]),
        ("{ statusMessage = \"boom\" }", &[2]),
        ("{ kind = internal }", &[3]),
        ("{ span:kind = client && name = \"SELECT\" }", &[5]),
        ("{ kind = server && duration > 1s }", &[1, 2]),
        ("{ span:duration >= 2s }", &[1, 2]),
        ("{ duration < 100us }", &[5]),
        ("{ duration < 0.1ms }", &[5]),
        ("{ duration = 2.01s }", &[1, 2]),
        ("{ span:name = \"GET /fanout\" }", &[4]),
        ("{ traceDuration > 2s }", &[1, 2]),
        ("{ trace:duration < 1ms }", &[5]),
        ("{ rootName = \"GET /fanout\" }", &[4]),
        ("{ trace:rootName = \"cron job\" }", &[3]),
        ("{ rootServiceName = \"app-a\" }", &[1, 2, 4]),
        ("{ trace:rootService = \"app-c\" }", &[]),
        ("{ span:id = \"b000000000000004\" }", &[1, 2, 4]),
        ("{ span:id = \"B000000000000009\" }", &[5]),
        ("{ span:parentID = \"b000000000000003\" }", &[1, 2, 4]),
        ("{ trace:id = \"c0ffee00000000000000000000000003\" }", &[3]),
        (
            "{ trace:id != \"c0ffee00000000000000000000000003\" }",
            &[1, 2, 4, 5],
        ),
        ("{ event:name = \"exception\" }", &[2]),
        ("{ event.exception.type = \"ValueError\" }", &[2]),
        ("{ event:timeSinceStart > 100us }", &[2]),
        (
            "{ instrumentation:name = \"cron-lib\" && instrumentation:version = \"1.2.0\" }",
            &[3],
        ),
        ("{ instrumentation.team = \"platform\" }", &[3]),
        // Attributes, scopes and types.
        ("{ resource.service.name = \"app-c\" }", &[1, 2, 4, 5]),
        ("{ span.service.name = \"app-c\" }", &[]),
        ("{ .service.name = \"span-level\" }", &[4]),
        ("{ resource.deployment.environment = \"prod\" }", &[3]),
        ("{ .deployment.environment = \"prod\" }", &[3]),
        ("{ span.http.response.status_code = 500 }", &[2]),
        ("{ span.http.response.status_code = \"500\" }", &[]),
        (
            "{ span.http.response.status_code >= 200 && span.http.response.status_code < 300 }",
            &[1, 2, 4],
        ),
        // Missing attributes never compare, `!=` included.
        ("{ span.http.response.status_code != 200 }", &[2]),
        ("{ span.nope != \"x\" }", &[]),
        ("{ span.nope = nil }", &[1, 2, 3, 4, 5]),
        ("{ span.flag != nil }", &[3]),
        ("{ span.\"with space\" = \"yes\" }", &[3]),
        ("{ span.ratio > 0.5 }", &[3]),
        // Int literal against a float attribute: numeric here; Tempo misses it (grafana/tempo#4332).
        ("{ span.ratio > 0 }", &[3]),
        ("{ span.flag = true }", &[3]),
        ("{ span.flag }", &[3]),
        ("{ span.tags = \"b\" }", &[3]),
        ("{ span.tags != \"c\" }", &[3]),
        ("{ span.tags != \"a\" }", &[]),
        ("{ .x = 1 }", &[4]),
        ("{ .x = \"a\" }", &[4]),
        // Valid, but no span has an `x` that is both: no coercion, no match.
        ("{ .x = 1 && .x = \"a\" }", &[]),
        // Regexes are fully anchored.
        ("{ name =~ \"GET.*\" }", &[1, 2, 4]),
        ("{ name =~ \"GET\" }", &[1, 2]),
        ("{ name !~ \"GET.*\" }", &[3, 4, 5]),
        ("{ name =~ \"(?i)select\" }", &[5]),
        ("{ span.nope !~ \"x\" }", &[]),
        // Boolean logic: `&&` and `||` share one level, left to right (Tempo's grammar).
        ("{ kind = internal || status = error && name = \"x\" }", &[]),
        (
            "{ kind = internal || (status = error && name = \"x\") }",
            &[3],
        ),
        // Tempo returns nothing for `!( … )` (the condition is pushed down un-negated); correct here.
        (
            "{ !(status = error) && resource.service.name = \"app-c\" }",
            &[1, 4, 5],
        ),
        ("{ !(span.nope = 1) && name = \"SELECT\" }", &[5]),
        // Spanset operators.
        (
            "{ resource.service.name = \"app-a\" } && { resource.service.name = \"app-c\" }",
            &[1, 2, 4],
        ),
        ("{ kind = internal } || { status = error }", &[2, 3]),
        (
            "{ kind = internal } || { status = error } && { name = \"call x\" }",
            &[],
        ),
        (
            "{ kind = internal } || ({ status = error } && { name = \"GET\" })",
            &[2, 3],
        ),
        (
            "{ resource.service.name = \"app-b\" && kind = client } > { resource.service.name = \"app-c\" }",
            &[1, 2],
        ),
        (
            "{ resource.service.name = \"app-a\" && kind = server } >> { status = error }",
            &[2],
        ),
        (
            "{ resource.service.name = \"app-c\" } < { kind = client }",
            &[1, 2, 4],
        ),
        (
            "{ status = error } << { kind = server && resource.service.name = \"app-a\" }",
            &[2],
        ),
        ("{ name = \"call x\" } ~ { name = \"call y\" }", &[4]),
        ("{ name = \"call x\" } ~ { name = \"call x\" }", &[]),
        // The orphan's parent never arrived: it takes part in no structural relation.
        ("{ } > { name = \"SELECT\" }", &[]),
        ("{ } ~ { name = \"SELECT\" }", &[]),
        // Pipelines.
        ("{ resource.service.name = \"app-a\" } | count() > 2", &[4]),
        ("{ } | count() = 1", &[3, 5]),
        ("{ kind = server } | avg(duration) > 1s", &[1, 2]),
        ("{ } | max(span.http.response.status_code) >= 500", &[2]),
        ("{ } | min(duration) < 50us", &[5]),
        ("{ } | sum(span.ratio) = 0.75", &[3]),
        ("{ } | avg(span.nope) > 0", &[]),
        (
            "{ status = error } | by(resource.service.name) | count() = 1",
            &[2],
        ),
        (
            "{ status = error } | by(resource.service.name) | coalesce() | count() = 2",
            &[2],
        ),
        (
            "{ } | select(span.http.request.method, .x)",
            &[1, 2, 3, 4, 5],
        ),
        (
            "{ kind = server } | { resource.service.name = \"app-c\" }",
            &[1, 2, 4],
        ),
        (
            "({ kind = server } | count() > 1) && { status = error }",
            &[2],
        ),
        ("{ } | count() > -1", &[1, 2, 3, 4, 5]),
        // Arithmetic: ints stay ints (500 / 100 = 5, 200 / 100 = 2), durations are nanoseconds,
        // a string or boolean operand (trace 4's other `x`, trace 3's `flag`) matches nothing.
        ("{ span.http.response.status_code / 100 = 5 }", &[2]),
        (
            "{ span.http.response.status_code % 100 = 0 && span.http.response.status_code - 300 > 0 }",
            &[2],
        ),
        // Roots of 2010 ms: 2005 ms > 2 s; the 2005 ms client: 2000 ms is not.
        ("{ duration - 5ms > 2s }", &[1, 2]),
        ("{ duration * 2 < 100us }", &[5]),
        ("{ span.ratio * 4 = 3 }", &[3]),
        ("{ span.x + 1 = 2 }", &[4]),
        ("{ span.x + 1 != 2 }", &[]),
        ("{ -span.x < 0 }", &[4]),
        ("{ span.flag + 1 = 2 }", &[]),
        // 2010 ms over app-c's 1 ms (or app-b's 3 ms client); other traces stay at or under 5.
        ("{ traceDuration / duration > 100 }", &[1, 2]),
        ("{ } >> { span.http.response.status_code * 2 > 999 }", &[2]),
        (
            "{ } | { span.http.response.status_code - 200 > 0 } | count() = 1",
            &[2],
        ),
    ];
    let mut failures = Vec::new();
    for (query, want) in cases {
        let got = matching(&store, query);
        if got != *want {
            failures.push(format!("{query}\n   got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn trace(store: &Store, n: u8) -> Trace {
    store
        .recent_traces(usize::MAX)
        .into_iter()
        .find(|t| t.id.0[15] == n)
        .map(std::sync::Arc::unwrap_or_clone)
        .unwrap()
}

/// The spans of a spanset are the matching ones, in start order, and `by()` adds its key.
#[test]
fn spansets_hold_the_matched_spans_and_pipeline_attributes() {
    let store = dataset::store();
    let failed = trace(&store, 2);
    let names = |spans: &[usize]| -> Vec<String> {
        spans
            .iter()
            .map(|&i| {
                format!(
                    "{} {}",
                    failed.spans[i].service_name(),
                    failed.spans[i].name()
                )
            })
            .collect()
    };

    let query = traceql::parse("{ status = error }").unwrap();
    let sets = query.evaluate(&failed);
    assert_eq!(sets.len(), 1);
    assert_eq!(names(&sets[0].spans), ["app-b GET", "app-c GET /"]);

    let query = traceql::parse("{ kind = server } | by(resource.service.name)").unwrap();
    let sets = query.evaluate(&failed);
    type Group<'a> = (Vec<String>, Vec<(String, Value<'a>)>);
    let groups: Vec<Group<'_>> = sets
        .iter()
        .map(|s| (names(&s.spans), s.attributes.clone()))
        .collect();
    let key = "by(resource.service.name)".to_owned();
    assert_eq!(
        groups,
        [
            (
                vec!["app-a GET /".to_owned()],
                vec![(key.clone(), Value::Str("app-a"))]
            ),
            (
                vec!["app-b GET /".to_owned()],
                vec![(key.clone(), Value::Str("app-b"))]
            ),
            (
                vec!["app-c GET /".to_owned()],
                vec![(key, Value::Str("app-c"))]
            ),
        ]
    );

    let query = traceql::parse("{ } | count() > 4").unwrap();
    let sets = query.evaluate(&failed);
    assert_eq!(sets[0].attributes, [("count()".to_owned(), Value::Int(5))]);

    // Structural operators return the right-hand spans.
    let query = traceql::parse("{ kind = server } > { kind = client }").unwrap();
    assert_eq!(
        names(&query.evaluate(&failed)[0].spans),
        ["app-a GET", "app-b GET"]
    );
}

/// Search results report the values the query read, keyed without scope.
#[test]
fn span_values_are_the_fetched_fields() {
    let store = dataset::store();
    let failed = trace(&store, 2);
    let query =
        traceql::parse("{ status = error && span.http.response.status_code = 500 } | select(resource.service.name, name)")
            .unwrap();
    assert!(query.reads_name());
    let sets = query.evaluate(&failed);
    let values = query.span_values(&failed, &sets[0].spans);
    assert_eq!(
        values,
        [vec![
            ("status", Value::Status(2)),
            ("http.response.status_code", Value::Int(500)),
            ("service.name", Value::Str("app-c")),
        ]]
    );
}

/// Arithmetic through the HTTP API: four uploads posted as OTLP, and `/api/search?q=` returns
/// exactly the traces whose bytes per chunk (or duration) pass, none for a division by zero or
/// a string operand, and a 400 naming the problem for a type error.
#[tokio::test]
async fn search_filters_with_arithmetic_over_http() {
    const MS: u64 = 1_000_000;
    // (trace, bytes, chunks, duration): 250, 100, 900 / 0 and "lots" / 2 bytes per chunk.
    let uploads = [
        (1, V::IntValue(1000), 4, 1200 * MS),
        (2, V::IntValue(300), 3, 1200 * MS),
        (3, V::IntValue(900), 0, 500 * MS),
        (4, V::StringValue("lots".to_owned()), 2, 1200 * MS),
    ];
    let requests = uploads
        .into_iter()
        .map(|(t, bytes, chunks, duration)| {
            let mut upload = span(t, 1, None, "upload", u64::from(t) * 10_000 * MS, 0);
            upload.end_time_unix_nano = upload.start_time_unix_nano + duration;
            upload.attributes = vec![attr("bytes", bytes), attr("chunks", V::IntValue(chunks))];
            request("app-a", vec![upload])
        })
        .collect();
    let app = TestApp::spawn_loaded(requests).await;

    let cases: &[(&str, &[u8])] = &[
        ("{ span.bytes / span.chunks > 200 }", &[1]),
        ("{ span.bytes / span.chunks > 0 }", &[1, 2]),
        (
            "{ duration - 100ms > 1s && span.bytes / span.chunks < 200 }",
            &[2],
        ),
        ("{ (span.bytes + 100) * 2 = 2000 }", &[3]),
        // 2 s and 1.5 s cover 1.2 s; 0 and 1 s do not.
        ("{ span.chunks * 500ms >= duration }", &[1, 2]),
        ("{ span.chunks ^ 2 = 4 }", &[4]),
    ];
    for (query, want) in cases {
        let response = app
            .get(&format!("/api/search?q={}", enc(query)), None)
            .await;
        assert_eq!(response.status(), 200, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        let mut got: Vec<String> = body["traces"]
            .as_array()
            .map(|traces| {
                traces
                    .iter()
                    .map(|t| t["traceID"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        got.sort();
        let want: Vec<String> = want.iter().map(|n| format!("c0ffee{n:026x}")).collect();
        assert_eq!(got, want, "{query}");
    }

    let response = app
        .get(
            &format!("/api/search?q={}", enc("{ span.bytes + \"x\" > 1 }")),
            None,
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "invalid TraceQL query: illegal operation for the given types: span.bytes + \"x\""
    );
    app.shutdown().await.unwrap();
}
