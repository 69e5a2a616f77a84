#!/usr/bin/env bash
# Benchmark tracelab's Rust chain side by side with the seed's Python stack,
# on this machine, and draw the plot used by docs/benchmarks.md.
#
#   scripts/bench.sh                 everything, about 10 minutes
#   scripts/bench.sh --quick         one short repetition of everything (a smoke test)
#   scripts/bench.sh -- ARGS...      passes ARGS to scripts/bench/run.py (see its --help),
#                                    e.g. -- --only throughput --reps 5
#
# Steps: cargo build --release (tracelab and the three apps); the seed's venv and the plotting
# venv (scripts/python-env.sh); then scripts/bench/run.py measures, writing
# target/bench/results.json and the processes' logs under target/bench/logs;
# then scripts/bench/report.py prints the Markdown tables and writes
# docs/benchmarks.svg. Needs wrk (Debian: apt-get install -y wrk) and Python 3.
# Load goes to 127.0.0.1 only, in bounded runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run_args=()
case "${1:-}" in
  -h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --quick)
    run_args=(--reps 1 --duration 2 --startup-reps 1 --span-reps 1 --span-duration 2)
    ;;
  --)
    shift
    run_args=("$@")
    ;;
  "") ;;
  *)
    echo "bench.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

if ! command -v wrk >/dev/null; then
  echo "bench.sh: wrk not found; install it (Debian/Ubuntu: apt-get install -y wrk)" >&2
  exit 1
fi

# 5,000 simultaneous requests hold about 10,000 sockets in app-a and app-b.
hard=$(ulimit -Hn)
if [[ "$hard" != unlimited && "$hard" -lt 12000 ]]; then
  echo "bench.sh: the open-file limit is $hard; the 5,000-request burst needs 12000 (raise it with ulimit -Hn or limits.conf)" >&2
  exit 1
fi
ulimit -n "$hard"

echo "== cargo build --release -p tracelab -p app-a -p app-b -p app-c"
cargo build --release --locked -p tracelab -p app-a -p app-b -p app-c
echo "== Python venvs"
scripts/python-env.sh
scripts/python-env.sh --bench

echo "== measuring (scripts/bench/run.py ${run_args[*]})"
mkdir -p target/bench
target/python-bench-venv/bin/python scripts/bench/run.py --out target/bench "${run_args[@]}"

echo "== tables and plot"
target/python-bench-venv/bin/python scripts/bench/report.py target/bench/results.json docs/benchmarks.svg |
  tee target/bench/results.md
