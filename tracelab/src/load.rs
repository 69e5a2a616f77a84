//! `tracelab load`: send the chain a known amount of traffic and report
//! what came back: status codes, errors, and latency percentiles.
//!
//! Closed loop (`--concurrency C`: C requests in flight, each sent when the
//! last returned) or open loop (`--rate R`: R requests a second, however
//! slow the answers). Bounded in count and time ([`MAX_REQUESTS`],
//! [`MAX_DURATION`]), and aimed at loopback unless `--allow-remote`, so a
//! typo cannot load-test someone else's server.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use tokio::sync::{Semaphore, mpsc};
use trace_store::waterfall::human_duration;

/// The most requests one run sends.
pub const MAX_REQUESTS: u64 = 1_000_000;
/// The longest one run lasts.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The most requests in flight, with `--concurrency` or `--rate`.
pub const MAX_IN_FLIGHT: usize = 1000;
/// The highest `--rate`, in requests per second.
pub const MAX_RATE: f64 = 10_000.0;
/// Requests sent when neither `--requests` nor `--duration` is given.
const DEFAULT_REQUESTS: u64 = 100;

/// Options of `tracelab load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL to GET.
    #[arg(long, default_value = "http://127.0.0.1:5000/")]
    pub url: String,
    /// Send this many requests (default 100; at most 1,000,000).
    #[arg(long, conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    pub requests: Option<u64>,
    /// Send requests for this long (e.g. 30s; at most 1h).
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// Keep this many requests in flight (default 8; at most 1000).
    #[arg(long, conflicts_with = "rate", value_parser = clap::value_parser!(u32).range(1..=MAX_IN_FLIGHT as i64))]
    pub concurrency: Option<u32>,
    /// Send this many requests a second, however slow the answers (at most 10000).
    #[arg(long, value_parser = rate)]
    pub rate: Option<f64>,
    /// Give up on one request after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Allow a URL whose host is not this machine.
    #[arg(long)]
    pub allow_remote: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d.is_zero() || d > MAX_DURATION {
        return Err(format!("expected a duration from 1ms to 1h, not {text:?}"));
    }
    Ok(d)
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= MAX_RATE => Ok(r),
        _ => Err(format!(
            "expected requests per second above 0 and at most 10000, not {text:?}"
        )),
    }
}

/// What one request got.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    latency: Duration,
    /// The status, or `None` when no answer came.
    status: Option<u16>,
    /// Why no answer came.
    error: Option<&'static str>,
}

/// Everything one run got.
#[derive(Debug, Default)]
pub struct Report {
    /// Latencies in microseconds, one per request.
    latencies_us: Vec<u64>,
    /// Answers per status code.
    statuses: BTreeMap<u16, u64>,
    /// Requests without an answer, per reason.
    errors: BTreeMap<&'static str, u64>,
    /// Wall time of the run.
    elapsed: Duration,
}

impl Report {
    fn add(&mut self, outcome: Outcome) {
        self.latencies_us
            .push(u64::try_from(outcome.latency.as_micros()).unwrap_or(u64::MAX));
        if let Some(status) = outcome.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        if let Some(error) = outcome.error {
            *self.errors.entry(error).or_default() += 1;
        }
    }

    /// Requests sent.
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    /// The table `tracelab load` prints.
    pub fn table(&mut self) -> String {
        self.latencies_us.sort_unstable();
        let mut out = String::new();
        let per_second = self.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "{:<12}{:>10}   in {}, {per_second:.1}/s\n",
            "requests",
            self.requests(),
            human_duration(u64::try_from(self.elapsed.as_nanos()).unwrap_or(u64::MAX))
        ));
        for (status, count) in &self.statuses {
            out.push_str(&format!("{:<12}{count:>10}\n", format!("status {status}")));
        }
        let errors: u64 = self.errors.values().sum();
        out.push_str(&format!("{:<12}{errors:>10}\n", "errors"));
        for (why, count) in &self.errors {
            out.push_str(&format!("{:<12}{count:>10}\n", format!("  {why}")));
        }
        for (name, q) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0)] {
            let latency = percentile(&self.latencies_us, q).map_or_else(
                || "-".to_owned(),
                |us| human_duration(us.saturating_mul(1000)),
            );
            out.push_str(&format!("{name:<12}{latency:>10}\n"));
        }
        out
    }
}

/// The nearest-rank percentile `q` (0 to 1) of sorted `values`.
fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Refuse a URL that is not HTTP, or whose host is not this machine
/// (unless `allow_remote`).
fn check_url(url: &str, allow_remote: bool) -> anyhow::Result<reqwest::Url> {
    let base = crate::client::check_base_url(url, "--url")?;
    let parsed = reqwest::Url::parse(url).with_context(|| format!("--url {base:?}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let local = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !local && !allow_remote {
        bail!("--url {url:?} is not on this machine; add --allow-remote to load it anyway");
    }
    Ok(parsed)
}

/// `tracelab load`: run, then print the table to `out`.
pub async fn run(args: LoadArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let url = check_url(&args.url, args.allow_remote)?;
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .build()?;
    let limit = match (args.requests, args.duration) {
        (Some(n), _) => n,
        (None, Some(_)) => MAX_REQUESTS,
        (None, None) => DEFAULT_REQUESTS,
    };
    let deadline = Instant::now() + args.duration.unwrap_or(MAX_DURATION);

    let progress = progress_bar(args.requests.or(args.duration.is_none().then_some(limit)));
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let started = Instant::now();
    let sender = tokio::spawn(send_all(
        client,
        url,
        limit,
        deadline,
        args.concurrency,
        args.rate,
        tx,
    ));
    let mut report = Report::default();
    while let Some(outcome) = rx.recv().await {
        report.add(outcome);
        progress.inc(1);
    }
    sender.await.context("the load task failed")?;
    report.elapsed = started.elapsed();
    progress.finish_and_clear();
    write!(out, "{}", report.table())?;
    Ok(())
}

/// Send up to `limit` requests until `deadline`, closed or open loop.
async fn send_all(
    client: reqwest::Client,
    url: reqwest::Url,
    limit: u64,
    deadline: Instant,
    concurrency: Option<u32>,
    rate: Option<f64>,
    results: mpsc::UnboundedSender<Outcome>,
) {
    let one = move |client: reqwest::Client, url: reqwest::Url| async move {
        let started = Instant::now();
        let answer = async {
            let response = client.get(url).send().await?;
            let status = response.status().as_u16();
            response.bytes().await?;
            Ok::<u16, reqwest::Error>(status)
        }
        .await;
        let (status, error) = match answer {
            Ok(status) => (Some(status), None),
            Err(e) if e.is_timeout() => (None, Some("timeout")),
            Err(e) if e.is_connect() => (None, Some("connection")),
            Err(_) => (None, Some("request")),
        };
        Outcome {
            latency: started.elapsed(),
            status,
            error,
        }
    };
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    if let Some(rate) = rate {
        // Open loop: a tick per request; a slow answer does not delay the next.
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for _ in 0..limit {
            ticks.tick().await;
            if Instant::now() >= deadline {
                break;
            }
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                break;
            };
            let (client, url, results) = (client.clone(), url.clone(), results.clone());
            tokio::spawn(async move {
                let _ = results.send(one(client, url).await);
                drop(permit);
            });
        }
        return;
    }
    // Closed loop: each worker sends its next request when the last returned.
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency.unwrap_or(8))
        .map(|_| {
            let (client, url, results, next) =
                (client.clone(), url.clone(), results.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < limit && Instant::now() < deadline {
                    if results
                        .send(one(client.clone(), url.clone()).await)
                        .is_err()
                    {
                        return;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    match total {
        Some(total) => {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} requests  {per_sec}")
            {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {pos} requests  {elapsed}  {per_sec}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), Some(50));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&values, 1.0), Some(100));
        assert_eq!(percentile(&[7], 0.5), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn only_this_machine_unless_allowed() {
        assert!(check_url("http://127.0.0.1:5000/", false).is_ok());
        assert!(check_url("http://localhost:5000/", false).is_ok());
        assert!(check_url("http://[::1]:5000/", false).is_ok());
        assert!(check_url("http://example.com/", false).is_err());
        assert!(check_url("http://10.0.0.1/", false).is_err());
        assert!(check_url("http://10.0.0.1/", true).is_ok());
        assert!(check_url("127.0.0.1:5000", false).is_err());
    }

    #[test]
    fn the_table_counts_statuses_and_errors() {
        let mut report = Report::default();
        for (status, error) in [
            (Some(200), None),
            (Some(200), None),
            (Some(502), None),
            (None, Some("connection")),
        ] {
            report.add(Outcome {
                latency: Duration::from_millis(10),
                status,
                error,
            });
        }
        report.elapsed = Duration::from_secs(1);
        let table = report.table();
        assert!(
            table.starts_with("requests             4   in 1 s, 4.0/s\n"),
            "{table}"
        );
        assert!(table.contains("status 200           2\n"), "{table}");
        assert!(table.contains("status 502           1\n"), "{table}");
        assert!(
            table.contains("errors               1\n  connection         1\n"),
            "{table}"
        );
        assert!(
            table.contains(&format!("{:<12}{:>10}\n", "p99", "10 ms")),
            "{table}"
        );
    }
}
