#!/usr/bin/env bash
# Build the four images (app-a, app-b, app-c, tracelab) from
# Dockerfiles/Dockerfile into the local Docker image store, and check that each
# stays under the size budget.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${IMAGES:=app-a app-b app-c tracelab}"
: "${PLATFORM:=}" # empty: this machine's platform (--load takes one platform)
: "${MAX_IMAGE_MB:=15}"

usage() {
  cat <<USAGE
Usage: scripts/build-images.sh [--dry-run] [--help]

Builds ${LOCAL_IMAGE_PREFIX}/<image>:${LOCAL_IMAGE_TAG} for each image with docker buildx
(one build: the workspace compiles once, every target reuses it) and loads
them into the local image store (for compose and kind). For multi-arch images
pushed to a registry, use scripts/push-ecr.sh.

Options:
  --dry-run   print every command instead of running it
  --help      this text

Environment (default):
  IMAGES              images to build (${IMAGES})
  LOCAL_IMAGE_PREFIX  repository prefix (${LOCAL_IMAGE_PREFIX})
  LOCAL_IMAGE_TAG     tag (${LOCAL_IMAGE_TAG})
  PLATFORM            e.g. linux/arm64 (default: this machine's)
  MAX_IMAGE_MB        fail if an image is larger (${MAX_IMAGE_MB})
USAGE
}

parse_standard_args "$@"

need_buildx

platform_args=()
if [[ -n "${PLATFORM}" ]]; then
  platform_args=(--platform "${PLATFORM}")
fi

for image in ${IMAGES}; do
  ref="${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}"
  log "building ${ref}"
  run docker buildx build "${platform_args[@]}" \
    --file "${REPO_ROOT}/Dockerfiles/Dockerfile" --target "${image}" \
    --tag "${ref}" --load "${REPO_ROOT}"
  size="$(capture 0 docker image inspect --format '{{.Size}}' "${ref}")"
  mb=$(((size + 1048575) / 1048576))
  if ((mb > MAX_IMAGE_MB)); then
    die "${ref} is ${mb} MB, over the ${MAX_IMAGE_MB} MB budget"
  fi
  log "${ref}: ${mb} MB"
done
