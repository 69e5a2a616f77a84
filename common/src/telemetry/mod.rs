//! Telemetry set-up: logs on stderr and spans through OpenTelemetry, from
//! the standard `OTEL_*` variables; and a guard that flushes on shutdown.
//!
//! Call [`init`] once, at start, inside the tokio runtime (the gRPC exporter
//! needs one), and [`Telemetry::shutdown`] after the server has drained.
//! Spans are made with `tracing` and bridged by `tracing-opentelemetry`.
//!
//! Two rules from hard experience with the 0.33 SDK (see the README):
//! OTLP goes only through the batch processor with the blocking HTTP client,
//! and shutdown runs on a blocking thread, never on a runtime worker.

mod console;
mod export;
mod logging;
mod settings;

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_semantic_conventions::resource::{SERVICE_INSTANCE_ID, SERVICE_VERSION};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets, filter_fn};
use tracing_subscriber::prelude::*;

pub use console::ConsoleExporter;
pub use export::{ExportCounts, ExportStats, REPORT_INTERVAL};
pub use logging::{DEFAULT_FILTER, LogFormat, LogSettings};
pub use settings::{
    BatchSettings, ExporterKind, OtlpSettings, Protocol, SamplerSetting, TelemetrySettings,
};

use export::{CountingProcessor, ReportingExporter};

/// Longest the final flush may take at shutdown. Kubernetes'
/// `terminationGracePeriodSeconds` must cover `SHUTDOWN_GRACE_MS` plus this.
pub const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The instrumentation scope of every span the services make.
pub const SCOPE_NAME: &str = "tracelab.http";

/// What can go wrong setting telemetry up or tearing it down.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the settings.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A header in `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` is not a valid HTTP header.
    #[error("OTEL_EXPORTER_OTLP_HEADERS: {0:?} is not a valid HTTP header")]
    Header(String),
    /// A global subscriber was already installed.
    #[error("telemetry was already initialised in this process")]
    AlreadyInitialised,
    /// The span processor failed to shut down (e.g. a hanging collector).
    #[error("flushing spans at shutdown failed: {0}")]
    Shutdown(String),
}

/// Keeps the tracer provider so spans can be flushed at shutdown. Hold it
/// for the life of the process and call [`Telemetry::shutdown`] at the end.
#[must_use = "hold the guard and call shutdown() at exit, or the last spans are lost"]
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    stats: Arc<ExportStats>,
}

impl Telemetry {
    /// Span counters of the OTLP exporter.
    pub fn stats(&self) -> Arc<ExportStats> {
        self.stats.clone()
    }

    /// Export every queued span and stop the exporters. Runs on a blocking
    /// thread: the SDK's shutdown blocks, and blocking a runtime worker can
    /// deadlock the gRPC exporter.
    ///
    /// Takes at most [`FLUSH_TIMEOUT`], even against a collector that never
    /// answers; spans still queued then are lost, and the error says so.
    /// The counts are logged either way.
    pub async fn shutdown(self) -> Result<ExportCounts, TelemetryError> {
        let mut result = Ok(());
        if let Some(provider) = self.provider {
            result =
                tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                    .await
                    .map_err(|e| TelemetryError::Shutdown(e.to_string()))
                    .and_then(|r| r.map_err(|e| TelemetryError::Shutdown(e.to_string())));
        }
        let counts = self.stats.counts();
        tracing::info!(
            exported = counts.exported,
            failed = counts.failed,
            dropped = counts.dropped,
            "spans flushed"
        );
        result.map(|()| counts)
    }
}

/// Install logging and tracing for this process, as `settings` and `logs`
/// say. `service_version` becomes `service.version`.
pub fn init(
    settings: &TelemetrySettings,
    logs: &LogSettings,
    service_version: &str,
) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(propagator(settings));

    let stats = Arc::new(ExportStats::default());
    let provider = if settings.sdk_disabled {
        None
    } else {
        Some(provider(settings, service_version, &stats)?)
    };

    // The OTel layer sees spans only: log lines stay logs (they carry the
    // trace id) instead of turning into span events. Telemetry about the
    // exporter's own HTTP calls is off, or it would trace itself.
    let otel_targets = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets([("h2", LevelFilter::OFF), ("hyper", LevelFilter::OFF)])
        .with_targets([("reqwest", LevelFilter::OFF), ("tonic", LevelFilter::OFF)]);
    let spans_only = filter_fn(|meta| meta.is_span());
    let (sdk_layer, passthrough_layer) = match &provider {
        Some(provider) => {
            let tracer = provider.tracer_with_scope(
                opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            );
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                // Only the semantic-convention attributes: no code location,
                // thread, target, level or busy/idle times on every span.
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_level(false)
                .with_tracked_inactivity(false)
                .with_filter(otel_targets.and(spans_only));
            (Some(layer), None)
        }
        // OTEL_SDK_DISABLED: a no-op tracer still carries the incoming
        // context, so the trace id passes through to the next hop unchanged.
        None => (
            None,
            Some(tracing_opentelemetry::layer().with_filter(spans_only)),
        ),
    };

    let fmt_layer = tracing_subscriber::fmt::layer()
        .event_format(logging::LogFormatter::new(logs.format))
        .with_writer(std::io::stderr)
        // Events only: the layer would otherwise format and keep a copy of
        // every field of every span, for log lines that show trace ids instead.
        .with_filter(
            EnvFilter::try_new(&logs.filter)
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
                .and(filter_fn(|meta| meta.is_event())),
        );

    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(sdk_layer)
        .with(passthrough_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialised)?;

    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    Ok(Telemetry { provider, stats })
}

fn propagator(settings: &TelemetrySettings) -> TextMapCompositePropagator {
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    if settings.propagate_trace_context {
        propagators.push(Box::new(TraceContextPropagator::new()));
    }
    if settings.propagate_baggage {
        propagators.push(Box::new(BaggagePropagator::new()));
    }
    TextMapCompositePropagator::new(propagators)
}

fn provider(
    settings: &TelemetrySettings,
    service_version: &str,
    stats: &Arc<ExportStats>,
) -> Result<SdkTracerProvider, TelemetryError> {
    // Our defaults first, so the user's OTEL_RESOURCE_ATTRIBUTES win.
    let mut attributes = vec![
        KeyValue::new(SERVICE_VERSION, service_version.to_owned()),
        KeyValue::new(SERVICE_INSTANCE_ID, uuid::Uuid::new_v4().to_string()),
    ];
    attributes.extend(
        settings
            .resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attributes)
        .with_service_name(settings.service_name.clone())
        .build();

    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler(settings.sampler));
    for exporter in &settings.exporters {
        builder = match exporter {
            ExporterKind::Console => builder.with_simple_exporter(ConsoleExporter::default()),
            ExporterKind::Otlp => {
                let exporter =
                    ReportingExporter::new(otlp_exporter(&settings.otlp)?, stats.clone());
                let batch = &settings.batch;
                let config = BatchConfigBuilder::default()
                    .with_scheduled_delay(batch.schedule_delay)
                    .with_max_queue_size(batch.max_queue_size)
                    .with_max_export_batch_size(batch.max_export_batch_size)
                    .build();
                let processor = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(config)
                    .build();
                builder.with_span_processor(CountingProcessor::new(
                    processor,
                    stats.clone(),
                    batch.max_queue_size,
                ))
            }
        };
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

fn sampler(setting: SamplerSetting) -> Sampler {
    match setting {
        SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
        SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
        SamplerSetting::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerSetting::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerSetting::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerSetting::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// Every setting is given explicitly, so what the SDK would read from the
/// process environment by itself never disagrees with our parsing.
fn otlp_exporter(otlp: &OtlpSettings) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::{Compression, Protocol as Wire, SpanExporter};
    let exporter = match otlp.protocol {
        Protocol::Grpc => {
            let mut headers = http::HeaderMap::new();
            for (name, value) in &otlp.headers {
                let name = http::HeaderName::try_from(name.as_str())
                    .map_err(|_| TelemetryError::Header(name.clone()))?;
                let value = http::HeaderValue::try_from(value.as_str())
                    .map_err(|_| TelemetryError::Header(name.to_string()))?;
                headers.insert(name, value);
            }
            let mut builder = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(&otlp.endpoint)
                .with_timeout(otlp.timeout)
                .with_metadata(
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers),
                );
            if otlp.gzip {
                builder = builder.with_compression(Compression::Gzip);
            }
            builder.build()?
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let wire = if otlp.protocol == Protocol::HttpJson {
                Wire::HttpJson
            } else {
                Wire::HttpBinary
            };
            let mut builder = SpanExporter::builder()
                .with_http()
                .with_protocol(wire)
                .with_endpoint(&otlp.endpoint)
                .with_timeout(otlp.timeout)
                .with_headers(otlp.headers.iter().cloned().collect());
            if otlp.gzip {
                builder = builder.with_compression(Compression::Gzip);
            }
            builder.build()?
        }
    };
    Ok(exporter)
}
