"""The chain in containers, as in the cluster, on a private podman network.

Containers app-a, app-b, app-c (tracelab/app-x:dev), otel-collector
(tracelab/otelcol:dev) and the store in Tempo's place (tracelab/tracelab:dev,
its default command), each with the environment, arguments, user and memory
limit of its Deployment in the rendered k8s overlay (`kubectl kustomize`), so
what runs is what kubectl would apply. What a cluster would do and podman does
not is mapped, and printed:
  - cluster DNS names (app-b, otel-collector-tempo.monitor.svc.cluster.local,
    tempo.monitor.svc.cluster.local) become network aliases of the container
    behind the Service (for the apps, of their "pod": a holder container whose
    network the app's container joins, so the address and names stay while the
    app stops and starts, as a pod's do);
  - a Service port in an env value (SERVICE_B_PORT=80) becomes the container
    port it targets, as kube-proxy would;
  - fieldRefs get the pod's values (metadata.name, status.podIP);
  - the Collector's config is the rendered ConfigMap without k8s_attributes
    (it needs the Kubernetes API) and with the store's token as the exporter's
    header (Tempo needs none; the store off loopback does).
A client container does what the seed's nginx pod does: wget app-a.

Checks: the seed's text; the store holds the trace, with the seed chain's shape
(tracelab/tests/shapes/chain.yaml, checked by the store image's own
`tracelab expect`); "podman stop app-b" during its wait lets the request
finish, flushes app-b's spans (the whole shape again) and exits 0; a
stopped app-c gives 502 with the documented body; the store image's default
command refuses to start without TRACELAB_TOKEN. Containers and the network
are removed at the end, also on failure.

Usage: python scripts/e2e/containers_e2e.py --render FILE [--keep]
"""
import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the working tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_support import (CHAIN_SHAPE, SEED_BODY, Failure, expect_chain, http, log, main_guard,  # noqa: E402
                         new_traceparent, ok, wait_until)

LABEL = "tracelab-test=containers"
CLIENT_IMAGE = "localhost/tracelab-test/busybox:local"
# The client, started once and exec'd into like the cluster's curl pod (every
# container joining the network restarts podman's DNS server for a moment).
CLIENT = "curl"
APPS = ("app-a", "app-b", "app-c")
STORE = "tempo-store"
# Helm-installed Services that are not in the overlay: Tempo, stood in for by the store.
EXTERNAL_SERVICES = {("monitor", "tempo"): STORE}
A502_BODY = "I'm app-a I'm app-b Error calling Service C"


def podman(*args, check=True, timeout=120, capture=True, stdin=None):
    run = subprocess.run(["podman", *args], capture_output=capture, text=True, timeout=timeout, input=stdin)
    if check and run.returncode != 0:
        raise Failure(f"podman {' '.join(args)}: exit {run.returncode}: {run.stderr.strip()[-800:]}")
    return run


# ---- reading the rendered overlay -----------------------------------------------------

class Cluster:
    """Services and Deployments of a rendered overlay."""

    def __init__(self, docs):
        self.docs = docs
        self.deployments = [d for d in docs if d["kind"] == "Deployment"]
        self.services = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                         for d in docs if d["kind"] == "Service"}

    def deployment(self, container_name):
        for d in self.deployments:
            c = d["spec"]["template"]["spec"]["containers"][0]
            if c["name"] == container_name:
                return d, c
        raise Failure(f"no Deployment with a container {container_name}")

    def resolve(self, host, namespace):
        """Cluster DNS name -> (container name, Service) or None if it is not a Service."""
        parts = host.split(".")
        if len(parts) == 1:
            key = (namespace, parts[0])
        elif len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"]):
            key = (parts[1], parts[0])
        else:
            return None
        if key in EXTERNAL_SERVICES:
            return EXTERNAL_SERVICES[key], None
        svc = self.services.get(key)
        if not svc:
            return None
        sel = svc["spec"]["selector"]
        for d in self.deployments:
            labels = d["spec"]["template"]["metadata"]["labels"]
            if d["metadata"]["namespace"] == key[0] and all(labels.get(k) == v for k, v in sel.items()):
                return d["spec"]["template"]["spec"]["containers"][0]["name"], svc
        raise Failure(f"Service {key} selects no Deployment")

    def target_port(self, svc, port, container):
        """kube-proxy's job: Service port -> the container port it targets."""
        if svc is None:
            return port
        for sp in svc["spec"]["ports"]:
            if sp["port"] == port:
                target = sp.get("targetPort", port)
                _, c = self.deployment(container)
                for cp in c.get("ports", []):
                    if target in (cp.get("name"), cp["containerPort"]):
                        return cp["containerPort"]
        raise Failure(f"Service {svc['metadata']['name']} has no port {port}")


def container_env(cluster, name, pod_ip, aliases, notes):
    """The container's env as the kubelet would set it, with cluster names mapped."""
    d, c = cluster.deployment(name)
    ns = d["metadata"]["namespace"]
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), e["value"])
        else:
            path = e["valueFrom"]["fieldRef"]["fieldPath"]
            value = {"metadata.name": f"{name}-pod", "metadata.namespace": ns, "status.podIP": pod_ip}[path]
        env[e["name"]] = value
    for key, value in list(env.items()):
        m = re.fullmatch(r"SERVICE_([A-Z])_HOST", key)
        if m:
            target, svc = cluster.resolve(value, ns)
            aliases.setdefault(target, set()).add(value)
            port_key = f"SERVICE_{m.group(1)}_PORT"
            port = cluster.target_port(svc, int(env[port_key]), target)
            if str(port) != env[port_key]:
                notes.append(f"{name}: {port_key}={env[port_key]} -> {port} (Service {value}:{env[port_key]} "
                             f"targets container port {port})")
                env[port_key] = str(port)
        elif value.startswith(("http://", "https://")):
            url = urllib.parse.urlsplit(value)
            resolved = cluster.resolve(url.hostname, ns)
            if resolved:
                target, svc = resolved
                aliases.setdefault(target, set()).add(url.hostname)
                port = cluster.target_port(svc, url.port or 80, target)
                if port != (url.port or 80):
                    env[key] = value.replace(f"{url.hostname}:{url.port}", f"{url.hostname}:{port}")
                    notes.append(f"{name}: {key} port {url.port} -> {port}")
    return d, c, env


def memory_limit(c):
    limit = c.get("resources", {}).get("limits", {}).get("memory")
    m = re.fullmatch(r"(\d+)(Mi|Gi)", limit or "")
    return f"{int(m.group(1)) * (1024 if m.group(2) == 'Gi' else 1)}m" if m else None


def pod_user(d, c):
    psc = d["spec"]["template"]["spec"].get("securityContext", {})
    sc = c.get("securityContext", {})
    return f"{sc.get('runAsUser', psc['runAsUser'])}:{sc.get('runAsGroup', psc.get('runAsGroup', psc['runAsUser']))}"


# ---- the test --------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.network = f"tracelab-ct-{os.getpid()}"
        self.tmp = tempfile.mkdtemp(prefix="tracelab-ct-")
        self.token = secrets.token_hex(24)
        docs = [d for d in yaml.safe_load_all(open(args.render)) if d]
        self.cluster = Cluster(docs)

    def cleanup(self):
        ids = podman("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
        if ids:
            podman("rm", "-f", "-t", "0", *ids, check=False)
        nets = podman("network", "ls", "-q", "--filter", f"label={LABEL}", check=False).stdout.split()
        for net in nets:
            podman("network", "rm", "-f", net, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ip(self, name):
        if name in APPS:  # the pod's address, held by its holder container
            name = f"{name}-net"
        out = podman("inspect", name, "--format", "{{json .NetworkSettings.Networks}}").stdout
        return json.loads(out)[self.network]["IPAddress"]

    def client(self, *cmd, timeout=60, stdin=None):
        """A command in the client container, as "kubectl exec deploy/curl -- ..." in the cluster."""
        return podman("exec", *(["-i"] if stdin is not None else []), CLIENT, "/bin/busybox", *cmd, check=False,
                      timeout=timeout, stdin=stdin)

    def start_container(self, name, image, env, aliases, user, memory=None, ip=None, args=(), volumes=()):
        network = ["--network", self.network, "--dns", self.dns]
        for alias in sorted(aliases):
            network += ["--network-alias", alias]
        if ip:
            network += ["--ip", ip]
        argv = ["run", "-d", "--name", name, "--label", LABEL]
        if name in APPS:
            # Each app in a pod of its own, as in the cluster: a holder container (the client
            # image, asleep) owns the address and the names, and the app joins its network
            # namespace, so stopping and starting the app leaves the network alone.
            # Containers leaving the network make podman's DNS (aardvark-dns 1.4, Debian 12)
            # reload, and for up to 30 s after that it timed out for the client ("nc: bad
            # address 'app-a'") and for app-a ("timeout: error sending request for url
            # (http://app-b:5001/)"): the stopped-app-c check failed one run in two. (podman
            # 4.3's own pods ignore "pod create --network-alias".)
            podman("run", "-d", "--name", f"{name}-net", "--label", LABEL, *network, "--network-alias", name,
                   "--user", "65532:65532", "--read-only", "--cap-drop", "ALL", CLIENT_IMAGE, "sleep", "3600")
            argv += ["--network", f"container:{name}-net"]
        else:
            argv += network
        argv += ["--user", user, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        if memory:
            argv += ["--memory", memory]
        for k, v in env.items():
            argv += ["--env", f"{k}={v}"]
        for v in volumes:
            argv += ["--volume", v]
        podman(*argv, image, *args)

    def resolves_to(self, host, address):
        """Whether the network's DNS answers `host` with `address` alone, asked from the client."""
        run = self.client("nslookup", host)
        # busybox prints its server, then "Name: host" and "Address: ..." per answer (A and AAAA).
        answers = re.findall(r"^Address:\s*(\S+)", run.stdout.partition("Name:")[2], re.M)
        return run.returncode == 0 and set(answers) == {address}

    def wait_for_chain(self, a_port, what):
        """Wait (60 s at most) until a client's GET on app-a gets the seed's text; say how many
        tries it took when it was more than one."""
        tries = []

        def answered():
            tries.append(self.client("wget", "-qO-", f"http://app-a:{a_port}/"))
            return tries[-1].returncode == 0 and tries[-1].stdout.strip() == SEED_BODY
        wait_until(what, answered, 60, interval=1)
        if len(tries) > 1:
            log(f"{what}: after {len(tries)} tries (the first: {tries[0].stderr.strip()!r})")

    def expect_argv(self):
        """`tracelab expect` on the seed chain's shape, run from the store's own image on the
        chain's network (the shape file mounted read-only, the token from the environment):
        what a CI job in any language can run beside a store in a container."""
        return ["podman", "run", "--rm", "--label", LABEL, "--network", self.network, "--user", "65532:65532",
                "--read-only", "--cap-drop", "ALL", "--volume", f"{CHAIN_SHAPE}:/shape.yaml:ro",
                "--env", "TRACELAB_TOKEN", "tracelab/tracelab:dev", "expect", "/shape.yaml"]

    def expect_chain(self, store_url, trace_id, wait_s):
        return expect_chain(self.expect_argv(), store_url, trace_id, wait_s, {"TRACELAB_TOKEN": self.token})

    def logs(self, name, lines=20):
        run = podman("logs", "--tail", str(lines), name, check=False)
        return (run.stdout + run.stderr).strip()

    def run(self):
        cluster = self.cluster
        self.cleanup()
        os.makedirs(self.tmp, exist_ok=True)
        # The client: Debian's static busybox in an empty image.
        busybox = shutil.which("busybox")
        if not busybox:
            raise Failure("busybox not found: apt-get install busybox-static")
        ctx = os.path.join(self.tmp, "client")
        os.makedirs(ctx)
        shutil.copy(busybox, os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Containerfile"), "w") as f:
            f.write('FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n')
        podman("build", "-q", "--pull=never", "-t", CLIENT_IMAGE, ctx)

        # Internal: nothing leaves it. Its DNS (aardvark, on the gateway) is the
        # containers' only nameserver, as the cluster DNS is a pod's: podman 4.3
        # also lists the host's nameservers, and musl (the apps are static musl
        # binaries) asks all of them at once and takes the first answer, often
        # the host's NXDOMAIN for "app-b": the first call of each hop failed.
        podman("network", "create", "--internal", "--label", LABEL, self.network)
        (net,) = json.loads(podman("network", "inspect", self.network).stdout)
        subnet, self.dns = net["subnets"][0]["subnet"], net["subnets"][0]["gateway"]
        collector_ip = str(ipaddress.ip_network(subnet)[10])
        log(f"network {self.network} ({subnet}, internal, DNS {self.dns} only); the Collector's pod IP {collector_ip}")
        podman("run", "-d", "--name", CLIENT, "--label", LABEL, "--network", self.network, "--dns", self.dns,
               "--user", "65532:65532", "--read-only", "--cap-drop", "ALL", CLIENT_IMAGE, "sleep", "3600")

        # Env of every Deployment, cluster names mapped.
        aliases, notes, specs = {}, [], {}
        for name in (*APPS, "otel-collector"):
            specs[name] = container_env(cluster, name, collector_ip if name == "otel-collector" else "", aliases,
                                        notes)
        for note in notes:
            log(f"mapped {note}")
        for target, names in sorted(aliases.items()):
            log(f"aliases of {target}: {', '.join(sorted(names))}")

        # The Collector's config: the rendered ConfigMap, two changes.
        d, c, env = specs["otel-collector"]
        (cm,) = [x for x in cluster.docs if x["kind"] == "ConfigMap"
                 and x["metadata"]["name"].startswith("otel-collector-config")]
        cfg = yaml.safe_load(cm["data"]["config.yaml"])
        pipeline = cfg["service"]["pipelines"]["traces"]
        pipeline["processors"] = [p for p in pipeline["processors"] if p.split("/")[0] != "k8s_attributes"]
        cfg["processors"].pop("k8s_attributes", None)
        (exporter,) = pipeline["exporters"]
        cfg["exporters"][exporter]["headers"] = {"authorization": "Bearer ${env:TRACELAB_TOKEN}"}
        # Where it exports (Tempo's Service): an alias of the container behind it.
        host, port = cfg["exporters"][exporter]["endpoint"].rsplit(":", 1)
        target, svc = cluster.resolve(host, d["metadata"]["namespace"]) or (None, None)
        if target != STORE or int(port) != 4317:
            raise Failure(f"the Collector exports to {host}:{port}, not Tempo's OTLP/gRPC port")
        store_aliases = aliases.get(STORE, set()) | {host}
        log(f"aliases of {STORE}: {', '.join(sorted(store_aliases))} (the Collector exports to {host}:{port})")
        log("collector config: the rendered ConfigMap without k8s_attributes (no Kubernetes API here), "
            "plus the store's token as the exporter's authorization header")

        # The store in Tempo's place: the image's default command, with a token.
        status = podman("run", "--rm", "--network", "none", "--label", LABEL, "tracelab/tracelab:dev",
                        check=False, timeout=60)
        said = (status.stdout + status.stderr).strip()
        if status.returncode == 0 or "TRACELAB_TOKEN" not in said:
            raise Failure(f"the store image without a token: exit {status.returncode}: {said[-300:]}")
        ok(f"tracelab/tracelab:dev without TRACELAB_TOKEN refuses to start (exit {status.returncode}): "
           f"{said.splitlines()[-1][:150]}")
        self.start_container(STORE, "tracelab/tracelab:dev", {"TRACELAB_TOKEN": self.token}, store_aliases,
                             "65532:65532")
        store_url = f"http://{self.ip(STORE)}:3200"
        wait_until("the store's /ready", lambda: http(f"{store_url}/ready", timeout=2)[0] == 200, 30)
        status, _, _ = http(f"{store_url}/api/search")
        if status != 401:
            raise Failure(f"the store answered {status} to a query without its token, want 401")
        ok("the store (default command, TRACELAB_TOKEN set) is ready and refuses a query without the token (401)")

        # The Collector: its Deployment's args, env, user and memory limit.
        conf_dir = os.path.join(self.tmp, "conf")
        os.makedirs(conf_dir)
        with open(os.path.join(conf_dir, "config.yaml"), "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        os.chmod(conf_dir, 0o755)
        os.chmod(os.path.join(conf_dir, "config.yaml"), 0o644)
        mount = c["volumeMounts"][0]["mountPath"]
        self.start_container("otel-collector", "tracelab/otelcol:dev", dict(env, TRACELAB_TOKEN=self.token),
                             aliases.get("otel-collector", set()), pod_user(d, c), memory_limit(c), collector_ip,
                             c.get("args", []), [f"{conf_dir}:{mount}:ro,Z"])
        health = next(p["containerPort"] for p in c["ports"] if p["name"] == "health")
        try:
            wait_until("the Collector's health_check",
                       lambda: http(f"http://{collector_ip}:{health}/", timeout=2)[0] == 200, 60)
        except Failure as e:
            raise Failure(f"{e}\n{self.logs('otel-collector')}") from None
        ok(f"otel-collector (tracelab/otelcol:dev, {c['args']}) healthy at {collector_ip}:{health}")

        # The apps, last hop first.
        for name in reversed(APPS):
            d, c, env = specs[name]
            self.start_container(name, c["image"], env, aliases.get(name, set()), pod_user(d, c), memory_limit(c))
            port = c["ports"][0]["containerPort"]
            wait_until(f"{name}'s /readyz", lambda name=name, port=port:
                       http(f"http://{self.ip(name)}:{port}/readyz", timeout=2)[0] == 200, 30)
        a_port = specs["app-a"][1]["ports"][0]["containerPort"]
        # Every container or pod joining the network makes podman's DNS (aardvark-dns 1.4)
        # reload, and for a while after that it can time out. Nothing joins or leaves from
        # here on (the apps' pods keep their addresses when their containers stop), so wait
        # once until every name the chain uses answers with its container's address.
        names = {STORE: store_aliases, **{name: aliases.get(name, set()) | {name} for name in APPS},
                 "otel-collector": aliases.get("otel-collector", set())}
        for name, hosts in names.items():
            for host in sorted(hosts):
                wait_until(f"{host} to resolve to {name}'s address", lambda host=host, name=name:
                           self.resolves_to(host, self.ip(name)), 60)
        ok("app-a, app-b, app-c up with their Deployments' env, users and memory limits; "
           f"the network's DNS answers {sum(len(h) for h in names.values())} names")

        # 1. the seed's request from a client container. The apps' first name lookups on this
        # network can stall past the 3 s timeout (podman's DNS, aardvark-dns 1.4, right after
        # containers join: seen in 1 of 3 CI runs, "timeout: error sending request for url
        # (http://app-b:5001/)"), so first wait until the chain answers at all.
        self.wait_for_chain(a_port, "the chain's first answer")
        trace_id, tp = new_traceparent()
        run = self.client("wget", "-qO-", "--header", f"traceparent: {tp}", f"http://app-a:{a_port}/")
        if run.returncode != 0 or run.stdout.strip() != SEED_BODY:
            raise Failure(f"client wget app-a: exit {run.returncode}, {run.stdout!r} {run.stderr.strip()!r}")
        ok(f"client container: wget http://app-a:{a_port}/ -> {run.stdout.strip()!r}")
        verdict, _ = self.expect_chain(store_url, trace_id, 60)
        ok(f"app containers -> otel-collector -> store over OTLP/gRPC; the store image's "
           f"`tracelab expect` on the chain's shape: {verdict}")

        # 2. podman stop app-b while it waits.
        b = specs["app-b"][1]
        b_port = b["ports"][0]["containerPort"]
        grace = specs["app-b"][0]["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        b_pid = podman("inspect", "app-b", "--format", "{{.State.Pid}}").stdout.strip()
        trace_id, tp = new_traceparent()
        def b_bytes_received():
            # Bytes app-b's sockets on its port have received (app-a keeps an
            # idle connection open, so a connection alone proves nothing).
            out = subprocess.run(["nsenter", "-t", b_pid, "-n", "ss", "-Htni", "state", "established",
                                  f"( sport = :{b_port} )"], capture_output=True, text=True).stdout
            return sum(int(n) for n in re.findall(r"bytes_received:(\d+)", out))
        before = b_bytes_received()
        client = subprocess.Popen(
            ["podman", "exec", CLIENT, "/bin/busybox", "wget", "-qO-", "--header", f"traceparent: {tp}", f"http://app-a:{a_port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until("app-b to receive the request (bytes on its port)", lambda: b_bytes_received() > before, 15,
                   interval=0.05)
        t0 = time.monotonic()
        podman("stop", "-t", str(grace), "app-b", timeout=grace + 30)
        stopped_in = time.monotonic() - t0
        out, err = client.communicate(timeout=30)
        code = podman("inspect", "app-b", "--format", "{{.State.ExitCode}}").stdout.strip()
        if client.returncode != 0 or out.strip() != SEED_BODY:
            raise Failure(f"request during podman stop app-b: exit {client.returncode}, {out!r} {err.strip()!r}")
        if code != "0":
            raise Failure(f"app-b exited {code} after podman stop, want 0:\n{self.logs('app-b')}")
        _, spans = self.expect_chain(store_url, trace_id, 60)
        ok(f"podman stop app-b during its 2 s wait: the request finished ({out.strip()!r}), app-b exited 0 "
           f"after {stopped_in:.1f} s, and the trace has all {spans} spans (app-b flushed its own on the way out)")

        # 3. app-c stopped: 502 with the documented body.
        podman("start", "app-b")
        wait_until("app-b's /readyz again", lambda: http(f"http://{self.ip('app-b')}:{b_port}/readyz",
                                                         timeout=2)[0] == 200, 30)
        self.wait_for_chain(a_port, "the chain's answer after app-b restarted")
        podman("stop", "-t", "20", "app-c", timeout=60)
        # wget prints no body for a 502: the request by hand, through nc. Its
        # stdin stays open until the answer is read (busybox nc stops at the
        # end of its input); app-a closes the connection after an HTTP/1.0 answer.
        nc = subprocess.Popen(["podman", "exec", "-i", CLIENT, "/bin/busybox", "nc", "app-a", str(a_port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        nc.stdin.write("GET / HTTP/1.0\r\nHost: app-a\r\n\r\n")
        nc.stdin.flush()
        answer = []
        reader = threading.Thread(target=lambda: answer.append(nc.stdout.read()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        nc.stdin.close()
        if reader.is_alive():
            nc.kill()
            raise Failure("with app-c stopped: no answer from app-a within 30 s")
        nc.wait(timeout=10)
        text = answer[0].replace("\r\n", "\n")
        status_line = text.splitlines()[0] if text else ""
        body = text.split("\n\n", 1)[-1].strip()
        if " 502 " not in status_line or body != A502_BODY:
            raise Failure(f"with app-c stopped: {status_line!r} {body!r} {nc.stderr.read().strip()!r}, "
                          f"want 502 {A502_BODY!r}\n---- app-a:\n{self.logs('app-a')}")
        ok(f"app-c stopped: {status_line.strip()} {body!r}")

    def main(self):
        try:
            self.run()
        except Failure:
            for name in (*APPS, "otel-collector", STORE):
                print(f"---- podman logs {name}:\n{self.logs(name)}", flush=True)
            raise
        finally:
            if not self.args.keep:
                self.cleanup()
                ok("containers and network removed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", required=True, help="kubectl kustomize output of an overlay")
    parser.add_argument("--keep", action="store_true", help="leave the containers running (debugging)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main_guard(lambda: Run(parser.parse_args()).main())
