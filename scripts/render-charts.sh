#!/usr/bin/env bash
# Render the pinned Tempo and Grafana charts exactly as scripts/deploy.sh
# would install them (its own values files and --set-string flags, read from
# its --dry-run), for both modes, and check what comes out: the render works,
# kubernetes-validate --strict accepts it, and every pod meets the restricted
# Pod Security Standard the "monitor" namespace enforces.
#
# The charts are not in this repository and no chart registry answers here:
# give the directory of a checkout of https://github.com/grafana-community/helm-charts
# at the pinned versions (charts/tempo 2.2.4, charts/grafana 12.11.1).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${K8S_VERSION:=1.33.0}"

usage() {
  cat <<USAGE
Usage: scripts/render-charts.sh [--help] CHARTS_DIR

CHARTS_DIR holds tempo/ and grafana/ (the charts/ directory of the
grafana-community/helm-charts repository). Writes the renders to
target/chart-render/ and prints the objects of each.
USAGE
}

charts=""
for arg in "$@"; do
  case "${arg}" in
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: ${arg}" ;;
    *) charts="${arg}" ;;
  esac
done
[[ -n "${charts}" ]] || { usage >&2; die "say where the charts are"; }
helm="${TOOLS_DIR}/bin/helm"
python="${TOOLS_DIR}/venv/bin/python"
[[ -x "${helm}" && -x "${python}" ]] || die "run scripts/check-deploy.sh once first: it installs helm and the validators"
for chart in tempo:"${TEMPO_CHART_VERSION}" grafana:"${GRAFANA_CHART_VERSION}"; do
  name=${chart%%:*} want=${chart#*:}
  have="$(sed -n 's/^version: //p' "${charts}/${name}/Chart.yaml" 2>/dev/null || true)"
  [[ "${have}" == "${want}" ]] || die "${charts}/${name}: chart version '${have}', deploy.sh pins ${want}"
done

out="${REPO_ROOT}/target/chart-render"
rm -rf "${out}"
mkdir -p "${out}"
failed=0
for mode in local eks; do
  # deploy.sh's own helm command lines, from its dry run.
  mapfile -t commands < <(DRY_RUN=1 ALLOW_DIRTY=1 TAG=0123456789abcdef0123456789abcdef01234567 \
    "${REPO_ROOT}/scripts/deploy.sh" --dry-run "${mode}" 2>&1 | sed -n 's/^+ helm upgrade --install //p')
  ((${#commands[@]} == 2)) || die "deploy.sh --dry-run ${mode}: expected 2 helm installs, got ${#commands[@]}"
  for line in "${commands[@]}"; do
    # "<release> <repo>/<chart> <args…>", as printed with printf %q: eval turns
    # it back into words (our own script's output, not outside input).
    eval "words=(${line})"
    # shellcheck disable=SC2154 # set by eval
    release=${words[0]} chart=${words[1]#*/}
    args=()
    skip=0
    for word in "${words[@]:2}"; do
      if ((skip)); then skip=0; continue; fi
      case "${word}" in
        --wait) ;;
        --timeout | --version | --kube-context) skip=1 ;;
        *) args+=("${word}") ;;
      esac
    done
    file="${out}/${release}-${mode}.yaml"
    if ! "${helm}" template "${release}" "${charts}/${chart}" "${args[@]}" >"${file}" 2>"${file}.err"; then
      failed=1
      printf 'FAIL  helm template %s (%s)\n' "${release}" "${mode}"
      sed 's/^/      /' "${file}.err"
      continue
    fi
    printf 'ok    helm template %s (%s): %s\n' "${release}" "${mode}" \
      "$("${python}" -c 'import sys, yaml; print(", ".join(d["kind"] + "/" + d["metadata"]["name"] for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "${file}")"
    if "${TOOLS_DIR}/venv/bin/kubernetes-validate" --strict --quiet -k "${K8S_VERSION}" "${file}"; then
      printf 'ok    kubernetes-validate --strict %s (%s)\n' "${release}" "${mode}"
    else
      failed=1
      printf 'FAIL  kubernetes-validate --strict %s (%s)\n' "${release}" "${mode}"
    fi
    if "${python}" - "${file}" <<'PY'; then
import sys, yaml
bad = []
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d or d["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        continue
    spec = d["spec"]["template"]["spec"]
    psc = spec.get("securityContext") or {}
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext") or {}
        where = f"{d['kind']}/{d['metadata']['name']} {c['name']}"
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True: bad.append(f"{where}: runAsNonRoot")
        if (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{where}: seccompProfile")
        if sc.get("allowPrivilegeEscalation") is not False: bad.append(f"{where}: allowPrivilegeEscalation")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]: bad.append(f"{where}: capabilities.drop")
    if any("hostPath" in v for v in spec.get("volumes", [])): bad.append(f"{d['metadata']['name']}: hostPath")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
      printf 'ok    restricted Pod Security Standard %s (%s)\n' "${release}" "${mode}"
    else
      failed=1
      printf 'FAIL  restricted Pod Security Standard %s (%s)\n' "${release}" "${mode}"
    fi
  done
done
((failed == 0))
