//! The client's view of Tempo's `tempo.proto`: only the messages and fields the tests read,
//! written from the proto's field numbers (not shared with the server's `tempopb.rs`, so a wrong
//! tag on either side shows).

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchRequest {
    #[prost(map = "string, string", tag = "1")]
    pub(crate) tags: HashMap<String, String>,
    #[prost(uint32, tag = "4")]
    pub(crate) limit: u32,
    #[prost(string, tag = "8")]
    pub(crate) query: String,
    #[prost(uint32, tag = "9")]
    pub(crate) spans_per_span_set: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) traces: Vec<TraceSearchMetadata>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchMetrics {
    #[prost(uint32, tag = "1")]
    pub(crate) inspected_traces: u32,
    #[prost(uint32, tag = "4")]
    pub(crate) completed_jobs: u32,
    #[prost(uint32, tag = "5")]
    pub(crate) total_jobs: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TraceSearchMetadata {
    #[prost(string, tag = "1")]
    pub(crate) trace_id: String,
    #[prost(string, tag = "2")]
    pub(crate) root_service_name: String,
    #[prost(string, tag = "3")]
    pub(crate) root_trace_name: String,
    #[prost(uint64, tag = "4")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(uint32, tag = "5")]
    pub(crate) duration_ms: u32,
    #[prost(message, repeated, tag = "7")]
    pub(crate) span_sets: Vec<SpanSet>,
    #[prost(map = "string, message", tag = "8")]
    pub(crate) service_stats: HashMap<String, ServiceStats>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServiceStats {
    #[prost(uint32, tag = "1")]
    pub(crate) span_count: u32,
    #[prost(uint32, tag = "2")]
    pub(crate) error_count: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SpanSet {
    #[prost(message, repeated, tag = "1")]
    pub(crate) spans: Vec<SpanSetSpan>,
    #[prost(uint32, tag = "2")]
    pub(crate) matched: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SpanSetSpan {
    #[prost(string, tag = "1")]
    pub(crate) span_id: String,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(uint64, tag = "3")]
    pub(crate) start_time_unix_nano: u64,
    #[prost(uint64, tag = "4")]
    pub(crate) duration_nanos: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsRequest {
    #[prost(string, tag = "1")]
    pub(crate) scope: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsResponse {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_names: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsV2Response {
    #[prost(message, repeated, tag = "1")]
    pub(crate) scopes: Vec<SearchTagsV2Scope>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagsV2Scope {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, repeated, tag = "2")]
    pub(crate) tags: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesRequest {
    #[prost(string, tag = "1")]
    pub(crate) tag_name: String,
    #[prost(string, tag = "2")]
    pub(crate) query: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesResponse {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tag_values: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchTagValuesV2Response {
    #[prost(message, repeated, tag = "1")]
    pub(crate) tag_values: Vec<TagValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TagValue {
    #[prost(string, tag = "1")]
    pub(crate) kind: String,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

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
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryRangeResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<TimeSeries>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metrics: Option<SearchMetrics>,
    #[prost(int32, tag = "3")]
    pub(crate) status: i32,
    #[prost(string, tag = "4")]
    pub(crate) message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) exemplars: Vec<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(double, tag = "2")]
    pub(crate) value: f64,
    #[prost(int64, tag = "3")]
    pub(crate) timestamp_ms: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    #[prost(int64, tag = "2")]
    pub(crate) timestamp_ms: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryInstantRequest {
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    #[prost(uint64, tag = "2")]
    pub(crate) start: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) end: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryInstantResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) series: Vec<InstantSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InstantSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<KeyValue>,
    #[prost(double, tag = "2")]
    pub(crate) value: f64,
}
