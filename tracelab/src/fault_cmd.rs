//! `tracelab fault`, `tracelab stop` and `tracelab start`: clients of a
//! running lab's control endpoint (see [`crate::lab_control`]).

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use common::fault::Faults;

use crate::cli::App;

/// The lab's control port when `--control-port` is not given.
pub const DEFAULT_CONTROL_PORT: u16 = 3210;

/// Where a control command finds the lab.
#[derive(Debug, Clone, Args)]
pub struct LabUrl {
    /// The lab's control endpoint.
    #[arg(
        long = "lab",
        env = "TRACELAB_LAB",
        default_value = "http://127.0.0.1:3210"
    )]
    pub url: String,
    /// The lab's token, if it has one (the store's `TRACELAB_TOKEN`).
    #[arg(long, env = "TRACELAB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Options of `tracelab fault`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("set").multiple(true).conflicts_with("clear")))]
pub struct FaultArgs {
    /// The service to misbehave.
    pub service: App,
    /// Add this latency to each request (e.g. 300ms, 2s).
    #[arg(long, value_parser = humantime::parse_duration, group = "set")]
    pub delay: Option<Duration>,
    /// Vary the delay by up to this much either way.
    #[arg(long, value_parser = humantime::parse_duration, requires = "delay", group = "set")]
    pub jitter: Option<Duration>,
    /// Delay only this share of requests (0 to 1).
    #[arg(long, requires = "delay", group = "set", value_parser = share)]
    pub share: Option<f64>,
    /// Answer this share of requests with an error (0 to 1).
    #[arg(long, group = "set", value_parser = share)]
    pub error_rate: Option<f64>,
    /// The status of the injected errors (400 to 599).
    #[arg(long, requires = "error_rate", group = "set", value_parser = clap::value_parser!(u16).range(400..=599))]
    pub status: Option<u16>,
    /// Accept requests and never answer, until callers time out.
    #[arg(long, group = "set")]
    pub hang: bool,
    /// Refuse connections, as if the service had stopped.
    #[arg(long, group = "set")]
    pub down: bool,
    /// Call the next hop without the trace context.
    #[arg(long, group = "set")]
    pub no_propagation: bool,
    /// Remove every fault of the service.
    #[arg(long)]
    pub clear: bool,
    /// The lab.
    #[command(flatten)]
    pub lab: LabUrl,
}

/// Options of `tracelab stop` and `tracelab start`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service.
    pub service: App,
    /// The lab.
    #[command(flatten)]
    pub lab: LabUrl,
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to 1, not {text:?}")),
    }
}

impl FaultArgs {
    /// The faults these options set; `None` when none is given (show them).
    fn faults(&self) -> anyhow::Result<Option<Faults>> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let defaults = Faults::default();
        let faults = Faults {
            delay_ms: self.delay.map_or(0, millis),
            jitter_ms: self.jitter.map_or(0, millis),
            share: self.share.unwrap_or(defaults.share),
            error_rate: self.error_rate.unwrap_or(0.0),
            status: self.status.unwrap_or(defaults.status),
            hang: self.hang,
            down: self.down,
            no_propagation: self.no_propagation,
        };
        faults.check().map_err(|e| anyhow!("expected {e}"))?;
        Ok(faults.any().then_some(faults))
    }
}

/// A client of the lab's control endpoint.
pub(crate) struct LabClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl LabClient {
    pub(crate) fn new(lab: &LabUrl) -> anyhow::Result<Self> {
        let base = crate::client::check_base_url(&lab.url, "--lab")?;
        Ok(Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            token: lab.token.clone(),
        })
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.trim());
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the lab at {} ({e}); is `tracelab` running? (see --lab)",
                self.base
            )
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{}", text.trim());
        }
        Ok(text)
    }
}

/// `tracelab fault SERVICE ...`: set, clear or show a service's faults.
pub async fn fault(args: FaultArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let lab = LabClient::new(&args.lab)?;
    let path = format!("/services/{}/faults", args.service.name());
    let answer = if args.clear {
        lab.send(reqwest::Method::DELETE, &path, None).await?
    } else if let Some(faults) = args.faults()? {
        let body = serde_json::to_string(&faults)?;
        lab.send(reqwest::Method::PUT, &path, Some(body)).await?
    } else {
        lab.send(reqwest::Method::GET, &path, None).await?
    };
    let faults: Faults = serde_json::from_str(&answer)
        .with_context(|| format!("the lab's answer is not a fault setting: {answer}"))?;
    writeln!(out, "{}: {}", args.service.name(), describe(&faults))?;
    Ok(())
}

/// `tracelab stop SERVICE` and `tracelab start SERVICE`.
pub async fn stop_or_start(
    args: ServiceArgs,
    verb: &str,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let lab = LabClient::new(&args.lab)?;
    let path = format!("/services/{}/{verb}", args.service.name());
    let answer = lab.send(reqwest::Method::POST, &path, None).await?;
    write!(out, "{answer}")?;
    Ok(())
}

/// One line saying what a service is made to do.
pub fn describe(faults: &Faults) -> String {
    faults.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

    fn parse(args: &[&str]) -> Result<FaultArgs, clap::Error> {
        let mut all = vec!["tracelab", "fault"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.command {
            Some(Command::Fault(args)) => Ok(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_become_faults() {
        let args = parse(&[
            "app-b", "--delay", "300ms", "--jitter", "50ms", "--share", "0.5",
        ])
        .unwrap();
        let faults = args.faults().unwrap().unwrap();
        assert_eq!(
            (faults.delay_ms, faults.jitter_ms, faults.share),
            (300, 50, 0.5)
        );
        assert_eq!(describe(&faults), "delay 300 ms ± 50 ms on 50% of requests");

        let args = parse(&["app-c", "--error-rate", "0.3", "--status", "503"]).unwrap();
        let faults = args.faults().unwrap().unwrap();
        assert_eq!((faults.error_rate, faults.status), (0.3, 503));

        assert!(parse(&["app-c"]).unwrap().faults().unwrap().is_none());
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(
            parse(&["app-b", "--delay", "300"]).is_err(),
            "a unit is required"
        );
        assert!(parse(&["app-b", "--error-rate", "1.5"]).is_err());
        assert!(
            parse(&["app-b", "--status", "500"]).is_err(),
            "--status needs --error-rate"
        );
        assert!(parse(&["app-b", "--hang", "--clear"]).is_err());
        assert!(parse(&["app-d", "--hang"]).is_err());
    }
}
