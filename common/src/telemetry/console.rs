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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    #[test]
    fn each_span_is_one_line_of_otlp_json_that_decodes() {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("app-x").build())
            .with_simple_exporter(memory.clone())
            .build();
        let tracer = provider.tracer("test");
        tracer.start("one");
        tracer.start("two");
        let mut exporter = ConsoleExporter::default();
        exporter.set_resource(&Resource::builder_empty().with_service_name("app-x").build());

        let lines = exporter.lines(memory.get_finished_spans().unwrap());
        assert_eq!(lines.len(), 2);
        for (line, name) in lines.iter().zip(["one", "two"]) {
            assert!(!line.contains('\n'));
            let request: ExportTraceServiceRequest = serde_json::from_str(line).unwrap();
            let resource_spans = &request.resource_spans[0];
            let span = &resource_spans.scope_spans[0].spans[0];
            assert_eq!(span.name, name);
            assert_eq!(span.trace_id.len(), 16);
            let service = &resource_spans.resource.as_ref().unwrap().attributes[0];
            assert_eq!(service.key, "service.name");
            // OTLP/JSON: hex ids, not base64.
            assert!(line.contains(&format!("\"traceId\":\"{}\"", hex(&span.trace_id))));
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
