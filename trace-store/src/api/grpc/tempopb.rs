//! Tempo's gRPC messages for `tempopb.StreamingQuerier`, written for prost from Tempo's
//! `pkg/tempopb/tempo.proto` (same field numbers and types; only the fields this store reads or
//! fills). Each also reads Tempo's JSON (jsonpb: camelCase keys, 64-bit integers as strings),
//! which is how the service turns the HTTP API's answers into these messages.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde::{Deserialize, Deserializer};

/// `SearchRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchRequest {
    /// Legacy tag search: key → value (a case-insensitive substring).
    #[prost(map = "string, string", tag = "1")]
    pub(crate) tags: HashMap<String, String>,
    #[prost(uint32, tag = "2")]
    pub(crate) min_duration_ms: u32,
    #[prost(uint32, tag = "3")]
    pub(crate) max_duration_ms: u32,
    #[prost(uint32, tag = "4")]
    pub(crate) limit: u32,
    /// Unix seconds.
    #[prost(uint32, tag = "5")]
    pub(crate) start: u32,
    #[prost(uint32, tag = "6")]
    pub(crate) end: u32,
    /// TraceQL.
    #[prost(string, tag = "8")]
    pub(crate) query: String,
    #[prost(uint32, tag = "9")]
    pub(crate) spans_per_span_set: u32,
}

/// `SearchResponse`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) traces: Vec<TraceSearchMetadata>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
}

/// `TraceSearchMetadata`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TraceSearchMetadata {
    #[prost(string, tag = "1")]
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    #[prost(string, tag = "2")]
    pub(crate) root_service_name: String,
    #[prost(string, tag = "3")]
    pub(crate) root_trace_name: String,
    #[prost(uint64, tag = "4")]
    #[serde(deserialize_with = "int")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(uint32, tag = "5")]
    pub(crate) duration_ms: u32,
    #[prost(message, optional, tag = "6")]
    pub(crate) span_set: Option<SpanSet>,
    #[prost(message, repeated, tag = "7")]
    pub(crate) span_sets: Vec<SpanSet>,
    #[prost(map = "string, message", tag = "8")]
    pub(crate) service_stats: HashMap<String, ServiceStats>,
}

/// `ServiceStats`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceStats {
    #[prost(uint32, tag = "1")]
    pub(crate) span_count: u32,
    #[prost(uint32, tag = "2")]
    pub(crate) error_count: u32,
}

/// `SpanSet`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SpanSet {
    #[prost(message, repeated, tag = "1")]
    pub(crate) spans: Vec<Span>,
    #[prost(uint32, tag = "2")]
    pub(crate) matched: u32,
    #[prost(message, repeated, tag = "3")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `Span` (of a spanset).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Span {
    #[prost(string, tag = "1")]
    #[serde(rename = "spanID")]
    pub(crate) span_id: String,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(uint64, tag = "3")]
    #[serde(deserialize_with = "int")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(uint64, tag = "4")]
    #[serde(deserialize_with = "int")]
    pub(crate) duration_nanos: u64,
    #[prost(message, repeated, tag = "5")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `SearchMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchMetrics {
    #[prost(uint32, tag = "1")]
    pub(crate) inspected_traces: u32,
    #[prost(uint64, tag = "2")]
    #[serde(deserialize_with = "int")]
    pub(crate) inspected_bytes: u64,
    #[prost(uint32, tag = "3")]
    pub(crate) total_blocks: u32,
    #[prost(uint32, tag = "4")]
    pub(crate) completed_jobs: u32,
    #[prost(uint32, tag = "5")]
    pub(crate) total_jobs: u32,
    #[prost(uint64, tag = "7")]
    #[serde(deserialize_with = "int")]
    pub(crate) inspected_spans: u64,
}

/// `SearchTagsRequest` (also the request of `SearchTagsV2`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsRequest {
    #[prost(string, tag = "1")]
    pub(crate) scope: String,
    #[prost(string, tag = "2")]
    pub(crate) query: String,
    #[prost(uint32, tag = "3")]
    pub(crate) start: u32,
    #[prost(uint32, tag = "4")]
    pub(crate) end: u32,
}

/// `SearchTagsResponse`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchTagsResponse {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_names: Vec<String>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<MetadataMetrics>,
}

/// `SearchTagsV2Response`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchTagsV2Response {
    #[prost(message, repeated, tag = "1")]
    pub(crate) scopes: Vec<SearchTagsV2Scope>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<MetadataMetrics>,
}

/// `SearchTagsV2Scope`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchTagsV2Scope {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, repeated, tag = "2")]
    pub(crate) tags: Vec<String>,
}

/// `SearchTagValuesRequest` (also the request of `SearchTagValuesV2`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesRequest {
    #[prost(string, tag = "1")]
    pub(crate) tag_name: String,
    #[prost(string, tag = "2")]
    pub(crate) query: String,
    #[prost(uint32, tag = "4")]
    pub(crate) start: u32,
    #[prost(uint32, tag = "5")]
    pub(crate) end: u32,
}

/// `SearchTagValuesResponse`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchTagValuesResponse {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_values: Vec<String>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<MetadataMetrics>,
}

/// `TagValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TagValue {
    #[prost(string, tag = "1")]
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `SearchTagValuesV2Response`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchTagValuesV2Response {
    #[prost(message, repeated, tag = "1")]
    pub(crate) tag_values: Vec<TagValue>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<MetadataMetrics>,
}

/// `MetadataMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct MetadataMetrics {
    #[prost(uint64, tag = "1")]
    #[serde(deserialize_with = "int")]
    pub(crate) inspected_bytes: u64,
    #[prost(uint32, tag = "2")]
    pub(crate) total_jobs: u32,
    #[prost(uint32, tag = "3")]
    pub(crate) completed_jobs: u32,
}

/// A jsonpb 64-bit integer (signed or not): a string of digits, or (as some writers send) a
/// plain number.
fn int<'de, D, T>(json: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int<T> {
        Text(String),
        Number(T),
    }
    match Int::<T>::deserialize(json)? {
        Int::Number(n) => Ok(n),
        Int::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

/// `QueryRangeRequest`: times and step in nanoseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryRangeRequest {
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    #[prost(uint64, tag = "2")]
    pub(crate) start: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) end: u64,
    #[prost(uint64, tag = "4")]
    pub(crate) step: u64,
    #[prost(uint32, tag = "16")]
    pub(crate) exemplars: u32,
}

/// `QueryRangeResponse`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct QueryRangeResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<TimeSeries>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
    /// `PartialStatus`: 0 complete, 1 partial.
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "partial_status")]
    pub(crate) status: i32,
    #[prost(string, tag = "4")]
    pub(crate) message: String,
}

/// `TimeSeries`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) exemplars: Vec<Exemplar>,
}

/// `Sample`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Sample {
    #[prost(double, tag = "1")]
    #[serde(deserialize_with = "double")]
    pub(crate) value: f64,
    #[prost(int64, tag = "2")]
    #[serde(deserialize_with = "int")]
    pub(crate) timestamp_ms: i64,
}

/// `Exemplar`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(double, tag = "2")]
    #[serde(deserialize_with = "double")]
    pub(crate) value: f64,
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "int")]
    pub(crate) timestamp_ms: i64,
}

/// `QueryInstantRequest`: times in nanoseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryInstantRequest {
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    #[prost(uint64, tag = "2")]
    pub(crate) start: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) end: u64,
}

/// `QueryInstantResponse`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct QueryInstantResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<InstantSeries>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "partial_status")]
    pub(crate) status: i32,
    #[prost(string, tag = "4")]
    pub(crate) message: String,
}

/// `InstantSeries`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct InstantSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(double, tag = "2")]
    #[serde(deserialize_with = "double")]
    pub(crate) value: f64,
}

/// A jsonpb double: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn double<'de, D: Deserializer<'de>>(json: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Double {
        Number(f64),
        Text(String),
    }
    match Double::deserialize(json)? {
        Double::Number(x) => Ok(x),
        Double::Text(text) => match text.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(serde::de::Error::custom),
        },
    }
}

/// `PartialStatus` by name (jsonpb) or number.
fn partial_status<'de, D: Deserializer<'de>>(json: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Status {
        Name(String),
        Number(i32),
    }
    match Status::deserialize(json)? {
        Status::Number(n) => Ok(n),
        Status::Name(name) => match name.as_str() {
            "COMPLETE" => Ok(0),
            "PARTIAL" => Ok(1),
            other => Err(serde::de::Error::custom(format!("unknown status {other}"))),
        },
    }
}
