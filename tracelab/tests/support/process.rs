//! Child processes with their output captured line by line, and waits on
//! that output with a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Deadline for anything the harness waits on.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Lines a child wrote, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    /// Set (under `lines`' lock) when the pipe reached its end.
    ended: AtomicBool,
    grew: Condvar,
}

impl Lines {
    /// Wait until the pipe has been read to its end, or `until`. A process that has exited may
    /// still have lines in its pipe that the reading thread has not taken yet.
    fn wait_ended(&self, until: Instant) {
        let mut guard = self.lines.lock().unwrap();
        while !self.ended.load(Ordering::SeqCst) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // A grandchild that inherited the pipe can hold it open; what was read stands.
                return;
            }
            guard = self.grew.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// A `tracelab` child process with its output captured line by line.
pub struct Process {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
}

impl Process {
    /// Start `tracelab <args>` with exactly `env` as its environment.
    pub fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracelab"));
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        Self::spawn(command)
    }

    /// Spawn `command` with piped stdin, stdout and stderr, capturing the output.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} starts: {e}"));
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// The first stdout line matching `pred`, waiting up to `DEADLINE`.
    pub fn stdout_line(&self, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stdout, &pred, "stdout", self)
    }

    /// The first stderr line matching `pred`, waiting up to `DEADLINE`.
    pub fn stderr_line(&self, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stderr, &pred, "stderr", self)
    }

    /// Wait up to `deadline` until `check` holds for the stdout lines written so far; panic
    /// with `what` if it never does.
    pub fn wait_stdout(&self, what: &str, deadline: Duration, check: impl Fn(&[String]) -> bool) {
        let until = Instant::now() + deadline;
        let mut guard = self.stdout.lines.lock().unwrap();
        while !check(&guard) {
            let left = until.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{what}: not within {deadline:?}");
            guard = self.stdout.grew.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lines.lock().unwrap().join("\n")
    }

    /// Everything written to stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout.lines.lock().unwrap().join("\n")
    }

    /// Send a signal (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Wait for the process to exit, up to `deadline`, and for its output to be read to the end
    /// (up to 5 s more), so `stdout_text` after it holds everything the process wrote.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let drained = Instant::now() + Duration::from_secs(5);
                self.stdout.wait_ended(drained);
                self.stderr.wait_ended(drained);
                return status;
            }
            assert!(
                Instant::now() < until,
                "process did not exit within {deadline:?}\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Lines> {
    let lines = Arc::new(Lines::default());
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            sink.lines.lock().unwrap().push(line);
            sink.grew.notify_all();
        }
        let _guard = sink.lines.lock().unwrap();
        sink.ended.store(true, Ordering::SeqCst);
        sink.grew.notify_all();
    });
    lines
}

fn wait_line(lines: &Lines, pred: &dyn Fn(&str) -> bool, which: &str, process: &Process) -> String {
    let until = Instant::now() + DEADLINE;
    let mut guard = lines.lines.lock().unwrap();
    loop {
        if let Some(line) = guard.iter().find(|l| pred(l)) {
            return line.clone();
        }
        let left = until.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no matching {which} line within {DEADLINE:?}; stderr:\n{}",
            {
                drop(guard);
                process.stderr_text()
            }
        );
        guard = lines.grew.wait_timeout(guard, left).unwrap().0;
    }
}

/// Open file descriptors of a process (sockets included), to spot leaks.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Wait until `check` is true, asking every 20 ms, for up to [`DEADLINE`];
/// panic with `what` if it never is. The one way the tests wait.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < until, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A finished command's exit code (-1 if a signal ended it) and its stdout then stderr, as
/// the tests of exit codes and messages read them.
pub fn code_and_text(output: &std::process::Output) -> (i32, String) {
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}
