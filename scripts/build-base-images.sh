#!/usr/bin/env bash
# Build the base images Dockerfiles/Dockerfile needs, locally, from Debian's
# mirror: for a machine where no container registry answers (no docker.io, no
# gcr.io). scripts/build-images.sh --engine podman calls it and passes the
# results through the Dockerfile's RUST_IMAGE and RUNTIME_IMAGE arguments.
#
#   localhost/tracelab-base/debian:<suite>     debootstrap --variant=minbase, imported
#   localhost/tracelab-base/rust:<ver>-<suite> the Debian root + gcc, libc6-dev and Rust
#                                              from rustup-init (minimal profile), as
#                                              the official rust:<ver>-slim-<suite> image
#   localhost/tracelab-base/static:nonroot     what gcr.io/distroless/static:nonroot
#                                              holds: passwd/group with nonroot (65532),
#                                              CA certificates, tzdata, netbase files,
#                                              /tmp (1777), /home/nonroot; no shell
#
# The Debian root is cached under target/base-images; images already present
# are kept (--force rebuilds them). Prints the two image references last:
#   RUST_IMAGE=...
#   RUNTIME_IMAGE=...
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${DEBIAN_SUITE:=trixie}"
: "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${RUST_VERSION:=1.95.0}"
: "${BASE_PREFIX:=localhost/tracelab-base}"
: "${BASE_DIR:=${REPO_ROOT}/target/base-images}"
# The machine's own extra CA certificates (a TLS-inspecting egress proxy, a
# company CA): copied into the *builder* image only, so that apt, pip, cargo
# and rustup inside it can reach the registries this machine reaches. Never
# into the runtime image.
: "${EXTRA_CA_DIR:=/usr/local/share/ca-certificates}"

usage() {
  cat <<USAGE
Usage: scripts/build-base-images.sh [--runtime-only] [--force] [--help]

Builds ${BASE_PREFIX}/debian:${DEBIAN_SUITE}, ${BASE_PREFIX}/rust:${RUST_VERSION}-${DEBIAN_SUITE} and
${BASE_PREFIX}/static:nonroot with podman (storage under target/podman). Needs root
(debootstrap) and network access to ${DEBIAN_MIRROR}, static.rust-lang.org.

Options:
  --runtime-only  only the Debian root and the runtime image (for
            build-images.sh --binaries, where no builder stage runs)
  --force   rebuild the Debian root and the images even if present
  --help    this text

Environment (default):
  DEBIAN_SUITE   (${DEBIAN_SUITE})    DEBIAN_MIRROR (${DEBIAN_MIRROR})
  RUST_VERSION   (${RUST_VERSION})    BASE_PREFIX   (${BASE_PREFIX})
  EXTRA_CA_DIR   extra CA certificates for the builder image (${EXTRA_CA_DIR})
USAGE
}

force=0
runtime_only=0
for arg in "$@"; do
  case "${arg}" in
    --force) force=1 ;;
    --runtime-only) runtime_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, and rootful podman)"
command -v debootstrap >/dev/null 2>&1 || die "'debootstrap' not found. Install it: apt-get install debootstrap"
podman_env

debian_ref="${BASE_PREFIX}/debian:${DEBIAN_SUITE}"
rust_ref="${BASE_PREFIX}/rust:${RUST_VERSION}-${DEBIAN_SUITE}"
runtime_ref="${BASE_PREFIX}/static:nonroot"
have() { [[ "${force}" == 0 ]] && podman image exists "$1"; }

# ---- the Debian root -------------------------------------------------------------
root="${BASE_DIR}/debian-${DEBIAN_SUITE}"
# ca-certificates, tzdata, netbase: what the runtime image takes from it;
# curl: to fetch rustup-init in the builder.
packages=ca-certificates,tzdata,netbase,curl
stamp="${root}.done"
if [[ "${force}" == 1 || "$(cat "${stamp}" 2>/dev/null)" != "${DEBIAN_SUITE} ${packages} ${DEBIAN_MIRROR}" ]]; then
  rm -rf "${root}" "${stamp}"
  mkdir -p "${BASE_DIR}"
  log "debootstrap ${DEBIAN_SUITE} (minbase + ${packages}) from ${DEBIAN_MIRROR}"
  start=${SECONDS}
  debootstrap --variant=minbase --include="${packages}" "${DEBIAN_SUITE}" "${root}" "${DEBIAN_MIRROR}" \
    >"${BASE_DIR}/debootstrap.log" 2>&1 ||
    { tail -n 20 "${BASE_DIR}/debootstrap.log" >&2; die "debootstrap failed (log: ${BASE_DIR}/debootstrap.log)"; }
  # Smaller and reproducible: no apt lists, no caches, no logs.
  rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/*.bin "${root}"/var/cache/apt/archives/*.deb \
    "${root}"/var/log/*
  echo "${DEBIAN_SUITE} ${packages} ${DEBIAN_MIRROR}" >"${stamp}"
  log "debootstrap took $((SECONDS - start)) s"
  force_images=1
else
  force_images=0
fi

if [[ "${force_images}" == 1 ]] || ! have "${debian_ref}"; then
  log "importing ${debian_ref}"
  tar -C "${root}" --numeric-owner -c . |
    podman import --change 'CMD ["/bin/bash"]' - "${debian_ref}" >/dev/null
fi

# ---- runtime: distroless static nonroot, from the same Debian files ---------------
if [[ "${force_images}" == 1 ]] || ! have "${runtime_ref}"; then
  log "building ${runtime_ref}"
  rt="$(mktemp -d)"
  trap 'rm -rf "${rt}"' EXIT
  mkdir -p "${rt}/etc/ssl/certs" "${rt}/usr/share" "${rt}/tmp" "${rt}/home/nonroot" "${rt}/root" \
    "${rt}/usr/share/doc"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"${rt}/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"${rt}/etc/group"
  printf 'hosts: files dns\n' >"${rt}/etc/nsswitch.conf"
  # The root's bundle is Debian's (Mozilla's) list only: the extra CAs above
  # are added to the builder image, never here.
  cp "${root}/etc/ssl/certs/ca-certificates.crt" "${rt}/etc/ssl/certs/"
  cp -a "${root}/usr/share/zoneinfo" "${rt}/usr/share/"
  cp "${root}/etc/services" "${root}/etc/protocols" "${rt}/etc/"
  cp -L "${root}/etc/os-release" "${rt}/etc/os-release"
  for pkg in base-files ca-certificates tzdata netbase; do
    mkdir -p "${rt}/usr/share/doc/${pkg}"
    cp "${root}/usr/share/doc/${pkg}/copyright" "${rt}/usr/share/doc/${pkg}/"
  done
  chmod 1777 "${rt}/tmp"
  chmod 700 "${rt}/root" "${rt}/home/nonroot"
  chown 65532:65532 "${rt}/home/nonroot"
  tar -C "${rt}" --numeric-owner -c . |
    podman import --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
      - "${runtime_ref}" >/dev/null
  rm -rf "${rt}"
  trap - EXIT
fi

# ---- builder: Rust on the Debian root ------------------------------------------------
if [[ "${runtime_only}" == 0 ]] && { [[ "${force_images}" == 1 ]] || ! have "${rust_ref}"; }; then
  log "building ${rust_ref} (rustup-init, Rust ${RUST_VERSION})"
  ctx="$(mktemp -d)"
  trap 'rm -rf "${ctx}"' EXIT
  mkdir -p "${ctx}/extra-ca"
  if compgen -G "${EXTRA_CA_DIR}/*.crt" >/dev/null; then
    cp "${EXTRA_CA_DIR}"/*.crt "${ctx}/extra-ca/"
    log "builder trusts this machine's extra CAs too: $(cd "${EXTRA_CA_DIR}" && echo ./*.crt)"
  fi
  cp "${REPO_ROOT}/Dockerfiles/base/rust.Containerfile" "${ctx}/Containerfile"
  start=${SECONDS}
  podman build --format docker --pull=never --build-arg "DEBIAN_IMAGE=${debian_ref}" \
    --build-arg "RUST_VERSION=${RUST_VERSION}" -t "${rust_ref}" "${ctx}"
  log "builder image took $((SECONDS - start)) s"
  rm -rf "${ctx}"
  trap - EXIT
fi

podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^${BASE_PREFIX}/" >&2 || true
echo "RUST_IMAGE=${rust_ref}"
echo "RUNTIME_IMAGE=${runtime_ref}"
