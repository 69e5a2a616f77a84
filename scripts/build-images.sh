#!/usr/bin/env bash
# Build the images locally and check each one:
#   tracelab/app-a, app-b, app-c, tracelab   Dockerfiles/Dockerfile (its own build stages)
#   tracelab/otelcol                         collector/Dockerfile, on the binary of
#                                            scripts/build-collector.sh
# Checks: size budget (app images), user, no shell, exec-form entrypoint,
# "--version" answers.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${IMAGES:=app-a app-b app-c tracelab otelcol}"
: "${PLATFORM:=}" # docker only; empty: this machine's platform (--load takes one platform)
: "${MAX_IMAGE_MB:=16}"
: "${RUST_IMAGE:=}"    # podman: empty builds local bases (scripts/build-base-images.sh)
: "${RUNTIME_IMAGE:=}" # podman: same

usage() {
  cat <<USAGE
Usage: scripts/build-images.sh [--engine docker|podman] [--binaries DIR] [--dry-run] [--help]

Builds ${LOCAL_IMAGE_PREFIX}/<image>:${LOCAL_IMAGE_TAG} for each image into the local image
store (for compose, kind and scripts/container-test.sh), then checks each: app
images under ${MAX_IMAGE_MB} MB, a numeric non-root user, no shell, an exec-form
entrypoint, and "--version" answering. For multi-arch images pushed to a
registry, use scripts/push-ecr.sh.

  --engine docker  docker buildx, base images from their registries (default)
  --engine podman  podman build (storage under target/podman); with no
                   registry to pull from, the base images are built first by
                   scripts/build-base-images.sh and passed as RUST_IMAGE and
                   RUNTIME_IMAGE. The workspace compiles once: every target
                   reuses the builder stage's cached layers.

Options:
  --binaries DIR  take app-a, app-b, app-c and tracelab from DIR (static musl
              binaries, e.g. target/deploy-tools/musl-target/$(uname -m)-unknown-linux-musl/release
              from scripts/check-deploy.sh --musl) instead of compiling the
              workspace in the Dockerfile's builder stage (BINARIES build arg)
  --dry-run   print every command instead of running it
  --help      this text

Environment (default):
  IMAGES              images to build (${IMAGES})
  LOCAL_IMAGE_PREFIX  repository prefix (${LOCAL_IMAGE_PREFIX})
  LOCAL_IMAGE_TAG     tag (${LOCAL_IMAGE_TAG})
  PLATFORM            docker: e.g. linux/arm64 (default: this machine's)
  MAX_IMAGE_MB        fail if an app image is larger (${MAX_IMAGE_MB})
  RUST_IMAGE, RUNTIME_IMAGE  base images (default: the Dockerfile's; podman: built locally)
USAGE
}

engine=docker
binaries_dir=""
while (($#)); do
  case "$1" in
    --engine)
      [[ $# -ge 2 ]] || die "--engine needs docker or podman"
      engine=$2
      shift
      ;;
    --engine=*) engine=${1#--engine=} ;;
    --binaries)
      [[ $# -ge 2 ]] || die "--binaries needs a directory"
      binaries_dir=$2
      shift
      ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
case "${engine}" in
  docker) need_buildx ;;
  podman) if [[ "${DRY_RUN}" == 1 ]]; then need podman "${HINT_PODMAN}"; else podman_env; fi ;;
  *) die "unknown engine '${engine}' (docker or podman)" ;;
esac

# podman build: --format docker (SHELL, used by the builder stage, is not part
# of OCI's image format); --pull=never (every base is local); and RUN steps
# with this machine's open-file limit: with containers.conf's default_ulimits
# empty they get 1024, and zig, compiling musl's libc in parallel for the
# cargo-chef cook step, fails with ProcessFdQuotaExceeded.
podman_build_args=(--format docker --pull=never --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)")

# Does any image need the Dockerfile's builder stage (the Rust compile)?
needs_builder=0
if [[ -z "${binaries_dir}" ]] && grep -qvx otelcol <<<"${IMAGES// /$'\n'}"; then
  needs_builder=1
fi

base_args=()
if [[ "${engine}" == podman && -z "${RUST_IMAGE}${RUNTIME_IMAGE}" ]]; then
  base_opts=()
  # No builder stage runs: only the runtime base is needed.
  [[ "${needs_builder}" == 0 ]] && base_opts=(--runtime-only)
  log "base images (no registry here): scripts/build-base-images.sh ${base_opts[*]}"
  bases="$(capture $'RUST_IMAGE=localhost/tracelab-base/rust:1.95.0-trixie\nRUNTIME_IMAGE=localhost/tracelab-base/static:nonroot' \
    "${REPO_ROOT}/scripts/build-base-images.sh" "${base_opts[@]}" | tail -n 2)"
  RUST_IMAGE="$(sed -n 's/^RUST_IMAGE=//p' <<<"${bases}")"
  RUNTIME_IMAGE="$(sed -n 's/^RUNTIME_IMAGE=//p' <<<"${bases}")"
fi
[[ -n "${RUST_IMAGE}" ]] && base_args+=(--build-arg "RUST_IMAGE=${RUST_IMAGE}")
[[ -n "${RUNTIME_IMAGE}" ]] && base_args+=(--build-arg "RUNTIME_IMAGE=${RUNTIME_IMAGE}")

# --binaries: an image holding /out/<binary>, the Dockerfile's BINARIES.
if [[ -n "${binaries_dir}" ]]; then
  binaries_ref="localhost/tracelab-build/binaries:${LOCAL_IMAGE_TAG}"
  ctx="<a temporary directory with the binaries>"
  if [[ "${DRY_RUN}" != 1 ]]; then
    ctx="$(mktemp -d)"
    trap 'rm -rf "${ctx}"' EXIT
    for bin in app-a app-b app-c tracelab; do
      [[ -x "${binaries_dir}/${bin}" ]] || die "no ${binaries_dir}/${bin} (run scripts/check-deploy.sh --musl)"
      cp "${binaries_dir}/${bin}" "${ctx}/"
    done
    printf 'FROM scratch\nCOPY . /out/\n' >"${ctx}/Containerfile"
  fi
  log "binaries from ${binaries_dir} (not compiled in the builder stage)"
  run "${engine}" build --file "${ctx}/Containerfile" --tag "${binaries_ref}" "${ctx}"
  base_args+=(--build-arg "BINARIES=${binaries_ref}")
fi

# podman: the builder stage as an image first (buildah cannot take a stage
# name through the BINARIES argument); every final target then reuses it.
if [[ "${engine}" == podman && "${needs_builder}" == 1 ]]; then
  builder_ref="localhost/tracelab-build/builder:${LOCAL_IMAGE_TAG}"
  log "building the builder stage (${builder_ref}): the workspace, compiled once"
  start=${SECONDS}
  run podman build "${podman_build_args[@]}" "${base_args[@]}" --file "${REPO_ROOT}/Dockerfiles/Dockerfile" \
    --target builder --tag "${builder_ref}" "${REPO_ROOT}"
  [[ "${DRY_RUN}" == 1 ]] || log "builder stage done in $((SECONDS - start)) s"
  base_args+=(--build-arg "BINARIES=${builder_ref}")
fi

platform_args=()
if [[ -n "${PLATFORM}" ]]; then
  platform_args=(--platform "${PLATFORM}")
fi

# build IMAGE REF: one image with the chosen engine.
build() {
  local image=$1 ref=$2 file="${REPO_ROOT}/Dockerfiles/Dockerfile" context="${REPO_ROOT}" target=(--target "$1")
  if [[ "${image}" == otelcol ]]; then
    local otelcol
    otelcol="$(capture "${REPO_ROOT}/target/collector/otelcol-tracelab" "${REPO_ROOT}/scripts/build-collector.sh" | tail -n 1)"
    file="${REPO_ROOT}/collector/Dockerfile" context="$(dirname "${otelcol}")" target=()
  fi
  if [[ "${engine}" == docker ]]; then
    run docker buildx build "${platform_args[@]}" "${base_args[@]}" --file "${file}" "${target[@]}" \
      --tag "${ref}" --load "${context}"
  else
    # --format docker: SHELL (used by the builder stage) is not part of OCI's
    # image format. --pull=never: every base is local.
    run podman build "${podman_build_args[@]}" "${base_args[@]}" --file "${file}" "${target[@]}" \
      --tag "${ref}" "${context}"
  fi
}

# check_image IMAGE REF: the properties every image must have.
check_image() {
  local image=$1 ref=$2 size mb user entrypoint version
  if [[ "${DRY_RUN}" == 1 ]]; then
    # Only what would run; a dry run reports no result.
    run "${engine}" image inspect "${ref}"
    run "${engine}" run --rm --network none --entrypoint /bin/sh "${ref}" -c true
    run "${engine}" run --rm --network none "${ref}" --version
    return 0
  fi
  size="$("${engine}" image inspect --format '{{.Size}}' "${ref}")"
  mb=$(((size + 1048575) / 1048576))
  if [[ "${image}" != otelcol ]] && ((mb > MAX_IMAGE_MB)); then
    die "${ref} is ${mb} MB, over the ${MAX_IMAGE_MB} MB budget"
  fi
  user="$("${engine}" image inspect --format '{{.Config.User}}' "${ref}")"
  [[ "${user}" =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || die "${ref}: user '${user}', want a numeric non-root uid:gid"
  entrypoint="$("${engine}" image inspect --format '{{json .Config.Entrypoint}}' "${ref}")"
  [[ "${entrypoint}" == '['* && "${entrypoint}" != *'/bin/sh'* ]] || die "${ref}: entrypoint ${entrypoint} is not exec form"
  # No shell: running one must fail because it does not exist.
  if timeout 60 "${engine}" run --rm --network none --entrypoint /bin/sh "${ref}" -c true >/dev/null 2>&1; then
    die "${ref} has a shell"
  fi
  # Bounded: a binary that ignored --version would start serving instead.
  version="$(timeout 60 "${engine}" run --rm --network none --name "version-check-$$" "${ref}" --version)" ||
    { "${engine}" rm -f "version-check-$$" >/dev/null 2>&1; die "${ref}: --version did not answer within 60 s"; }
  [[ -n "${version}" ]] || die "${ref}: --version printed nothing"
  log "${ref}: ${mb} MB, user ${user}, entrypoint ${entrypoint}, no shell, --version: ${version}"
}

for image in ${IMAGES}; do
  ref="${LOCAL_IMAGE_PREFIX}/${image}:${LOCAL_IMAGE_TAG}"
  log "building ${ref} (${engine})"
  start=${SECONDS}
  build "${image}" "${ref}"
  [[ "${DRY_RUN}" == 1 ]] || log "${ref} built in $((SECONDS - start)) s"
  check_image "${image}" "${ref}"
done
