//! One normalisation of search results and metrics series for both protocols: the tonic
//! client's proto messages and the HTTP API's JSON become the same tuples, so a final gRPC
//! message and an HTTP answer compare field by field with `assert_eq!`.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde_json::Value;

use super::proto::{TimeSeries, TraceSearchMetadata};

/// A search result, as both protocols can say it: id, root service and name, start, duration,
/// each spanset (matched, span ids) and the per-service (spans, errors).
pub(crate) type Row = (
    String,
    String,
    String,
    u64,
    u32,
    Vec<(u32, Vec<String>)>,
    BTreeMap<String, (u32, u32)>,
);

pub(crate) fn row_of_proto(t: &TraceSearchMetadata) -> Row {
    let sets = t
        .span_sets
        .iter()
        .map(|s| {
            (
                s.matched,
                s.spans.iter().map(|x| x.span_id.clone()).collect(),
            )
        })
        .collect();
    let stats = t
        .service_stats
        .iter()
        .map(|(k, v)| (k.clone(), (v.span_count, v.error_count)))
        .collect();
    (
        t.trace_id.clone(),
        t.root_service_name.clone(),
        t.root_trace_name.clone(),
        t.start_time_unix_nano,
        t.duration_ms,
        sets,
        stats,
    )
}

pub(crate) fn row_of_json(t: &Value) -> Row {
    let n = |v: &Value| v.as_u64().unwrap_or(0) as u32;
    let sets = t["spanSets"]
        .as_array()
        .map(|sets| {
            sets.iter()
                .map(|s| {
                    let ids = s["spans"].as_array().unwrap().iter();
                    (
                        n(&s["matched"]),
                        ids.map(|x| x["spanID"].as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let stats = t["serviceStats"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), (n(&v["spanCount"]), n(&v["errorCount"]))))
                .collect()
        })
        .unwrap_or_default();
    (
        t["traceID"].as_str().unwrap().to_owned(),
        t["rootServiceName"].as_str().unwrap().to_owned(),
        t["rootTraceName"].as_str().unwrap_or_default().to_owned(),
        t["startTimeUnixNano"].as_str().unwrap().parse().unwrap(),
        n(&t["durationMs"]),
        sets,
        stats,
    )
}

/// A series as both protocols can say it: labels (key, value as text), samples (ms, value),
/// exemplars (ms, value).
pub(crate) type SeriesRow = (Vec<(String, String)>, Vec<(i64, f64)>, Vec<(i64, String)>);

pub(crate) fn value_text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn labels_of_proto(labels: &[KeyValue]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|kv| (kv.key.clone(), value_text(&kv.value)))
        .collect()
}

pub(crate) fn series_of_proto(s: &TimeSeries) -> SeriesRow {
    (
        labels_of_proto(&s.labels),
        s.samples
            .iter()
            .map(|x| (x.timestamp_ms, x.value))
            .collect(),
        s.exemplars
            .iter()
            .map(|e| (e.timestamp_ms, format!("{:?}", labels_of_proto(&e.labels))))
            .collect(),
    )
}

pub(crate) fn labels_of_json(labels: &Value) -> Vec<(String, String)> {
    labels
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            let v = &kv["value"];
            let text = v["stringValue"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| v["intValue"].as_str().map(str::to_owned))
                .or_else(|| v["doubleValue"].as_f64().map(|d| d.to_string()))
                .or_else(|| v["boolValue"].as_bool().map(|b| b.to_string()))
                .unwrap_or_default();
            (kv["key"].as_str().unwrap().to_owned(), text)
        })
        .collect()
}

pub(crate) fn series_of_json(s: &Value) -> SeriesRow {
    let ms = |v: &Value| v["timestampMs"].as_str().unwrap().parse::<i64>().unwrap();
    let none = Vec::new();
    (
        labels_of_json(&s["labels"]),
        s["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (ms(x), x["value"].as_f64().unwrap()))
            .collect(),
        s["exemplars"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .map(|e| (ms(e), format!("{:?}", labels_of_json(&e["labels"]))))
            .collect(),
    )
}
