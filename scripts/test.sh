#!/usr/bin/env bash
# The test command: every test of the project, as CI runs it.
#
#   scripts/test.sh          Rust tests (unit and end to end), then the
#                            offline checks of the deployment path, including
#                            the static release binaries in an empty root
#   scripts/test.sh --rust   the Rust tests only (a quick loop while coding)
#
# Tools the checks need are installed on first use under target/ (see
# scripts/check-deploy.sh); a second run reuses them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --rust | "") ;;
  *)
    echo "test.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

echo "== Rust tests (cargo test --workspace)"
cargo test --workspace --locked

if [[ "${1:-}" == "--rust" ]]; then
  exit 0
fi

echo "== Deployment checks (scripts/check-deploy.sh --mutations --musl)"
scripts/check-deploy.sh --mutations --musl
