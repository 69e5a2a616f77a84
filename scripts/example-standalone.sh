#!/usr/bin/env bash
# The example crate as a newcomer uses it: examples/axum-service copied into a
# folder outside this workspace, its one path to trace-expect changed, and
# `cargo test` run there. Proves that the copy builds on its own (its
# Cargo.toml inherits nothing from the workspace) and that its tests pass.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/example-standalone.sh [--fresh] [--keep] [--help]

Copies examples/axum-service to a temporary folder outside the repository,
points its trace-expect dependency at this checkout's trace-expect/, and runs
"cargo test" there.

Options:
  --fresh   resolve dependency versions anew, as a newcomer's first build does
            (default: start from the workspace's Cargo.lock, so the run is
            reproducible and reuses what CI has downloaded)
  --keep    leave the copy in place and print where it is
  --help    this text

Environment (default):
  CARGO_TARGET_DIR   (${REPO_ROOT}/target/example-standalone): the copy's
                     build folder, kept between runs
USAGE
}

fresh=0
keep=0
for arg in "$@"; do
  case "${arg}" in
    --fresh) fresh=1 ;;
    --keep) keep=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument ${arg} (see --help)" ;;
  esac
done

: "${CARGO_TARGET_DIR:=${REPO_ROOT}/target/example-standalone}"
export CARGO_TARGET_DIR

work="$(mktemp -d "${TMPDIR:-/tmp}/tracelab-example.XXXXXX")"
if [[ "${keep}" == 1 ]]; then
  trap 'log "the copy is in ${work}/my-service"' EXIT
else
  trap 'rm -rf "${work}"' EXIT
fi

copy="${work}/my-service"
cp -r "${REPO_ROOT}/examples/axum-service" "${copy}"
# The one line a newcomer changes: where trace-expect is.
manifest="${copy}/Cargo.toml"
grep -q '^trace-expect = { path = "../../trace-expect" }$' "${manifest}" ||
  die "examples/axum-service/Cargo.toml no longer has the trace-expect line this script rewrites"
sed -i "s|^trace-expect = { path = \"../../trace-expect\" }\$|trace-expect = { path = \"${REPO_ROOT}/trace-expect\" }|" "${manifest}"
if grep -q 'workspace *= *true' "${manifest}"; then
  die "examples/axum-service/Cargo.toml inherits from the workspace; a copy of it would not build"
fi
if [[ "${fresh}" == 0 ]]; then
  cp "${REPO_ROOT}/Cargo.lock" "${copy}/Cargo.lock"
fi

log "cargo test in ${copy} (outside the workspace; build folder ${CARGO_TARGET_DIR})"
(cd "${copy}" && cargo test)
log "the copied example builds on its own and its tests pass"
