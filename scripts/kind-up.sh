#!/usr/bin/env bash
# Create (or reuse) a local kind cluster and load the locally built images into
# it, so that scripts/deploy.sh local can run without any registry.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${KIND_CLUSTER_NAME:=tracelab}"
: "${SKIP_BUILD:=0}"
: "${IMAGES:=app-a app-b app-c}"

usage() {
  cat <<USAGE
Usage: scripts/kind-up.sh [--dry-run] [--help]

Options:
  --dry-run   print every command instead of running it
  --help      this text

Environment (default):
  KIND_CLUSTER_NAME  (${KIND_CLUSTER_NAME}; kube context kind-${KIND_CLUSTER_NAME})
  KIND_NODE_IMAGE    pinned node image (${KIND_NODE_IMAGE})
  SKIP_BUILD         1 to load existing images without building (${SKIP_BUILD})
  IMAGES             (${IMAGES}), as ${LOCAL_IMAGE_PREFIX}/<image>:${LOCAL_IMAGE_TAG}
USAGE
}

parse_standard_args "$@"

need kind "${HINT_KIND}"
need docker "${HINT_DOCKER}"
need kubectl "${HINT_KUBECTL}"

if probe bash -c "kind get clusters | grep -qx '${KIND_CLUSTER_NAME}'"; then
  log "kind cluster ${KIND_CLUSTER_NAME} exists"
else
  run kind create cluster --name "${KIND_CLUSTER_NAME}" --image "${KIND_NODE_IMAGE}" --wait 120s
fi

if [[ "${SKIP_BUILD}" != 1 ]]; then
  dry=()
  [[ "${DRY_RUN}" == 1 ]] && dry=(--dry-run)
  IMAGES="${IMAGES}" run "${REPO_ROOT}/scripts/build-images.sh" "${dry[@]}"
fi

refs=()
for image in ${IMAGES}; do
  refs+=("${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}")
done
run kind load docker-image --name "${KIND_CLUSTER_NAME}" "${refs[@]}"
if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: no cluster was created"
  exit 0
fi
log "ready: scripts/deploy.sh local"
