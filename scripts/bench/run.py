"""The side-by-side benchmark: tracelab's Rust chain against the seed's Python stack.

Run it through scripts/bench.sh, which builds the release binary and the venvs
first. Standard library only (matplotlib is imported by plot.py).

Every figure is measured --reps times and reported as the median with its
spread (min-max). Runs of the two sides alternate, so drift on a shared
machine hits both alike. All load goes to 127.0.0.1, with bounded durations
and request counts. Results: <out>/results.json and <out>/results.md.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSWER = b"I'm app-a I'm app-b I'm app-c"
DEADLINE = 30.0


def log(*args):
    print("bench:", *args, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(values):
    """Median and spread of repeated measurements."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


class Proc:
    """A child process with its output in files under the log directory."""

    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.out_path = logdir / f"{name}.out"
        self.err_path = logdir / f"{name}.err"
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=open(self.out_path, "wb"),
            stderr=open(self.err_path, "wb"),
        )

    @property
    def pid(self):
        return self.popen.pid

    def text(self, which="err"):
        return (self.err_path if which == "err" else self.out_path).read_text(errors="replace")

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def stop(self, timeout=15.0):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def http_status(port, path="/", timeout=1.0):
    """One GET on a fresh connection: the status code, or None if refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = s.recv(64)
            return int(head.split()[1]) if head.startswith(b"HTTP/") else None
    except OSError:
        return None


def wait_until_200(proc, port, path, interval=0.001):
    """Seconds from the process's start until `path` answers 200 (polled every `interval`)."""
    until = time.perf_counter() + DEADLINE
    while time.perf_counter() < until:
        if http_status(port, path) == 200:
            return time.perf_counter() - proc.started
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{proc.text()}")
        time.sleep(interval)
    raise RuntimeError(f"{proc.name} not ready on :{port}{path} after {DEADLINE}s:\n{proc.text()}")


def wait_tcp(proc, port):
    until = time.perf_counter() + DEADLINE
    while time.perf_counter() < until:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.text()}")
            time.sleep(0.01)
    raise RuntimeError(f"{proc.name} not listening on :{port}")


class Bench:
    def __init__(self, args):
        self.args = args
        self.tracelab = str(ROOT / "target/release/tracelab")
        self.venv = ROOT / "target/python-seed-venv/bin"
        self.logdir = Path(args.out) / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.counter = 0

    def name(self, base):
        self.counter += 1
        return f"{self.counter:03d}-{base}"

    # ---- processes ------------------------------------------------------

    def store(self, max_spans=2_000_000):
        argv = [self.tracelab, "store", "--otlp-port", "0", "--grpc-port", "0", "--query-port", "0",
                "--max-spans", str(max_spans)]
        proc = Proc(self.name("store"), argv, {"PATH": os.environ["PATH"]}, self.logdir)
        until = time.perf_counter() + DEADLINE
        while time.perf_counter() < until:
            out = proc.text("out")
            otlp = re.search(r"OTLP receiver on http://([\d.:]+)", out)
            query = re.search(r"query API on http://([\d.:]+)", out)
            if otlp and query:
                proc.otlp, proc.query = otlp.group(1), query.group(1)
                return proc
            time.sleep(0.01)
        raise RuntimeError(f"store did not start:\n{proc.text()}")

    def store_metrics(self, store):
        with urllib.request.urlopen(f"http://{store.query}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(tracelab_store_\w+) (\d+)$", text, re.M)}

    def rust_app(self, app, store, env, port=None):
        port = port or free_port()
        full = {
            "PATH": os.environ["PATH"],
            "PORT": str(port),
            "BIND_ADDR": "127.0.0.1",
            "LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{store.otlp}",
            **env,
        }
        # The app's own binary, as its image runs it (smaller than tracelab's).
        proc = Proc(self.name(f"rust-{app}"), [str(ROOT / "target/release" / app)], full, self.logdir)
        proc.port = port
        return proc

    def python_app(self, app, store, env, port=None):
        port = port or free_port()
        full = {
            "PATH": f"{self.venv}:/usr/bin:/bin",
            "PYTHONUNBUFFERED": "1",
            "PORT": str(port),
            # The seed's OTEL_* settings, with the trace endpoint on our store.
            # The seed also sets `console,otlp`; console output only slows
            # Python down, so it is left out to keep the comparison kind to it.
            "OTEL_SERVICE_NAME": app,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://{store.otlp}/v1/traces",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            **env,
        }
        script = f"interop/seed/app_{app[-1]}.py"
        argv = [str(self.venv / "opentelemetry-instrument"), "python", script]
        proc = Proc(self.name(f"python-{app}"), argv, full, self.logdir)
        proc.port = port
        return proc

    def chain(self, lang, store, env=None, delay_s=0.0):
        """app-c, app-b, app-a in `lang`, each ready before the next starts."""
        env = env or {}
        if lang == "rust":
            start, ready = self.rust_app, lambda p: wait_until_200(p, p.port, "/readyz")
            delay = {"APP_B_DELAY_MS": str(int(delay_s * 1000))}
        else:
            start, ready = self.python_app, lambda p: wait_tcp(p, p.port)
            delay = {"APP_B_DELAY_S": str(delay_s)}
        c = start("app-c", store, env)
        ready(c)
        b = start("app-b", store, {**env, **delay, "SERVICE_C_HOST": "127.0.0.1", "SERVICE_C_PORT": str(c.port)})
        ready(b)
        a = start("app-a", store, {**env, "SERVICE_B_HOST": "127.0.0.1", "SERVICE_B_PORT": str(b.port)})
        ready(a)
        return [a, b, c]

    @staticmethod
    def stop_chain(chain):
        """SIGTERM app-a, then app-b, then app-c (each drains and flushes);
        the span counts each logged at exit."""
        counts = {}
        for proc in chain:
            proc.stop()
            text = proc.text()
            flushed = [json.loads(line) for line in text.splitlines() if '"spans flushed"' in line]
            if flushed:
                fields = flushed[-1].get("fields", flushed[-1])
                counts[proc.name.split("-", 2)[-1]] = {k: int(fields[k]) for k in ("exported", "failed", "dropped")}
        return counts

    # ---- load -----------------------------------------------------------

    def wrk(self, port, conc, duration, delay_ms=0):
        threads = min(conc, 2)
        argv = ["wrk", "-t", str(threads), "-c", str(conc), "-d", f"{duration}s", "--latency", "--timeout", "10s"]
        env = dict(os.environ)
        if delay_ms:
            argv += ["-s", str(ROOT / "scripts/bench/delay.lua")]
            env["WRK_DELAY_MS"] = str(delay_ms)
        out = subprocess.run(argv + [f"http://127.0.0.1:{port}/"], capture_output=True, text=True, env=env, check=True).stdout
        return parse_wrk(out)

    async def _burst(self, port, n, timeout):
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        gate = asyncio.Semaphore(256)

        async def connect():
            async with gate:
                return await asyncio.open_connection("127.0.0.1", port)

        connections = await asyncio.gather(*(connect() for _ in range(n)))
        started = time.perf_counter()

        async def one(reader, writer):
            writer.write(request)
            await writer.drain()
            data = await reader.read()
            took = time.perf_counter() - started
            writer.close()
            return took, data.startswith(b"HTTP/1.1 200") and data.endswith(ANSWER)

        results = await asyncio.wait_for(asyncio.gather(*(one(r, w) for r, w in connections)), timeout)
        times = sorted(t for t, _ in results)
        return {"last_s": times[-1], "p50_s": times[len(times) // 2], "ok": sum(ok for _, ok in results), "n": n}

    def burst(self, port, n, timeout=60):
        """`n` connections opened first, then `n` requests sent at once:
        seconds until the last full, correct answer."""
        return asyncio.run(self._burst(port, n, timeout))


WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def parse_wrk(out):
    def ms(text):
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * WRK_UNITS[unit]

    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": ms(latency["50"]),
        "p90_ms": ms(latency["90"]),
        "p99_ms": ms(latency["99"]),
        "errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


# ---- the experiments --------------------------------------------------------


def throughput(bench, results):
    """Rust vs Python, wait 0, concurrency 1/8/64; RSS idle and after load."""
    args = bench.args
    store = bench.store()
    chains = {"rust": bench.chain("rust", store), "python": bench.chain("python", store)}
    time.sleep(1)
    rss = {lang: {"idle": {p.name.split("-", 2)[-1]: p.rss_kib() for p in chain}} for lang, chain in chains.items()}
    for chain in chains.values():  # warm up: connections, caches, lazy imports
        bench.wrk(chain[0].port, 8, 1)
    runs = {lang: {c: [] for c in args.concurrency} for lang in chains}
    for rep in range(args.reps):
        for conc in args.concurrency:
            for lang, chain in chains.items():
                run = bench.wrk(chain[0].port, conc, args.duration)
                log(f"throughput rep {rep + 1} c={conc} {lang}: {run['rps']:.0f} req/s p50 {run['p50_ms']:.2f} ms")
                runs[lang][conc].append(run)
    for lang, chain in chains.items():
        rss[lang]["after_load"] = {p.name.split("-", 2)[-1]: p.rss_kib() for p in chain}
    stored_before_stop = bench.store_metrics(store)
    for chain in chains.values():
        bench.stop_chain(chain)
    store.stop()
    results["throughput"] = {
        lang: {
            str(c): {
                key: summary([r[key] for r in runs[lang][c]])
                for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "errors", "non2xx")
            }
            for c in args.concurrency
        }
        for lang in chains
    }
    results["rss_kib"] = rss
    results["throughput_store"] = stored_before_stop


def overhead(bench, results):
    """The Rust chain exporting every span vs OTEL_SDK_DISABLED=true."""
    args = bench.args
    store = bench.store()
    chains = {
        "traced": bench.chain("rust", store),
        "untraced": bench.chain("rust", store, {"OTEL_SDK_DISABLED": "true"}),
    }
    for chain in chains.values():
        bench.wrk(chain[0].port, 8, 1)
    runs = {k: {c: [] for c in args.overhead_concurrency} for k in chains}
    for rep in range(args.reps):
        for conc in args.overhead_concurrency:
            for kind, chain in chains.items():
                run = bench.wrk(chain[0].port, conc, args.duration)
                log(f"overhead rep {rep + 1} c={conc} {kind}: {run['rps']:.0f} req/s")
                runs[kind][conc].append(run)
    for chain in chains.values():
        bench.stop_chain(chain)
    store.stop()
    results["overhead"] = {
        kind: {str(c): {k: summary([r[k] for r in runs[kind][c]]) for k in ("rps", "p50_ms", "p99_ms")} for c in runs[kind]}
        for kind in chains
    }
    results["overhead_ratio"] = {
        str(c): summary([t["rps"] / u["rps"] for t, u in zip(runs["traced"][c], runs["untraced"][c])])
        for c in args.overhead_concurrency
    }


def wait2s(bench, results):
    """The seed's 2 s wait: N simultaneous requests, time to the last answer."""
    args = bench.args
    store = bench.store()
    out = {}
    sides = [("rust", n) for n in args.burst] + [("python", n) for n in args.python_burst]
    chains = {lang: bench.chain(lang, store, delay_s=2.0) for lang in {lang for lang, _ in sides}}
    for rep in range(args.reps):
        for lang, n in sides:
            try:
                run = bench.burst(chains[lang][0].port, n)
            except (asyncio.TimeoutError, OSError) as error:
                run = {"error": repr(error), "n": n}
            log(f"2 s wait rep {rep + 1} {lang} n={n}: {run}")
            out.setdefault(lang, {}).setdefault(str(n), []).append(run)
    for chain in chains.values():
        bench.stop_chain(chain)
    store.stop()
    results["wait2s"] = {
        lang: {
            n: {
                "last_s": summary([r.get("last_s") for r in runs]),
                "p50_s": summary([r.get("p50_s") for r in runs]),
                "ok": summary([r.get("ok", 0) for r in runs]),
                "runs": runs,
            }
            for n, runs in by_n.items()
        }
        for lang, by_n in out.items()
    }


def startup(bench, results):
    """Process start to /readyz 200 (Rust) or the first 200 on / (Python)."""
    args = bench.args
    store = bench.store()
    python_chain = bench.chain("python", store)  # downstreams for Python's app-a and app-b
    out = {"rust": {}, "python": {}}
    for rep in range(args.startup_reps):
        for app in ("app-a", "app-b", "app-c"):
            proc = bench.rust_app(app, store, {})
            out["rust"].setdefault(app, []).append(wait_until_200(proc, proc.port, "/readyz"))
            proc.stop()
    for rep in range(args.reps):
        for app, next_app in (("app-c", None), ("app-b", python_chain[2]), ("app-a", python_chain[1])):
            env = {"APP_B_DELAY_S": "0"}
            if next_app is not None:
                prefix = "SERVICE_C" if app == "app-b" else "SERVICE_B"
                env |= {f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(next_app.port)}
            proc = bench.python_app(app, store, env)
            out["python"].setdefault(app, []).append(wait_until_200(proc, proc.port, "/", interval=0.002))
            proc.stop()
    bench.stop_chain(python_chain)
    store.stop()
    log(f"startup: {out}")
    results["startup_ms"] = {lang: {app: summary([t * 1000 for t in ts]) for app, ts in apps.items()} for lang, apps in out.items()}


def spans(bench, results):
    """Every span accounted for: a fresh store and chain per run, load, a
    graceful stop, then the services' own counts against the store's."""
    args = bench.args
    out = []
    for conc, delay_ms, queue in args.span_runs:
        for rep in range(args.span_reps):
            store = bench.store(max_spans=5_000_000)
            env = {"OTEL_BSP_MAX_QUEUE_SIZE": str(queue)} if queue else {}
            chain = bench.chain("rust", store, env)
            run = bench.wrk(chain[0].port, conc, args.span_duration, delay_ms)
            counts = bench.stop_chain(chain)
            time.sleep(0.2)  # the last export's response is already in: it is synchronous
            stored = bench.store_metrics(store)
            store.stop()
            a = counts["app-a"]
            requests = (a["exported"] + a["failed"] + a["dropped"]) // 2
            c = counts["app-c"]
            row = {
                "concurrency": conc,
                "delay_ms": delay_ms,
                "queue": queue or 2048,
                "rps": run["rps"],
                "requests": requests,
                "expected_spans": 5 * requests,
                # What the services recorded: 5 per request, except for requests wrk abandoned
                # at the end of its run, whose call down the chain was cancelled part way.
                "recorded_spans": sum(v["exported"] + v["failed"] + v["dropped"] for v in counts.values()),
                "cut_short": requests - (c["exported"] + c["failed"] + c["dropped"]),
                "stored_spans": stored.get("tracelab_store_spans"),
                "stored_traces": stored.get("tracelab_store_traces"),
                "exported": sum(c["exported"] for c in counts.values()),
                "dropped": sum(c["dropped"] for c in counts.values()),
                "failed": sum(c["failed"] for c in counts.values()),
                "per_service": counts,
            }
            log(f"spans c={conc} delay={delay_ms}ms queue={row['queue']}: {row['rps']:.0f} req/s, "
                f"{row['stored_spans']}/{row['recorded_spans']} stored, {row['dropped']} dropped, "
                f"{row['cut_short']} requests cut short")
            out.append(row)
    results["spans"] = out


EXPERIMENTS = {"throughput": throughput, "overhead": overhead, "wait2s": wait2s, "startup": startup, "spans": spans}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    load = open("/proc/loadavg").read().split()[:3]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(int(mem) / 2**20, 1),
        "kernel": os.uname().release,
        "loadavg_at_start": load,
        "python": sys.version.split()[0],
        "rustc": rustc,
        "wrk": wrk_version,
        "nofile": subprocess.run(["bash", "-c", "ulimit -n"], capture_output=True, text=True).stdout.strip(),
    }


def span_run(text):
    conc, delay, queue = (int(x) for x in text.split(":"))
    return conc, delay, queue


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "target/bench"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--overhead-concurrency", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--burst", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--python-burst", type=int, nargs="+", default=[500])
    parser.add_argument("--startup-reps", type=int, default=5)
    parser.add_argument("--span-duration", type=int, default=3)
    parser.add_argument("--span-reps", type=int, default=3)
    parser.add_argument(
        "--span-runs", type=span_run, nargs="+",
        default=[
            span_run(x)
            for x in ("1:0:0", "8:0:0", "64:10:0", "64:4:0", "64:0:0", "64:0:8192", "64:0:32768", "64:10:256")
        ],
        help="concurrency:delay_ms:queue (queue 0: the default 2048)",
    )
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    args = parser.parse_args()

    bench = Bench(args)
    results = {"machine": machine(), "args": {k: v for k, v in vars(args).items() if k != "span_runs"}}
    results["args"]["span_runs"] = args.span_runs
    path = Path(args.out) / "results.json"
    started = time.perf_counter()
    for name in args.only:
        log(f"== {name}")
        EXPERIMENTS[name](bench, results)
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
        path.write_text(json.dumps(results, indent=2))
    results["machine"]["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    path.write_text(json.dumps(results, indent=2))
    log(f"results in {path} after {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
