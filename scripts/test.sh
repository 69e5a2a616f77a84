#!/usr/bin/env bash
# The test command: every test of the project, as CI runs it.
#
#   scripts/test.sh          Rust tests (unit and end to end); the example
#                            crate built and tested as a copy outside the
#                            workspace; the offline checks of the
#                            deployment path, including the
#                            static release binaries in an empty root; then
#                            the production path run for real: the
#                            OpenTelemetry Collector built from collector/ and
#                            every config validated, the chain through it into
#                            the store, the images built with podman, the
#                            chain in containers, and compose's store profile
#   scripts/test.sh --rust   the Rust tests only (a quick loop while coding)
#
# Needs, besides Rust: Go (the Collector), podman + runc, debootstrap and
# busybox-static (apt-get install podman runc debootstrap busybox-static), and
# root (debootstrap, rootful podman). Tools and caches go under target/
# (see scripts/check-deploy.sh); a second run reuses them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in
  -h | --help)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --rust | "") ;;
  *)
    echo "test.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

# step NAME CMD...: run one step and say how long it took.
step() {
  local name=$1 start=${SECONDS}
  shift
  echo "== ${name}"
  "$@"
  echo "== ${name}: $((SECONDS - start)) s"
}

if [[ "${1:-}" != "--rust" ]]; then
  # Fail at once, not after the Rust tests, when the production path cannot run.
  missing=()
  for tool in go podman runc debootstrap busybox nsenter ss curl jq; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  if ((${#missing[@]})); then
    echo "test.sh: missing ${missing[*]}: the production path (Collector, images, containers) needs them." >&2
    echo "  Go: https://go.dev/doc/install (collector/go.mod's go line or newer)" >&2
    echo "  the rest: apt-get install podman runc debootstrap busybox-static util-linux iproute2 curl jq" >&2
    echo "  (scripts/test.sh --rust runs the Rust tests alone)" >&2
    exit 1
  fi
  [[ "$(id -u)" == 0 ]] || { echo "test.sh: needs root (debootstrap, rootful podman, chroot)" >&2; exit 1; }
fi

step "Rust tests (cargo test --workspace)" cargo test --workspace --locked

if [[ "${1:-}" == "--rust" ]]; then
  exit 0
fi

step "The example crate copied out of the workspace (scripts/example-standalone.sh)" \
  scripts/example-standalone.sh
musl_dir="target/deploy-tools/musl-target/$(uname -m)-unknown-linux-musl/release"
step "Deployment checks (scripts/check-deploy.sh --mutations --musl)" scripts/check-deploy.sh --mutations --musl
# The chain's binaries: the static release builds the images hold.
step "The OpenTelemetry Collector (scripts/collector-test.sh)" \
  env CHAIN_BIN_DIR="${PWD}/${musl_dir}" scripts/collector-test.sh
step "Images (scripts/build-images.sh --engine podman --binaries ${musl_dir})" \
  scripts/build-images.sh --engine podman --binaries "${musl_dir}"
step "The chain in containers (scripts/container-test.sh)" scripts/container-test.sh
step "compose, store profile (scripts/compose-test.sh)" scripts/compose-test.sh
