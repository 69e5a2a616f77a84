//! An optional bearer token for the store.
//!
//! The store is a laptop tool and binds loopback by default, where no token
//! is needed. Bound anywhere else it must have one (the command line
//! refuses to start without it), and then every request to the receivers
//! and the query API must carry `Authorization: Bearer <token>`, except
//! `/ready` (probes) and the web viewer's static files (the page itself
//! sends the token with its API calls). Exporters send the header through
//! `OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>`.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use subtle::ConstantTimeEq;

/// The shared secret clients must present.
#[derive(Clone)]
pub struct Token(Arc<[u8]>);

impl Token {
    /// A token; `None` if `secret` is empty (an empty token would let anyone in).
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Token(secret.as_bytes().into()))
    }

    /// Whether an `Authorization` header value carries this token. The
    /// comparison takes the same time wherever the first difference is, so
    /// timing does not reveal the token byte by byte.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(presented) = authorization.and_then(|v| v.strip_prefix(b"Bearer ")) else {
            return false;
        };
        presented.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Paths anyone may fetch: readiness probes and the viewer's static files.
fn is_public(path: &str) -> bool {
    matches!(path, "/ready" | "/") || path.starts_with("/assets/")
}

/// axum middleware: 401 unless the request carries the token. A gRPC call on the same port (the
/// query port's `tempopb.StreamingQuerier`) gets gRPC's `UNAUTHENTICATED` instead, which its
/// client can read.
pub async fn require(token: Token, request: Request, next: Next) -> Response {
    let authorization = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    if is_public(request.uri().path()) || token.accepts(authorization) {
        return next.run(request).await;
    }
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        return tonic::Status::unauthenticated("missing or wrong bearer token")
            .into_http::<axum::body::Body>();
    }
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token (Authorization: Bearer <TRACELAB_TOKEN>)\n",
    )
        .into_response()
}

/// A tonic interceptor: `UNAUTHENTICATED` unless the call carries the token.
pub(crate) fn grpc_interceptor(
    token: Token,
) -> impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |request: tonic::Request<()>| {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        if token.accepts(authorization) {
            Ok(request)
        } else {
            Err(tonic::Status::unauthenticated(
                "missing or wrong bearer token",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let token = Token::new("s3cret").unwrap();
        assert!(token.accepts(Some(b"Bearer s3cret")));
        for wrong in [
            &b"Bearer s3cre"[..],
            b"Bearer s3cret!",
            b"bearer s3cret",
            b"s3cret",
            b"Bearer ",
            b"Basic czNjcmV0",
        ] {
            assert!(
                !token.accepts(Some(wrong)),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!token.accepts(None));
        assert!(Token::new("  ").is_none());
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }
}
