//! The lab as a user runs it: `tracelab` starts everything, draws each
//! trace, and Ctrl-C stops every process it started.

mod support;

use std::time::Duration;

use support::{Process, eventually, free_port, start_lab};

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Service pids are the children of the lab named `tracelab serve ...`.
fn children_of(pid: u32) -> Vec<u32> {
    let tasks =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    tasks
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// The lab starts, answers on app-a, draws the trace, passes its own
/// environment on (here a zero wait), and stops every child on SIGINT.
#[tokio::test(flavor = "multi_thread")]
async fn the_lab_runs_the_chain_draws_traces_and_stops_cleanly() {
    let (mut lab, ports) = start_lab(&["--color", "never"], &[("APP_B_DELAY_MS", "0".to_owned())]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let viewer = format!("http://127.0.0.1:{}/", ports[4]);
    lab.stdout_line(|l| l.contains("web viewer") && l.contains(&viewer));
    let children = children_of(lab.pid());
    assert_eq!(children.len(), 3, "three service processes: {children:?}");

    let started = std::time::Instant::now();
    let body = reqwest::get(format!("http://127.0.0.1:{}/", ports[0]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "I'm app-a I'm app-b I'm app-c");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the lab's APP_B_DELAY_MS=0 reached app-b"
    );

    // The waterfall: a header and the five spans, indented as a tree.
    let header = lab.stdout_line(|l| l.starts_with("trace ") && l.ends_with("5 spans"));
    let trace_id = header.split_whitespace().nth(1).unwrap().to_owned();
    lab.stdout_line(|l| l.starts_with("app-c          GET /"));
    let trace: serde_json::Value = reqwest::get(format!(
        "http://127.0.0.1:{}/api/traces/{trace_id}",
        ports[4]
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        trace["batches"].as_array().unwrap().len(),
        3,
        "one batch per service"
    );

    lab.signal("INT");
    let status = lab.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "lab exit {status:?}: {}",
        lab.stderr_text()
    );
    for pid in children {
        assert!(
            !process_alive(pid),
            "service process {pid} outlived the lab"
        );
    }
}

/// Services never outlive the lab, even when it is killed outright: their
/// stdin pipe closes and they shut down by themselves.
#[tokio::test(flavor = "multi_thread")]
async fn services_stop_when_the_lab_is_killed() {
    let (mut lab, _) = start_lab(&[], &[]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let children = children_of(lab.pid());
    assert_eq!(children.len(), 3);

    lab.signal("KILL");
    lab.wait_exit(Duration::from_secs(5));
    eventually("the services stop after the lab died", || async {
        !children.iter().any(|&pid| process_alive(pid))
    })
    .await;
}

/// A bad setting stops a service at start with one message naming the
/// variable, and exit code 64 (EX_USAGE), not a panic.
#[test]
fn bad_configuration_stops_a_service_with_a_clear_message() {
    let cases = [
        (
            "app-a",
            "PORT",
            "http",
            "PORT=\"http\": expected a port number",
        ),
        (
            "app-b",
            "APP_B_DELAY_MS",
            "2s",
            "APP_B_DELAY_MS=\"2s\": expected a whole number of milliseconds",
        ),
        (
            "app-c",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "thrift",
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\": expected http/protobuf, http/json or grpc",
        ),
        ("app-a", "SERVICE_B_PORT", "-1", "SERVICE_B_PORT=\"-1\""),
        (
            "app-b",
            "LOG_FORMAT",
            "xml",
            "LOG_FORMAT=\"xml\": expected text or json",
        ),
    ];
    for (app, name, value, message) in cases {
        let mut process = Process::start(&["serve", app], &[(name, value.to_owned())]);
        let status = process.wait_exit(Duration::from_secs(10));
        let stderr = process.stderr_text();
        assert_eq!(status.code(), Some(64), "{app} {name}={value}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{app}: invalid configuration: ")),
            "{stderr}"
        );
        assert!(stderr.contains(message), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The name of a service process (`tracelab serve app-x ...`), from its command line.
fn service_name(pid: u32) -> String {
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline
        .split('\0')
        .find(|a| a.starts_with("app-"))
        .unwrap_or_default()
        .to_owned()
}

/// SIGTERM stops a service that the lab started, even though its stdin pipe
/// is still open (the lab holds it): it drains, flushes and exits 0.
#[test]
fn sigterm_ends_a_service_whose_stdin_is_still_open() {
    let env = [
        ("BIND_ADDR", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("OTEL_TRACES_EXPORTER", "none".to_owned()),
    ];
    // `Process` keeps the child's stdin pipe open for the whole test.
    let mut service = Process::start(&["serve", "app-c", "--exit-on-stdin-close"], &env);
    service.stderr_line(|l| l.contains("\"message\":\"listening\""));
    service.signal("TERM");
    let status = service.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", service.stderr_text());
}

/// A service that dies under the lab is reported at once, by name.
#[tokio::test(flavor = "multi_thread")]
async fn the_lab_reports_a_service_that_exits() {
    let (lab, _) = start_lab(&[], &[]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let app_c = children_of(lab.pid())
        .into_iter()
        .find(|&pid| service_name(pid) == "app-c")
        .expect("an app-c process");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &app_c.to_string()])
        .status();
    let line = lab.stderr_line(|l| l.contains("app-c exited"));
    assert!(line.contains("signal: 9"), "{line}");
}

/// A second lab whose service ports are taken says so and exits non-zero:
/// it must not find the first lab's services answering and call itself running.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_lab_that_cannot_bind_says_so_and_exits() {
    let (first, ports) = start_lab(&[], &[]);
    first.stdout_line(|l| l.contains("Ctrl-C stops everything"));

    // Its own store ports, the first lab's service ports.
    let own: Vec<String> = (0..4).map(|_| free_port().to_string()).collect();
    let mut second = Process::start(
        &[
            "--app-a-port",
            &ports[0],
            "--app-b-port",
            &ports[1],
            "--app-c-port",
            &ports[2],
            "--otlp-port",
            &own[0],
            "--query-port",
            &own[1],
            "--grpc-port",
            &own[2],
            "--control-port",
            &own[3],
        ],
        &[],
    );
    let status = second.wait_exit(Duration::from_secs(20));
    let stderr = second.stderr_text();
    assert!(!status.success(), "{stderr}");
    assert!(
        !second.stdout_text().contains("tracelab is running"),
        "{}",
        second.stdout_text()
    );
    assert!(stderr.contains("app-c exited at start"), "{stderr}");
    assert!(
        stderr.contains(&format!("is port {} free", ports[2])),
        "{stderr}"
    );
}

/// A service that refuses its configuration (exit 64) is reported as a
/// configuration problem, not as a busy port.
#[test]
fn the_lab_names_a_configuration_error_as_such() {
    let (mut lab, _) = start_lab(&[], &[("APP_B_DELAY_MS", "2s".to_owned())]);
    let status = lab.wait_exit(Duration::from_secs(20));
    let stderr = lab.stderr_text();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("APP_B_DELAY_MS=\"2s\""),
        "the service's own message: {stderr}"
    );
    assert!(
        stderr.contains("app-b refused its configuration"),
        "{stderr}"
    );
    assert!(!stderr.contains("is port"), "{stderr}");
}

/// Run a control command against the lab whose control port is `port`.
fn control(port: &str, args: &[&str]) -> (i32, String, String) {
    let lab = format!("http://127.0.0.1:{port}");
    let mut all = args.to_vec();
    all.extend(["--lab", lab.as_str()]);
    let mut process = Process::start(&all, &[]);
    let status = process.wait_exit(Duration::from_secs(40));
    (
        status.code().unwrap_or(-1),
        process.stdout_text(),
        process.stderr_text(),
    )
}

async fn get(port: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `tracelab fault`, `stop` and `start` change a running lab's services
/// without restarting the lab, and say what they did.
#[tokio::test(flavor = "multi_thread")]
async fn faults_stop_and_start_through_the_lab() {
    let (lab, ports) = start_lab(&[], &[("APP_B_DELAY_MS", "0".to_owned())]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let (app_a, lab_port) = (ports[0].as_str(), ports[6].as_str());
    let ok = (200, "I'm app-a I'm app-b I'm app-c".to_owned());
    assert_eq!(get(app_a).await, ok);

    let (code, out, err) = control(
        lab_port,
        &["fault", "app-c", "--error-rate", "1", "--status", "503"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "app-c: 100% of requests answer 503");
    assert_eq!(
        get(app_a).await,
        (502, "I'm app-a I'm app-b fault injected: 503".to_owned())
    );
    let (_, out, _) = control(lab_port, &["fault", "app-c"]);
    assert_eq!(
        out, "app-c: 100% of requests answer 503",
        "shows the faults"
    );
    let (code, out, _) = control(lab_port, &["fault", "app-c", "--clear"]);
    assert_eq!((code, out.as_str()), (0, "app-c: no faults"));
    assert_eq!(get(app_a).await, ok);

    let (code, out, err) = control(lab_port, &["stop", "app-c"]);
    assert_eq!((code, out.as_str()), (0, "app-c stopped"), "{err}");
    assert_eq!(
        get(app_a).await,
        (
            502,
            "I'm app-a I'm app-b Error calling Service C".to_owned()
        )
    );
    let (code, _, err) = control(lab_port, &["fault", "app-c", "--hang"]);
    assert_eq!(code, 1);
    assert!(err.contains("app-c is not running"), "{err}");
    let (code, out, err) = control(lab_port, &["start", "app-c"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("app-c started on 127.0.0.1:{}", ports[2]));
    assert_eq!(get(app_a).await, ok);
    let (code, _, err) = control(lab_port, &["start", "app-c"]);
    assert_eq!(code, 1);
    assert!(err.contains("app-c is already running"), "{err}");

    // A stop asked for is not reported as a crash.
    assert!(
        !lab.stderr_text().contains("app-c exited"),
        "{}",
        lab.stderr_text()
    );
}

/// `scenario list` names the five lessons; `scenario run flaky` injects
/// app-c's errors through the lab, drives load, prints the table and what
/// to look for, and leaves the chain healthy again.
#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_runs_against_the_lab_and_clears_its_fault() {
    let mut list = Process::start(&["scenario", "list"], &[]);
    assert!(list.wait_exit(Duration::from_secs(10)).success());
    let names: Vec<String> = list
        .stdout_text()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "slow-hop",
            "flaky",
            "app-c-down",
            "timeout-cascade",
            "broken-propagation"
        ]
    );

    let (lab, ports) = start_lab(&[], &[("APP_B_DELAY_MS", "0".to_owned())]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let url = format!("http://127.0.0.1:{}/", ports[0]);
    let store = format!("http://127.0.0.1:{}", ports[4]);
    let (code, out, err) = control(
        &ports[6],
        &[
            "scenario",
            "run",
            "flaky",
            "--requests",
            "60",
            "--url",
            &url,
            "--store",
            &store,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("scenario flaky: "), "{out}");
    assert!(out.contains("app-c: 30% of requests answer 500"), "{out}");
    let count = |name: &str| {
        out.lines().find(|l| l.starts_with(name)).and_then(|l| {
            l[name.len()..]
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
    };
    assert_eq!(count("requests"), Some(60), "{out}");
    let failed = count("status 502").unwrap_or(0);
    // Binomial(60, 0.3): outside 5..=32 with probability below 1e-4.
    assert!((5..=32).contains(&failed), "{out}");
    assert_eq!(count("status 200").unwrap_or(0) + failed, 60, "{out}");
    assert!(out.contains("app-c: faults cleared"), "{out}");
    assert!(out.contains("what to look for:"), "{out}");
    assert!(out.contains("failing_hop: errors start in app-c"), "{out}");
    assert_eq!(get(&ports[0]).await.0, 200);

    let (code, _, err) = control(&ports[6], &["scenario", "run", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no scenario \"nope\""), "{err}");
}

/// `scenario run` with only `--lab`, as a newcomer types it against a lab on
/// other ports than the defaults: the lab says where its app-a and store are,
/// so the load goes to this lab's app-a and the finding comes from its store.
#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_finds_app_a_and_the_store_through_the_lab() {
    let (lab, ports) = start_lab(&[], &[("APP_B_DELAY_MS", "0".to_owned())]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let (code, out, err) = control(
        &ports[6],
        &["scenario", "run", "slow-hop", "--requests", "5"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let url = format!("http://127.0.0.1:{}/", ports[0]);
    assert!(
        out.contains(&format!("sending 5 requests to {url}")),
        "{out}"
    );
    assert!(out.contains("status 200           5"), "{out}");
    assert!(
        out.contains("slowest_hop: app-b is the slowest hop"),
        "{out}"
    );
}
