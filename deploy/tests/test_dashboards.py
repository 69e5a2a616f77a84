"""The Grafana dashboards: they pass the offline check (grafana_dashboard.py), the
check can fail on each rule, and every Grafana the lab provisions loads them.

Each test states one property; scripts/check-deploy.sh counts them.
"""
import copy
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

from conftest import read_yaml
import grafana_dashboard as gd

DASHBOARD_DIR = "deploy/grafana/dashboards"
# Where the provisioned Grafanas read the dashboards (the chart's mount for
# provider "tracelab"; compose and the laptop provider file use the same path).
CONTAINER_DIR = "/var/lib/grafana/dashboards/tracelab"


def dashboards(root):
    paths = sorted((root / DASHBOARD_DIR).glob("*.json"))
    assert paths, f"no dashboards in {DASHBOARD_DIR}"
    return {p.name: json.loads(p.read_text()) for p in paths}


@pytest.fixture(scope="module")
def schemas(root):
    return gd.validators(root)


@pytest.fixture(scope="module")
def tracelab(root):
    return dashboards(root)["tracelab.json"]


def test_dashboards_pass_the_schema_and_datasource_checks(root, schemas):
    used = []
    for name, dashboard in dashboards(root).items():
        problems, queries = gd.check(dashboard, schemas)
        assert problems == [], name
        used += queries
    assert gd.check_queries(used, gd.read_queries(root / gd.QUERIES_FILE)) == []


def test_dashboard_has_the_seed_panels(tracelab):
    """Recent traces (a TraceQL table), one trace (trace view), rate, errors and
    p50/p90/p99 per service from TraceQL metrics."""
    by_type = {}
    for panel in gd.panels(tracelab):
        by_type.setdefault(panel["type"], []).append(panel)
    (table,) = by_type["table"]
    (target,) = table["targets"]
    assert target["query"] == "{}" and target["tableType"] == "traces" and target["limit"] > 0
    (trace,) = by_type["traces"]
    assert trace["targets"][0]["query"] == "$trace_id"
    metrics = [p["targets"][0]["query"] for p in by_type["timeseries"]]
    assert any(re.search(r"\|\s*rate\(\) by \(resource\.service\.name\)$", q) and "error" not in q for q in metrics)
    assert any("status = error" in q and "| rate() by (resource.service.name)" in q for q in metrics)
    assert any("| quantile_over_time(duration, .5, .9, .99) by (resource.service.name)" in q for q in metrics)
    # Clicking a trace ID sets the trace view's variable on this same dashboard.
    (link,) = [link for o in table["fieldConfig"]["overrides"] for p in o["properties"] if p["id"] == "links"
               for link in p["value"]]
    assert link["url"].startswith(f"/d/{tracelab['uid']}/") and "var-trace_id=${__value.raw}" in link["url"]


# Each: (what breaks, a change to a copy of the dashboard, text the problem must contain).
def _set(path, value):
    def change(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _panel(d, kind):
    return next(p for p in gd.panels(d) if p["type"] == kind)


BREAKAGES = [
    ("a panel wider than the grid", lambda d: _panel(d, "table")["gridPos"].update(w=25), "schema: panels/1/gridPos/w"),
    ("an unknown top-level field", _set(["dashboardTitle"], "x"), "schema: (top): Additional properties"),
    ("schemaVersion as a string", _set(["schemaVersion"], "42"), "schema: schemaVersion"),
    ("a variable of a type Grafana lacks", lambda d: d["templating"]["list"][1].update(type="text"),
     "schema: templating/list/1/type"),
    ("a data link without a url", lambda d: _panel(d, "table")["fieldConfig"]["overrides"][0]["properties"][0]
     ["value"][0].pop("url"), "'url' is a required property"),
    ("a Tempo query with limit as a string", lambda d: _panel(d, "table")["targets"][0].update(limit="50"),
     "tempo query: limit"),
    ("a panel on the fixed uid instead of the variable",
     lambda d: _panel(d, "timeseries").update(datasource={"type": "tempo", "uid": "tempo"}), "is not {'type'"),
    ("a query on the fixed uid", lambda d: _panel(d, "traces")["targets"][0].update(
        datasource={"type": "tempo", "uid": "tracelab-store"}), "query datasource"),
    ("the data source variable over another plugin", lambda d: d["templating"]["list"][0].update(query="prometheus"),
     "no variable 'datasource'"),
    ("a metrics query in a table", lambda d: _panel(d, "timeseries").update(type="table"),
     "belongs in a timeseries panel"),
    ("a variable nobody defines", lambda d: _panel(d, "traces")["targets"][0].update(query="$trace"),
     "uses $trace"),
    ("a link to another dashboard", lambda d: _panel(d, "table")["fieldConfig"]["overrides"][0]["properties"][0]
     ["value"][0].update(url="/d/other/x?var-trace_id=${__value.raw}"), "link to dashboard uid 'other'"),
    ("two panels on the same cells", lambda d: _panel(d, "traces")["gridPos"].update(y=1), "overlap"),
    ("a panel id used twice", lambda d: _panel(d, "traces").update(id=2), "used twice"),
    ("two queries in one panel", lambda d: _panel(d, "table")["targets"].append(
        dict(_panel(d, "table")["targets"][0], refId="B", query="{ status = error }")), "want exactly one"),
]


@pytest.mark.parametrize("what,change,expect", BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_dashboard_check_catches(tracelab, schemas, what, change, expect):
    broken = copy.deepcopy(tracelab)
    change(broken)
    problems, _ = gd.check(broken, schemas)
    assert any(expect in p for p in problems), f"{what}: {problems}"


def test_queries_file_must_match_the_panels(root):
    listed = gd.read_queries(root / gd.QUERIES_FILE)
    assert listed and all(not q.startswith("#") for q in listed)
    assert any("not in" in p for p in gd.check_queries(listed + ["{ a = 1 }"], listed))
    assert any("no panel runs" in p for p in gd.check_queries(listed[1:], listed))
    assert any("twice" in p for p in gd.check_queries(listed, listed + listed[:1]))


def test_schema_corrections_apply_where_expected(root):
    """The three corrections loosen the vendored schema only where the generator
    got Grafana's CUE wrong; a refreshed schema that differs there stops the check."""
    raw = json.loads((root / gd.SCHEMA_DIR / "dashboard.jsonschema.json").read_text())
    loose = gd._loosen(raw)
    changed = {k for k in raw["definitions"] if raw["definitions"][k] != loose["definitions"][k]}
    assert changed == {"DynamicConfigValue", "MatcherConfig", "FieldConfig"}
    raw["definitions"]["MatcherConfig"]["properties"]["options"] = {}
    with pytest.raises(SystemExit, match="MatcherConfig.options"):
        gd._loosen(raw)


def test_schema_files_are_the_vendored_ones(root):
    """The schema files are byte-for-byte what the README says was vendored."""
    import hashlib
    readme = (root / gd.SCHEMA_DIR / "README.md").read_text()
    for name in ("dashboard.jsonschema.json", "tempo.jsonschema.json"):
        digest = hashlib.sha256((root / gd.SCHEMA_DIR / name).read_bytes()).hexdigest()
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", readme), f"{name}: sha256 {digest} not in README"


def test_compose_grafana_loads_the_dashboards(root):
    compose = read_yaml(root / "compose.yaml")
    mounts = {}
    for volume in compose["services"]["grafana"]["volumes"]:
        src, dst = volume.split(":")[:2]
        mounts[dst] = (root / src).resolve()
    assert mounts[CONTAINER_DIR] == (root / DASHBOARD_DIR).resolve()
    providers_dir = mounts["/etc/grafana/provisioning/dashboards"]
    paths = [p["options"]["path"] for f in sorted(providers_dir.glob("*.yaml"))
             for p in read_yaml(f)["providers"]]
    assert paths == [CONTAINER_DIR]
    (ds,) = read_yaml(mounts["/etc/grafana/provisioning/datasources"] / "tempo.yaml")["datasources"]
    assert ds["type"] == "tempo" and ds["uid"] == "tempo" and ds.get("isDefault")


def test_lab_grafana_files_load_the_dashboards(root):
    """deploy/grafana/: the store's data source is a Tempo one (the variable finds
    it), and the provider's path is where its comment copies the JSON."""
    (ds,) = read_yaml(root / "deploy/grafana/tracelab-store.yaml")["datasources"]
    assert ds["type"] == "tempo" and ds["uid"] == "tracelab-store"
    text = (root / "deploy/grafana/dashboards.yaml").read_text()
    (provider,) = yaml.safe_load(text)["providers"]
    path = provider["options"]["path"]
    assert f"cp {DASHBOARD_DIR}/*.json   {path}/" in text


def test_chart_loads_the_dashboard(root):
    """deploy.sh hands the chart the JSON file under the provider the values
    define; the chart mounts it at /var/lib/grafana/dashboards/<provider>/."""
    values = read_yaml(root / "deploy/helm/grafana/values.yaml")
    (provider,) = values["dashboardProviders"]["dashboardproviders.yaml"]["providers"]
    assert provider["options"]["path"] == f"/var/lib/grafana/dashboards/{provider['name']}" == CONTAINER_DIR
    env = dict(os.environ, DRY_RUN="1", ALLOW_DIRTY="1", KUBE_CONTEXT="kind-tracelab")
    out = subprocess.run([str(root / "scripts/deploy.sh"), "--dry-run", "local"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout
    (line,) = [ln for ln in out.splitlines() if ln.startswith("+ helm upgrade --install grafana ")]
    files = re.findall(r"--set-file dashboards\.([^.\s]+)\.([^.\s]+)\.json=(\S+)", line)
    assert files, line
    for prov, name, path in files:
        assert prov == provider["name"]
        assert pathlib.Path(path).resolve() == (root / DASHBOARD_DIR / f"{name}.json").resolve()
    assert {f"{n}.json" for _, n, _ in files} == set(dashboards(root))


def test_tempo_serves_traceql_metrics(root):
    """The RED panels need Tempo's local-blocks processor (else "localblocks
    processor not found"): on in compose's Tempo and in the chart values."""
    compose_tempo = read_yaml(root / "deploy/compose/tempo.yaml")
    chart = read_yaml(root / "deploy/helm/tempo/values-common.yaml")["tempo"]
    assert chart["metricsGenerator"]["enabled"] is True
    for processors, local_blocks in (
            (compose_tempo["overrides"]["defaults"]["metrics_generator"]["processors"],
             compose_tempo["metrics_generator"]["processor"]["local_blocks"]),
            (chart["overrides"]["defaults"]["metrics_generator"]["processors"],
             chart["metricsGenerator"]["processor"]["local_blocks"])):
        assert "local-blocks" in processors
        # Every span, not only server spans: any metrics query can be answered.
        assert local_blocks["filter_server_spans"] is False
    # The generator's WALs on the volume (the chart's root filesystem is read-only).
    for path in (chart["metricsGenerator"]["storage"]["path"], chart["metricsGenerator"]["traces_storage"]["path"]):
        assert path.startswith("/var/tempo/"), path
