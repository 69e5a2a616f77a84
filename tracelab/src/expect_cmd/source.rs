//! Where `tracelab expect` reads traces from, and how it waits for them.
//!
//! Our store answers two long-polls under a path of its own, `/tracelab/v1/`, which return the
//! moment the spans arrive: no polling. Grafana Tempo (a staging cluster's, say) has neither and
//! answers 404 there; then the same two waits are made by polling Tempo's own API ([`tempo`]):
//! `GET /api/traces/{id}` for a trace, judged with the store's settle rules, and
//! `GET /api/search` for the newest match. The first 404 switches for the rest of the run, once
//! `GET /api/echo` shows the store speaks Tempo's API, and says so on stderr.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Response, StatusCode};
use trace_expect::{Trace, TraceId};

use crate::cli::StoreUrl;
use crate::client::{StoreClient, check};

mod tempo;

/// The longest one long-poll request asks the store to wait: under the store's own bound
/// (25 s), so the store's answer, not a timeout, ends each request. Longer `--wait`s ask again.
const POLL_AT_MOST: Duration = Duration::from_secs(20);

/// A trace as one or more waits left it.
pub(super) struct Polled {
    /// The trace as it was last seen; `None` if no span of it arrived.
    pub(super) trace: Option<Trace>,
    /// Whether the wait ended at the deadline rather than because the trace was ready.
    pub(super) timed_out: bool,
}

/// A store's query API, read over HTTP.
pub(super) struct TraceSource {
    client: StoreClient,
    /// Set after the first 404 from a long-poll: the store is Tempo (or another store without
    /// our extension), so poll its standard API.
    tempo: AtomicBool,
}

/// What one long-poll request got: an answer, or a 404 saying the store has no long-polls.
enum LongPoll<T> {
    Answered(T),
    NotHere,
}

impl TraceSource {
    pub(super) fn new(store: &StoreUrl) -> anyhow::Result<Self> {
        // Each long-poll may take POLL_AT_MOST; the margin is for the answer itself.
        let timeout = POLL_AT_MOST + Duration::from_secs(10);
        Ok(TraceSource {
            client: StoreClient::with_timeout(&store.url, store.token.as_deref(), timeout)?,
            tempo: AtomicBool::new(false),
        })
    }

    /// The newest trace `query` matches once no newer match has arrived for `quiet`, waiting
    /// for one until `deadline`; `None` if none matched in time.
    pub(super) async fn newest(
        &self,
        query: &str,
        quiet: Duration,
        deadline: Instant,
    ) -> anyhow::Result<Option<TraceId>> {
        if !self.tempo.load(Ordering::Relaxed) {
            match self.newest_long_poll(query, quiet, deadline).await? {
                LongPoll::Answered(id) => return Ok(id),
                LongPoll::NotHere => self.switch_to_tempo().await?,
            }
        }
        self.newest_by_polling(query, quiet, deadline).await
    }

    /// Trace `id` once it has `spans` spans (or, with `None`, once it settled: nothing missing
    /// and no new span for a quiet period), waiting until `deadline`.
    pub(super) async fn wait(
        &self,
        id: TraceId,
        spans: Option<usize>,
        deadline: Instant,
    ) -> anyhow::Result<Polled> {
        if !self.tempo.load(Ordering::Relaxed) {
            match self.wait_long_poll(id, spans, deadline).await? {
                LongPoll::Answered(polled) => return Ok(polled),
                LongPoll::NotHere => self.switch_to_tempo().await?,
            }
        }
        self.wait_by_polling(id, spans, deadline).await
    }

    /// After a long-poll's 404: checks that the store speaks Tempo's API (`GET /api/echo`, which
    /// Grafana checks too), so a wrong `--store` is an error rather than a long wait for nothing.
    async fn switch_to_tempo(&self) -> anyhow::Result<()> {
        let response = self.client.get("/api/echo", &[], false).await?;
        if !response.status().is_success() {
            bail!(
                "{} answers neither tracelab's long-poll nor Tempo's API (GET /api/echo: {}); \
                 is --store the query API's URL?",
                self.client.base(),
                response.status()
            );
        }
        if !self.tempo.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracelab expect: {} has no /tracelab/v1 long-poll (not a tracelab store; Grafana \
                 Tempo?): asking its Tempo API every {} instead",
                self.client.base(),
                humantime::format_duration(tempo::POLL_EVERY)
            );
        }
        Ok(())
    }

    /// `GET /tracelab/v1/search/newest`, asked again until `deadline`.
    async fn newest_long_poll(
        &self,
        query: &str,
        quiet: Duration,
        deadline: Instant,
    ) -> anyhow::Result<LongPoll<Option<TraceId>>> {
        let quiet = format!("{}ms", quiet.as_millis());
        loop {
            let timeout = format!("{}ms", left(deadline).as_millis());
            let query = [("q", query), ("timeout", &timeout), ("quiet", &quiet)];
            let path = "/tracelab/v1/search/newest";
            let Some(response) = self.long_poll(path, &query, false).await? else {
                return Ok(LongPoll::NotHere);
            };
            let body: serde_json::Value = response
                .json()
                .await
                .context("the store's answer is not JSON")?;
            if let Some(id) = body["traceID"].as_str() {
                return Ok(LongPoll::Answered(Some(crate::viewer::parse_trace_id(id)?)));
            }
            if Instant::now() >= deadline {
                return Ok(LongPoll::Answered(None));
            }
        }
    }

    /// `GET /tracelab/v1/traces/{id}/settled`, asked again until `deadline`.
    async fn wait_long_poll(
        &self,
        id: TraceId,
        spans: Option<usize>,
        deadline: Instant,
    ) -> anyhow::Result<LongPoll<Polled>> {
        let path = format!("/tracelab/v1/traces/{id}/settled");
        let spans = spans.map(|n| n.to_string());
        loop {
            let timeout = format!("{}ms", left(deadline).as_millis());
            let mut query = vec![("timeout", timeout.as_str())];
            if let Some(spans) = &spans {
                query.push(("spans", spans));
            }
            let Some(response) = self.long_poll(&path, &query, true).await? else {
                return Ok(LongPoll::NotHere);
            };
            let timed_out = !response.status().is_success();
            let trace = decode(id, response).await?;
            if !timed_out || Instant::now() >= deadline {
                return Ok(LongPoll::Answered(Polled { trace, timed_out }));
            }
        }
    }

    /// Sends one long-poll: the response when it answered (200) or timed out (504), `None` on
    /// a 404 (no long-polls here), an error with the store's words otherwise.
    async fn long_poll(
        &self,
        path: &str,
        query: &[(&str, &str)],
        protobuf: bool,
    ) -> anyhow::Result<Option<Response>> {
        let response = self.client.get(path, query, protobuf).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::GATEWAY_TIMEOUT => Ok(Some(response)),
            _ => Ok(Some(check(response).await?)),
        }
    }
}

/// A trace from a protobuf body (`TracesData`, or Tempo's `Trace`, which has the same
/// fields); `None` for an empty body or a trace without spans.
async fn decode(id: TraceId, response: Response) -> anyhow::Result<Option<Trace>> {
    let body = response.bytes().await?;
    if body.is_empty() {
        return Ok(None);
    }
    let trace = Trace::from_protobuf(id, body).context("the store's answer is not a trace")?;
    Ok((!trace.spans.is_empty()).then_some(trace))
}

/// The time left until `deadline`, at most [`POLL_AT_MOST`].
fn left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .min(POLL_AT_MOST)
}
