#!/usr/bin/env bash
# Build tracelab's OpenTelemetry Collector: the Go module in collector/ (made
# by the OpenTelemetry Collector Builder from collector/builder-config.yaml),
# with exactly the components the repository's Collector configs use, at the
# release the manifests pin. Static (CGO_ENABLED=0); the Go module and build
# caches live under target/go, so a second build takes seconds.
# Prints the binary's path as its last line.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${GO:=go}"
: "${COLLECTOR_OUT:=${REPO_ROOT}/target/collector/otelcol-tracelab}"
# The builder (ocb) of the same release, only for --generate.
: "${OCB_VERSION:=v0.158.0}"

usage() {
  cat <<USAGE
Usage: scripts/build-collector.sh [--generate] [--help]

Builds collector/ (go build, CGO_ENABLED=0, -trimpath) into
${COLLECTOR_OUT#"${REPO_ROOT}/"} and prints its path last.
Caches: GOMODCACHE, GOCACHE and GOPATH under target/go.

Options:
  --generate  first regenerate collector/*.go, go.mod and go.sum from
              collector/builder-config.yaml with ocb ${OCB_VERSION} (needs the Go module proxy)
  --help      this text

Environment (default):
  GO              the go command (${GO}); Go >= the go line of collector/go.mod
  COLLECTOR_OUT   the binary (${COLLECTOR_OUT#"${REPO_ROOT}/"})
  OCB_VERSION     (${OCB_VERSION})
USAGE
}

generate=0
for arg in "$@"; do
  case "${arg}" in
    --generate) generate=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

command -v "${GO}" >/dev/null 2>&1 ||
  die "'${GO}' not found: the Collector is built with Go (https://go.dev/doc/install; Debian's golang is too old for collector/go.mod)"
go_version="$("${GO}" env GOVERSION 2>/dev/null)" || die "'${GO} env GOVERSION' failed: is Go installed correctly?"

export GOPATH="${REPO_ROOT}/target/go"
export GOMODCACHE="${GOPATH}/mod"
export GOCACHE="${GOPATH}/cache"
export CGO_ENABLED=0
export GOFLAGS=-buildvcs=false
mkdir -p "${GOPATH}" "$(dirname "${COLLECTOR_OUT}")"
cd "${REPO_ROOT}/collector"

if [[ "${generate}" == 1 ]]; then
  log "ocb ${OCB_VERSION}: regenerating collector/ from builder-config.yaml"
  GOBIN="${GOPATH}/bin" "${GO}" install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}"
  "${GOPATH}/bin/builder" --config builder-config.yaml --skip-compilation
fi

log "go build collector/ (${go_version}, CGO_ENABLED=0)"
start=${SECONDS}
"${GO}" build -trimpath -ldflags "-s -w" -o "${COLLECTOR_OUT}" .
log "built in $((SECONDS - start)) s: $(du -h "${COLLECTOR_OUT}" | cut -f1)"

# Static: no program interpreter, so it runs in an image with nothing else.
if LC_ALL=C ldd "${COLLECTOR_OUT}" 2>&1 | grep -q '=>'; then
  die "${COLLECTOR_OUT} is dynamically linked"
fi
version="$("${COLLECTOR_OUT}" --version)"
log "${version}"
echo "${COLLECTOR_OUT}"
