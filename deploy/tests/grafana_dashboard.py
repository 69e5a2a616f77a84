"""Offline check of the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json).

Used by scripts/check-deploy.sh (python deploy/tests/grafana_dashboard.py FILE...)
and by test_dashboards.py, which also proves each rule can fail. A dashboard passes when:

- it validates against Grafana's dashboard JSON schema, and each Tempo query
  (panel target) against Grafana's Tempo query schema: the two files in
  deploy/grafana/schema/ (Apache-2.0, from grafana-foundation-sdk; see its
  README for the three corrections made here in memory, `_CORRECTIONS`);
- every panel and every query names the data source through the `datasource`
  variable, which is a variable of type datasource over plugin `tempo`, so the
  same JSON runs against uid `tempo` (compose, Kubernetes) and `tracelab-store`;
- every `$var` / `${var}` it uses is a variable it defines (or Grafana's own `__…`);
- its TraceQL queries are exactly deploy/grafana/dashboard-queries.txt, which the
  store's tests read; a query with a metrics stage sits in a time-series panel,
  a search in a table, and a query that is only a variable in the trace view;
- its data links into a dashboard name its own uid; panel ids are unique and no
  two panels overlap on the grid.
"""
import copy
import json
import pathlib
import re
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_DIR = "deploy/grafana/schema"
QUERIES_FILE = "deploy/grafana/dashboard-queries.txt"
DS_VARIABLE = "datasource"
DS_REF = {"type": "tempo", "uid": "${%s}" % DS_VARIABLE}
# How Grafana's Tempo data source tells a metrics query from a search
# (public/app/plugins/datasource/tempo/datasource.ts, isTraceQlMetricsQuery).
METRICS_STAGE = re.compile(
    r"\|\s*(rate|count_over_time|avg_over_time|max_over_time|min_over_time|sum_over_time"
    r"|quantile_over_time|histogram_over_time|compare)\s*\(")
# $name, ${name}, ${name:format}, [[name]]
VARIABLE_USE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]")
ONLY_A_VARIABLE = re.compile(r"^\s*(\$[A-Za-z0-9_]+|\$\{[A-Za-z0-9_]+\})\s*$")
DASHBOARD_LINK = re.compile(r"^/d/([^/?]+)")
# A data link as Grafana stores it in fieldConfig (title and url; optional rest).
DATA_LINK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "url"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "url": {"type": "string", "minLength": 1},
        "targetBlank": {"type": "boolean"},
        "internal": {"type": "object"},
    },
}


# Where the generator turned an "anything" of Grafana's CUE (kinds/dashboard:
# `DynamicConfigValue.value?: _`, `MatcherConfig.options?: _`, `FieldConfig.links?: [...]`)
# into "an object" or "a dashboard link": (definition, property, what the
# generated file says, what the check uses instead).
_CORRECTIONS = [
    ("DynamicConfigValue", "value", {"type": "object", "additionalProperties": {}}, {}),
    ("MatcherConfig", "options", {"type": "object", "additionalProperties": {}}, {}),
    ("FieldConfig", "links", {"type": "array", "items": {"$ref": "#/definitions/DashboardLink"}},
     {"type": "array", "items": DATA_LINK}),
]


def _loosen(schema):
    """The generated schema with exactly the _CORRECTIONS made; fails loudly if a
    refreshed schema no longer reads as expected there (then drop or adjust them)."""
    schema = copy.deepcopy(schema)
    defs = schema["definitions"]
    for definition, prop, generated, corrected in _CORRECTIONS:
        have = {k: v for k, v in defs[definition]["properties"][prop].items() if k != "description"}
        if have != generated:
            raise SystemExit(f"{SCHEMA_DIR}/dashboard.jsonschema.json changed at {definition}.{prop}: "
                             f"revisit _CORRECTIONS in {__file__}")
        defs[definition]["properties"][prop] = corrected
    return schema


def validators(root=ROOT):
    load = lambda name: json.loads((pathlib.Path(root) / SCHEMA_DIR / name).read_text())  # noqa: E731
    dashboard = load("dashboard.jsonschema.json")
    tempo = load("tempo.jsonschema.json")
    return (jsonschema.Draft7Validator(_loosen(dashboard)), jsonschema.Draft7Validator(tempo))


def read_queries(path):
    lines = pathlib.Path(path).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def panels(dashboard):
    """Every panel, rows' collapsed children included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", []) if panel.get("type") == "row" else ()


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def _where(error):
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def _schema_errors(validator, instance):
    """Messages for each error; for "panel or row" (oneOf) the reasons of the
    branch that fits the object's type, not the whole object."""
    out = []
    for e in validator.iter_errors(instance):
        if e.validator == "oneOf" and e.context and isinstance(e.instance, dict):
            branch = 1 if e.instance.get("type") == "row" else 0
            reasons = [c for c in e.context if c.schema_path and c.schema_path[0] == branch]
            if reasons:
                out += [f"{_where(c)}: {c.message}" for c in reasons]
                continue
        out.append(f"{_where(e)}: {e.message}")
    return out


def check(dashboard, schemas):
    """(problems, TraceQL queries) of one dashboard (a parsed JSON object); no problems: it passes."""
    dashboard_schema, tempo_schema = schemas
    problems = [f"schema: {m}" for m in _schema_errors(dashboard_schema, dashboard)]
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds_var = variables.get(DS_VARIABLE)
    if not ds_var or ds_var.get("type") != "datasource" or ds_var.get("query") != "tempo":
        problems.append(f"no variable '{DS_VARIABLE}' of type datasource with query 'tempo'")

    seen_ids, boxes, used_queries = set(), [], []
    for panel in panels(dashboard):
        title = panel.get("title", "?")
        if panel.get("id") in seen_ids:
            problems.append(f"panel '{title}': id {panel.get('id')} used twice")
        seen_ids.add(panel.get("id"))
        if "gridPos" in panel:
            boxes.append((title, panel["gridPos"]))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != DS_REF:
            problems.append(f"panel '{title}': datasource {panel.get('datasource')} is not {DS_REF}")
        targets = panel.get("targets", [])
        if len(targets) != 1:
            # The Tempo data source runs only the first TraceQL search of a panel.
            problems.append(f"panel '{title}': {len(targets)} queries, want exactly one")
        for target in targets:
            if target.get("datasource") != DS_REF:
                problems.append(f"panel '{title}': query datasource {target.get('datasource')} is not {DS_REF}")
            problems += [f"panel '{title}': tempo query: {m}" for m in _schema_errors(tempo_schema, target)]
            if target.get("queryType") != "traceql":
                problems.append(f"panel '{title}': queryType {target.get('queryType')!r}, want 'traceql'")
            query = target.get("query", "")
            if ONLY_A_VARIABLE.match(query):
                kind = "traces"
            else:
                used_queries.append(query)
                kind = "timeseries" if METRICS_STAGE.search(query) else "table"
            if panel.get("type") != kind:
                problems.append(f"panel '{title}': query {query!r} belongs in a {kind} panel, not {panel.get('type')}")
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override.get("properties", []):
                if prop.get("id") == "links":
                    problems += [f"panel '{title}': data link: {_where(e)}: {e.message}" for e in
                                 jsonschema.Draft7Validator({"type": "array", "items": DATA_LINK}).iter_errors(
                                     prop.get("value"))]
                    for link in prop.get("value") or []:
                        m = DASHBOARD_LINK.match(link.get("url", "")) if isinstance(link, dict) else None
                        if m and m.group(1) != dashboard.get("uid"):
                            problems.append(f"panel '{title}': link to dashboard uid {m.group(1)!r}, "
                                            f"this one is {dashboard.get('uid')!r}")

    for text in strings(dashboard):
        for m in VARIABLE_USE.finditer(text):
            name = next(g for g in m.groups() if g)
            if name not in variables and not name.startswith("__"):
                problems.append(f"uses ${name}, which is not a variable of the dashboard: {text!r}")

    if len(used_queries) != len(set(used_queries)):
        problems.append("a TraceQL query appears twice")
    for i, (a, pa) in enumerate(boxes):
        for b, pb in boxes[i + 1:]:
            if (pa["x"] < pb["x"] + pb["w"] and pb["x"] < pa["x"] + pa["w"]
                    and pa["y"] < pb["y"] + pb["h"] and pb["y"] < pa["y"] + pa["h"]):
                problems.append(f"panels '{a}' and '{b}' overlap")
    return problems, used_queries


def check_queries(used, listed):
    """The queries file must list exactly the queries the dashboards run."""
    problems = []
    missing, extra = set(used) - set(listed), set(listed) - set(used)
    if missing:
        problems.append(f"queries not in {QUERIES_FILE}: {sorted(missing)}")
    if extra:
        problems.append(f"{QUERIES_FILE} lists queries no panel runs: {sorted(extra)}")
    if len(listed) != len(set(listed)):
        problems.append(f"{QUERIES_FILE} lists a query twice")
    return problems


def main(paths, root=ROOT):
    """Check each dashboard, then the queries file against all of them together."""
    schemas = validators(root)
    failed, used = 0, []
    for path in paths:
        dashboard = json.loads(pathlib.Path(path).read_text())
        problems, queries = check(dashboard, schemas)
        used += queries
        for problem in problems:
            print(f"{path}: {problem}")
        if not problems:
            n = sum(1 for p in panels(dashboard) if p.get("type") != "row")
            print(f"{path}: ok ({n} panels, {len(queries)} TraceQL queries, uid {dashboard.get('uid')}, "
                  f"schemaVersion {dashboard.get('schemaVersion')})")
        failed += bool(problems)
    problems = check_queries(used, read_queries(pathlib.Path(root) / QUERIES_FILE))
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{QUERIES_FILE}: ok ({len(used)} queries)")
    return 1 if failed or problems or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
