//! `Search` and `MetricsQueryRange` as streams of partial results, then the final one, in the
//! shape Tempo's query frontend streams them (`modules/frontend/combiner/`):
//!
//! - **Search.** The work is split into jobs of one store block each (1,024 traces, newest
//!   block first, the order the HTTP search walks them), each job the same search with the
//!   limit less what newer blocks found. After each job a partial message carries the traces
//!   that job added (Tempo's `GRPCDiff`: only what is new) and the counters so far
//!   (`inspectedTraces`, `completedJobs`, `totalJobs`, cumulative). The final message carries
//!   every trace, in the HTTP answer's order (Tempo's `GRPCFinal`), so a client may either
//!   append the messages (Grafana's backend appends each message's traces, keeps the first of
//!   a repeated id, and takes the latest `metrics`) or keep only the last.
//!   Walking the blocks one at a time with the shrinking limit finds exactly what one walk finds.
//!   `with(most_recent=true)` is not split: the newest traces may be in any block.
//! - **Metrics.** The range is split on step boundaries into up to [`RANGE_JOBS`] jobs, newest
//!   first (as Tempo completes its time shards). Each job evaluates the query counting only the
//!   spans of its steps and sends those steps' samples (Tempo's diff: the newly completed
//!   window; no exemplars; a series without spans in the window sends none of its zeros there,
//!   which the final has). The final message is one evaluation over the whole range, the HTTP
//!   answer's series, samples and exemplars: exemplar picks and the series limit depend on the
//!   whole range, so the final is not stitched from the parts; the parts are the progress.
//!   That costs a second pass over the range's traces, and it counts as one more job. Grafana's
//!   frontend appends each message's samples to the series it has and drops repeated
//!   timestamps, so the windows fill the graph as they come and the final message completes it
//!   (exemplars included); it shows `completedJobs / totalJobs` as progress.
//!   `compare()` and `topk`/`bottomk` are not split (their values need every step), nor
//!   instant-like ranges of one step.
//!
//! A search over one block or less, or whose limit the newest block fills, and a query that is
//! not split, send only the final message.
//! A message over 1 MiB goes as several, each with a run of the traces or series and the
//! counters (Tempo's segments, `segment.rs`): the final answer is then the last few messages.
//! Counters only grow, and the final message has `completedJobs` equal to `totalJobs`. Unlike
//! the HTTP answer, a streamed metrics answer counts `inspectedTraces` over every job, so a
//! trace spanning two jobs counts twice (Tempo's jobs add up the same way).

use std::collections::HashMap;
use std::ops::RangeInclusive;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::super::ApiError;
use super::super::metrics_query::{RangeRequest, range_json, run};
use super::super::search::{Found, SearchRequest, SearchResponse};
use super::segment::{MAX_MESSAGE, Segment};
use super::tempopb;
use crate::store::Store;

/// Most jobs a metrics range is split into (Tempo sizes its time shards by configuration):
/// enough for a progressing graph; each job walks the traces of its window once, so more jobs
/// only add the walks of traces that span two windows.
pub(super) const RANGE_JOBS: usize = 8;

/// Messages waiting for a slow client: the producer blocks (and so stops working) beyond it.
const QUEUE: usize = 4;

/// The stream a call answers with.
pub(super) type Messages<T> = ReceiverStream<Result<T, Status>>;

/// Starts a streamed search of `params` (the HTTP API's parameters); a bad request fails before
/// any message, with the HTTP 400's text.
pub(super) fn search(
    store: Store,
    params: &HashMap<String, String>,
) -> Result<Messages<tempopb::SearchResponse>, Status> {
    let request = SearchRequest::parse(params).map_err(Status::invalid_argument)?;
    Ok(produce(move |out| search_jobs(&store, &request, out)))
}

/// Starts a streamed `query_range` of `params`; a bad request fails before any message.
pub(super) fn query_range(
    store: Store,
    params: &HashMap<String, String>,
) -> Result<Messages<tempopb::QueryRangeResponse>, Status> {
    let request = RangeRequest::parse(params).map_err(|e| match e {
        ApiError::BadRequest(text) => Status::invalid_argument(text),
        other => Status::internal(other.to_string()),
    })?;
    Ok(produce(move |out| range_jobs(&store, &request, out)))
}

/// Where a job sends its message; `false` once the client has gone, so work stops.
struct Out<'a, T>(&'a mpsc::Sender<Result<T, Status>>);

impl<T: DeserializeOwned + Segment> Out<'_, T> {
    /// Sends `json` (an HTTP answer's JSON) read as the proto message, as the one-message calls
    /// read their HTTP twin's answer.
    fn send(&self, json: &impl Serialize) -> bool {
        self.send_message(message(json))
    }

    /// Sends `message`, a big one as several (see `segment.rs`), or the error.
    fn send_message(&self, message: Result<T, Status>) -> bool {
        match message {
            Ok(message) => message
                .segment(MAX_MESSAGE)
                .into_iter()
                .all(|part| self.0.blocking_send(Ok(part)).is_ok()),
            Err(failed) => self.0.blocking_send(Err(failed)).is_ok(),
        }
    }
}

/// `json` (an HTTP answer's JSON) read as the proto message.
fn message<T: DeserializeOwned>(json: &impl Serialize) -> Result<T, Status> {
    serde_json::to_vec(json)
        .and_then(|bytes| serde_json::from_slice(&bytes))
        .map_err(|e| Status::internal(format!("answer unreadable: {e}")))
}

/// Runs `jobs` on the blocking pool (it is CPU work over the store) feeding a stream. If they
/// fail (a panic while evaluating), the stream ends with `INTERNAL`, as HTTP answers 500,
/// rather than ending cleanly without its final message.
fn produce<T: Send + 'static>(jobs: impl FnOnce(&Out<'_, T>) + Send + 'static) -> Messages<T> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let failed = tx.clone();
    let work = tokio::task::spawn_blocking(move || jobs(&Out(&tx)));
    tokio::spawn(async move {
        if let Err(error) = work.await {
            tracing::error!(%error, "streamed query failed");
            let _ = failed.send(Err(Status::internal("internal error"))).await;
        }
    });
    ReceiverStream::new(rx)
}

/// The search, a block at a time (see the module docs).
fn search_jobs(store: &Store, request: &SearchRequest, out: &Out<'_, tempopb::SearchResponse>) {
    let limit = request.limit();
    let blocks = if request.splits_by_block() {
        store.block_numbers(&request.scan())
    } else {
        Vec::new()
    };
    if blocks.len() < 2 {
        let found = request.run(store);
        out.send(&SearchResponse::new(found.results, found.inspected, (1, 1)));
        return;
    }
    let total = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
    // Each block's results are read into proto messages once, for its partial, and kept for
    // the final with what orders them.
    let (mut all, mut inspected) = (Vec::new(), 0);
    for (done, &block) in (1..).zip(&blocks) {
        let part = request.run_in(store, block..=block, limit - all.len());
        inspected += part.inspected;
        let last = done == total || all.len() + part.results.len() >= limit;
        let order: Vec<_> = part.results.iter().map(Found::order).collect();
        let diff: tempopb::SearchResponse =
            match message(&SearchResponse::new(part.results, inspected, (done, total))) {
                Ok(diff) => diff,
                Err(failed) => {
                    out.send_message(Err(failed));
                    return;
                }
            };
        all.extend(order.into_iter().zip(diff.traces.iter().cloned()));
        if last {
            break;
        }
        if !out.send_message(Ok(diff)) {
            return;
        }
    }
    // Blocks past the limit need no work: they count as done, as the search is complete.
    all.sort_unstable_by_key(|(order, _)| *order);
    out.send_message(Ok(tempopb::SearchResponse {
        traces: all.into_iter().map(|(_, trace)| trace).collect(),
        metrics: Some(tempopb::SearchMetrics {
            inspected_traces: u32::try_from(inspected).unwrap_or(u32::MAX),
            completed_jobs: total,
            total_jobs: total,
            ..Default::default()
        }),
    }));
}

/// The range query, a window of steps at a time, then whole (see the module docs).
fn range_jobs(store: &Store, request: &RangeRequest, out: &Out<'_, tempopb::QueryRangeResponse>) {
    let RangeRequest {
        query,
        range,
        exemplars,
    } = request;
    let intervals = range.intervals();
    // Below a millisecond a step's samples could not be told apart by their timestamps.
    let split = query.splits_by_step()
        && !range.is_instant()
        && intervals >= 2
        && range.step() >= 1_000_000;
    let per = intervals.div_ceil(RANGE_JOBS).max(1);
    let parts = if split { intervals.div_ceil(per) } else { 0 };
    let total = u32::try_from(parts + 1).unwrap_or(u32::MAX);
    let (mut inspected, mut done) = (0, 0);
    for part in (0..parts).rev() {
        let steps = part * per..((part + 1) * per).min(intervals);
        let (mut answer, seen) = run(store, query, *range, 0, Some(steps.clone()));
        inspected += seen;
        done += 1;
        let window: RangeInclusive<i64> =
            range.timestamp_ms(steps.start)..=range.timestamp_ms(steps.end - 1);
        for series in &mut answer.series {
            series.samples.retain(|s| window.contains(&s.timestamp_ms));
        }
        answer.series.retain(|s| !s.samples.is_empty());
        if !out.send(&range_json(&answer, inspected, (done, total))) {
            return;
        }
    }
    let (answer, seen) = run(store, query, *range, *exemplars, None);
    out.send(&range_json(&answer, inspected + seen, (total, total)));
}
