//! Log lines on stderr, as text or one JSON object a line, each line logged
//! inside a request carrying that request's `trace_id` and `span_id`.
//!
//! The ids are what joins a log line to its trace in Grafana ("logs to
//! traces"), so we read them from the OpenTelemetry context of the current
//! span rather than from any field we would have to remember to record.

use std::fmt::{self, Write as _};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::env::{ConfigErrors, Env};

/// The default log filter when `RUST_LOG` is unset. The SDK's own export
/// errors are off because [`super::export::ReportingExporter`] reports them
/// at a bounded rate; the SDK would log every failed batch.
pub const DEFAULT_FILTER: &str =
    "info,opentelemetry_sdk=off,opentelemetry_otlp=off,opentelemetry_http=off";

/// How log lines look, from `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object a line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `LOG_FORMAT`: `text` or `json`.
    pub format: LogFormat,
    /// `RUST_LOG`: an `EnvFilter` directive string.
    pub filter: String,
}

impl LogSettings {
    /// Read `LOG_FORMAT` and `RUST_LOG`, recording bad values in `errors`.
    pub fn from_env(env: &Env, errors: &mut ConfigErrors) -> Self {
        let format = match env.get("LOG_FORMAT").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                errors.push("LOG_FORMAT", other, "text or json");
                LogFormat::Text
            }
        };
        let filter = env.string_or("RUST_LOG", DEFAULT_FILTER);
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
            errors.push("RUST_LOG", &filter, &format!("a log filter ({e})"));
        }
        Self { format, filter }
    }
}

/// Formats events as text or JSON, adding the trace and span ids.
#[derive(Debug)]
pub(super) struct LogFormatter {
    format: LogFormat,
    text: Format<Full>,
}

impl LogFormatter {
    /// A formatter for `format`.
    pub(super) fn new(format: LogFormat) -> Self {
        Self {
            format,
            text: Format::default(),
        }
    }
}

/// The trace and span id of the current span, when it is being traced.
///
/// The log layer sees events only (its spans would cost a formatted copy
/// of every field of every request's span), so the current span is asked
/// of the dispatcher, which tracks it for all layers.
fn current_ids() -> Option<(String, String)> {
    let cx = tracing::dispatcher::get_default(|dispatch| {
        let id = dispatch.current_span().id()?.clone();
        tracing_opentelemetry::get_otel_context(&id, dispatch)
    })?;
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

impl<S, N> FormatEvent<S, N> for LogFormatter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = current_ids();
        match self.format {
            LogFormat::Text => {
                let mut line = String::new();
                self.text.format_event(ctx, Writer::new(&mut line), event)?;
                let line = line.trim_end();
                match ids {
                    Some((trace_id, span_id)) => {
                        writeln!(writer, "{line} trace_id={trace_id} span_id={span_id}")
                    }
                    None => writeln!(writer, "{line}"),
                }
            }
            LogFormat::Json => {
                let meta = event.metadata();
                let mut object = Map::new();
                object.insert("timestamp".into(), now_rfc3339().into());
                object.insert("level".into(), meta.level().as_str().into());
                object.insert("target".into(), meta.target().into());
                event.record(&mut JsonVisitor(&mut object));
                let span = tracing::dispatcher::get_default(|d| {
                    d.current_span().metadata().map(|m| m.name())
                });
                if let Some(name) = span {
                    object.insert("span".into(), name.into());
                }
                if let Some((trace_id, span_id)) = ids {
                    object.insert("trace_id".into(), trace_id.into());
                    object.insert("span_id".into(), span_id.into());
                }
                let json = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
                writeln!(writer, "{json}")
            }
        }
    }
}

/// The time now as RFC 3339 in UTC, with microseconds.
fn now_rfc3339() -> String {
    let mut s = String::new();
    // tracing-subscriber's own timer gives the same format the text lines use.
    let timer = tracing_subscriber::fmt::time::SystemTime;
    let _ =
        tracing_subscriber::fmt::time::FormatTime::format_time(&timer, &mut Writer::new(&mut s));
    s
}

/// Collects an event's fields into a JSON object. Values are typed, and
/// strings escaped by serde_json, so nothing from a request can forge a line.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.0.insert(field.name().into(), s.into());
    }
}
