//! Counting and reporting around the SDK's batch span processor.
//!
//! The SDK's batch processor drops spans silently when its queue is full
//! (one warning, and the count only at shutdown), and it logs every failed
//! export. A workshop needs the opposite: exact counts it can show, and a
//! collector outage reported at a bounded rate. Two thin wrappers do it:
//! [`CountingProcessor`] decides drops itself, before the SDK's queue can,
//! and [`ReportingExporter`] counts what was exported or failed and logs
//! failures at most once per [`REPORT_INTERVAL`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};

/// Export failures are logged at most this often.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Span counters of one process, shared by the processor, the exporter and
/// whoever reports them (the shutdown log line, a metrics endpoint).
#[derive(Debug, Default)]
pub struct ExportStats {
    queued: AtomicU64,
    handed_to_exporter: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of [`ExportStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportCounts {
    /// Spans accepted into the export queue.
    pub queued: u64,
    /// Spans the exporter delivered.
    pub exported: u64,
    /// Spans whose export failed (collector down, timeout, refused).
    pub failed: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
}

impl ExportStats {
    /// The counters now.
    pub fn counts(&self) -> ExportCounts {
        ExportCounts {
            queued: self.queued.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Spans in the queue or in the batch being assembled.
    fn pending(&self) -> u64 {
        let queued = self.queued.load(Ordering::Acquire);
        queued.saturating_sub(self.handed_to_exporter.load(Ordering::Acquire))
    }
}

/// The SDK's [`BatchSpanProcessor`] with exact drop counting.
///
/// The SDK's queue holds `max_queue_size` spans. We let a span through only
/// while fewer than that many are pending (queued and not yet handed to the
/// exporter), so the SDK's queue never overflows and every drop is ours,
/// counted in [`ExportStats`].
#[derive(Debug)]
pub(super) struct CountingProcessor {
    inner: BatchSpanProcessor,
    stats: Arc<ExportStats>,
    max_queue_size: u64,
}

impl CountingProcessor {
    /// Wrap `inner`, whose queue holds `max_queue_size` spans.
    pub(super) fn new(
        inner: BatchSpanProcessor,
        stats: Arc<ExportStats>,
        max_queue_size: usize,
    ) -> Self {
        Self {
            inner,
            stats,
            max_queue_size: max_queue_size as u64,
        }
    }
}

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        // Never blocks: this runs on the request path.
        if self.stats.pending() >= self.max_queue_size {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.queued.fetch_add(1, Ordering::AcqRel);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that counts outcomes and reports failures at a bounded rate.
#[derive(Debug)]
pub(super) struct ReportingExporter<E> {
    inner: E,
    stats: Arc<ExportStats>,
    report: Mutex<FailureReport>,
}

/// Failures seen since the last log line.
#[derive(Debug, Default)]
struct FailureReport {
    last_logged: Option<Instant>,
    spans_since: u64,
    failing: bool,
}

impl<E> ReportingExporter<E> {
    /// Wrap `inner`.
    pub(super) fn new(inner: E, stats: Arc<ExportStats>) -> Self {
        Self {
            inner,
            stats,
            report: Mutex::new(FailureReport::default()),
        }
    }

    fn record_failure(&self, spans: u64, error: &dyn std::fmt::Display) {
        self.stats.failed.fetch_add(spans, Ordering::Relaxed);
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.spans_since += spans;
        report.failing = true;
        let due = report
            .last_logged
            .is_none_or(|at| at.elapsed() >= REPORT_INTERVAL);
        if due {
            tracing::warn!(
                target: "tracelab::export",
                spans_lost = report.spans_since,
                "span export failed: {error}; will report again in {}s at most",
                REPORT_INTERVAL.as_secs()
            );
            report.last_logged = Some(Instant::now());
            report.spans_since = 0;
        }
    }

    fn record_success(&self, spans: u64) {
        self.stats.exported.fetch_add(spans, Ordering::Relaxed);
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        if report.failing {
            tracing::info!(
                target: "tracelab::export",
                spans_lost_since_last_report = report.spans_since,
                "span export recovered"
            );
            *report = FailureReport::default();
        }
    }
}

impl<E: SpanExporter> SpanExporter for ReportingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        self.stats
            .handed_to_exporter
            .fetch_add(spans, Ordering::AcqRel);
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => self.record_success(spans),
            Err(error) => self.record_failure(spans, error),
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{BatchConfigBuilder, SdkTracerProvider};
    use std::sync::mpsc;

    /// An exporter that blocks each export until the test lets it go.
    #[derive(Debug)]
    struct GatedExporter {
        gate: Mutex<mpsc::Receiver<()>>,
        fail: bool,
    }

    impl SpanExporter for GatedExporter {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            let _ = self.gate.lock().unwrap().recv();
            if self.fail {
                Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "refused".into(),
                ))
            } else {
                Ok(())
            }
        }
    }

    /// A burst past the queue while the exporter is stuck: the overflow is
    /// dropped and counted, the rest exported, and the counts add up.
    fn burst(fail: bool) -> ExportCounts {
        let (open, gate) = mpsc::channel();
        let stats = Arc::new(ExportStats::default());
        let exporter = ReportingExporter::new(
            GatedExporter {
                gate: Mutex::new(gate),
                fail,
            },
            stats.clone(),
        );
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(10)
            .with_max_export_batch_size(5)
            .with_scheduled_delay(Duration::from_millis(10))
            .build();
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(config)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(batch, stats.clone(), 10))
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..50 {
            tracer.start("span");
        }
        // Let every export through, then flush.
        for _ in 0..50 {
            let _ = open.send(());
        }
        provider.shutdown().unwrap();
        stats.counts()
    }

    #[test]
    fn overflow_is_dropped_and_every_span_is_accounted_for() {
        let counts = burst(false);
        assert!(counts.dropped >= 30, "{counts:?}");
        assert_eq!(counts.queued + counts.dropped, 50, "{counts:?}");
        assert_eq!(counts.exported, counts.queued, "{counts:?}");
        assert_eq!(counts.failed, 0);
    }

    #[test]
    fn failed_exports_are_counted() {
        let counts = burst(true);
        assert_eq!(counts.exported, 0);
        assert_eq!(counts.failed, counts.queued, "{counts:?}");
        assert_eq!(counts.queued + counts.dropped, 50);
    }
}
