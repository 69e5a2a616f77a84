//! `OTEL_TRACES_EXPORTER=console`: each finished span as one line of OTLP/JSON.
//!
//! The seed's Python apps print spans with `console` next to `otlp`. The
//! Rust `opentelemetry-stdout` crate prints a multi-line text format
//! instead, which no tool can read back. We print one OTLP/JSON
//! `ExportTraceServiceRequest` per span and line: `jq` reads it, and posting
//! a line to any OTLP/HTTP receiver (`/v1/traces`) stores that span.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Writes each span as one OTLP/JSON line to stdout.
#[derive(Debug, Default)]
pub struct ConsoleExporter {
    resource: ResourceAttributesWithSchema,
}

impl ConsoleExporter {
    /// The lines for `batch`, one per span, without trailing newlines.
    pub fn lines(&self, batch: Vec<SpanData>) -> Vec<String> {
        batch
            .into_iter()
            .map(|span| {
                let request = ExportTraceServiceRequest {
                    resource_spans: group_spans_by_resource_and_scope(vec![span], &self.resource),
                };
                // Serialising plain data structures cannot fail.
                serde_json::to_string(&request).unwrap_or_default()
            })
            .collect()
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let lines = self.lines(batch);
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            writeln!(stdout, "{line}").map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
