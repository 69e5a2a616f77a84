//! `GET /metrics`: the span counters in Prometheus text format.
//!
//! A workshop asks "did every span arrive?"; these counters answer it from
//! the service's side: queued + dropped = spans ended, and after a flush,
//! exported + failed = queued. Scrape them, or `curl localhost:5000/metrics`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::telemetry::{ExportCounts, ExportStats};

/// Prometheus' text exposition format, version 0.0.4.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route over `stats`.
pub fn router(stats: Arc<ExportStats>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let body = render(&stats.counts());
            async move { ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], body) }
        }),
    )
}

/// The counters as Prometheus text.
pub fn render(counts: &ExportCounts) -> String {
    let mut out = String::new();
    let metrics = [
        (
            "tracelab_spans_queued_total",
            "Spans accepted into the export queue.",
            counts.queued,
        ),
        (
            "tracelab_spans_exported_total",
            "Spans the OTLP exporter delivered.",
            counts.exported,
        ),
        (
            "tracelab_spans_failed_total",
            "Spans whose export failed.",
            counts.failed,
        ),
        (
            "tracelab_spans_dropped_total",
            "Spans dropped because the export queue was full.",
            counts.dropped,
        ),
    ];
    for (name, help, value) in metrics {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let text = render(&ExportCounts {
            queued: 10,
            exported: 7,
            failed: 1,
            dropped: 2,
        });
        assert!(text.contains(
            "# TYPE tracelab_spans_dropped_total counter\ntracelab_spans_dropped_total 2\n"
        ));
        assert!(text.contains("\ntracelab_spans_exported_total 7\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 4);
    }
}
