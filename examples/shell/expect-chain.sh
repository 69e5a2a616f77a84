#!/usr/bin/env bash
# Assert on a trace from a shell script, as any language's CI can: send one request with a
# trace id of our choosing, then let `tracelab expect` wait for that trace and compare it with
# the seed chain's shape. Exit code: 0 it matches, 1 it does not (the diff is printed), 2 bad
# input or no store.
#
# Run the lab first (`cargo run --release` at the repository root), then:
#   examples/shell/expect-chain.sh
# Settings (environment): APP_A_URL (default http://127.0.0.1:5000), TRACELAB_STORE (the query
# API, default http://127.0.0.1:3200), TRACELAB (the command, default `tracelab` on PATH, else
# `cargo run -q --`), WAIT (default 15s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shape="$(cd "${here}/../.." && pwd)/tracelab/tests/shapes/chain.yaml"
: "${APP_A_URL:=http://127.0.0.1:5000}"
: "${TRACELAB_STORE:=http://127.0.0.1:3200}"
: "${WAIT:=15s}"
export TRACELAB_STORE

if ! command -v curl >/dev/null; then
  echo "curl is required (apt-get install curl)" >&2
  exit 2
fi
if [[ -z "${TRACELAB:-}" ]]; then
  if command -v tracelab >/dev/null; then TRACELAB=tracelab; else TRACELAB="cargo run -q --"; fi
fi

# A fresh W3C trace id: 32 hex digits. app-a continues the trace we start here.
trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
curl --fail --silent --show-error \
  -H "traceparent: 00-${trace_id}-00f067aa0ba902b7-01" "${APP_A_URL}/"
echo

# shellcheck disable=SC2086 # TRACELAB may be a command with arguments.
exec ${TRACELAB} expect "${shape}" --trace "${trace_id}" --wait "${WAIT}"
