//! TraceQL matches in Tempo's search JSON: `spanSet`/`spanSets` entries of `tempopb.SpanSet`.
//!
//! Each span carries `spanID` (16 hex digits), `startTimeUnixNano` and `durationNanos` (strings),
//! `name` only when the query reads the name, and `attributes`: the values the query fetched for
//! that span, keyed without scope (`span.http.route` → `http.route`). A spanset lists at most
//! `spss` spans, `matched` counts them all, and its `attributes` hold `by()` and aggregate
//! results.

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
use serde::Serialize;
use traceql::{Query, Spanset, Value, go_duration_string, kind_name, status_name};

use super::tempo_json::{Node, any_value as any_value_json};
use crate::store::Trace;

/// One `tempopb.SpanSet`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SpanSetJson {
    spans: Vec<SpanJson>,
    matched: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeJson>,
}

/// One `tempopb.Span` of a search result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson {
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    start_time_unix_nano: String,
    duration_nanos: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<AttributeJson>,
}

/// A `KeyValue` as jsonpb writes it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AttributeJson {
    key: String,
    value: Node,
}

/// The spansets of one matched trace, each cut to `spss` spans (0: no cut).
pub(super) fn spansets_json(
    query: &Query,
    trace: &Trace,
    sets: &[Spanset<'_>],
    spss: usize,
) -> Vec<SpanSetJson> {
    let with_name = query.reads_name();
    sets.iter()
        .map(|set| {
            let shown = if spss == 0 {
                &set.spans[..]
            } else {
                &set.spans[..set.spans.len().min(spss)]
            };
            let values = query.span_values(trace, shown);
            let spans = shown
                .iter()
                .zip(values)
                .filter_map(|(&i, values)| {
                    let record = trace.spans.get(i)?;
                    Some(SpanJson {
                        span_id: record.span_id().to_string(),
                        name: with_name.then(|| record.name().to_owned()),
                        start_time_unix_nano: record.start_unix_nano().to_string(),
                        duration_nanos: record.duration().as_nanos().to_string(),
                        attributes: values
                            .into_iter()
                            .filter_map(|(key, value)| attribute(key, value))
                            .collect(),
                    })
                })
                .collect();
            SpanSetJson {
                spans,
                matched: u32::try_from(set.spans.len()).unwrap_or(u32::MAX),
                attributes: set
                    .attributes
                    .iter()
                    .filter_map(|(key, value)| attribute(key, *value))
                    .collect(),
            }
        })
        .collect()
}

fn attribute(key: &str, value: Value<'_>) -> Option<AttributeJson> {
    Some(AttributeJson {
        key: key.to_owned(),
        value: value_json(value)?,
    })
}

/// A TraceQL value as a jsonpb `AnyValue`: numbers and booleans typed, and status, kind and
/// durations as the strings Tempo writes (`"error"`, `"server"`, `"2.9s"`). Nil has none.
pub(super) fn value_json(value: Value<'_>) -> Option<Node> {
    use any_value::Value as V;
    let otlp = match value {
        Value::Nil => return None,
        Value::Bool(b) => V::BoolValue(b),
        Value::Int(i) => V::IntValue(i),
        Value::Float(x) => V::DoubleValue(x),
        Value::Str(s) => V::StringValue(s.to_owned()),
        Value::Duration(d) => V::StringValue(go_duration_string(d)),
        Value::Status(s) => V::StringValue(status_name(s).to_owned()),
        Value::Kind(k) => V::StringValue(kind_name(k).to_owned()),
        Value::Id(id) => V::StringValue(hex::encode(id)),
        Value::Array(items) => V::ArrayValue(ArrayValue {
            values: items.to_vec(),
        }),
    };
    Some(any_value_json(&AnyValue { value: Some(otlp) }))
}
