//! `GET /metrics` on the query port: what the store holds, in Prometheus
//! text format, so a load test or a dashboard can check that every span
//! arrived and that the bound holds.

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::store::Store;

/// The `/metrics` route.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(store)
}

async fn metrics(
    State(store): State<Store>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let body = format!(
        "# HELP tracelab_store_spans Spans held now.\n# TYPE tracelab_store_spans gauge\ntracelab_store_spans {}\n\
         # HELP tracelab_store_traces Traces held now.\n# TYPE tracelab_store_traces gauge\ntracelab_store_traces {}\n\
         # HELP tracelab_store_max_spans The bound on spans held.\n# TYPE tracelab_store_max_spans gauge\ntracelab_store_max_spans {}\n",
        store.span_count(),
        store.trace_count(),
        store.max_spans(),
    );
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}
