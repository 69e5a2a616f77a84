#!/usr/bin/env bash
# The chain in containers, as in the cluster: app-a, app-b, app-c,
# otel-collector and the store in Tempo's place on a private podman network,
# each with its Deployment's environment, arguments, user and memory limit
# from the rendered overlay (kubectl kustomize), and a client container that
# calls app-a as the seed's nginx pod does. Then: the trace in the store,
# "podman stop app-b" during its wait, a stopped app-c (502).
# See scripts/e2e/containers_e2e.py. Cleans up its containers and network,
# also when it fails.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${OVERLAY:=local}"

usage() {
  cat <<USAGE
Usage: scripts/container-test.sh [--keep] [--help]

Needs the images tracelab/{app-a,app-b,app-c,tracelab,otelcol}:${LOCAL_IMAGE_TAG} in podman's
store (scripts/build-images.sh --engine podman), busybox (apt-get install
busybox-static) for the client image, and the tools of scripts/check-deploy.sh.

Options:
  --keep   leave the containers and network up (to look around; remove them
           with another run)
  --help   this text

Environment (default):
  OVERLAY  the k8s overlay whose Deployments are run (${OVERLAY})
USAGE
}

args=()
for arg in "$@"; do
  case "${arg}" in
    --keep) args+=(--keep) ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

podman_env
python="${TOOLS_DIR}/venv/bin/python"
kubectl="${TOOLS_DIR}/bin/kubectl"
[[ -x "${python}" && -x "${kubectl}" ]] || die "run scripts/check-deploy.sh once first: it installs the tools this uses"
command -v busybox >/dev/null 2>&1 || die "'busybox' not found (the client image). Install it: apt-get install busybox-static"
if LC_ALL=C ldd "$(command -v busybox)" 2>&1 | grep -q '=>'; then
  die "$(command -v busybox) is dynamically linked; the client image needs a static one: apt-get install busybox-static"
fi
for tool in nsenter ss; do
  command -v "${tool}" >/dev/null 2>&1 || die "'${tool}' not found. Install it: apt-get install util-linux iproute2"
done
for image in app-a app-b app-c tracelab otelcol; do
  podman image exists "${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}" ||
    die "no image ${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}: run scripts/build-images.sh --engine podman"
done

render="${REPO_ROOT}/target/container-test/${OVERLAY}.yaml"
mkdir -p "$(dirname "${render}")"
"${kubectl}" kustomize "${REPO_ROOT}/k8s/overlays/${OVERLAY}" >"${render}"
log "kubectl kustomize k8s/overlays/${OVERLAY} -> ${render#"${REPO_ROOT}/"}"
"${python}" "${REPO_ROOT}/scripts/e2e/containers_e2e.py" --render "${render}" "${args[@]}"
