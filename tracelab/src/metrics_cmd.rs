//! `tracelab metrics QUERY`: runs a TraceQL metrics query (`{ } | rate() by (…)`) on a running
//! store's `/api/metrics/query_range` and prints each series as a sparkline with its latest,
//! lowest and highest values, or every sample as a table (`--table`).

use std::io::Write;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

use crate::cli::StoreUrl;

/// Options of `tracelab metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// A TraceQL metrics query, e.g. '{ } | rate() by (resource.service.name)' or
    /// '{ } | quantile_over_time(duration, .5, .99)'.
    pub query: String,
    /// How far back from now to look (15m, 1h, 2d).
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Time between samples (30s, 5m); the store's default (about 240 points) when omitted.
    #[arg(long)]
    pub step: Option<String>,
    /// Print every sample as a table instead of one sparkline per series.
    #[arg(long)]
    pub table: bool,
    /// The store.
    #[command(flatten)]
    pub store: StoreUrl,
}

/// The part of Tempo's `QueryRangeResponse` printed here.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    series: Vec<SeriesJson>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SeriesJson {
    #[serde(default)]
    labels: Vec<LabelJson>,
    #[serde(default)]
    samples: Vec<SampleJson>,
}

#[derive(Debug, Deserialize)]
struct LabelJson {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SampleJson {
    timestamp_ms: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// Asks the store and prints the answer to `out`.
pub async fn run(args: &MetricsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut request = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?
        .get(format!(
            "{}/api/metrics/query_range",
            args.store.url.trim_end_matches('/')
        ))
        .query(&[("q", args.query.as_str()), ("since", args.since.as_str())]);
    if let Some(step) = &args.step {
        request = request.query(&[("step", step)]);
    }
    if let Some(token) = &args.store.token {
        request = request.bearer_auth(token.trim());
    }
    let response = request.send().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the trace store at {} ({e}); is `tracelab` or `tracelab store` running? (see --store)",
            args.store.url
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("the store answered {status}: {}", body.trim());
    }
    let answer: Answer = response
        .json()
        .await
        .context("the store's metrics answer is not Tempo's JSON")?;
    if answer.series.is_empty() {
        writeln!(out, "no series: no span matched in the last {}", args.since)?;
    } else if args.table {
        table(&answer.series, out)?;
    } else {
        sparklines(&answer.series, out)?;
    }
    if let Some(message) = answer.message {
        writeln!(out, "partial answer: {message}")?;
    }
    Ok(())
}

/// `{key="value", …}`, as Prometheus writes series.
fn series_name(labels: &[LabelJson]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|l| {
            let value =
                l.value
                    .as_object()
                    .and_then(|o| o.values().next())
                    .map_or("nil".to_owned(), |v| match v {
                        serde_json::Value::String(s) => format!("{s:?}"),
                        other => other.to_string(),
                    });
            format!("{}={value}", l.key)
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// A sample's value: a JSON number, or proto3 JSON's `"NaN"` and infinities.
fn value(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        serde_json::Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => 0.0,
    }
}

/// Eight levels from lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The samples as bars scaled between the series' lowest and highest value.
pub fn sparkline(values: &[f64]) -> String {
    let (low, high) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if high <= low {
                BARS[3]
            } else {
                BARS[(((v - low) / (high - low)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// One line per series: name, sparkline, latest, lowest and highest value.
fn sparklines(series: &[SeriesJson], out: &mut impl Write) -> anyhow::Result<()> {
    for s in series {
        let values: Vec<f64> = s.samples.iter().map(|x| value(&x.value)).collect();
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let low = finite.clone().fold(f64::INFINITY, f64::min);
        let high = finite.fold(f64::NEG_INFINITY, f64::max);
        writeln!(out, "{}", series_name(&s.labels))?;
        writeln!(
            out,
            "  {}  last {}  min {}  max {}",
            sparkline(&values),
            number(values.last().copied().unwrap_or(f64::NAN)),
            number(low),
            number(high)
        )?;
    }
    Ok(())
}

/// Every sample: time (UTC), value, series.
fn table(series: &[SeriesJson], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "{:<20}  {:>12}  SERIES", "TIME (UTC)", "VALUE")?;
    for s in series {
        let name = series_name(&s.labels);
        for sample in &s.samples {
            let ms: u64 = sample.timestamp_ms.parse().unwrap_or(0);
            let time = humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            );
            writeln!(
                out,
                "{time:<20}  {:>12}  {name}",
                number(value(&sample.value))
            )?;
        }
    }
    Ok(())
}

/// A value in at most 4 significant digits, `-` if none.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_between_lowest_and_highest() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 7.0]), "▁▂▃█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▄▄");
        assert_eq!(sparkline(&[1.0, f64::NAN, 3.0]), "▁ █");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.016_666_666), "0.0167");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::NAN), "-");
    }
}
