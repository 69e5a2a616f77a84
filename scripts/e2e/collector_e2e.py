"""The chain through the real OpenTelemetry Collector into the store, on loopback.

    app-a -> app-b -> app-c  --OTLP/HTTP-->  otelcol (deploy/compose/otel-collector.yaml,
    only endpoints changed)  --OTLP/gRPC-->  tracelab store (as Tempo's distributor)

Checks, each with a deadline:
  1. a request through the chain: the store holds its trace, and `tracelab expect`
     finds it has the seed chain's shape (tracelab/tests/shapes/chain.yaml);
  2. the store down for 10 s and back: every trace sent meanwhile arrives whole,
     shape and all (the Collector's sending queue and retry), none lost;
  3. a Collector past its memory limit refuses with HTTP 503, the answer the
     OTLP exporters retry on, and our services count and report it.

Usage: python scripts/e2e/collector_e2e.py --otelcol BIN --bin-dir DIR [--work DIR]
(scripts/collector-test.sh builds both and runs this).
"""
import argparse
import copy
import json
import os
import re
import shutil
import signal
import sys
import time

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the working tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_support import (CHAIN_SHAPE, SEED_BODY, Failure, Proc, expect_chain, free_port, http,  # noqa: E402
                         log, main_guard, new_traceparent, ok, prometheus_value, wait_http_ok,
                         wait_until)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STORE_DOWN_SECONDS = 10


def collector_config(base, ports, store_grpc):
    """The repo's compose config with only its endpoints changed (loopback, free ports)."""
    cfg = copy.deepcopy(base)
    changes = {}

    def put(path, value):
        node = cfg
        for key in path[:-1]:
            node = node.setdefault(key, {})
        changes[".".join(path)] = (node.get(path[-1]), value)
        node[path[-1]] = value

    put(["extensions", "health_check", "endpoint"], f"127.0.0.1:{ports['health']}")
    put(["receivers", "otlp", "protocols", "grpc", "endpoint"], f"127.0.0.1:{ports['grpc']}")
    put(["receivers", "otlp", "protocols", "http", "endpoint"], f"127.0.0.1:{ports['http']}")
    (exporter,) = [e for e in cfg["exporters"] if e.split("/")[0] == "otlp_grpc"]
    put(["exporters", exporter, "endpoint"], f"127.0.0.1:{store_grpc}")
    # The Collector's own metrics (default localhost:8888): a free port, to read them.
    put(["service", "telemetry", "metrics"],
        {"readers": [{"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": ports["metrics"]}}}}]})
    return cfg, changes


class Lab:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.procs = []
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELAB_", "RUST_LOG"))}
        self.store_ports = {k: free_port() for k in ("otlp", "grpc", "query")}
        self.query_url = f"http://127.0.0.1:{self.store_ports['query']}"

    def start(self, name, argv, env=None):
        p = Proc(name, argv, dict(self.base_env, **(env or {})), self.work)
        self.procs.append(p)
        return p

    def bin(self, name):
        return os.path.join(self.args.bin_dir, name)

    def expect_argv(self):
        """`tracelab expect` on the seed chain's shape, from the binaries under test."""
        return [self.bin("tracelab"), "expect", CHAIN_SHAPE]

    def start_store(self):
        p = self.start("store", [self.bin("tracelab"), "store", "--bind", "127.0.0.1",
                                 "--otlp-port", str(self.store_ports["otlp"]),
                                 "--grpc-port", str(self.store_ports["grpc"]),
                                 "--query-port", str(self.store_ports["query"])], {"RUST_LOG": "info"})
        wait_http_ok("the store", f"{self.query_url}/ready", p, 30)
        return p

    def start_collector(self, name, cfg):
        path = os.path.join(self.work, f"{name}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        health = cfg["extensions"]["health_check"]["endpoint"]
        # compose.yaml's environment for the Collector.
        p = self.start(name, [self.args.otelcol, f"--config={path}"], {"GOMEMLIMIT": "400MiB"})
        wait_http_ok(name, f"http://{health}/", p, 60)
        return p

    def start_chain(self, prefix, otlp_http_port):
        """app-c, app-b, app-a as compose.yaml configures them, on loopback."""
        ports = {a: free_port() for a in ("app-a", "app-b", "app-c")}
        common = {
            "BIND_ADDR": "127.0.0.1", "LOG_FORMAT": "text", "RUST_LOG": "info", "SHUTDOWN_GRACE_MS": "2000",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_http_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TIMEOUT": "5000",
            "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
            # Export each batch quickly (the default waits 5 s).
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        own = {
            "app-c": {},
            "app-b": {"SERVICE_C_HOST": "127.0.0.1", "SERVICE_C_PORT": str(ports["app-c"]),
                      "APP_B_DELAY_MS": "2000", "DOWNSTREAM_TIMEOUT_MS": "3000"},
            "app-a": {"SERVICE_B_HOST": "127.0.0.1", "SERVICE_B_PORT": str(ports["app-b"]),
                      "DOWNSTREAM_TIMEOUT_MS": "3000"},
        }
        procs = {}
        for app in ("app-c", "app-b", "app-a"):
            env = dict(common, **own[app], PORT=str(ports[app]), OTEL_SERVICE_NAME=app)
            procs[app] = self.start(f"{prefix}{app}", [self.bin(app)], env)
            wait_http_ok(app, f"http://127.0.0.1:{ports[app]}/readyz", procs[app], 30)
        return procs, ports

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop(timeout=15)


def get_chain(port, traceparent):
    status, body, _ = http(f"http://127.0.0.1:{port}/", headers={"traceparent": traceparent}, timeout=15)
    if status != 200 or body.strip() != SEED_BODY:
        raise Failure(f"GET app-a: {status} {body!r}, want 200 {SEED_BODY!r}")


def metric(url, *names, labels=None):
    _, text, _ = http(url, timeout=5)
    for name in names:
        value = prometheus_value(text, name, labels)
        if value is not None:
            return value
    return None


def run(args):
    lab = Lab(args)
    base = yaml.safe_load(open(os.path.join(ROOT, "deploy/compose/otel-collector.yaml")))
    try:
        log(f"otelcol: {args.otelcol}; chain and store: {args.bin_dir}; logs: {lab.work}")
        store = lab.start_store()
        col_ports = {k: free_port() for k in ("health", "grpc", "http", "metrics")}
        cfg, changes = collector_config(base, col_ports, lab.store_ports["grpc"])
        for key, (old, new) in changes.items():
            log(f"collector config {key}: {old!r} -> {new!r}")
        collector = lab.start_collector("otelcol", cfg)
        col_metrics = f"http://127.0.0.1:{col_ports['metrics']}/metrics"
        chain, ports = lab.start_chain("", col_ports["http"])

        # 1. one request, its trace read back from the store and checked against the chain's shape.
        trace_id, tp = new_traceparent()
        start = time.monotonic()
        get_chain(ports["app-a"], tp)
        verdict, spans = expect_chain(lab.expect_argv(), lab.query_url, trace_id, 30)
        ok(f"chain -> otelcol -> store (OTLP/gRPC): {verdict} "
           f"({time.monotonic() - start:.1f} s after the request)")
        accepted = metric(col_metrics, "otelcol_receiver_accepted_spans_total", "otelcol_receiver_accepted_spans")
        sent = metric(col_metrics, "otelcol_exporter_sent_spans_total", "otelcol_exporter_sent_spans")
        if not accepted or not sent or accepted < spans or sent < spans:
            raise Failure(f"the Collector's own counters do not show the spans: accepted {accepted}, sent {sent}")
        ok(f"the Collector counted them: receiver accepted {accepted:.0f} spans, exporter sent {sent:.0f}")

        # 2. the store down for 10 s and back: nothing lost.
        log(f"stopping the store for {STORE_DOWN_SECONDS} s")
        down_at = time.monotonic()
        status = store.stop()
        if status != 0:
            raise Failure(f"the store exited {status} on SIGTERM")
        ids = []
        for _ in range(3):
            trace_id, tp = new_traceparent()
            get_chain(ports["app-a"], tp)
            ids.append(trace_id)
        # The apps delivered their spans to the Collector (their export counters).
        for app in ("app-a", "app-b", "app-c"):
            url = f"http://127.0.0.1:{ports[app]}/metrics"
            wait_until(f"{app} to hand its spans to the Collector",
                       lambda url=url: (metric(url, "tracelab_spans_queued_total") or 0)
                       == (metric(url, "tracelab_spans_exported_total") or -1), 15)
        failed_sends = metric(col_metrics, "otelcol_exporter_send_failed_spans_total",
                              "otelcol_exporter_send_failed_spans") or 0
        remaining = STORE_DOWN_SECONDS - (time.monotonic() - down_at)
        if remaining < 0:
            raise Failure(f"the requests took longer than the {STORE_DOWN_SECONDS} s outage")
        wait_until("the outage to last its 10 s", lambda: time.monotonic() - down_at >= STORE_DOWN_SECONDS,
                   remaining + 1)
        store = lab.start_store()
        back_at = time.monotonic()
        for trace_id in ids:
            expect_chain(lab.expect_argv(), lab.query_url, trace_id, 90)
        failed_after = metric(col_metrics, "otelcol_exporter_send_failed_spans_total",
                              "otelcol_exporter_send_failed_spans") or 0
        ok(f"store down {STORE_DOWN_SECONDS} s and back: the {len(ids)} traces sent meanwhile arrived whole "
           f"({len(ids) * spans} spans) {time.monotonic() - back_at:.1f} s after the store returned; "
           f"spans the exporter gave up on: {failed_after - failed_sends:.0f}")
        if failed_after - failed_sends:
            raise Failure("the Collector dropped spans")
        retries = [l for l in collector.output().splitlines() if "retry" in l.lower() or "Exporting failed" in l]
        if not retries:
            raise Failure("the Collector logged no failed export / retry while the store was down")
        ok(f"the Collector retried: {retries[0][:200]}")

        # 3. past the memory limit: refused with 503, counted by our exporters.
        refusing = copy.deepcopy(cfg)
        ports2 = {k: free_port() for k in ("health", "grpc", "http", "metrics")}
        refusing, _ = collector_config(refusing, ports2, lab.store_ports["grpc"])
        # The one change beyond endpoints: a limit below what any Go process uses at rest.
        refusing["processors"]["memory_limiter"] = {"check_interval": "1s", "limit_mib": 2, "spike_limit_mib": 1}
        log("memory_limiter: limit_mib 2, spike_limit_mib 1 (below the Collector's own heap)")
        lab.start_collector("otelcol-refusing", refusing)
        # One span in OTLP/JSON; the limiter checks memory every check_interval,
        # so the first answers may still be 200.
        probe = json.dumps({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "probe"}}]},
            "scopeSpans": [{"spans": [{"traceId": new_traceparent()[0], "spanId": "00f067aa0ba902b7",
                                       "name": "probe", "kind": 1, "startTimeUnixNano": "1",
                                       "endTimeUnixNano": "2"}]}]}]}).encode()
        answers = []

        def refused():
            answers.append(http(f"http://127.0.0.1:{ports2['http']}/v1/traces", method="POST", body=probe,
                                headers={"Content-Type": "application/json"}))
            return answers[-1][0] == 503
        try:
            wait_until("the Collector to refuse (503)", refused, 15, interval=0.5)
        except Failure:
            raise Failure(f"POST /v1/traces past the memory limit: {answers[-1][:2]}, want 503") from None
        status, body, _ = answers[-1]
        ok(f"past its memory limit the Collector answers {status} (retryable in OTLP/HTTP): {body.strip()[:120]}")
        chain2, ports3 = lab.start_chain("refused-", ports2["http"])
        trace_id, tp = new_traceparent()
        get_chain(ports3["app-a"], tp)
        for app in ("app-a", "app-b", "app-c"):
            url = f"http://127.0.0.1:{ports3[app]}/metrics"
            failed = wait_until(f"{app} to count the refused export",
                                lambda url=url: metric(url, "tracelab_spans_failed_total"), 30)
            exported = metric(url, "tracelab_spans_exported_total") or 0
            if exported:
                raise Failure(f"{app}: {exported} spans exported to a Collector that refuses everything")
            line = wait_until(f"{app} to report the failed export",
                              lambda p=chain2[app]: next((l for l in p.output().splitlines()
                                                          if "span export failed" in l), None), 15)
            if not re.search(r"503|Service Unavailable|high memory", line):
                raise Failure(f"{app} reported the failure without the Collector's answer: {line}")
            ok(f"{app} counted {failed:.0f} failed spans and reported: {line.split('span export failed', 1)[1][:160]}")
        for app in ("app-a", "app-b", "app-c"):
            code = chain2[app].stop()
            if code != 0:
                raise Failure(f"{app} exited {code} after SIGTERM")
    except Failure:
        for p in lab.procs:
            print(f"---- {p.name} ({p.log_path}), last lines:\n{p.tail(15)}", flush=True)
        raise
    finally:
        lab.stop_all()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--otelcol", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--work", default=os.path.join(ROOT, "target", "collector-test"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main_guard(lambda: run(parser.parse_args()))
