#!/usr/bin/env bash
# Build Jaeger v2's all-in-one binary, the store's peer in
# `scripts/bench-store.sh --jaeger`, from the Go module proxy:
#
#   scripts/bench/build-jaeger.sh           build target/go/bin/jaeger (skipped while it is
#                                           newer than scripts/bench/jaeger/go.mod and go.sum)
#   scripts/bench/build-jaeger.sh --force   build it again
#
# The module scripts/bench/jaeger/ pins github.com/jaegertracing/jaeger v1.76.0 (the v2
# binary, `cmd/jaeger`; Apache-2.0) and every dependency (go.mod, go.sum; made with
# `go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.76.0`). Static build
# (CGO_ENABLED=0). Go's caches stay in the worktree: GOMODCACHE, GOCACHE and GOPATH
# under target/go/ (about 1.3 GiB of modules, 1–2 GiB of build cache). Needs Go 1.24.6
# or newer; the first build downloads the modules and takes several minutes on 2 cores.
# Runs under `nice -n 19`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

force=0
case "${1:-}" in
  -h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --force) force=1 ;;
  "") ;;
  *)
    echo "build-jaeger.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

if ! command -v go >/dev/null; then
  echo "build-jaeger.sh: go not found; install Go 1.24.6 or newer (https://go.dev/doc/install; Debian 12's golang-go is too old)" >&2
  exit 1
fi

root=$PWD
out=$root/target/go/bin/jaeger
module=$root/scripts/bench/jaeger
if ((!force)) && [[ -x "$out" && "$out" -nt "$module/go.mod" && "$out" -nt "$module/go.sum" ]]; then
  echo "build-jaeger: $out is up to date" >&2
  exit 0
fi

export GOMODCACHE=$root/target/go/mod GOCACHE=$root/target/go/cache GOPATH=$root/target/go/path
export GOFLAGS=-modcacherw CGO_ENABLED=0
mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOPATH" "$(dirname "$out")"

echo "build-jaeger: $(go version); building github.com/jaegertracing/jaeger/cmd/jaeger v1.76.0 (caches under target/go)" >&2
started=$(date +%s)
(cd "$module" && nice -n 19 go build -trimpath -o "$out.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
mv "$out.tmp" "$out"
echo "build-jaeger: built $out in $(($(date +%s) - started)) s" >&2
