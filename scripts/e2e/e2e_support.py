"""Helpers of the end-to-end scripts in scripts/e2e/: processes with logs,
waiting on conditions with deadlines (never a fixed sleep), HTTP on loopback,
and reading a trace back from the store (Tempo's API).

Every wait is bounded; every process started is stopped in `finally`.
"""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SEED_BODY = "I'm app-a I'm app-b I'm app-c"
SERVICES = ("app-a", "app-b", "app-c")
CHAIN_SPANS = 5


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


def trace_summary(doc):
    """(span count, sorted service names) of a Tempo or OTLP JSON trace."""
    spans, services = 0, set()

    def walk(node):
        nonlocal spans
        if isinstance(node, dict):
            if "spanId" in node:
                spans += 1
            res = node.get("resource")
            if isinstance(res, dict):
                for attr in res.get("attributes", []):
                    if attr.get("key") == "service.name":
                        services.add(attr.get("value", {}).get("stringValue"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)
    return spans, sorted(s for s in services if s)


def fetch_trace(query_url, trace_id, headers=None):
    status, text, _ = http(f"{query_url}/api/traces/{trace_id}", headers=headers)
    if status != 200:
        return 0, []
    return trace_summary(json.loads(text))


def wait_for_chain_trace(query_url, trace_id, timeout, headers=None):
    """Wait until the store holds the chain's 5 spans from the 3 services."""
    def complete():
        spans, services = fetch_trace(query_url, trace_id, headers)
        if spans > CHAIN_SPANS:
            raise Failure(f"trace {trace_id}: {spans} spans, more than {CHAIN_SPANS}")
        return (spans, services) if spans == CHAIN_SPANS and tuple(services) == SERVICES else None
    try:
        return wait_until(f"trace {trace_id} with {CHAIN_SPANS} spans from {', '.join(SERVICES)}", complete, timeout)
    except Failure:
        spans, services = fetch_trace(query_url, trace_id, headers)
        raise Failure(f"trace {trace_id}: {spans} spans from {services} after {timeout} s, "
                      f"want {CHAIN_SPANS} from {list(SERVICES)}") from None


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
