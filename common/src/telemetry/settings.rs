//! The standard `OTEL_*` variables, parsed into one typed value.
//!
//! The Rust SDK reads some of these by itself and ignores others
//! (`OTEL_TRACES_EXPORTER`, `OTEL_SDK_DISABLED`, `OTEL_PROPAGATORS`), and it
//! departs from the specification in places (`service.name` precedence,
//! percent-decoding). The services must behave like the seed's Python apps
//! under the seed's manifests, so we parse every variable here, in one
//! place, and hand the SDK explicit values. See the README's settings table.

use std::time::Duration;

use crate::env::{ConfigErrors, Env};

/// How spans leave the process, from `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`, the default, as in the seed.
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
    /// `grpc`.
    Grpc,
}

/// Where finished spans go, from `OTEL_TRACES_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterKind {
    /// To an OTLP endpoint (Collector, Tempo, the embedded store).
    Otlp,
    /// One line of OTLP/JSON per span on stdout.
    Console,
}

/// Which sampler decides what is recorded, from `OTEL_TRACES_SAMPLER(_ARG)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSetting {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `parentbased_always_on`, the default.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with its ratio.
    ParentBasedTraceIdRatio(f64),
}

/// Settings of the OTLP exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// The wire protocol.
    pub protocol: Protocol,
    /// The full URL requests go to (for HTTP, including `/v1/traces`).
    pub endpoint: String,
    /// Extra request headers (gRPC metadata for `grpc`).
    pub headers: Vec<(String, String)>,
    /// How long one export may take.
    pub timeout: Duration,
    /// Whether bodies are gzip-compressed.
    pub gzip: bool,
}

/// Settings of the batch span processor, from `OTEL_BSP_*`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSettings {
    /// Time between two exports.
    pub schedule_delay: Duration,
    /// Spans waiting for export at most; more are dropped and counted.
    pub max_queue_size: usize,
    /// Spans in one export at most.
    pub max_export_batch_size: usize,
}

/// Everything the `OTEL_*` variables say.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    /// `OTEL_SDK_DISABLED=true`: no span is recorded; trace context still
    /// passes through unchanged.
    pub sdk_disabled: bool,
    /// The exporters; empty for `none`.
    pub exporters: Vec<ExporterKind>,
    /// The OTLP exporter's settings (used when `exporters` has `Otlp`).
    pub otlp: OtlpSettings,
    /// The sampler.
    pub sampler: SamplerSetting,
    /// Whether W3C `traceparent`/`tracestate` are read and written.
    pub propagate_trace_context: bool,
    /// Whether W3C `baggage` is read and written.
    pub propagate_baggage: bool,
    /// The batch span processor's settings.
    pub batch: BatchSettings,
    /// `service.name`.
    pub service_name: String,
    /// Other resource attributes, from `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: Vec<(String, String)>,
    /// Problems that do not stop the service (like the seed's sampler
    /// argument `100`): logged once at start, defaults used.
    pub warnings: Vec<String>,
}

const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";

impl TelemetrySettings {
    /// Parse the `OTEL_*` variables of `env`. `default_service_name` is used
    /// when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` name
    /// the service.
    pub fn from_env(env: &Env, default_service_name: &str) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let mut warnings = Vec::new();

        let sdk_disabled = env.bool_or("OTEL_SDK_DISABLED", false, &mut errors);
        let exporters = parse_exporters(env, &mut errors);
        let otlp = parse_otlp(env, &mut errors);
        let sampler = parse_sampler(env, &mut warnings);
        let (propagate_trace_context, propagate_baggage) = parse_propagators(env, &mut errors);
        let batch = parse_batch(env, &mut errors);
        let (service_name, resource_attributes) =
            parse_resource(env, default_service_name, &mut warnings);

        errors.into_result(Self {
            sdk_disabled,
            exporters,
            otlp,
            sampler,
            propagate_trace_context,
            propagate_baggage,
            batch,
            service_name,
            resource_attributes,
            warnings,
        })
    }
}

fn parse_exporters(env: &Env, errors: &mut ConfigErrors) -> Vec<ExporterKind> {
    const NAME: &str = "OTEL_TRACES_EXPORTER";
    let mut exporters = Vec::new();
    for item in env.get(NAME).unwrap_or("otlp").split(',').map(str::trim) {
        let kind = match item {
            "otlp" => ExporterKind::Otlp,
            "console" => ExporterKind::Console,
            "none" | "" => continue,
            other => {
                errors.push(NAME, other, "a comma list of otlp, console, none");
                continue;
            }
        };
        if !exporters.contains(&kind) {
            exporters.push(kind);
        }
    }
    exporters
}

/// The signal-specific variable wins over the generic one, as the spec says.
fn traces_or_generic<'a>(env: &'a Env, suffix: &str) -> Option<(String, &'a str)> {
    [
        format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"),
        format!("OTEL_EXPORTER_OTLP_{suffix}"),
    ]
    .into_iter()
    .find_map(|name| env.get(&name).map(|value| (name, value)))
}

fn parse_otlp(env: &Env, errors: &mut ConfigErrors) -> OtlpSettings {
    let protocol = match traces_or_generic(env, "PROTOCOL") {
        None => Protocol::HttpProtobuf,
        Some((_, "http/protobuf")) => Protocol::HttpProtobuf,
        Some((_, "http/json")) => Protocol::HttpJson,
        Some((_, "grpc")) => Protocol::Grpc,
        Some((name, other)) => {
            errors.push(&name, other, "http/protobuf, http/json or grpc");
            Protocol::HttpProtobuf
        }
    };

    // The signal endpoint is used verbatim; the generic one is a base URL to
    // which HTTP appends `/v1/traces` (the spec's rule, and a common trap).
    let endpoint = if let Some(url) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, errors);
        url.to_owned()
    } else {
        let base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(url) = base {
            check_url("OTEL_EXPORTER_OTLP_ENDPOINT", url, errors);
        }
        match protocol {
            Protocol::Grpc => base.unwrap_or(DEFAULT_GRPC_ENDPOINT).to_owned(),
            _ => format!(
                "{}/v1/traces",
                base.unwrap_or(DEFAULT_HTTP_ENDPOINT).trim_end_matches('/')
            ),
        }
    };

    let headers = match traces_or_generic(env, "HEADERS") {
        None => Vec::new(),
        Some((name, raw)) => parse_key_values(raw).unwrap_or_else(|bad| {
            errors.push(&name, bad, "a comma list of key=value pairs");
            Vec::new()
        }),
    };

    let timeout = match traces_or_generic(env, "TIMEOUT") {
        None => Duration::from_secs(10),
        Some((name, _)) => env.millis_or(&name, Duration::from_secs(10), errors),
    };

    let gzip = match traces_or_generic(env, "COMPRESSION") {
        None | Some((_, "none")) => false,
        Some((_, "gzip")) => true,
        Some((name, other)) => {
            errors.push(&name, other, "gzip or none");
            false
        }
    };

    OtlpSettings {
        protocol,
        endpoint,
        headers,
        timeout,
        gzip,
    }
}

/// Only plain `http://` is built in: in-cluster collectors and the embedded
/// store speak it, and a scheme-less `host:4317` would silently mean https.
fn check_url(name: &str, url: &str, errors: &mut ConfigErrors) {
    if !url.starts_with("http://") {
        errors.push(name, url, "an http:// URL (https is not built in)");
    }
}

fn parse_sampler(env: &Env, warnings: &mut Vec<String>) -> SamplerSetting {
    let ratio = match env.get("OTEL_TRACES_SAMPLER_ARG") {
        None => 1.0,
        Some(raw) => match raw.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                warnings.push(format!(
                    "OTEL_TRACES_SAMPLER_ARG={raw:?} is not a ratio from 0 to 1; using 1.0"
                ));
                1.0
            }
        },
    };
    match env
        .get("OTEL_TRACES_SAMPLER")
        .unwrap_or("parentbased_always_on")
    {
        "always_on" => SamplerSetting::AlwaysOn,
        "always_off" => SamplerSetting::AlwaysOff,
        "traceidratio" => SamplerSetting::TraceIdRatio(ratio),
        "parentbased_always_on" => SamplerSetting::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerSetting::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerSetting::ParentBasedTraceIdRatio(ratio),
        other => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not a known sampler; using parentbased_always_on"
            ));
            SamplerSetting::ParentBasedAlwaysOn
        }
    }
}

fn parse_propagators(env: &Env, errors: &mut ConfigErrors) -> (bool, bool) {
    const NAME: &str = "OTEL_PROPAGATORS";
    let (mut trace_context, mut baggage) = (false, false);
    for item in env.get(NAME).unwrap_or("tracecontext,baggage").split(',') {
        match item.trim() {
            "tracecontext" => trace_context = true,
            "baggage" => baggage = true,
            "none" | "" => {}
            other => errors.push(NAME, other, "a comma list of tracecontext, baggage, none"),
        }
    }
    (trace_context, baggage)
}

fn parse_batch(env: &Env, errors: &mut ConfigErrors) -> BatchSettings {
    let schedule_delay = env.millis_or("OTEL_BSP_SCHEDULE_DELAY", Duration::from_secs(5), errors);
    let positive = "a whole number above 0";
    let mut max_queue_size = env.parse_or("OTEL_BSP_MAX_QUEUE_SIZE", 2048, positive, errors);
    let mut max_export_batch_size =
        env.parse_or("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, positive, errors);
    if max_queue_size == 0 {
        errors.push("OTEL_BSP_MAX_QUEUE_SIZE", "0", positive);
        max_queue_size = 2048;
    }
    if max_export_batch_size == 0 {
        errors.push("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0", positive);
        max_export_batch_size = 512;
    }
    // Validated for the user's sake; the SDK's thread-based processor bounds
    // an export by the exporter's own timeout instead.
    env.millis_or("OTEL_BSP_EXPORT_TIMEOUT", Duration::from_secs(30), errors);
    BatchSettings {
        schedule_delay,
        max_queue_size,
        // The spec: a batch can't be larger than the queue.
        max_export_batch_size: max_export_batch_size.min(max_queue_size),
    }
}

/// `OTEL_SERVICE_NAME` wins over a `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES`, as the spec says (the Rust SDK does the
/// opposite). A malformed `OTEL_RESOURCE_ATTRIBUTES` is discarded whole and
/// reported, again as the spec says.
fn parse_resource(
    env: &Env,
    default_service_name: &str,
    warnings: &mut Vec<String>,
) -> (String, Vec<(String, String)>) {
    let mut attributes = match env.get("OTEL_RESOURCE_ATTRIBUTES").map(parse_key_values) {
        None => Vec::new(),
        Some(Ok(pairs)) => pairs,
        Some(Err(bad)) => {
            warnings.push(format!(
                "OTEL_RESOURCE_ATTRIBUTES has a malformed entry {bad:?}; ignoring the variable"
            ));
            Vec::new()
        }
    };
    let from_attributes = attributes
        .iter()
        .position(|(k, _)| k == "service.name")
        .map(|i| attributes.remove(i).1);
    let service_name = env
        .get("OTEL_SERVICE_NAME")
        .map(str::to_owned)
        .or(from_attributes)
        .unwrap_or_else(|| default_service_name.to_owned());
    (service_name, attributes)
}

/// Parse `k1=v1,k2=v2` with percent-decoded keys and values (the W3C
/// baggage format that both `OTEL_RESOURCE_ATTRIBUTES` and the headers
/// variables use). Returns the first malformed entry on error.
fn parse_key_values(raw: &str) -> Result<Vec<(String, String)>, &str> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s.trim())
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((decode(k), decode(v))),
            _ => Err(entry),
        })
        .collect()
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
