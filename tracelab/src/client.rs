//! A client of the store's query API, for the terminal viewers.
//!
//! The viewers talk to a running store over HTTP, exactly as Grafana does,
//! so they work against the lab, `tracelab store`, or anything else that
//! speaks Tempo's API.

use anyhow::{Context as _, anyhow, bail};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message as _;
use serde::Deserialize;
use trace_store::{Trace, TraceId};

/// The default store address: the lab's query port.
pub const DEFAULT_STORE: &str = "http://127.0.0.1:3200";

/// One result of `/api/search`, in Tempo's shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    /// The trace id, leading zeros stripped.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// The root span's service.
    #[serde(default)]
    pub root_service_name: String,
    /// The root span's name.
    #[serde(default)]
    pub root_trace_name: String,
    /// Start of the trace, nanoseconds since the epoch (a JSON string).
    #[serde(default)]
    pub start_time_unix_nano: String,
    /// Duration of the trace in milliseconds (absent when 0).
    #[serde(default)]
    pub duration_ms: u64,
    /// Spans and error spans per service (Tempo's `serviceStats`).
    #[serde(default)]
    pub service_stats: std::collections::BTreeMap<String, ServiceStats>,
}

impl TraceSummary {
    /// Spans in the trace, all services together.
    pub fn span_count(&self) -> u64 {
        self.service_stats.values().map(|s| s.span_count).sum()
    }

    /// Spans with an error status, all services together.
    pub fn error_count(&self) -> u64 {
        self.service_stats.values().map(|s| s.error_count).sum()
    }
}

/// One service's spans in a trace, as `serviceStats` counts them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    /// Spans of the service.
    #[serde(default)]
    pub span_count: u64,
    /// Of those, spans with an error status (absent when 0).
    #[serde(default)]
    pub error_count: u64,
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    #[serde(default)]
    traces: Vec<TraceSummary>,
}

/// A connection to one store's query API.
#[derive(Debug, Clone)]
pub struct StoreClient {
    base: String,
    http: reqwest::Client,
}

impl StoreClient {
    /// A client for the store at `base` (like `http://127.0.0.1:3200`),
    /// sending `token` as a bearer token if given; each request may take 10 s.
    pub fn new(base: &str, token: Option<&str>) -> anyhow::Result<Self> {
        Self::with_timeout(base, token, std::time::Duration::from_secs(10))
    }

    /// [`StoreClient::new`] with another limit per request: longer for long-polls.
    pub fn with_timeout(
        base: &str,
        token: Option<&str>,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let base = check_base_url(base, "--store")?;
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value =
                reqwest::header::HeaderValue::try_from(format!("Bearer {}", token.trim()))
                    .context("TRACELAB_TOKEN has characters a header cannot carry")?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .default_headers(headers)
            .build()?;
        Ok(Self { base, http })
    }

    /// Traces matching the TraceQL `query`, newest first, at most `limit`.
    pub async fn search(&self, query: &str, limit: usize) -> anyhow::Result<Vec<TraceSummary>> {
        let url = format!("{}/api/search", self.base);
        let response = self
            .send(
                self.http
                    .get(&url)
                    .query(&[("q", query), ("limit", &limit.to_string())]),
            )
            .await?;
        let response = check(response).await?;
        let body: SearchResponse = response
            .json()
            .await
            .context("the store's search answer is not Tempo's JSON")?;
        Ok(body.traces)
    }

    /// The whole trace `id`, or `None` if the store does not have it.
    pub async fn trace(&self, id: TraceId) -> anyhow::Result<Option<Trace>> {
        let Some(bytes) = self.trace_protobuf(id).await? else {
            return Ok(None);
        };
        let trace = Trace::from_protobuf(id, bytes)
            .context("the store's trace answer is not protobuf TracesData")?;
        Ok(Some(trace))
    }

    /// The trace `id` as OTLP `TracesData`, or `None` if the store does not have it.
    pub async fn traces_data(&self, id: TraceId) -> anyhow::Result<Option<TracesData>> {
        let Some(bytes) = self.trace_protobuf(id).await? else {
            return Ok(None);
        };
        let data = TracesData::decode(bytes)
            .context("the store's trace answer is not protobuf TracesData")?;
        Ok(Some(data))
    }

    /// The store's analysis of the traces that ended within `since` (`5m`, `all`): its JSON
    /// as sent, and parsed.
    pub async fn stats(&self, since: &str) -> anyhow::Result<(String, crate::stats_cmd::Report)> {
        let url = format!("{}/tracelab/v1/stats", self.base);
        let response = self
            .send(self.http.get(&url).query(&[("since", since)]))
            .await?;
        let raw = check(response).await?.text().await?;
        let report = crate::stats_cmd::parse(&raw)?;
        Ok((raw, report))
    }

    /// The trace `id` as protobuf `TracesData` bytes, as the store sent them.
    async fn trace_protobuf(&self, id: TraceId) -> anyhow::Result<Option<bytes::Bytes>> {
        let url = format!("{}/api/traces/{id}", self.base);
        let response = self
            .send(self.http.get(&url).header("Accept", "application/protobuf"))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(check(response).await?.bytes().await?))
    }

    /// The store's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET {base}{path}` with `query`, asking for protobuf if `protobuf`: the response
    /// whatever its status, for callers that read 404s and 504s themselves.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        protobuf: bool,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.get(format!("{}{path}", self.base)).query(query);
        if protobuf {
            request = request.header("Accept", "application/protobuf");
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        request.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the trace store at {} ({e}); is `tracelab` or `tracelab store` running? (see --store)",
                self.base
            )
        })
    }
}

/// `url` without its trailing `/`, if it is an `http://` or `https://` URL;
/// otherwise an error that says so, naming the option (`flag`) it came from.
/// Without this check `127.0.0.1:3200` fails as "cannot reach", and
/// `localhost:3200` parses as a URL of scheme `localhost`.
pub fn check_base_url(url: &str, flag: &str) -> anyhow::Result<String> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => bail!(
            "{flag} {url:?} is not a URL: expected one starting with http:// or https://, \
             such as http://{}",
            url.trim_start_matches('/')
        ),
    }
}

/// The response if 2xx, else an error with the store's own words (Tempo
/// puts the reason, like a TraceQL parse error, in a text body).
pub async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    bail!("the store answered {status}: {}", body.trim())
}

#[cfg(test)]
mod tests {
    use super::check_base_url;

    #[test]
    fn only_http_urls_are_taken() {
        assert_eq!(
            check_base_url("http://127.0.0.1:3200/", "--store").unwrap(),
            "http://127.0.0.1:3200"
        );
        assert!(check_base_url("https://tempo.example", "--store").is_ok());
        for bad in ["127.0.0.1:3200", "localhost:3200", "ftp://x", ""] {
            let e = check_base_url(bad, "--store").unwrap_err().to_string();
            assert!(e.contains("http://"), "{e}");
        }
    }
}
