#!/usr/bin/env bash
# compose.yaml's "store" profile, run for real with podman-compose and the
# locally built images (scripts/build-images.sh --engine podman): app-a,
# app-b, app-c and the store, with a fresh TRACELAB_TOKEN; then
# scripts/smoke-test.sh compose (the seed's text, the 5-span trace read back
# with the token), and examples/shell/expect-chain.sh (the trace checked
# against the seed chain's shape with tracelab expect). Grafana is not
# started (it is not built or run here).
# The project and its network are removed at the end, also on failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${PODMAN_COMPOSE_VERSION:=1.6.0}"

usage() {
  cat <<USAGE
Usage: scripts/compose-test.sh [--help]

Installs podman-compose ${PODMAN_COMPOSE_VERSION} (PyPI) into ${TOOLS_DIR#"${REPO_ROOT}/"}/venv on first
use; needs the images tracelab/{app-a,app-b,app-c,tracelab}:${LOCAL_IMAGE_TAG} in podman's
store (scripts/build-images.sh --engine podman), and a tracelab binary for "tracelab expect":
TRACELAB, else target/debug/tracelab, else target/release/tracelab.
USAGE
}
parse_help_only "$@"

podman_env
venv="${TOOLS_DIR}/venv"
[[ -x "${venv}/bin/python" ]] || die "run scripts/check-deploy.sh once first: it makes ${venv}"
if ! "${venv}/bin/podman-compose" --version 2>/dev/null | grep -q "podman-compose version ${PODMAN_COMPOSE_VERSION}"; then
  log "installing podman-compose ${PODMAN_COMPOSE_VERSION} into ${venv}"
  "${venv}/bin/pip" install --quiet --disable-pip-version-check "podman-compose==${PODMAN_COMPOSE_VERSION}"
fi
for image in app-a app-b app-c tracelab; do
  podman image exists "${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}" ||
    die "no image ${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}: run scripts/build-images.sh --engine podman"
done

free_port() { "${venv}/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
project="tracelab-compose-test-$$"
TRACELAB_TOKEN="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
APP_A_HOST_PORT="$(free_port)"
QUERY_HOST_PORT="$(free_port)"
export TRACELAB_TOKEN APP_A_HOST_PORT QUERY_HOST_PORT
compose() { "${venv}/bin/podman-compose" --project-name "${project}" --file "${REPO_ROOT}/compose.yaml" "$@"; }

cleanup() {
  compose --profile store down --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The tempo profile cannot start here: its images (otel/opentelemetry-collector-k8s,
# grafana/tempo, grafana/grafana) come from registries that do not answer, and
# Tempo and Grafana are not run. podman-compose still has to read it.
compose --profile tempo config >/dev/null
log "podman-compose --profile tempo config: reads (not started: its images need a registry)"

log "podman-compose --profile store up (app-a, app-b, app-c, store; app-a on 127.0.0.1:${APP_A_HOST_PORT}, store on :${QUERY_HOST_PORT})"
compose --profile store up --detach --no-build app-a app-b app-c store
# Wait for the store and app-a to answer (bounded).
deadline=$((SECONDS + 60))
until curl -fsS --max-time 2 "http://127.0.0.1:${QUERY_HOST_PORT}/ready" >/dev/null 2>&1 &&
  curl -fsS --max-time 2 "http://127.0.0.1:${APP_A_HOST_PORT}/readyz" >/dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    compose --profile store logs 2>&1 | tail -n 40
    die "the store profile did not come up within 60 s"
  fi
  sleep 0.5
done
# app-a being ready says nothing of app-b and app-c behind it (nor of the network's DNS for
# their names, which podman's aardvark serves once every container has joined): wait until a
# request goes through the whole chain, bounded, before the smoke test sends the one it checks.
deadline=$((SECONDS + 60))
until curl -fsS --max-time 10 "http://127.0.0.1:${APP_A_HOST_PORT}/" >/dev/null 2>&1; do
  if ((SECONDS >= deadline)); then
    compose --profile store logs 2>&1 | tail -n 40
    die "app-a -> app-b -> app-c did not answer 200 within 60 s"
  fi
  sleep 0.5
done
log "the chain answers end to end"
status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${QUERY_HOST_PORT}/api/search")"
[[ "${status}" == 401 ]] || die "the store answered ${status} without its token, want 401"
log "the store refuses a query without TRACELAB_TOKEN (401)"

"${REPO_ROOT}/scripts/smoke-test.sh" compose

# The check a CI job in any language runs: the shell example's curl with a trace id of its own,
# then `tracelab expect` on the seed chain's shape file, with the store's token.
tracelab_bin="${TRACELAB:-}"
if [[ -z "${tracelab_bin}" ]]; then
  for candidate in "${REPO_ROOT}/target/debug/tracelab" "${REPO_ROOT}/target/release/tracelab"; do
    if [[ -x "${candidate}" ]]; then
      tracelab_bin="${candidate}"
      break
    fi
  done
fi
[[ -n "${tracelab_bin}" ]] || die "no tracelab binary to run expect with: cargo build -p tracelab, or set TRACELAB"
APP_A_URL="http://127.0.0.1:${APP_A_HOST_PORT}" TRACELAB_STORE="http://127.0.0.1:${QUERY_HOST_PORT}" \
  TRACELAB="${tracelab_bin}" WAIT=60s TRACELAB_COLOR=never "${REPO_ROOT}/examples/shell/expect-chain.sh"
log "examples/shell/expect-chain.sh with ${tracelab_bin#"${REPO_ROOT}/"}: the trace has the seed chain's shape"
