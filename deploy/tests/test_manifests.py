"""What a schema cannot check: the rendered manifests, Helm values, IAM
templates and compose file agree with each other and with the apps' contract.

Each test states one property; scripts/check-deploy.sh counts them.
"""
import json
import os
import re
import subprocess
import urllib.parse

import pytest
import yaml

from conftest import lib_defaults, read_yaml, render_template

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass"}
# Tempo's ports (chart and Tempo defaults): query API and OTLP gRPC.
TEMPO_QUERY_PORT = 3200
TEMPO_OTLP_GRPC_PORT = 4317


# ---- helpers -------------------------------------------------------------------

def workloads(docs):
    for d in docs:
        if d.get("kind") in WORKLOAD_KINDS:
            yield d, d["spec"]["template"]


def containers(pod_template):
    spec = pod_template["spec"]
    return spec.get("initContainers", []) + spec.get("containers", [])


def env_map(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def find(docs, kind, namespace, name):
    for d in docs:
        m = d["metadata"]
        if d["kind"] == kind and m["name"] == name and m.get("namespace") == namespace:
            return d
    return None


def is_app(container):
    return "tracelab/" in container["image"]


def selected_pods(docs, service):
    """Pod templates (with their workload) a Service's selector matches."""
    sel = service["spec"].get("selector") or {}
    ns = service["metadata"].get("namespace")
    out = []
    for w, tpl in workloads(docs):
        labels = tpl["metadata"].get("labels", {})
        if w["metadata"].get("namespace") == ns and sel and all(labels.get(k) == v for k, v in sel.items()):
            out.append((w, tpl))
    return out


def resolve_target(docs, service, port):
    """Container ports a Service port (number) leads to, per selected container."""
    for sp in service["spec"]["ports"]:
        if sp["port"] != port:
            continue
        target = sp.get("targetPort", sp["port"])
        hits = []
        for _, tpl in selected_pods(docs, service):
            for c in tpl["spec"]["containers"]:
                for cp in c.get("ports", []):
                    if target in (cp.get("name"), cp["containerPort"]):
                        hits.append((c, cp["containerPort"]))
        return hits
    return []


def split_host(host, default_ns):
    """'svc', 'svc.ns', 'svc.ns.svc', 'svc.ns.svc.cluster.local' -> (svc, ns)."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], default_ns
    if len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"]):
        return parts[0], parts[1]
    return None, None


def collector_config(docs):
    cms = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("otel-collector-config")]
    assert len(cms) == 1, "exactly one Collector ConfigMap expected"
    return cms[0], yaml.safe_load(cms[0]["data"]["config.yaml"])


def collector_deployment(docs, cm):
    for w, tpl in workloads(docs):
        for v in tpl["spec"].get("volumes", []):
            if v.get("configMap", {}).get("name") == cm["metadata"]["name"]:
                return w, tpl
    raise AssertionError("no workload mounts the Collector ConfigMap")


def port_of(endpoint):
    return int(str(endpoint).rsplit(":", 1)[1])


def tempo_values(root, env):
    """Tempo's Helm values as deploy.sh layers them (common, then per env)."""
    common = read_yaml(root / "deploy/helm/tempo/values-common.yaml")
    over = read_yaml(root / f"deploy/helm/tempo/values-{env}.yaml")

    def merge(a, b):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    return merge(common, over)


# ---- wiring ---------------------------------------------------------------------

def test_downstream_hosts_resolve_to_a_service_targeting_the_next_app(overlay):
    """SERVICE_*_HOST/PORT name a Service whose port leads to the callee's PORT."""
    name, docs = overlay
    checked = 0
    for w, tpl in workloads(docs):
        ns = w["metadata"]["namespace"]
        for c in tpl["spec"]["containers"]:
            env = env_map(c)
            for key, host in env.items():
                m = re.fullmatch(r"SERVICE_([A-Z])_HOST", key)
                if not m:
                    continue
                port = int(env[f"SERVICE_{m.group(1)}_PORT"])
                svc_name, svc_ns = split_host(host, ns)
                svc = find(docs, "Service", svc_ns, svc_name)
                assert svc, f"{name}: {c['name']} {key}={host}: no Service {svc_ns}/{svc_name}"
                hits = resolve_target(docs, svc, port)
                assert hits, f"{name}: Service {svc_name} has no port {port} leading to a container port"
                for callee, container_port in hits:
                    assert env_map(callee).get("PORT") == str(container_port), (
                        f"{name}: {svc_name}:{port} targets {container_port}, but {callee['name']} PORT="
                        f"{env_map(callee).get('PORT')}")
                    assert callee["name"] == f"app-{m.group(1).lower()}", f"{key} leads to {callee['name']}"
                checked += 1
    assert checked == 2, f"{name}: expected SERVICE_B_* (app-a) and SERVICE_C_* (app-b), found {checked}"


def test_app_services_are_port_80_to_the_app_port(overlay):
    """As in the seed: Service app-x port 80 -> 5000/5001/5002, matching PORT."""
    name, docs = overlay
    for app, port in (("app-a", 5000), ("app-b", 5001), ("app-c", 5002)):
        svc = find(docs, "Service", "tracelab", app)
        assert svc, f"{name}: Service tracelab/{app} missing"
        hits = resolve_target(docs, svc, 80)
        assert [p for _, p in hits] == [port], f"{name}: {app}:80 leads to {hits}"


def test_otlp_endpoints_name_the_collector_service_namespace_and_port(overlay):
    """Every OTLP endpoint is the Collector's Service, namespace and OTLP/HTTP port."""
    name, docs = overlay
    cm, cfg = collector_config(docs)
    collector, _ = collector_deployment(docs, cm)
    http_port = port_of(cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"])
    found = 0
    for w, tpl in workloads(docs):
        for c in tpl["spec"]["containers"]:
            env = env_map(c)
            for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
                if key not in env:
                    continue
                found += 1
                url = urllib.parse.urlsplit(env[key])
                assert url.scheme == "http", f"{c['name']} {key}: plain http in-cluster"
                protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
                assert protocol in ("http/protobuf", "http/json"), f"{c['name']}: protocol {protocol} with port {url.port}"
                if key.endswith("TRACES_ENDPOINT"):
                    assert url.path == "/v1/traces", f"{c['name']}: per-signal endpoint is used verbatim"
                else:
                    assert url.path in ("", "/"), f"{c['name']}: base endpoint must not carry a path"
                svc_name, svc_ns = split_host(url.hostname, w["metadata"]["namespace"])
                assert "." in url.hostname, f"{c['name']}: Collector is in another namespace; qualify {url.hostname}"
                svc = find(docs, "Service", svc_ns, svc_name)
                assert svc, f"{c['name']} {key}: no Service {svc_ns}/{svc_name}"
                hits = resolve_target(docs, svc, url.port)
                assert hits and all(p == http_port for _, p in hits), (
                    f"{c['name']}: {url.hostname}:{url.port} does not reach the Collector's OTLP/HTTP port {http_port}")
                assert [x for x, _ in selected_pods(docs, svc)] == [collector], f"{svc_name} must select the Collector only"
    assert found >= 3, f"{name}: each app needs an OTLP endpoint"


def test_collector_exports_to_tempo_service_and_port(root, overlay):
    """The traces pipeline exports over plain gRPC to tempo.<ns>:4317, which Tempo receives on."""
    name, docs = overlay
    _, cfg = collector_config(docs)
    ns = lib_defaults(root, "TEMPO_NAMESPACE")["TEMPO_NAMESPACE"]
    pipeline = cfg["service"]["pipelines"]["traces"]
    assert pipeline["exporters"], "no exporter"
    for exp in pipeline["exporters"]:
        assert exp.split("/")[0] in ("otlp_grpc", "otlp"), f"unexpected exporter {exp}"
        ecfg = cfg["exporters"][exp]
        host, port = ecfg["endpoint"].rsplit(":", 1)
        assert "://" not in host, "bare host:port for gRPC"
        assert split_host(host, None) == ("tempo", ns), f"{host} is not Tempo's Service in {ns}"
        assert int(port) == TEMPO_OTLP_GRPC_PORT
        assert ecfg.get("tls", {}).get("insecure") is True, "plain gRPC in-cluster needs tls.insecure"
    for env in ("local", "eks"):
        grpc = tempo_values(root, env)["tempo"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        assert grpc == f"0.0.0.0:{TEMPO_OTLP_GRPC_PORT}", f"Tempo ({env}) must receive OTLP gRPC on 0.0.0.0:4317"


def test_collector_pipeline_order_and_batch_settings(overlay):
    """memory_limiter first, k8s_attributes before batch, batch last; sane batch sizes."""
    _, docs = overlay
    _, cfg = collector_config(docs)
    procs = cfg["service"]["pipelines"]["traces"]["processors"]
    assert procs[0] == "memory_limiter" and procs[-1] == "batch", procs
    k8s = [p for p in procs if p.split("/")[0] in ("k8s_attributes", "k8sattributes")]
    assert k8s and procs.index(k8s[0]) < procs.index("batch"), procs
    ml = cfg["processors"]["memory_limiter"]
    assert ml["check_interval"] == "1s" and 0 < ml["spike_limit_percentage"] < ml["limit_percentage"] <= 90
    batch = cfg["processors"]["batch"]
    assert batch.get("send_batch_max_size", 0) >= batch.get("send_batch_size", 8192), "max counts spans, >= size"
    assert batch.get("send_batch_max_size", 0) <= 100000, "send_batch_max_size is a span count, not bytes"
    assert "health_check" in cfg["service"].get("extensions", [])


def test_collector_probes_gomemlimit_and_no_hostpath(overlay):
    """Probes hit health_check's port; GOMEMLIMIT below the memory limit; no hostPath."""
    _, docs = overlay
    cm, cfg = collector_config(docs)
    w, tpl = collector_deployment(docs, cm)
    hc_port = port_of(cfg["extensions"]["health_check"]["endpoint"])
    c = tpl["spec"]["containers"][0]
    named = {p.get("name"): p["containerPort"] for p in c["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        port = c[probe]["httpGet"]["port"]
        assert named.get(port, port) == hc_port, f"{probe} must target health_check ({hc_port})"
    gomem = env_map(c)["GOMEMLIMIT"]
    units = {"Mi": 2**20, "Gi": 2**30, "MiB": 2**20, "GiB": 2**30}

    def qty(s):
        m = re.fullmatch(r"(\d+)([A-Za-z]+)", s)
        return int(m.group(1)) * units[m.group(2)]
    assert qty(gomem) < qty(c["resources"]["limits"]["memory"]) * 0.9
    assert not any("hostPath" in v for v in tpl["spec"].get("volumes", []))


def test_collector_rbac_is_least_privilege(overlay):
    """No cluster-wide RBAC; the Role reads pods only, bound to the Collector's account."""
    _, docs = overlay
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")], "no ClusterRole needed"
    cm, cfg = collector_config(docs)
    w, tpl = collector_deployment(docs, cm)
    sa = tpl["spec"]["serviceAccountName"]
    k8s_ns = cfg["processors"]["k8s_attributes"]["filter"]["namespace"]
    roles = [d for d in docs if d["kind"] == "Role"]
    assert roles, "k8s_attributes needs a Role"
    for role in roles:
        assert role["metadata"]["namespace"] == k8s_ns
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}
            assert set(rule["resources"]) <= {"pods", "namespaces", "replicasets"}
    for rb in (d for d in docs if d["kind"] == "RoleBinding"):
        assert rb["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": w["metadata"]["namespace"]}]


def test_grafana_data_sources_use_tempo_query_port(root, overlay):
    """Grafana's Tempo data source (ConfigMap, chart values, compose) is Tempo on 3200."""
    _, docs = overlay
    ns = lib_defaults(root, "TEMPO_NAMESPACE")["TEMPO_NAMESPACE"]
    assert tempo_values(root, "eks")["tempo"]["server"]["http_listen_port"] == TEMPO_QUERY_PORT
    sources = []
    for d in docs:
        if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_datasource"):
            for text in d["data"].values():
                sources += yaml.safe_load(text)["datasources"]
    sources_chart = read_yaml(root / "deploy/helm/grafana/values.yaml")["datasources"]["datasources.yaml"]["datasources"]
    assert sources and sources_chart
    for ds in sources + sources_chart:
        if ds["type"] != "tempo":
            continue
        url = urllib.parse.urlsplit(ds["url"])
        assert split_host(url.hostname, None) == ("tempo", ns), ds["url"]
        assert url.port == TEMPO_QUERY_PORT, f"{ds['url']}: Tempo's query port is {TEMPO_QUERY_PORT}"
    compose_ds = read_yaml(root / "deploy/compose/grafana/datasources/tempo.yaml")["datasources"]
    assert all(urllib.parse.urlsplit(ds["url"]).port == TEMPO_QUERY_PORT for ds in compose_ds)


# ---- images -----------------------------------------------------------------------

def image_is_pinned(image):
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if "@sha256:" in image:
        return True
    return ":" in last and last.rsplit(":", 1)[1] not in ("latest", "")


def test_no_image_is_latest_or_untagged(root, rendered):
    """Manifests, compose and Dockerfile: every image has a tag, never 'latest'."""
    images = [c["image"] for docs in rendered.values() for _, tpl in workloads(docs) for c in containers(tpl)]
    compose = read_yaml(root / "compose.yaml")
    images += [s["image"] for s in compose["services"].values()]
    text = (root / "Dockerfiles/Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    for ref in re.findall(r"^FROM(?:\s+--platform=\S+)?\s+(\S+)", text, re.M):
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), ref)
        if "/" in ref or ":" in ref:   # stage names (FROM chef) are not images
            images.append(ref)
    bad = [i for i in images if not image_is_pinned(i)]
    assert not bad, f"unpinned images: {bad}"
    assert len(images) >= 10


def test_overlay_images(rendered):
    """local: local images never pulled; eks: one ECR repository per app, a git-sha tag."""
    ecr = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+/(app-[abc]):([0-9a-f]{40})$")
    for _, tpl in workloads(rendered["eks"]):
        for c in tpl["spec"]["containers"]:
            if "app-" in c["image"] and "tracelab" in c["image"]:
                m = ecr.match(c["image"])
                assert m and m.group(1) == c["name"], c["image"]
    for _, tpl in workloads(rendered["local"]):
        for c in tpl["spec"]["containers"]:
            if is_app(c):
                assert c.get("imagePullPolicy") == "Never", f"{c['name']}: kind-loaded image"


def test_dockerfile_runtime_is_static_nonroot_exec_form(root):
    """Final stages: distroless static or scratch, numeric non-root user, exec-form entrypoint."""
    text = (root / "Dockerfiles/Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    assert re.match(r"gcr\.io/distroless/static-debian\d+:nonroot|scratch", args["RUNTIME_IMAGE"])
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and all(re.fullmatch(r"[1-9]\d*:[1-9]\d*", u) for u in users), users
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.M)
    finals = {name for base, name in stages if base == "runtime"}
    assert finals == {"app-a", "app-b", "app-c", "tracelab"}, finals
    for ep in re.findall(r"^ENTRYPOINT (.+)$", text, re.M):
        assert ep.startswith("["), f"exec form, no shell: {ep}"
    assert "--platform=$BUILDPLATFORM" in text, "builder must run natively and cross-compile"


# ---- pod security ----------------------------------------------------------------------

def test_every_pod_meets_the_restricted_profile(overlay):
    """Restricted Pod Security Standard plus read-only root, resources, no host access."""
    name, docs = overlay
    for w, tpl in workloads(docs):
        spec = tpl["spec"]
        where = f"{name}: {w['metadata']['name']}"
        psc = spec.get("securityContext", {})
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), f"{where}: {key}"
        assert not any("hostPath" in v for v in spec.get("volumes", [])), f"{where}: hostPath"
        for c in containers(tpl):
            sc = c.get("securityContext", {})
            assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot"
            assert sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{where}: root UID"
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), f"{where}: seccomp"
            assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
            assert sc.get("privileged") is not True, f"{where}: privileged"
            caps = sc.get("capabilities", {})
            assert caps.get("drop") == ["ALL"], f"{where}: drop ALL"
            assert set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}, f"{where}: caps"
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
            assert not any(p.get("hostPort") for p in c.get("ports", [])), f"{where}: hostPort"
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{where}: requests"
            assert "memory" in res.get("limits", {}), f"{where}: memory limit"
        needs_token = w["metadata"]["name"].startswith("otel-collector")
        assert spec.get("automountServiceAccountToken") is needs_token, f"{where}: automountServiceAccountToken"


def test_namespaces_enforce_restricted_and_every_object_has_one(overlay):
    """The seed's Services had no namespace; here every namespaced object has one."""
    name, docs = overlay
    for d in docs:
        if d["kind"] == "Namespace":
            assert d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        elif d["kind"] not in CLUSTER_SCOPED:
            assert d["metadata"].get("namespace"), f"{name}: {d['kind']}/{d['metadata']['name']} has no namespace"


def test_tempo_values_are_restricted_and_at_the_right_level(root):
    """Tempo's values: keys where the chart reads them, reporting off, restricted pod."""
    allowed_top = {"tempo", "securityContext", "serviceAccount", "persistence", "podAnnotations",
                   "podLabels", "nodeSelector", "tolerations", "affinity", "service", "replicas"}
    for f in sorted((root / "deploy/helm/tempo").glob("values-*.yaml")):
        top = set(read_yaml(f) or {})
        assert top <= allowed_top, f"{f.name}: unknown top-level keys {top - allowed_top} (storage/receivers go under tempo:)"
    for env in ("local", "eks"):
        v = tempo_values(root, env)
        assert v["tempo"]["reportingEnabled"] is False
        assert v["tempo"]["storage"]["trace"]["backend"] == {"local": "local", "eks": "s3"}[env]
        assert v["securityContext"]["runAsNonRoot"] is True
        assert v["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        sc = v["tempo"]["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
        http = v["tempo"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        assert http.startswith("0.0.0.0:"), "receivers must bind all interfaces"


# ---- apps' contract ---------------------------------------------------------------------

def known_env_names(root):
    lines = (root / "k8s/app-env-names.txt").read_text().splitlines()
    return {l.strip() for l in lines if l.strip() and not l.startswith("#")}


def test_app_env_names_are_ones_the_apps_read(root, overlay):
    """Every env name on an app container is read by the apps (k8s/app-env-names.txt),
    except helper variables used only inside other values as $(NAME)."""
    name, docs = overlay
    known = known_env_names(root)
    for _, tpl in workloads(docs):
        for c in tpl["spec"]["containers"]:
            if not is_app(c):
                continue
            env = c.get("env", [])
            referenced = {r for e in env for r in re.findall(r"\$\((\w+)\)", e.get("value") or "")}
            unknown = {e["name"] for e in env} - known - referenced
            assert not unknown, f"{name}: {c['name']} sets env the apps do not read: {sorted(unknown)}"
    compose = read_yaml(root / "compose.yaml")
    for svc, s in compose["services"].items():
        if "tracelab/" in s.get("image", ""):
            unknown = set(s.get("environment", {})) - known
            assert not unknown, f"compose {svc}: unknown env {sorted(unknown)}"


def test_resource_attributes_carry_pod_and_namespace_from_the_downward_api(overlay):
    """OTEL_RESOURCE_ATTRIBUTES has k8s.pod.name and k8s.namespace.name via fieldRef."""
    name, docs = overlay
    for _, tpl in workloads(docs):
        for c in tpl["spec"]["containers"]:
            if not is_app(c):
                continue
            env = {e["name"]: e for e in c["env"]}
            attrs = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
            for attr, path in (("k8s.pod.name", "metadata.name"), ("k8s.namespace.name", "metadata.namespace")):
                ref = re.fullmatch(r"\$\((\w+)\)", attrs.get(attr, ""))
                assert ref, f"{c['name']}: {attr} must come from $(VAR)"
                assert env[ref.group(1)]["valueFrom"]["fieldRef"]["fieldPath"] == path
            names = [e["name"] for e in c["env"]]
            assert names.index(ref.group(1)) < names.index("OTEL_RESOURCE_ATTRIBUTES"), "define before use"
            assert env["OTEL_SERVICE_NAME"]["value"] == c["name"]
            arg = env.get("OTEL_TRACES_SAMPLER_ARG", {}).get("value")
            assert arg is None or 0.0 <= float(arg) <= 1.0, "sampler arg is a probability"


def test_app_probes_and_shutdown_budget(overlay):
    """Probes on /healthz and /readyz; the grace period outlasts drain + export timeout."""
    name, docs = overlay
    for w, tpl in workloads(docs):
        for c in tpl["spec"]["containers"]:
            if not is_app(c):
                continue
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["livenessProbe"]["httpGet"]["port"] in ("http", int(env_map(c)["PORT"]))
            assert env_map(c)["BIND_ADDR"] == "0.0.0.0", "Service and probes need all interfaces"
            assert not c.get("command"), "no shell wrapper: settings go in env"
            env = env_map(c)
            budget_ms = int(env.get("SHUTDOWN_GRACE_MS", 10000)) + int(
                env.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", env.get("OTEL_EXPORTER_OTLP_TIMEOUT", 10000)))
            grace = tpl["spec"].get("terminationGracePeriodSeconds", 30)
            assert grace * 1000 > budget_ms, f"{name}: {c['name']} grace {grace}s <= {budget_ms}ms"


# ---- IAM ----------------------------------------------------------------------------------

def test_irsa_trust_subject_is_tempos_service_account(root):
    """The trust policy's sub is system:serviceaccount:<Tempo ns>:<Tempo SA>, StringEquals."""
    d = lib_defaults(root, "TEMPO_NAMESPACE", "TEMPO_SERVICE_ACCOUNT")
    issuer = "oidc.eks.ap-northeast-2.amazonaws.com/id/EXAMPLE"
    policy = json.loads(render_template(root, root / "deploy/iam/tempo-trust-irsa.json.tmpl",
                                        AWS_ACCOUNT_ID="111122223333", OIDC_ISSUER=issuer))
    (stmt,) = policy["Statement"]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"]["Federated"] == f"arn:aws:iam::111122223333:oidc-provider/{issuer}"
    assert set(stmt["Condition"]) == {"StringEquals"}, "exact match only (no StringLike)"
    cond = stmt["Condition"]["StringEquals"]
    values_sa = tempo_values(root, "eks")["serviceAccount"]["name"]
    assert d["TEMPO_SERVICE_ACCOUNT"] == values_sa
    assert cond[f"{issuer}:sub"] == f"system:serviceaccount:{d['TEMPO_NAMESPACE']}:{values_sa}"
    assert cond[f"{issuer}:aud"] == "sts.amazonaws.com"
    # Tempo's namespace is the one the manifests point at.
    assert d["TEMPO_NAMESPACE"] == "monitor"
    pod_identity = json.loads(render_template(root, root / "deploy/iam/tempo-trust-pod-identity.json.tmpl"))
    (pstmt,) = pod_identity["Statement"]
    assert pstmt["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(pstmt["Action"]) == {"sts:AssumeRole", "sts:TagSession"}


def test_s3_policy_bucket_matches_the_values_file(root):
    """Bucket-scoped policy, with Tempo's tagging actions, for the bucket Tempo is given."""
    d = lib_defaults(root, "TEMPO_BUCKET", "AWS_REGION")
    s3 = tempo_values(root, "eks")["tempo"]["storage"]["trace"]["s3"]
    assert s3["bucket"] == d["TEMPO_BUCKET"], "values-eks.yaml and scripts/lib.sh disagree on the bucket"
    assert s3["endpoint"] == f"s3.{d['AWS_REGION']}.amazonaws.com"
    policy = json.loads(render_template(root, root / "deploy/iam/tempo-s3-policy.json.tmpl",
                                        TEMPO_BUCKET=s3["bucket"]))
    actions, resources = set(), set()
    for stmt in policy["Statement"]:
        assert stmt["Effect"] == "Allow"
        actions |= set(stmt["Action"])
        resources |= set(stmt["Resource"])
    assert resources == {f"arn:aws:s3:::{s3['bucket']}", f"arn:aws:s3:::{s3['bucket']}/*"}, resources
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket",
            "s3:GetObjectTagging", "s3:PutObjectTagging"} == actions
    lifecycle = json.loads((root / "deploy/iam/s3-lifecycle.json").read_text())
    assert lifecycle["Rules"][0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1


# ---- compose -----------------------------------------------------------------------------------

def test_compose_wiring(root):
    """compose: apps export to the Collector's OTLP/HTTP port, the Collector to Tempo,
    and the store profile stands in for both under the same names."""
    compose = read_yaml(root / "compose.yaml")
    s = compose["services"]
    for app in ("app-a", "app-b", "app-c"):
        endpoint = s[app]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint.endswith("http://otel-collector:4318}"), endpoint
    assert s["app-a"]["environment"]["SERVICE_B_HOST"] == "app-b"
    assert s["app-a"]["environment"]["SERVICE_B_PORT"] == s["app-b"]["environment"]["PORT"]
    assert s["app-b"]["environment"]["SERVICE_C_PORT"] == s["app-c"]["environment"]["PORT"]
    col = yaml.safe_load((root / "deploy/compose/otel-collector.yaml").read_text())
    assert col["exporters"]["otlp_grpc"]["endpoint"] == "tempo:4317"
    assert set(s["store"]["networks"]["default"]["aliases"]) == {"otel-collector", "tempo"}
    assert s["store"]["command"][:3] == ["store", "--bind", "0.0.0.0"]
    assert set(s["store"]["profiles"]).isdisjoint(s["tempo"]["profiles"])


# ---- defects found by running the real thing (issue: the production path) -----------------

# Options the pinned Collector release (v0.158.0) deprecates, and why.
DEPRECATED_COLLECTOR_KEYS = {
    "deployment_name_from_replicaset": "k8s_attributes derives the Deployment from the ReplicaSet "
                                       "name by default (contrib #48534); the option is deprecated",
}
# Component types renamed with a deprecated alias (core v0.144, contrib v0.146).
DEPRECATED_COMPONENT_TYPES = {"otlp": "exporters", "otlphttp": "exporters", "k8sattributes": "processors"}


def collector_configs(root, rendered):
    """Every Collector config in the repository: the rendered ConfigMaps and compose's."""
    out = {f"k8s ({name})": collector_config(docs)[1] for name, docs in rendered.items()}
    out["compose"] = read_yaml(root / "deploy/compose/otel-collector.yaml")
    return out


def walk_keys(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}".lstrip("."), k, v
            yield from walk_keys(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_keys(v, f"{path}[{i}]")


def test_collector_configs_use_no_deprecated_options_or_names(root, rendered):
    """No option or component name the pinned Collector release calls deprecated."""
    for where, cfg in collector_configs(root, rendered).items():
        for path, key, _ in walk_keys(cfg):
            assert key not in DEPRECATED_COLLECTOR_KEYS, f"{where}: {path}: {DEPRECATED_COLLECTOR_KEYS[key]}"
        for old, section in DEPRECATED_COMPONENT_TYPES.items():
            names = [n.split("/")[0] for n in cfg.get(section) or {}]
            assert old not in names, f"{where}: {section}.{old} is a deprecated alias"


def test_helm_values_never_null_a_chart_default(root):
    """A null in Helm values deletes the chart's default key; the Tempo chart's templates
    then dereference it ("nil pointer evaluating interface {}.protocols" for jaeger: null)."""
    files = sorted((root / "deploy/helm").rglob("*.yaml"))
    assert files
    for f in files:
        for path, _, value in walk_keys(read_yaml(f) or {}):
            assert value is not None, f"{f.relative_to(root)}: {path} is null (Helm deletes the key)"


# Chart 2.2.4's default tempo.memBallastSizeMbs (passed as -mem-ballast-size-mbs).
TEMPO_CHART_DEFAULT_BALLAST_MB = 1024


def quantity_bytes(s):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30,
             "M": 10**6, "G": 10**9, "": 1}
    m = re.fullmatch(r"(\d+)([A-Za-z]*)", str(s))
    assert m and m.group(2) in units, f"unknown quantity {s}"
    return int(m.group(1)) * units[m.group(2)]


def test_tempo_memory_ballast_and_gomemlimit_fit_the_limit(root):
    """Tempo's memory ballast (chart default 1024 MB) cannot fill a 1 GiB limit; the GC
    gets a GOMEMLIMIT below the container limit instead."""
    for env in ("local", "eks"):
        v = tempo_values(root, env)["tempo"]
        limit = quantity_bytes(v["resources"]["limits"]["memory"])
        ballast = int(v.get("memBallastSizeMbs", TEMPO_CHART_DEFAULT_BALLAST_MB)) * 2**20
        assert ballast <= limit // 4, f"{env}: ballast {ballast >> 20} MiB against a {limit >> 20} MiB limit"
        gomem = {e["name"]: e.get("value") for e in v.get("extraEnv", [])}.get("GOMEMLIMIT")
        assert gomem, f"{env}: no GOMEMLIMIT for Tempo"
        assert limit * 0.6 <= quantity_bytes(gomem) <= limit * 0.9, f"{env}: GOMEMLIMIT {gomem} vs limit {limit >> 20} MiB"


def dry_run(root, *args, **env):
    """stderr of scripts/<script> --dry-run (the commands it would run)."""
    full = dict(os.environ, DRY_RUN="1", ALLOW_DIRTY="1", **env)
    for k in ("AUTH_MODE", "INSTALL_EBS_CSI"):
        if k not in env:
            full.pop(k, None)
    run = subprocess.run([str(root / "scripts" / args[0]), "--dry-run", *args[1:]],
                         capture_output=True, text=True, env=full)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stderr


def test_eks_tempo_volume_has_a_storage_class_that_exists(root, rendered):
    """EKS >= 1.30 has no default StorageClass and no EBS CSI driver: Tempo's claim names
    a class of the EBS CSI driver, which deploy.sh applies before Tempo and setup-aws.sh
    installs (add-on aws-ebs-csi-driver)."""
    v = tempo_values(root, "eks")
    assert v["persistence"]["enabled"] is True
    sc_name = v["persistence"].get("storageClassName")
    assert sc_name, "values-eks.yaml: persistence.storageClassName must name a class (no default on EKS >= 1.30)"
    classes = {d["metadata"]["name"]: d for d in rendered["eks"] if d["kind"] == "StorageClass"}
    assert sc_name in classes, f"the eks overlay has no StorageClass {sc_name}"
    assert classes[sc_name]["provisioner"] == "ebs.csi.aws.com"
    assert classes[sc_name].get("volumeBindingMode") == "WaitForFirstConsumer", "EBS volumes are zonal"
    deploy = dry_run(root, "deploy.sh", "eks", TAG="0123456789abcdef0123456789abcdef01234567").splitlines()
    sc_line = next((i for i, l in enumerate(deploy) if "apply -f" in l and "storageclass" in l), None)
    tempo_line = next(i for i, l in enumerate(deploy) if "helm upgrade --install tempo" in l)
    assert sc_line is not None and sc_line < tempo_line, "deploy.sh eks must apply the StorageClass before Tempo"
    for mode in ("irsa", "pod-identity"):
        setup = dry_run(root, "setup-aws.sh", AUTH_MODE=mode)
        assert re.search(r"aws eks create-addon .*--addon-name aws-ebs-csi-driver", setup), f"{mode}: no EBS CSI add-on"
        assert "AmazonEBSCSIDriverPolicy" in setup


def test_store_off_loopback_always_has_a_token(root):
    """The store refuses to listen off loopback without TRACELAB_TOKEN: compose's store
    gets one from the environment, and the apps and Grafana send it."""
    compose = read_yaml(root / "compose.yaml")
    s = compose["services"]
    store = s["store"]
    cmd = store.get("command", [])
    bind = cmd[cmd.index("--bind") + 1] if "--bind" in cmd else store["environment"].get("TRACELAB_BIND", "127.0.0.1")
    if not bind.startswith("127."):
        token = str(store["environment"].get("TRACELAB_TOKEN", ""))
        assert "${TRACELAB_TOKEN" in token, f"store binds {bind} without TRACELAB_TOKEN: it cannot start"
        for app in ("app-a", "app-b", "app-c"):
            headers = s[app]["environment"].get("OTEL_EXPORTER_OTLP_HEADERS", "")
            assert "authorization=Bearer%20${TRACELAB_TOKEN" in headers, f"{app} does not send the store's token"
        assert "${TRACELAB_TOKEN" in str(s["grafana"]["environment"].get("TRACELAB_TOKEN", ""))
        (ds,) = read_yaml(root / "deploy/compose/grafana/datasources/tempo.yaml")["datasources"]
        assert ds["jsonData"].get("httpHeaderName1") == "Authorization"
        assert ds["secureJsonData"]["httpHeaderValue1"] == "Bearer $TRACELAB_TOKEN"
    # The image: binds all interfaces by default, so it must not bake in a token.
    text = (root / "Dockerfiles/Dockerfile").read_text()
    assert "TRACELAB_TOKEN=" not in text, "no token in an image"


# ---- the Collector build (collector/) ----------------------------------------------------------

# Module (last path element) -> the component type it registers.
COLLECTOR_MODULE_TYPES = {
    "healthcheckextension": ("extensions", "health_check"),
    "otlpreceiver": ("receivers", "otlp"),
    "memorylimiterprocessor": ("processors", "memory_limiter"),
    "batchprocessor": ("processors", "batch"),
    "k8sattributesprocessor": ("processors", "k8s_attributes"),
    "otlpexporter": ("exporters", "otlp_grpc"),
}


def test_collector_build_has_exactly_the_components_the_configs_use(root, rendered):
    """collector/builder-config.yaml: every component a config uses, nothing more, all at
    the one release of the image the manifests and compose pin."""
    build = read_yaml(root / "collector/builder-config.yaml")
    release = build["dist"]["version"]
    built = {s: set() for s in ("extensions", "receivers", "processors", "exporters")}
    versions = set()
    for section in built:
        for entry in build.get(section, []):
            module, version = entry["gomod"].split()
            name = module.rsplit("/", 1)[1]
            assert name in COLLECTOR_MODULE_TYPES, f"unknown module {module}: add it to COLLECTOR_MODULE_TYPES"
            where, ctype = COLLECTOR_MODULE_TYPES[name]
            assert where == section, f"{module} listed under {section}"
            built[section].add(ctype)
            versions.add(version)
    assert versions == {f"v{release}"}, f"one release for every component: {versions} vs dist.version {release}"
    used = {s: set() for s in built}
    for where, cfg in collector_configs(root, rendered).items():
        for section in used:
            used[section] |= {n.split("/")[0] for n in cfg.get(section) or {}}
    assert built == used, f"built {built}, the configs use {used}"
    # The images the manifests and compose run are of the same release.
    images = [c["image"] for docs in rendered.values() for _, tpl in workloads(docs) for c in containers(tpl)
              if "opentelemetry-collector" in c["image"]]
    images += [s["image"] for s in read_yaml(root / "compose.yaml")["services"].values()
               if "opentelemetry-collector" in s.get("image", "")]
    assert images and {i.rsplit(":", 1)[1] for i in images} == {release}, images
    gomod = (root / "collector/go.mod").read_text()
    assert f"go.opentelemetry.io/collector/otelcol v{release}\n" in gomod, "collector/go.mod is not generated from this release"
