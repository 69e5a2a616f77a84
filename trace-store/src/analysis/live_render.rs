//! The live metrics in Prometheus text format: the families, their help lines and Tempo's label
//! values. Apart from `live.rs` so the counting there reads on its own.

use std::fmt::Write as _;

use arcstr::ArcStr;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use super::Inner;

impl Inner {
    pub(super) fn render(&self, out: &mut String) {
        let mut edges: Vec<_> = self.edges.iter().collect();
        edges.sort_by(|a, b| a.0.cmp(b.0));
        let labels = |(c, s): &(ArcStr, ArcStr)| {
            format!("client=\"{}\",server=\"{}\"", escape(c), escape(s))
        };
        family(
            out,
            "traces_service_graph_request_total",
            "counter",
            "Calls from client to server (a CLIENT span and the SERVER span it parents).",
        );
        for (key, edge) in &edges {
            let _ = writeln!(
                out,
                "traces_service_graph_request_total{{{}}} {}",
                labels(key),
                edge.requests
            );
        }
        family(
            out,
            "traces_service_graph_request_failed_total",
            "counter",
            "Calls where the client or the server span has status error.",
        );
        for (key, edge) in &edges {
            let _ = writeln!(
                out,
                "traces_service_graph_request_failed_total{{{}}} {}",
                labels(key),
                edge.failed
            );
        }
        for (side, help) in [
            (
                "server",
                "Duration of the SERVER span of each call, seconds.",
            ),
            (
                "client",
                "Duration of the CLIENT span of each call, seconds.",
            ),
        ] {
            let name = format!("traces_service_graph_request_{side}_seconds");
            family(out, &name, "histogram", help);
            for (key, edge) in &edges {
                let h = if side == "server" {
                    &edge.server
                } else {
                    &edge.client
                };
                if h.count > 0 {
                    h.render(out, &name, &labels(key));
                }
            }
        }
        let mut calls: Vec<_> = self.calls.iter().collect();
        calls.sort_by(|a, b| a.0.cmp(b.0));
        let labels = |(service, name, kind, status): &(ArcStr, ArcStr, i32, i32)| {
            format!(
                "service=\"{}\",span_name=\"{}\",span_kind=\"{}\",status_code=\"{}\"",
                escape(service),
                escape(name),
                kind_label(*kind),
                status_label(*status)
            )
        };
        family(
            out,
            "traces_spanmetrics_calls_total",
            "counter",
            "Spans received, by service, name, kind and status.",
        );
        for (key, h) in &calls {
            let _ = writeln!(
                out,
                "traces_spanmetrics_calls_total{{{}}} {}",
                labels(key),
                h.count
            );
        }
        family(
            out,
            "traces_spanmetrics_latency",
            "histogram",
            "Span durations, seconds.",
        );
        for (key, h) in &calls {
            h.render(out, "traces_spanmetrics_latency", &labels(key));
        }
        family(
            out,
            "tracelab_store_metrics_series_dropped_total",
            "counter",
            "Spans not counted in the series above because a family reached its bound on label sets.",
        );
        let _ = writeln!(
            out,
            "tracelab_store_metrics_series_dropped_total {}",
            self.dropped_series
        );
        family(
            out,
            "tracelab_store_service_graph_expired_total",
            "counter",
            "CLIENT or SERVER spans whose other half did not arrive in time.",
        );
        let _ = writeln!(
            out,
            "tracelab_store_service_graph_expired_total {}",
            self.expired
        );
    }
}

/// A family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// Tempo's label values for span kinds.
fn kind_label(kind: i32) -> &'static str {
    match SpanKind::try_from(kind).unwrap_or(SpanKind::Unspecified) {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Tempo's label values for status codes.
fn status_label(code: i32) -> &'static str {
    match StatusCode::try_from(code).unwrap_or(StatusCode::Unset) {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// A label value as Prometheus' text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
