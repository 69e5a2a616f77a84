//! Reading an export's body with a hard size limit, in a way every client can hear the 413.
//!
//! Stopping at the limit and answering at once is what a server would naturally do, but a client
//! that writes its whole body before it reads anything (Python's `http.client`, which the
//! OpenTelemetry Python exporter uses) is then still writing when the server closes the
//! connection. It gets a broken pipe or a reset instead of the 413, concludes the network
//! failed, and retries the same oversized body. So past the limit the receiver keeps reading and
//! throws the bytes away, up to [`IngestLimits::max_drain_bytes`] more, and only then answers.
//! A body that announces a length past both bounds is answered at once: draining would not be
//! bounded.

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;

use super::IngestLimits;
use super::codec::BodyError;

/// The body, whole, if it is at most `limits.max_body_bytes` long.
pub(super) async fn read(
    headers: &HeaderMap,
    body: Body,
    limits: &IngestLimits,
) -> Result<Bytes, BodyError> {
    let limit = limits.max_body_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(limits.max_drain_bytes)) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = body;
    let mut kept = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: nothing to keep
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else {
            // Past the limit: keep reading only so the client can finish writing.
            kept = BytesMut::new();
            if seen > limit.saturating_add(limits.max_drain_bytes) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(kept.freeze())
}
