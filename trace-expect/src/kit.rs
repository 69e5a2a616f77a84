//! [`TestStore`]: a whole trace store inside a test, on free ports, stopped when dropped, with
//! waits that wake on ingest and assertions that fail with a readable diff.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use trace_store::settle::{self, Reached, Until};
use trace_store::{Config, Listeners, Store, TimeWindow, Trace, TraceId};

use crate::failure::{Arrival, Failure, FailureKind, judge, round};
use crate::record::{self, Snapshot};
use crate::report::color_for;
use crate::shape::Shape;

/// Spans a test store holds at most (older traces are evicted past it): plenty for a test, and
/// a bound on what a runaway test can make it hold.
pub const MAX_SPANS: usize = 100_000;

/// The quiet period after which a complete trace counts as settled: how long to wait for late
/// spans once every parent is present. Suits exporters that flush often (an SDK's batch
/// processor set to a short delay, or a simple processor).
pub const DEFAULT_QUIET: Duration = Duration::from_millis(800);

/// A trace store running in this process on loopback ports picked by the system, with its
/// OTLP/HTTP and OTLP/gRPC endpoints and the query URL. Dropping it stops the store and closes
/// its ports before `drop` returns.
///
/// Its waits need a tokio runtime (`#[tokio::test]`, either flavour). The store itself serves
/// from a runtime on threads of its own, so it answers whatever the test's runtime is doing:
/// in a single-threaded test that calls the SDK's blocking `force_flush()` or `shutdown()`,
/// the export they wait for still reaches it.
#[derive(Debug)]
pub struct TestStore {
    store: Store,
    otlp_http: SocketAddr,
    otlp_grpc: SocketAddr,
    query: SocketAddr,
    quiet: Duration,
    /// Held for its `Drop`, which stops the store.
    _server: Server,
}

/// The thread that runs the store's own runtime, and the signal that stops it.
#[derive(Debug)]
struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the channel stops the server; the thread then drops its runtime, which
        // closes the listeners and every connection, so nothing outlives the test.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long a stopping store's runtime waits for blocking work (a long query) to end.
const STOP_GRACE: Duration = Duration::from_secs(1);

impl TestStore {
    /// Starts a store; panics if it cannot bind loopback ports (use [`TestStore::try_start`]
    /// to handle that).
    pub async fn start() -> Self {
        Self::try_start()
            .await
            .unwrap_or_else(|e| panic!("cannot start a test trace store: {e}"))
    }

    /// Starts a store, or says why it could not bind its ports or start its runtime.
    pub async fn try_start() -> std::io::Result<Self> {
        let config = Config {
            max_spans: MAX_SPANS,
            ..Config::ephemeral()
        };
        let store = Store::new(config.max_spans);
        let (ready, bound) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = store.clone();
        let thread = std::thread::Builder::new()
            .name("trace-expect-store".to_owned())
            .spawn(move || serve_on_own_runtime(config, serving, ready, stopped))?;
        let server = Server {
            stop: Some(stop),
            thread: Some(thread),
        };
        let [otlp_http, otlp_grpc, query] = bound
            .await
            .map_err(|_| std::io::Error::other("the test store's thread ended at start"))??;
        Ok(TestStore {
            store,
            otlp_http,
            otlp_grpc,
            query,
            quiet: DEFAULT_QUIET,
            _server: server,
        })
    }

    /// The same store with another quiet period for "settled" (see [`DEFAULT_QUIET`]).
    pub fn with_quiet(mut self, quiet: Duration) -> Self {
        self.quiet = quiet;
        self
    }

    /// `http://127.0.0.1:PORT`: the OTLP/HTTP base, what `OTEL_EXPORTER_OTLP_ENDPOINT` takes
    /// (SDKs add `/v1/traces`).
    pub fn otlp_http_endpoint(&self) -> String {
        format!("http://{}", self.otlp_http)
    }

    /// `http://127.0.0.1:PORT/v1/traces`: the full OTLP/HTTP traces URL, what an exporter
    /// builder's `with_endpoint` and `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` take.
    pub fn otlp_traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.otlp_http)
    }

    /// `http://127.0.0.1:PORT`: the OTLP/gRPC endpoint.
    pub fn otlp_grpc_endpoint(&self) -> String {
        format!("http://{}", self.otlp_grpc)
    }

    /// `http://127.0.0.1:PORT`: the query API (Tempo's, and `tracelab expect --store`).
    pub fn query_url(&self) -> String {
        format!("http://{}", self.query)
    }

    /// The store itself, to read or to feed directly.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Trace `id` once it has settled: every parent present and no new span for the quiet
    /// period. Fails at `timeout` with what arrived.
    pub async fn wait_for_trace(
        &self,
        id: TraceId,
        timeout: Duration,
    ) -> Result<Arc<Trace>, Failure> {
        let waited = settle::wait(&self.store, id, Until::Quiet(self.quiet), timeout).await;
        match (waited.reached, waited.trace) {
            (Reached::Timeout, trace) => Err(timed_out(id, trace.as_deref(), timeout, None)),
            (_, Some(trace)) => Ok(trace),
            (_, None) => Err(timed_out(id, None, timeout, None)),
        }
    }

    /// Trace `id` once it has at least `spans` spans. Fails at `timeout` with what arrived.
    pub async fn wait_for_spans(
        &self,
        id: TraceId,
        spans: usize,
        timeout: Duration,
    ) -> Result<Arc<Trace>, Failure> {
        let waited = settle::wait(&self.store, id, Until::Spans(spans), timeout).await;
        match (waited.reached, waited.trace) {
            (Reached::Spans, Some(trace)) => Ok(trace),
            (_, trace) => Err(timed_out(id, trace.as_deref(), timeout, Some(spans))),
        }
    }

    /// The traces that match the TraceQL `traceql`, newest start first, once there are at
    /// least `count`; woken by each ingest, never polling. A trace counts as soon as it
    /// matches, settled or not.
    pub async fn wait_for(
        &self,
        traceql: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Arc<Trace>>, Failure> {
        let query = traceql::parse(traceql).map_err(|e| bad_query(traceql, &e))?;
        let matches = |trace: &Trace| !query.evaluate(trace).is_empty();
        let mut updates = self.store.subscribe();
        let now = tokio::time::Instant::now();
        // A timeout too large to add (`Duration::MAX`) means "no deadline" in practice.
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let mut found: HashMap<TraceId, Arc<Trace>> = HashMap::new();
        let mut rescan = true;
        loop {
            if rescan {
                found = self
                    .store
                    .traces(TimeWindow::ALL)
                    .filter(|t| matches(t))
                    .map(|t| (t.id, t))
                    .collect();
                rescan = false;
            }
            if found.len() >= count {
                let mut traces: Vec<_> = found.into_values().collect();
                traces.sort_by_key(|t| std::cmp::Reverse(t.start_unix_nano()));
                return Ok(traces);
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    return Err(too_few_matches(traceql, found.len(), count, timeout));
                }
                update = updates.recv() => match update {
                    Ok(id) => {
                        match self.store.trace(&id).filter(|t| matches(t)) {
                            Some(trace) => found.insert(id, trace),
                            None => found.remove(&id),
                        };
                    }
                    Err(RecvError::Lagged(_)) => rescan = true,
                    Err(RecvError::Closed) => {
                        return Err(Failure::new(FailureKind::Timeout, "the store stopped"));
                    }
                },
            }
        }
    }

    /// Waits for trace `id` to match `shape`: at once when it has as many spans as the shape
    /// has nodes and matches; if it does not, until it settles (it may still be growing), then
    /// judged as it is. Fails with the diff, or at `timeout` with what arrived.
    pub async fn expect_trace(
        &self,
        id: TraceId,
        shape: &Shape,
        timeout: Duration,
    ) -> Result<Arc<Trace>, Failure> {
        let started = Instant::now();
        let nodes = shape.node_count().max(1);
        let first = settle::wait(&self.store, id, Until::Spans(nodes), timeout).await;
        let mut last = first.clone();
        if first.reached == Reached::Spans {
            if let Some(trace) = &first.trace
                && crate::check::compare(shape, trace).matches()
            {
                return Ok(Arc::clone(trace));
            }
            let left = timeout.saturating_sub(started.elapsed());
            last = settle::wait(&self.store, id, Until::Quiet(self.quiet), left).await;
        }
        let out_of_time = last.reached == Reached::Timeout;
        let arrival = Arrival {
            trace: last.trace.as_deref(),
            timed_out: out_of_time,
            // A timeout is reported as the time allowed, not the few milliseconds past it.
            waited: if out_of_time {
                timeout
            } else {
                started.elapsed()
            },
        };
        judge(id, shape, arrival)?;
        // `judge` fails when no trace arrived, so there is one here.
        last.trace
            .ok_or_else(|| timed_out(id, None, timeout, Some(shape.node_count())))
    }

    /// The newest trace that the TraceQL `traceql` finds, once it matches `shape` (see
    /// [`TestStore::expect_trace`]). "Newest" is judged once no newer match has arrived for the
    /// quiet period ([`TestStore::with_quiet`]): right after a request, its spans may still be
    /// in the exporter's batch, and the previous matching trace must not be taken for it.
    pub async fn expect_query(
        &self,
        traceql: &str,
        shape: &Shape,
        timeout: Duration,
    ) -> Result<Arc<Trace>, Failure> {
        let started = Instant::now();
        let query = traceql::parse(traceql).map_err(|e| bad_query(traceql, &e))?;
        let newest = settle::newest(&self.store, Arc::new(query), self.quiet, timeout)
            .await
            .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
        let Some(id) = newest else {
            return Err(too_few_matches(traceql, 0, 1, timeout));
        };
        let left = timeout.saturating_sub(started.elapsed());
        self.expect_trace(id, shape, left)
            .await
            .map_err(|f| f.with_query(traceql))
    }

    /// [`TestStore::expect_trace`], panicking with the diff (coloured on a terminal).
    pub async fn assert_trace(&self, id: TraceId, shape: &Shape, timeout: Duration) -> Arc<Trace> {
        self.expect_trace(id, shape, timeout)
            .await
            .unwrap_or_else(|failure| panic!("{}", failure.render(color_for(&std::io::stderr()))))
    }

    /// [`TestStore::assert_trace`] with the shape read from a YAML file; panics if the file is
    /// missing or not a valid shape.
    pub async fn assert_trace_file(
        &self,
        id: TraceId,
        path: impl AsRef<Path>,
        timeout: Duration,
    ) -> Arc<Trace> {
        let shape = Shape::from_file(path).unwrap_or_else(|e| panic!("{e}"));
        self.assert_trace(id, &shape, timeout).await
    }

    /// Snapshot mode: waits for trace `id` to settle, then compares it with the shape recorded
    /// at `path`, or records it there when [`record::UPDATE_ENV`] is `always`. Panics on a
    /// mismatch, a missing file or a timeout.
    pub async fn assert_snapshot(&self, id: TraceId, path: impl AsRef<Path>, timeout: Duration) {
        let color = color_for(&std::io::stderr());
        let trace = self
            .wait_for_trace(id, timeout)
            .await
            .unwrap_or_else(|failure| panic!("{}", failure.render(color)));
        match record::check_snapshot(&trace, path.as_ref(), color) {
            Ok(Snapshot::Matched | Snapshot::Written) => {}
            Err(error) => panic!("{error}"),
        }
    }
}

/// The failure of a TraceQL query that does not parse.
fn bad_query(traceql: &str, error: &impl std::fmt::Display) -> Failure {
    Failure::new(FailureKind::BadInput, format!("bad TraceQL: {error}")).with_query(traceql)
}

/// The failure of a wait for `count` traces matching `traceql` that saw `found` by `timeout`.
fn too_few_matches(traceql: &str, found: usize, count: usize, timeout: Duration) -> Failure {
    let headline = format!(
        "{found} of {count} matching traces after {}",
        humantime::format_duration(round(timeout))
    );
    Failure::new(FailureKind::Timeout, headline).with_query(traceql)
}

/// The body of the store's thread: a runtime of its own, the listeners bound on it (their
/// addresses, or why not, go to `ready`), then the store served until `stop` closes.
fn serve_on_own_runtime(
    config: Config,
    store: Store,
    ready: oneshot::Sender<std::io::Result<[SocketAddr; 3]>>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("trace-expect-store")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    runtime.block_on(async move {
        let bound = Listeners::bind(&config).await.and_then(|listeners| {
            let addresses = [
                listeners.otlp_http.local_addr()?,
                listeners.otlp_grpc.local_addr()?,
                listeners.query.local_addr()?,
            ];
            Ok((listeners, addresses))
        });
        let listeners = match bound {
            Ok((listeners, addresses)) => {
                if ready.send(Ok(addresses)).is_err() {
                    return; // the caller is gone
                }
                listeners
            }
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        tokio::select! {
            served = trace_store::serve(listeners, store, &config, std::future::pending()) => {
                if let Err(error) = served {
                    eprintln!("trace-expect: the test store stopped serving: {error}");
                }
            }
            _ = stop => {}
        }
    });
    runtime.shutdown_timeout(STOP_GRACE);
}

/// The failure of a wait that ran out of time; `wanted` is the span count awaited, if any.
fn timed_out(
    id: TraceId,
    trace: Option<&Trace>,
    timeout: Duration,
    wanted: Option<usize>,
) -> Failure {
    let waited = humantime::format_duration(round(timeout));
    let headline = match (trace, wanted) {
        (None, _) => format!("trace {id}: no span arrived within {waited}"),
        (Some(t), Some(wanted)) => {
            format!(
                "trace {id}: {} of {wanted} spans after {waited}",
                t.spans.len()
            )
        }
        (Some(t), None) => format!(
            "trace {id}: {} spans after {waited}, not settled (a parent is missing, or spans \
             kept coming)",
            t.spans.len()
        ),
    };
    let mut failure = Failure::new(FailureKind::Timeout, headline);
    failure.trace_id = Some(id.to_string());
    failure
}
