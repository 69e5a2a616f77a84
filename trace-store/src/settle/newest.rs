//! The newest trace a TraceQL query matches, waited for the way [`super::wait`] waits for one
//! trace: woken by ingest, never polling. The query API's long-poll
//! (`/tracelab/v1/search/newest`) and the test kit's `expect_query` both choose a trace this way.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinError;

use crate::model::{TimeWindow, TraceId};
use crate::store::Store;

/// The matching trace that started last (as `with(most_recent=true)` picks):
///
/// - with a zero `quiet`, the first match there is, or the first trace to match as spans arrive;
/// - with a `quiet`, the newest match once no newer one has arrived for that long. Asked just
///   after a request, the new trace's spans may still be in the exporters' batches, and the
///   previous match must not be taken for it.
///
/// `None` if nothing matched within `timeout`; at the timeout, a match still waiting for its
/// quiet period is returned. Scans of the whole store run on the blocking pool, off the async
/// workers; the error is a scan that panicked.
pub async fn newest(
    store: &Store,
    query: Arc<traceql::Query>,
    quiet: Duration,
    timeout: Duration,
) -> Result<Option<TraceId>, JoinError> {
    // Subscribe before the first look, so a trace that arrives during it is not missed.
    let mut updates = store.subscribe();
    let now = tokio::time::Instant::now();
    // A timeout too large to add (`Duration::MAX`) means "no deadline" in practice.
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
    // The newest match so far, (start, id), and when it counts as settled.
    let mut newest: Option<(u64, TraceId)> = None;
    let mut quiet_until = deadline;
    let mut rescan = true;
    loop {
        if rescan {
            let (store, query) = (store.clone(), Arc::clone(&query));
            let scanned = tokio::task::spawn_blocking(move || {
                store
                    .most_recent(TimeWindow::ALL, 1, |trace| {
                        (!query.evaluate(&**trace).is_empty())
                            .then_some((trace.start_unix_nano(), trace.id))
                    })
                    .results
            })
            .await?;
            if let Some(&found) = scanned.first() {
                if newest.is_none_or(|(_, id)| id != found.1) {
                    quiet_until = tokio::time::Instant::now() + quiet;
                }
                newest = Some(found);
            }
            rescan = false;
        }
        if let Some((_, id)) = newest
            && (quiet.is_zero() || tokio::time::Instant::now() >= quiet_until)
        {
            return Ok(Some(id));
        }
        let settles = newest.is_some();
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(newest.map(|(_, id)| id)),
            () = tokio::time::sleep_until(quiet_until), if settles => {}
            update = updates.recv() => match update {
                Ok(id) => {
                    let start = store
                        .trace(&id)
                        .filter(|trace| !query.evaluate(&**trace).is_empty())
                        .map(|trace| trace.start_unix_nano());
                    if let Some(start) = start {
                        if quiet.is_zero() {
                            return Ok(Some(id));
                        }
                        match newest {
                            // More spans of the newest match: its start may move earlier.
                            Some((_, newest_id)) if newest_id == id => newest = Some((start, id)),
                            Some(kept) if (start, id) < kept => {}
                            _ => {
                                newest = Some((start, id));
                                quiet_until = tokio::time::Instant::now() + quiet;
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => rescan = true,
                Err(RecvError::Closed) => return Ok(newest.map(|(_, id)| id)),
            },
        }
    }
}
