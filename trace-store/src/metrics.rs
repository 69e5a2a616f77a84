//! `GET /metrics` on the query port: what the store holds and what happened to the spans sent to
//! it (received, stored, deduplicated, evicted; requests refused by reason), in Prometheus text
//! format, so a load test or a dashboard can check that every span arrived and that the bound
//! holds. Then the service graph and span metrics under the names Grafana reads
//! (`traces_service_graph_*`, `traces_spanmetrics_*`; see `analysis::live`).

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::store::Store;

/// The `/metrics` route.
pub(crate) fn router(store: Store) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(store)
}

async fn metrics(
    State(store): State<Store>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let totals = store.totals();
    let mut body = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        body.push_str(&format!(
            "# HELP tracelab_store_{name} {help}\n# TYPE tracelab_store_{name} {kind}\n"
        ));
        for (labels, value) in samples {
            body.push_str(&format!("tracelab_store_{name}{labels} {value}\n"));
        }
    };
    let one = |value: usize| [(String::new(), value as u64)];
    metric(
        "spans",
        "gauge",
        "Spans held now.",
        &one(store.span_count()),
    );
    metric(
        "traces",
        "gauge",
        "Traces held now.",
        &one(store.trace_count()),
    );
    metric(
        "max_spans",
        "gauge",
        "The bound on spans held.",
        &one(store.max_spans()),
    );
    let total = |value: u64| [(String::new(), value)];
    metric(
        "spans_received_total",
        "counter",
        "Spans in accepted export requests.",
        &total(totals.received),
    );
    metric(
        "spans_stored_total",
        "counter",
        "Spans stored.",
        &total(totals.stored),
    );
    metric(
        "spans_deduplicated_total",
        "counter",
        "Spans dropped because their trace already held a span with the same id.",
        &total(totals.duplicates),
    );
    metric(
        "spans_evicted_total",
        "counter",
        "Spans evicted, with their trace, to stay under the bound.",
        &total(totals.evicted),
    );
    let rejected: Vec<(String, u64)> = totals
        .rejected
        .iter()
        .map(|(reason, n)| (format!("{{reason=\"{}\"}}", reason.as_str()), *n))
        .collect();
    metric(
        "requests_rejected_total",
        "counter",
        "Export requests refused whole, by reason.",
        &rejected,
    );
    store.render_live_metrics(&mut body);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}
