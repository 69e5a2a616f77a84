//! Body handling for the OTLP/HTTP receiver: which encoding a request uses, gunzip with a hard
//! cap, and decoding/encoding OTLP messages as protobuf or OTLP/JSON.
//!
//! The OTLP/HTTP spec (opentelemetry.io/docs/specs/otlp/#otlphttp) allows two encodings, chosen
//! by `Content-Type`, and optional gzip via `Content-Encoding`. Replies use the request's encoding.

use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde::Serialize;

/// The content types we accept, as listed in 415 replies.
pub(crate) const ACCEPTED_CONTENT_TYPES: &str = "application/x-protobuf, application/json";

/// Everything that can go wrong with a body before it reaches the store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("unsupported content type {0:?}; accepted: {ACCEPTED_CONTENT_TYPES}")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}; accepted: gzip, identity")]
    UnsupportedContentEncoding(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    Unreadable(String),
    #[error("decompressed request body is larger than the limit of {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error("invalid gzip body: {0}")]
    Gzip(std::io::Error),
    #[error("invalid OTLP/JSON body: {0}")]
    Json(#[from] serde_json::Error),
}

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `application/x-protobuf`: binary protobuf.
    Protobuf,
    /// `application/json`: OTLP/JSON (hex ids, camelCase keys, int64 as strings).
    Json,
}

impl Encoding {
    /// The encoding named by `Content-Type`; parameters like `; charset=utf-8` are ignored.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, BodyError> {
        let raw = headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let media_type = raw
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "application/x-protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            _ => Err(BodyError::UnsupportedContentType(raw)),
        }
    }

    /// The `Content-Type` of replies in this encoding.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// Encodes a reply.
    pub(crate) fn encode<M: prost::Message + Serialize>(self, message: &M) -> Vec<u8> {
        match self {
            Encoding::Protobuf => message.encode_to_vec(),
            // Serializing these plain structs to a Vec cannot fail; fall back to `{}` regardless.
            Encoding::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }
}

/// The body as sent (shared, not copied), or gunzipped if `Content-Encoding: gzip`, in which
/// case it is never more than `max_bytes`.
pub(crate) fn decompress(
    headers: &HeaderMap,
    body: Bytes,
    max_bytes: usize,
) -> Result<Bytes, BodyError> {
    let encoding = headers.get(CONTENT_ENCODING).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase()
    });
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok(body),
        Some("gzip" | "x-gzip") => gunzip_capped(&body, max_bytes).map(Bytes::from),
        Some(other) => Err(BodyError::UnsupportedContentEncoding(other.to_owned())),
    }
}

/// Gunzips `compressed`, failing as soon as the output would pass `max_bytes`.
///
/// A gzip bomb (100 MiB of zeros is 100 KiB compressed) must not cost more than `max_bytes` of
/// memory, so this reads in chunks and grows the output itself: `Read::read_to_end` would let
/// `Vec` double its capacity past the cap.
pub(crate) fn gunzip_capped(compressed: &[u8], max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    const CHUNK: usize = 64 * 1024;
    // Concatenated gzip members are valid gzip; the multi-member decoder reads them all.
    let mut decoder = MultiGzDecoder::new(compressed);
    let mut chunk = vec![0u8; CHUNK];
    let mut out: Vec<u8> = Vec::new();
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Gzip(e)),
        };
        if n > max_bytes - out.len() {
            return Err(BodyError::DecompressedTooLarge { limit: max_bytes });
        }
        if out.capacity() - out.len() < n {
            let target = (out.capacity() * 2).max(out.len() + n).min(max_bytes);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gunzip_stays_under_the_cap() {
        let data = vec![7u8; 300_000];
        assert_eq!(gunzip_capped(&gzip(&data), 300_000).unwrap(), data);

        let out = gunzip_capped(&gzip(&data), 299_999);
        assert!(matches!(
            out,
            Err(BodyError::DecompressedTooLarge { limit: 299_999 })
        ));
    }

    #[test]
    fn capacity_never_exceeds_the_cap() {
        let data = vec![0u8; 1_000_000];
        let out = gunzip_capped(&gzip(&data), 1_000_000).unwrap();
        assert!(out.capacity() <= 1_000_000, "capacity {}", out.capacity());
    }

    #[test]
    fn garbage_is_a_gzip_error() {
        assert!(matches!(
            gunzip_capped(b"not gzip", 100),
            Err(BodyError::Gzip(_))
        ));
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(Encoding::from_headers(&headers).unwrap(), Encoding::Json);
        headers.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            Encoding::from_headers(&headers).unwrap_err().to_string(),
            "unsupported content type \"text/plain\"; accepted: application/x-protobuf, application/json"
        );
    }
}
