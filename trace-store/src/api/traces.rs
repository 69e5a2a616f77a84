//! Trace by id, v1 and v2, and the build info Grafana reads Tempo's version from.
//!
//! Grafana asks `GET /api/v2/traces/{id}` with `Accept: application/protobuf` first and falls
//! back to v1 on a 404. Both check `start`/`end` like Tempo but otherwise ignore them: they only
//! narrow which storage blocks Tempo reads, and the whole store is one block.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_TYPE};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde::Serialize;

use super::{ApiError, params, tempo_json};
use crate::model::TraceId;
use crate::store::Store;

/// `tempopb.TraceByIDResponse`: the v2 envelope. Field 1 is Tempo's `Trace`, whose fields match
/// OTLP `TracesData`, so the bytes are the same.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(message, optional, tag = "2")]
    metrics: Option<TraceByIdMetrics>,
    /// `PartialStatus`: 0 complete, 1 partial. The store never truncates a trace.
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

/// `tempopb.TraceByIDMetrics`.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    inspected_bytes: u64,
}

/// The trace with id `raw` (400 for a bad id or window, 404 when unknown). The lookup is O(1)
/// and the regrouping into OTLP is proportional to the trace, so it runs inline.
fn lookup(
    store: &Store,
    raw: &str,
    query: &HashMap<String, String>,
) -> Result<TracesData, ApiError> {
    let id: TraceId = raw
        .parse()
        .map_err(|e: crate::model::ParseIdError| ApiError::BadRequest(e.to_string()))?;
    params::time_range(query).map_err(ApiError::BadRequest)?;
    store
        .trace(&id)
        .map(|trace| trace.to_traces_data())
        .ok_or(ApiError::NotFound)
}

/// `GET /api/traces/{traceID}` (Tempo's v1 trace-by-id).
pub(super) async fn trace_by_id(
    State(store): State<Store>,
    Path(trace_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let data = match lookup(&store, &trace_id, &query) {
        Ok(data) => data,
        Err(error) => return error.into_response(),
    };
    if wants_protobuf(&headers) {
        // Tempo's `tempopb.Trace` has the same field numbers as OTLP `TracesData`, so the bytes
        // are identical and Grafana decodes them as its own type.
        protobuf(data.encode_to_vec())
    } else {
        json(&tempo_json::trace_json(&data))
    }
}

/// `GET /api/v2/traces/{traceID}` (Tempo 2.6+). Unlike Tempo, which answers an unknown id with
/// 200 and an empty trace, this answers 404: Grafana treats both as "not found", and the 404
/// also tells curl users plainly.
pub(super) async fn trace_by_id_v2(
    State(store): State<Store>,
    Path(trace_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let data = match lookup(&store, &trace_id, &query) {
        Ok(data) => data,
        Err(error) => return error.into_response(),
    };
    let inspected_bytes = data.encoded_len() as u64;
    if wants_protobuf(&headers) {
        let response = TraceByIdResponse {
            trace: Some(data),
            metrics: Some(TraceByIdMetrics { inspected_bytes }),
            status: 0,
            message: String::new(),
        };
        protobuf(response.encode_to_vec())
    } else {
        json(&tempo_json::trace_json_v2(&data, inspected_bytes))
    }
}

pub(super) fn protobuf(body: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, "application/protobuf")], body).into_response()
}

pub(super) fn json(node: &tempo_json::Node) -> Response {
    let body = serde_json::to_vec(node).unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// Whether any `Accept` header lists `application/protobuf` (Grafana sends exactly that).
pub(super) fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/protobuf")
        })
}

/// Tempo's build info; `version` is this crate's version. The Go-specific fields are empty:
/// there is no Go toolchain, and no revision is baked into the build.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BuildInfo {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    build_date: &'static str,
    build_user: &'static str,
    go_version: &'static str,
}

/// The Tempo release whose query API the store answers like. Grafana reads
/// `version` to decide which Tempo features to offer, so it names the API we
/// speak rather than this crate's own version, which goes in `revision`.
///
/// 2.8: every TraceQL and API feature Grafana gates on up to 2.8 is served (search
/// and metrics streaming over gRPC, TraceQL metrics with `compare`, exemplars and
/// `topk`, union structural operators and nested sets, `event:`/`link:`/
/// `instrumentation:` scopes, `with(most_recent=true)`, `span:parentID`). Not 2.9:
/// its MCP server (`/api/mcp`) is not served. Arithmetic in filters, older than
/// any of these, is served too.
const TEMPO_API_VERSION: &str = "2.8.0";

/// `GET /api/status/buildinfo`.
pub(super) async fn build_info() -> Json<BuildInfo> {
    Json(BuildInfo {
        version: TEMPO_API_VERSION,
        revision: concat!("tracelab-store ", env!("CARGO_PKG_VERSION")),
        branch: "",
        build_date: "",
        build_user: "",
        go_version: "",
    })
}
