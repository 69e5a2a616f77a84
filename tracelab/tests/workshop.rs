//! The workshop guide, run: reads `docs/workshop.md` and `docs/workshop.ko.md`, checks that
//! they hold the same commands, skips and answers in the same order (so the Korean guide cannot
//! drift from the English one), then runs every command of the guide against a real lab on free
//! ports and checks that each exercise's output holds the answers the guide names.
//!
//! The guide's format, which this test defines:
//! - `## N. title` starts exercise N;
//! - every line of a ```` ```sh ```` block is one command, as an attendee types it;
//! - `<!-- workshop-test: skip (why) -->` just before a block: not run here (building the lab,
//!   starting it, Docker, a cluster); the reasons are printed;
//! - `<!-- answer: TEXT -->`: TEXT appears in the output of the exercise's commands.
//!
//! Substitutions, so the guide can use the lab's default addresses: `localhost:5000` is this
//! lab's app-a, `localhost:3200` its store, `TRACE_ID` the first id `tracelab traces` printed
//! last; `TRACELAB_LAB` and `TRACELAB_STORE` point the `tracelab` commands at this lab.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Process, start_lab};

/// One thing the guide says, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A command; `skip` holds why the test does not run it.
    Command { line: String, skip: Option<String> },
    /// Text the exercise's output must hold.
    Answer(String),
}

/// An exercise: its number and what it says.
#[derive(Debug, PartialEq, Eq)]
struct Exercise {
    number: String,
    items: Vec<Item>,
}

const SKIP: &str = "<!-- workshop-test: skip ";
const ANSWER: &str = "<!-- answer: ";

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(docs().join(name)).unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

/// The exercises of a guide, in order.
fn parse(guide: &str) -> Vec<Exercise> {
    let mut exercises: Vec<Exercise> = Vec::new();
    let mut skip: Option<String> = None;
    let mut in_sh = false;
    for line in guide.lines() {
        let trimmed = line.trim();
        if in_sh {
            if trimmed == "```" {
                in_sh = false;
                skip = None;
            } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
                let exercise = exercises.last_mut().expect("a command before any exercise");
                exercise.items.push(Item::Command {
                    line: trimmed.to_owned(),
                    skip: skip.clone(),
                });
            }
        } else if let Some(title) = trimmed.strip_prefix("## ") {
            let number = title.split('.').next().unwrap_or_default().to_owned();
            exercises.push(Exercise {
                number,
                items: Vec::new(),
            });
        } else if let Some(rest) = trimmed.strip_prefix(SKIP) {
            skip = Some(rest.trim_end_matches("-->").trim().to_owned());
        } else if let Some(rest) = trimmed.strip_prefix(ANSWER) {
            let answer = rest.trim_end_matches("-->").trim().to_owned();
            let exercise = exercises.last_mut().expect("an answer before any exercise");
            exercise.items.push(Item::Answer(answer));
        } else if trimmed == "```sh" {
            in_sh = true;
        }
    }
    // Only numbered sections are exercises ("For instructors" is not).
    exercises.retain(|e| e.number.chars().all(|c| c.is_ascii_digit()) && !e.number.is_empty());
    exercises
}

/// Every `workshop/...` file a guide links or shows.
fn referenced_files(guide: &str) -> Vec<String> {
    guide
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| target.starts_with("workshop/") && target.len() > "workshop/".len())
        .map(str::to_owned)
        .collect()
}

/// The lines of a guide's ```` ```text ```` excerpts that no capture in `docs/workshop/` holds:
/// each excerpt line must be a capture's line or its beginning (a line cut with `(...)`, or
/// `...` for lines left out, is fine), so excerpts are refreshed with the captures.
fn excerpt_lines_not_captured(guide: &str) -> Vec<String> {
    let mut captured = Vec::new();
    for entry in std::fs::read_dir(docs().join("workshop")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let text = std::fs::read_to_string(&path).unwrap();
            captured.extend(text.lines().map(|l| l.trim_end().to_owned()));
        }
    }
    let mut missing = Vec::new();
    for block in guide.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        for line in block.lines().map(str::trim_end) {
            let shown = line.strip_suffix("(...)").unwrap_or(line);
            if line.trim() == "..." || line.is_empty() {
                continue;
            }
            if !captured.iter().any(|c| c.starts_with(shown)) {
                missing.push(line.to_owned());
            }
        }
    }
    missing
}

/// Both guides say the same things in the same order, link each other, are linked from the
/// README, every capture and screenshot they show exists, and their excerpts are from the
/// captures.
#[test]
fn both_guides_hold_the_same_commands_and_their_files_exist() {
    let (en, ko) = (read("workshop.md"), read("workshop.ko.md"));
    let (en_ex, ko_ex) = (parse(&en), parse(&ko));
    let numbers: Vec<_> = en_ex.iter().map(|e| e.number.as_str()).collect();
    assert_eq!(numbers, ["0", "1", "2", "3", "4", "5", "6", "7", "8"]);
    for (e, k) in en_ex.iter().zip(&ko_ex) {
        assert_eq!(e, k, "exercise {} differs between the guides", e.number);
    }
    assert_eq!(en_ex.len(), ko_ex.len());
    assert!(en.contains("](workshop.ko.md)") && ko.contains("](workshop.md)"));
    let readme = std::fs::read_to_string(docs().join("../README.md")).unwrap();
    assert!(readme.contains("](docs/workshop.md)") && readme.contains("](docs/workshop.ko.md)"));
    let (en_files, ko_files) = (referenced_files(&en), referenced_files(&ko));
    assert!(en_files.iter().any(|f| f.ends_with(".png")), "{en_files:?}");
    assert!(en_files.iter().any(|f| f.ends_with(".txt")), "{en_files:?}");
    for file in en_files.iter().chain(&ko_files) {
        let path = docs().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "docs/{file} is referenced but missing or empty");
    }
    for (name, guide) in [("workshop.md", &en), ("workshop.ko.md", &ko)] {
        let stale = excerpt_lines_not_captured(guide);
        assert!(
            stale.is_empty(),
            "docs/{name} shows lines no capture in docs/workshop/ holds (refresh the excerpts \
             after scripts/workshop-captures.sh): {stale:#?}"
        );
    }
}

/// The lab on free ports: its process and the ports of app-a, the store and the lab control.
fn start_workshop_lab() -> (Process, [u16; 3]) {
    let (lab, ports) = start_lab(&["--color", "never"], &[]);
    lab.stdout_line(|l| l.contains("Ctrl-C stops everything"));
    let port = |i: usize| ports[i].parse().unwrap();
    (lab, [port(0), port(4), port(6)])
}

/// How many traces the lab has drawn (with this id, if given) in its output `lines`: it draws
/// each one once its spans have all arrived.
fn drawn<'a>(lines: impl IntoIterator<Item = &'a str>, id: Option<&str>) -> usize {
    let prefix = format!("trace {}", id.unwrap_or_default());
    lines.into_iter().filter(|l| l.starts_with(&prefix)).count()
}

/// Run one command line with bash, as an attendee's shell would; its output, stdout then stderr.
fn shell(line: &str, env: &[(&str, String)]) -> String {
    let mut command = Command::new("bash");
    command
        .args(["-c", line])
        .current_dir(docs().join(".."))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("TRACELAB_TOKEN");
    let mut process = Process::spawn(command);
    let status = process.wait_exit(Duration::from_secs(90));
    let text = format!("{}\n{}", process.stdout_text(), process.stderr_text());
    assert!(status.success(), "`{line}` failed:\n{text}");
    text
}

/// Every command of the guide, run against a real lab; each exercise's answers in its output.
#[test]
fn every_command_of_the_guide_runs_and_each_exercise_names_its_answer() {
    let exercises = parse(&read("workshop.md"));
    let curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        curl.is_ok_and(|s| s.success()),
        "the guide's commands use curl, and none was found: apt-get install curl"
    );
    let (lab, [app_a, store, control]) = start_workshop_lab();
    let bin = std::env::temp_dir().join(format!("tracelab-workshop-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("tracelab");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tracelab"), &link).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("PATH", path),
        ("TRACELAB_LAB", format!("http://127.0.0.1:{control}")),
        ("TRACELAB_STORE", format!("http://127.0.0.1:{store}")),
        ("NO_COLOR", "1".to_owned()),
        ("TRACELAB_COLOR", "never".to_owned()),
    ];
    let mut trace_id = String::new();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for exercise in &exercises {
        let mut output = String::new();
        for item in &exercise.items {
            let Item::Command { line, skip } = item else {
                continue;
            };
            if let Some(why) = skip {
                skipped.push(format!("{}. `{line}` {why}", exercise.number));
                continue;
            }
            let actual = line
                .replace("localhost:5000", &format!("127.0.0.1:{app_a}"))
                .replace("localhost:3200", &format!("127.0.0.1:{store}"))
                .replace("TRACE_ID", &trace_id);
            // The trace a command names in its `traceparent`, if it does.
            let named = line.split("traceparent: 00-").nth(1).map(|r| &r[..32]);
            let before = drawn(lab.stdout_text().lines(), named);
            let text = shell(&actual, &env);
            ran += 1;
            if line.contains("localhost:5000") {
                // The guide reads the trace next: wait until the lab has drawn it whole.
                lab.wait_stdout(
                    &format!("a trace drawn after `{line}`"),
                    Duration::from_secs(20),
                    |lines| drawn(lines.iter().map(String::as_str), named) > before,
                );
            }
            if line.starts_with("tracelab traces") {
                let newest = text
                    .lines()
                    .nth(1)
                    .and_then(|l| l.split_whitespace().next());
                trace_id = newest.expect("a trace listed").to_owned();
            }
            output.push_str(&format!("$ {line}\n{text}\n"));
        }
        for item in &exercise.items {
            if let Item::Answer(answer) = item {
                assert!(
                    output.contains(answer.as_str()),
                    "exercise {}: the answer {answer:?} is not in its output:\n{output}",
                    exercise.number
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&bin);
    eprintln!("not run here:\n  {}", skipped.join("\n  "));
    // Only setting up (0), Grafana through compose (6) and the cluster (7) may be skipped.
    assert!(
        skipped
            .iter()
            .all(|s| ["0.", "6.", "7."].iter().any(|n| s.starts_with(n))),
        "{skipped:?}"
    );
    assert!(ran >= 15, "only {ran} commands ran");
}
