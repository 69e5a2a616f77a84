#!/usr/bin/env bash
# Benchmark the embedded trace store: ingest rate over OTLP/HTTP protobuf,
# resident memory per stored span, trace-by-id and TraceQL search latency
# at 100k and 1M spans, and a flood past the bound. Prints a Markdown table.
#
#   scripts/bench-store.sh            all of it (a few minutes on 2 cores),
#                                     plus 1M spans that share no attribute list
#   scripts/bench-store.sh --quick    100k spans only
#
# The store runs as its own process (`tracelab store`, release build), so
# its memory is measured alone; the load comes from the store_bench example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sizes=(100000 1000000)
unique=1
case "${1:-}" in
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --quick) sizes=(100000) unique=0 ;;
  "") ;;
  *) echo "bench-store.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

echo "building (release)…" >&2
cargo build --release --locked -p tracelab -q
cargo build --release --locked -p trace-store --example store_bench -q
store_bin=target/release/tracelab
bench_bin=target/release/examples/store_bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_store() { # max_spans -> sets store_pid, otlp, query
  local otlp_port query_port grpc_port
  otlp_port=$(free_port) query_port=$(free_port) grpc_port=$(free_port)
  "$store_bin" store --otlp-port "$otlp_port" --query-port "$query_port" --grpc-port "$grpc_port" --max-spans "$1" >/dev/null &
  store_pid=$!
  otlp="127.0.0.1:$otlp_port" query="127.0.0.1:$query_port"
  for _ in $(seq 100); do
    curl -sf "http://$query/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "the store did not start" >&2
  exit 1
}

stop_store() { kill -TERM "$store_pid"; wait "$store_pid" || true; }
trap 'kill "${store_pid:-0}" 2>/dev/null || true' EXIT

echo "| measure | result |"
echo "|---|---|"
for spans in "${sizes[@]}"; do
  run_store "$spans"
  echo "| **$spans spans** | |"
  "$bench_bin" --otlp "$otlp" --query "$query" --pid "$store_pid" --spans "$spans"
  stop_store
done
if ((unique)); then
  run_store 1000000
  echo "| **1000000 spans, each with a unique attribute (no shared attribute lists)** | |"
  "$bench_bin" --otlp "$otlp" --query "$query" --pid "$store_pid" --spans 1000000 --unique
  stop_store
fi
run_store 100000
echo "| **flood: 1,000,000 spans into a store bounded at 100,000** | |"
"$bench_bin" --otlp "$otlp" --query "$query" --pid "$store_pid" --spans 1000000 --flood
stop_store
