//! The client side: a typed client for the next hop of the chain, with a
//! CLIENT span around each call and the trace context injected.
//!
//! One pooled `reqwest::Client` per process, as the seed's `requests` calls
//! would have wanted. The CLIENT span is the parent of the next service's
//! SERVER span: that is the link that makes one trace out of three services.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use opentelemetry_http::HeaderInjector;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use reqwest::StatusCode;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::env::{ConfigErrors, Env};

/// A reply body larger than this is an error, so a misbehaving next hop
/// cannot make us buffer without bound. The chain's replies are ~30 bytes.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The variables that name one next hop: the seed's `SERVICE_B_HOST` /
/// `SERVICE_B_PORT` for app-a's, `SERVICE_C_*` for app-b's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// The host variable.
    pub host_var: &'static str,
    /// The port variable.
    pub port_var: &'static str,
}

impl Hop {
    /// app-a's next hop, app-b.
    pub const APP_B: Hop = Hop {
        host_var: "SERVICE_B_HOST",
        port_var: "SERVICE_B_PORT",
    };
    /// app-b's next hop, app-c.
    pub const APP_C: Hop = Hop {
        host_var: "SERVICE_C_HOST",
        port_var: "SERVICE_C_PORT",
    };

    /// The environment that points this hop at `host` and `port`, for
    /// [`DownstreamSettings::from_env`] to read back.
    pub fn to_env(&self, host: &str, port: u16) -> [(&'static str, String); 2] {
        [
            (self.host_var, host.to_owned()),
            (self.port_var, port.to_string()),
        ]
    }
}

/// The variable naming how long one call to the next hop may take, in milliseconds.
pub const DOWNSTREAM_TIMEOUT_MS: &str = "DOWNSTREAM_TIMEOUT_MS";

/// Where the next hop is (its [`Hop`] variables, the seed's names) and how
/// long a call may take (`DOWNSTREAM_TIMEOUT_MS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownstreamSettings {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How long connecting may take, and how long each wait for the next bytes of the answer
    /// may take (as Python's `requests` reads `timeout=3`).
    pub timeout: Duration,
}

impl DownstreamSettings {
    /// Read `hop`'s host and port variables and `DOWNSTREAM_TIMEOUT_MS`
    /// (default 3 s, as in the seed).
    pub fn from_env(env: &Env, hop: Hop, default_port: u16, errors: &mut ConfigErrors) -> Self {
        let mut host = env.string_or(hop.host_var, "localhost");
        if reqwest::Url::parse(&format!("http://{host}/")).is_err() {
            errors.push(hop.host_var, &host, "a host name or IP address");
            host = "localhost".to_owned();
        }
        let port = env.port_or(hop.port_var, default_port, errors);
        let timeout = env.millis_or(DOWNSTREAM_TIMEOUT_MS, Duration::from_secs(3), errors);
        Self {
            host,
            port,
            timeout,
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The HTTP client could not be made (no TLS or resolver on this system).
    #[error("cannot create the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Host and port do not form a URL.
    #[error("{0:?} is not a valid URL")]
    Url(String),
}

/// Why a call to the next hop failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No HTTP answer: refused, unreachable, timed out, cut off.
    #[error("{kind}: {source}")]
    Transport {
        /// Low-cardinality `error.type`: `timeout`, `connection_error`, `request_error`.
        kind: &'static str,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// An answer, but not a 2xx one.
    #[error("answered {status}")]
    Status {
        /// The status it answered.
        status: StatusCode,
        /// Its body (possibly empty).
        body: String,
    },
    /// A body larger than [`MAX_REPLY_BYTES`].
    #[error("reply larger than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
}

impl CallError {
    /// The value of `error.type` for this failure.
    pub fn error_type(&self) -> String {
        match self {
            CallError::Transport { kind, .. } => (*kind).to_owned(),
            CallError::Status { status, .. } => status.as_str().to_owned(),
            CallError::TooLarge => "response_too_large".to_owned(),
        }
    }
}

/// A client for one next hop.
#[derive(Debug, Clone)]
pub struct Downstream {
    client: reqwest::Client,
    url: reqwest::Url,
    host: String,
    port: u16,
}

impl Downstream {
    /// A client for `http://{host}:{port}/`.
    pub fn new(settings: &DownstreamSettings) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            // Like Python's `python-requests/x.y`: the next hop's SERVER span
            // records it as `user_agent.original`.
            .user_agent(concat!("tracelab/", env!("CARGO_PKG_VERSION")))
            // The seed's `requests.get(url, timeout=3)`: a limit on connecting and one on
            // each wait for the next bytes, not on the whole call. A slow first name lookup
            // does not eat into the next hop's time to answer.
            .connect_timeout(settings.timeout)
            .read_timeout(settings.timeout)
            .build()?;
        let url = format!("http://{}:{}/", settings.host, settings.port);
        let url = reqwest::Url::parse(&url).map_err(|_| BuildError::Url(url))?;
        Ok(Self {
            client,
            url,
            host: settings.host.clone(),
            port: settings.port,
        })
    }

    /// `GET /` on the next hop, in a CLIENT span; the body on a 2xx.
    pub async fn get(&self) -> Result<String, CallError> {
        let span = tracing::info_span!(
            "HTTP client request",
            otel.name = "GET",
            otel.kind = "client",
            { HTTP_REQUEST_METHOD } = "GET",
            { URL_FULL } = %self.url,
            { SERVER_ADDRESS } = %self.host,
            { SERVER_PORT } = i64::from(self.port),
            { HTTP_RESPONSE_STATUS_CODE } = Empty,
            { ERROR_TYPE } = Empty,
        );
        let dropped = crate::fault::propagation_dropped();
        let mut headers = http::HeaderMap::new();
        if !dropped {
            let cx = span.context();
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(&cx, &mut HeaderInjector(&mut headers))
            });
        }

        // Everything is recorded while the span is entered: tracing-opentelemetry
        // ends a span at its last exit, so an event added after `.instrument`
        // returned would lie after the span's end.
        async move {
            let span = tracing::Span::current();
            if dropped {
                crate::fault::mark(&span, &mut Vec::new(), "no_propagation", Vec::new());
            }
            let result = self.call(headers).await;
            if let Err(error) = &result {
                span.record(ERROR_TYPE, error.error_type());
                if let CallError::Transport { kind, source } = error {
                    span.add_event(
                        "exception",
                        vec![
                            KeyValue::new(EXCEPTION_TYPE, *kind),
                            KeyValue::new(EXCEPTION_MESSAGE, source.to_string()),
                        ],
                    );
                }
                span.set_status(Status::error(error.to_string()));
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn call(&self, headers: http::HeaderMap) -> Result<String, CallError> {
        let transport = |source: reqwest::Error| CallError::Transport {
            kind: if source.is_timeout() {
                "timeout"
            } else if source.is_connect() {
                "connection_error"
            } else {
                "request_error"
            },
            source,
        };
        let mut response = self
            .client
            .get(self.url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        tracing::Span::current().record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));

        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(CallError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() {
            Ok(body)
        } else {
            Err(CallError::Status { status, body })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::service::ServerSettings;

    /// What a parent writes is exactly what the service reads: the names live in one place.
    #[test]
    fn written_environment_reads_back() {
        let address: SocketAddr = "127.0.0.2:5123".parse().unwrap();
        let mut pairs: Vec<(&str, String)> = ServerSettings::listen_env(address).to_vec();
        pairs.extend(Hop::APP_C.to_env("app-c.example", 5002));
        let env = Env::from_pairs(pairs);
        let mut errors = ConfigErrors::default();

        let server = ServerSettings::from_env(&env, 1, &mut errors);
        assert_eq!(SocketAddr::new(server.bind, server.port), address);
        let hop = DownstreamSettings::from_env(&env, Hop::APP_C, 1, &mut errors);
        assert_eq!((hop.host.as_str(), hop.port), ("app-c.example", 5002));
        let other = DownstreamSettings::from_env(&env, Hop::APP_B, 7, &mut errors);
        assert_eq!((other.host.as_str(), other.port), ("localhost", 7));
        assert!(errors.is_empty(), "{errors:?}");
    }
}
