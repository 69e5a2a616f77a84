//! `tracelab expect` as a CI script runs it: a store process, spans posted over OTLP/HTTP,
//! and the command's exit code and words for each kind of mismatch.

mod support;

// The kit's own builders of the seed chain as OTLP, shared rather than copied.
#[path = "../../trace-expect/tests/support/mod.rs"]
mod kit;

use std::time::{Duration, Instant};

use kit::{CHAIN_SHAPE, S, chain, int_attr, request, str_attr, trace_id};
use prost::Message;
use support::StoreProcess;

/// A store holding `spans` as trace 1, and the chain shape (edited by `edit`) in a file.
async fn setup(
    spans: &[S],
    edit: impl FnOnce(String) -> String,
) -> (StoreProcess, tempfile_path::Path) {
    let store = StoreProcess::start();
    post(&store, spans).await;
    let path = tempfile_path::Path::new(&edit(CHAIN_SHAPE.to_owned()));
    (store, path)
}

async fn post(store: &StoreProcess, spans: &[S]) {
    let body = request(trace_id(1), spans).encode_to_vec();
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", store.otlp))
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// Runs `tracelab expect` with the shape at `path`: exit code and output.
fn expect(store: &StoreProcess, path: &std::path::Path, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .arg("expect")
        .arg(path)
        .args([
            "--store",
            &format!("http://{}", store.query),
            "--color",
            "never",
        ])
        .args(args)
        .env_remove("TRACELAB_TOKEN")
        .output()
        .unwrap();
    support::code_and_text(&output)
}

const ID: &str = "ababababababababababababababab01";

fn check(spans: &[S], edit: impl FnOnce(String) -> String, code: i32, words: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, path) = runtime.block_on(setup(spans, edit));
    let (got, text) = expect(&store, path.as_ref(), &["--trace", ID, "--wait", "2s"]);
    assert_eq!(got, code, "{text}");
    for word in words {
        assert!(text.contains(word), "{word:?} not in:\n{text}");
    }
}

#[test]
fn a_matching_trace_exits_0() {
    check(&chain(), |s| s, 0, &["matches"]);
}

#[test]
fn a_missing_span_exits_1_and_names_it() {
    let mut spans = chain();
    spans.pop();
    check(
        &spans,
        |s| s,
        1,
        &["4 of 5 spans after 2s", "missing: app-c SERVER GET /"],
    );
}

#[test]
fn an_extra_span_exits_1() {
    let mut spans = chain();
    let mut extra = spans[4].clone();
    (extra.id, extra.parent, extra.name) = (6, Some(5), "SELECT");
    spans.push(extra);
    check(&spans, |s| s, 1, &["extra span: app-c SERVER SELECT"]);
}

#[test]
fn a_wrong_status_exits_1() {
    let mut spans = chain();
    spans[4].status = 2;
    check(
        &spans,
        |s| s,
        1,
        &["app-c SERVER GET /: status error, expected unset"],
    );
}

#[test]
fn a_wrong_attribute_value_exits_1() {
    let mut spans = chain();
    spans[0].attrs[1] = int_attr("http.response.status_code", 500);
    check(
        &spans,
        |s| s,
        1,
        &["attribute http.response.status_code is int 500, expected int 200"],
    );
}

#[test]
fn a_wrong_attribute_type_exits_1() {
    let mut spans = chain();
    spans[0].attrs[1] = str_attr("http.response.status_code", "200");
    check(&spans, |s| s, 1, &["is string \"200\", expected int 200"]);
}

#[test]
fn a_duration_out_of_bounds_exits_1() {
    check(
        &chain(),
        |s| {
            s.replace(
                "duration: { min: 100ms, max: 5s }",
                "duration: { max: 10ms }",
            )
        },
        1,
        &["app-a SERVER GET /: duration 398ms, expected at most 10ms"],
    );
}

#[test]
fn a_missing_event_exits_1() {
    check(
        &chain(),
        |s| {
            s.replacen(
                "  status: unset\n",
                "  status: unset\n  events: [exception]\n",
                1,
            )
        },
        1,
        &["app-a SERVER GET /: missing event exception"],
    );
}

#[test]
fn a_trace_that_never_arrives_exits_1_at_the_wait() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, path) = runtime.block_on(setup(&[], |s| s));
    let started = Instant::now();
    let other = "ababababababababababababababab09";
    let (code, text) = expect(&store, path.as_ref(), &["--trace", other, "--wait", "1s"]);
    assert_eq!(code, 1, "{text}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(text.contains("no span arrived within 1s"), "{text}");
}

#[test]
fn bad_input_exits_2() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, good) = runtime.block_on(setup(&chain(), |s| s));
    let bad = tempfile_path::Path::new("root:\n  kind: sideways\n");
    let (code, text) = expect(&store, bad.as_ref(), &["--trace", ID]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("not a valid shape") && text.contains("sideways"),
        "{text}"
    );
    let (code, _) = expect(&store, good.as_ref(), &[]);
    assert_eq!(code, 2, "neither --trace nor --query");
    let (code, text) = expect(&store, good.as_ref(), &["--trace", "xyz"]);
    assert_eq!(code, 2, "{text}");
    let (code, text) = expect(&store, good.as_ref(), &["--query", "{ nonsense"]);
    assert_eq!(code, 2, "{text}");
    let (code, text) = expect(&store, good.as_ref(), &["--trace", ID, "--wait", "2h"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("at most 1h"), "{text}");
    let unreachable = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["expect", good.as_ref().to_str().unwrap(), "--trace", ID])
        .args(["--store", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach"));
}

/// `--query` checks the newest matching trace; `--json` gives the verdict as JSON; `--record`
/// prints a shape that `expect` then accepts.
#[test]
fn query_json_and_record_work_together() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut broken = chain();
    broken[4].status = 2;
    let (store, path) = runtime.block_on(setup(&broken, |s| s));
    let query = r#"{ resource.service.name = "app-c" }"#;
    let (code, text) = expect(&store, path.as_ref(), &["--query", query, "--json"]);
    assert_eq!(code, 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(json["matched"], false);
    assert_eq!(json["failure"]["kind"], "mismatch");
    assert_eq!(json["failure"]["query"], query);

    let recorded = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args([
            "expect",
            "--record",
            ID,
            "--store",
            &format!("http://{}", store.query),
        ])
        .output()
        .unwrap();
    assert_eq!(recorded.status.code(), Some(0));
    let shape = tempfile_path::Path::new(&String::from_utf8(recorded.stdout).unwrap());
    let (code, text) = expect(&store, shape.as_ref(), &["--trace", ID]);
    assert_eq!(code, 0, "{text}");
}

/// A file under the temporary directory, removed on drop.
mod tempfile_path {
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(super) struct Path(std::path::PathBuf);

    impl Path {
        pub(super) fn new(text: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("tracelab-expect-{}-{n}.yaml", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Path(path)
        }
    }

    impl AsRef<std::path::Path> for Path {
        fn as_ref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// `--query` waits for a matching trace that arrives after the command started.
#[test]
fn a_query_waits_for_its_trace_to_arrive() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, path) = runtime.block_on(setup(&[], |s| s));
    let waiting = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .arg("expect")
        .arg(path.as_ref())
        .args(["--store", &format!("http://{}", store.query)])
        .args([
            "--query",
            r#"{ resource.service.name = "app-c" }"#,
            "--wait",
            "15s",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    runtime.block_on(post(&store, &chain()));
    let output = waiting.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("trace {ID} matches")), "{text}");
}

/// The shell example as its header says to run it, against a real lab (on free ports here):
/// `curl` with a trace id of its own, then `tracelab expect` on the seed chain's shape file,
/// exit 0. Pointed at a port where no store listens, it exits 2 and says so.
#[test]
fn the_shell_example_checks_a_real_labs_trace() {
    let (lab, ports) = support::start_lab(&["--color", "never"], &[]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/shell/expect-chain.sh"
    );
    let run = |store_port: &str| {
        let output = std::process::Command::new("bash")
            .arg(script)
            .env("APP_A_URL", format!("http://127.0.0.1:{}", ports[0]))
            .env("TRACELAB_STORE", format!("http://127.0.0.1:{store_port}"))
            .env("TRACELAB", env!("CARGO_BIN_EXE_tracelab"))
            .env("WAIT", "20s")
            .env("TRACELAB_COLOR", "never")
            .env_remove("TRACELAB_TOKEN")
            .output()
            .unwrap();
        support::code_and_text(&output)
    };

    let (code, text) = run(&ports[4]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("I'm app-a I'm app-b I'm app-c"), "{text}");
    assert!(
        text.contains("matches") && text.contains("chain.yaml (5 spans)"),
        "{text}"
    );

    let (code, text) = run(&support::free_port().to_string());
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("cannot reach the trace store"), "{text}");
}

/// `-` reads the shape from standard input: a match exits 0, a bad shape or one past the size
/// limit exits 2 and says where it came from.
#[test]
fn a_shape_on_standard_input_is_read() {
    use std::io::Write as _;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (store, _path) = runtime.block_on(setup(&chain(), |s| s));
    let with_stdin = |input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .args([
                "expect", "-", "--trace", ID, "--wait", "5s", "--color", "never",
            ])
            .args(["--store", &format!("http://{}", store.query)])
            .env_remove("TRACELAB_TOKEN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A write can fail once the command has refused the input and closed its end.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        support::code_and_text(&child.wait_with_output().unwrap())
    };

    let (code, text) = with_stdin(CHAIN_SHAPE);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("matches the shape on standard input (5 spans)"),
        "{text}"
    );

    let (code, text) = with_stdin("root:\n  kind: sideways\n");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("standard input") && text.contains("sideways"),
        "{text}"
    );

    let (code, text) = with_stdin(&format!("# {}\n", "x".repeat(1 << 20)));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("more than the 1048576 allowed"), "{text}");
}
