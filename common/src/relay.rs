//! What app-a and app-b answer: their greeting followed by the next hop's.

use axum::http::StatusCode;

use crate::downstream::CallError;

/// The reply of service `me` after calling `next_label` (the seed's words:
/// `Service B`, `Service C`).
///
/// - The next hop answered 2xx: `200 I'm {me} {its body}`.
/// - It answered non-2xx with a body: `502 I'm {me} {its body}`, so the
///   user sees where the chain broke (`I'm app-a I'm app-b Error calling Service C`).
/// - No answer, or an empty one: `502 I'm {me} Error calling {next_label}`.
///
/// The seed answers 200 in every case; we answer 502 so that error rates and
/// span statuses tell the truth.
pub fn reply(
    me: &str,
    next_label: &str,
    result: Result<String, CallError>,
) -> (StatusCode, String) {
    match result {
        Ok(body) => (StatusCode::OK, format!("I'm {me} {body}")),
        Err(error) => {
            // The seed prints "Error while calling Service B: {e}".
            tracing::warn!(error = %error, "Error while calling {next_label}");
            match error {
                CallError::Status { body, .. } if !body.trim().is_empty() => (
                    StatusCode::BAD_GATEWAY,
                    format!("I'm {me} {}", body.trim_end()),
                ),
                _ => (
                    StatusCode::BAD_GATEWAY,
                    format!("I'm {me} Error calling {next_label}"),
                ),
            }
        }
    }
}
