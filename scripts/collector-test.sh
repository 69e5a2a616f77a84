#!/usr/bin/env bash
# The real OpenTelemetry Collector in the loop, on this machine (no containers):
#   1. build it (scripts/build-collector.sh) and list its components;
#   2. otelcol validate every Collector config in the repository, with the
#      environment each expects (the k8s config as the overlays render it,
#      with the Deployment's env; compose's config);
#   3. the chain (the workspace's own binaries) -> the Collector (compose's
#      config, only endpoints changed) -> the store over OTLP/gRPC, and the
#      Collector's promises: the store down 10 s and back loses no span; past
#      its memory limit it answers 503 and our exporters count and report it
#      (scripts/e2e/collector_e2e.py).
# Ends with "N passed, N failed"; exit 1 on any failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${CHAIN_BIN_DIR:=${REPO_ROOT}/target/debug}"

usage() {
  cat <<USAGE
Usage: scripts/collector-test.sh [--validate-only] [--help]

Options:
  --validate-only  build the Collector and validate the configs; no end-to-end run
  --help           this text

Environment (default):
  CHAIN_BIN_DIR  app-a, app-b, app-c and tracelab (${CHAIN_BIN_DIR#"${REPO_ROOT}/"});
                 built with "cargo build --bins" when it is the default
  TOOLS_DIR      where scripts/check-deploy.sh installed its tools (${TOOLS_DIR#"${REPO_ROOT}/"})
USAGE
}

validate_only=0
for arg in "$@"; do
  case "${arg}" in
    --validate-only) validate_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

python="${TOOLS_DIR}/venv/bin/python"
kubectl="${TOOLS_DIR}/bin/kubectl"
[[ -x "${python}" && -x "${kubectl}" ]] || die "run scripts/check-deploy.sh once first: it installs the tools this uses"
out_dir="${REPO_ROOT}/target/collector-check"
rm -rf "${out_dir}"
mkdir -p "${out_dir}"

passed=0
failed=0
result() {
  if [[ "$1" == 0 ]]; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "$2"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$2"
  fi
}

# ---- 1. build ------------------------------------------------------------------------
start=${SECONDS}
otelcol="$("${REPO_ROOT}/scripts/build-collector.sh" | tail -n 1)"
log "Collector ready in $((SECONDS - start)) s: ${otelcol}"
"${otelcol}" components >"${out_dir}/components.yaml"
# The components it has are exactly those the configs use (deploy/tests checks
# the build manifest; this checks the binary).
components_status=0
"${python}" - "${out_dir}/components.yaml" <<'PY' || components_status=$?
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
have = {k: sorted(x["name"] for x in c.get(k) or []) for k in ("receivers", "processors", "exporters", "extensions", "connectors")}
want = {"receivers": ["otlp"], "processors": ["batch", "k8s_attributes", "memory_limiter"],
        "exporters": ["otlp_grpc"], "extensions": ["health_check"], "connectors": []}
print(c["buildinfo"])
for k, v in have.items():
    print(f"  {k}: {', '.join(v) or '-'}")
sys.exit(0 if have == want else f"components {have}, want {want}")
PY
result "${components_status}" "otelcol components: exactly the components the configs use"

# ---- 2. validate every config --------------------------------------------------------
# validate_config NAME FILE ENV...: otelcol validate with that environment; a
# warning about a deprecated name or option fails it too.
validate_config() {
  local name=$1 file=$2 log_file
  log_file="${out_dir}/validate-$(basename "${file}" .yaml).log"
  shift 2
  if env -i PATH="${PATH}" "$@" "${otelcol}" validate --config="${file}" >"${log_file}" 2>&1 &&
    ! grep -qi 'deprecat' "${log_file}"; then
    result 0 "otelcol validate ${name}"
  else
    result 1 "otelcol validate ${name}"
    sed 's/^/      /' "${log_file}"
  fi
}
for overlay in "${REPO_ROOT}"/k8s/overlays/*/; do
  overlay_name="$(basename "${overlay}")"
  "${kubectl}" kustomize "${overlay}" >"${out_dir}/render-${overlay_name}.yaml"
  # The ConfigMap's config.yaml, and the Deployment's env (fieldRefs filled as
  # the kubelet would: status.podIP is some pod IP).
  mapfile -t env_args < <("${python}" - "${out_dir}/render-${overlay_name}.yaml" \
    "${out_dir}/k8s-${overlay_name}.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
(cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("otel-collector-config")]
open(sys.argv[2], "w").write(cm["data"]["config.yaml"])
for d in docs:
    if d["kind"] != "Deployment":
        continue
    spec = d["spec"]["template"]["spec"]
    if not any(v.get("configMap", {}).get("name") == cm["metadata"]["name"] for v in spec.get("volumes", [])):
        continue
    for e in spec["containers"][0].get("env", []):
        ref = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        value = e.get("value", {"status.podIP": "10.0.0.10"}.get(ref))
        if value is None:
            sys.exit(f"no value for env {e['name']} ({e})")
        print(f"{e['name']}={value}")
PY
  )
  validate_config "k8s/overlays/${overlay_name} (env: ${env_args[*]})" "${out_dir}/k8s-${overlay_name}.yaml" "${env_args[@]}"
done
validate_config "deploy/compose/otel-collector.yaml (env: GOMEMLIMIT=400MiB)" \
  "${REPO_ROOT}/deploy/compose/otel-collector.yaml" GOMEMLIMIT=400MiB

# ---- 3. end to end --------------------------------------------------------------------
if [[ "${validate_only}" == 0 ]]; then
  if [[ "${CHAIN_BIN_DIR}" == "${REPO_ROOT}/target/debug" ]]; then
    log "cargo build --bins (app-a, app-b, app-c, tracelab)"
    (cd "${REPO_ROOT}" && cargo build --locked --quiet -p app-a -p app-b -p app-c -p tracelab --bins)
  fi
  start=${SECONDS}
  if "${python}" "${REPO_ROOT}/scripts/e2e/collector_e2e.py" --otelcol "${otelcol}" --bin-dir "${CHAIN_BIN_DIR}"; then
    result 0 "chain -> otelcol -> store end to end, and the Collector's promises ($((SECONDS - start)) s)"
  else
    result 1 "chain -> otelcol -> store end to end, and the Collector's promises"
  fi
fi

echo "${passed} passed, ${failed} failed"
((failed == 0))
