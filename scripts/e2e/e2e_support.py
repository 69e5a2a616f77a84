"""Helpers of the end-to-end scripts in scripts/e2e/: processes with logs,
waiting on conditions with deadlines (never a fixed sleep), HTTP on loopback,
and checking a trace against the seed chain's shape file with `tracelab expect`.

Every wait is bounded; every process started is stopped in `finally`.
"""
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SEED_BODY = "I'm app-a I'm app-b I'm app-c"
# The seed chain's shape: the one file every end-to-end test checks the chain's trace against.
CHAIN_SHAPE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "tracelab", "tests",
                                           "shapes", "chain.yaml"))


class Failure(Exception):
    """A check that did not hold."""


def log(msg):
    print(f"==> {msg}", flush=True)


def ok(msg):
    print(f"ok    {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, interval=0.2):
    """Call check() until it returns a true value; return it. Raise after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # the condition is not met yet
            last = e
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}" + (f" (last: {last})" if last else ""))
        time.sleep(interval)


def http(url, method="GET", body=None, headers=None, timeout=10):
    """(status, body text, headers); HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), dict(e.headers)


def new_traceparent():
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def expect_chain(expect_argv, store_url, trace_id, wait_s, env=None):
    """Check trace `trace_id` against the seed chain's shape file with `tracelab expect`, as
    any CI script would: wait up to `wait_s` for it, then compare it span by span (services,
    names, kinds, statuses, attributes, parent and child). `expect_argv` is the command up to
    and including the shape file: `[tracelab, "expect", CHAIN_SHAPE]`, or a `podman run` of the
    store's image with the file mounted. Returns (the verdict line, the trace's span count);
    raises Failure with the diff when the trace does not match or did not arrive in time."""
    argv = [*expect_argv, "--trace", trace_id, "--store", store_url, "--wait", f"{wait_s}s",
            "--color", "never"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=wait_s + 60,
                         env=dict(os.environ, **(env or {})))
    said = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        raise Failure(f"tracelab expect (exit {run.returncode}): {said}")
    # "trace <id> matches <file> (5 spans)"
    return said, int(re.search(r"\((\d+) spans\)$", said).group(1))


class Proc:
    """A process with its output in a log file; stop() is safe to call twice."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n---- start: {' '.join(argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal, wait; SIGKILL after timeout s. Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.flush()
        return self.proc.returncode

    def output(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self, lines=30):
        return "\n".join(self.output().splitlines()[-lines:])


def wait_http_ok(what, url, proc, timeout):
    def ready():
        if proc is not None and not proc.alive():
            raise Failure(f"{proc.name} exited ({proc.proc.returncode}):\n{proc.tail()}")
        status, _, _ = http(url, timeout=2)
        return status == 200
    try:
        wait_until(f"{what} ({url})", ready, timeout)
    except Failure as e:
        if proc is not None and not proc.alive():
            raise
        raise Failure(f"{e}\n{proc.tail() if proc else ''}") from None


def prometheus_value(text, name, labels=None):
    """Sum of a metric's samples in Prometheus text, optionally filtered by labels."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, labelset = head.partition("{")
        if metric != name:
            continue
        if labels and not all(f'{k}="{v}"' in labelset for k, v in labels.items()):
            continue
        total += float(value)
        found = True
    return total if found else None


def main_guard(run):
    """Run run(); print FAIL and exit 1 on a Failure."""
    try:
        run()
    except Failure as e:
        print(f"FAIL  {e}", flush=True)
        sys.exit(1)
