#!/usr/bin/env bash
# Benchmark the embedded trace store: ingest rate over OTLP/HTTP protobuf,
# resident memory per stored span, trace-by-id and TraceQL search latency,
# TraceQL metrics latency (rate by service, duration quantiles) at 100k and
# 1M spans, and a flood past the bound. Prints a Markdown table.
#
#   scripts/bench-store.sh            all of it (a few minutes on 2 cores),
#                                     plus 1M spans that share no attribute list
#   scripts/bench-store.sh --quick    100k spans only
#
# The store runs as its own process (`tracelab store`, release build), so
# its memory is measured alone; the load comes from the store_bench example.
#
# Side-by-side comparisons, run instead of the above (same bodies, same method):
#
#   scripts/bench-store.sh --ingest   ingest at the decode limit: the store beside a
#                                     Python sink that only decodes (scripts/bench/otlp_sink.py)
#   scripts/bench-store.sh --jaeger   the store beside Jaeger v2 (memory storage): ingest,
#                                     bytes per span, trace by id, tag search
#   scripts/bench-store.sh --peers    both in one run, and the plot docs/benchmarks-peers.svg
#
#   --duration N   seconds of each wrk run (default 10)
#   --plot PATH    draw the comparisons' plot to PATH (--peers: docs/benchmarks-peers.svg)
#   -h, --help     this text
#
# The comparisons send 2,000 OTLP protobuf bodies of 512 spans (1,024,000 distinct spans
# of chain-shaped 5-span traces), written once to target/bench/otlp-bodies by
# `store_bench --write-bodies`, with `wrk -t2 -c8 -dNs` and scripts/bench/otlp_bodies.lua.
# They need wrk (Debian: apt-get install -y wrk), Python 3 with venv for the sink and the
# plot (scripts/python-env.sh --bench, from PyPI) and, for --jaeger, Go 1.24.6 or newer
# (scripts/bench/build-jaeger.sh, from the Go module proxy). Results: target/bench/peers/.
# Every load goes to 127.0.0.1, bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sizes=(100000 1000000)
unique=1
mode=store
duration=10
plot=
while (($#)); do
  case "$1" in
    -h | --help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --quick) sizes=(100000) unique=0 ;;
    --ingest | --jaeger | --peers)
      [[ $mode == store ]] || { echo "bench-store.sh: choose one of --ingest, --jaeger, --peers" >&2; exit 2; }
      mode=${1#--}
      ;;
    --duration)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-store.sh: --duration needs a whole number of seconds" >&2; exit 2; }
      duration=$2
      shift
      ;;
    --plot)
      [[ -n "${2:-}" ]] || { echo "bench-store.sh: --plot needs a path" >&2; exit 2; }
      plot=$2
      shift
      ;;
    *) echo "bench-store.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $mode == peers && -z $plot ]] && plot=docs/benchmarks-peers.svg

store_bin=target/release/tracelab
bench_bin=target/release/examples/store_bench

# N distinct free ports, all held open while they are picked (one at a time, the kernel
# may hand out the same port twice).
free_ports() {
  python3 -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

run_store() { # max_spans -> sets store_pid, otlp, query
  local otlp_port query_port grpc_port
  read -r otlp_port query_port grpc_port < <(free_ports 3)
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

stop_store() { kill -TERM "$store_pid"; wait "$store_pid" || true; store_pid=; }
# Only the processes started here (an unset pid must not become `kill 0`, the whole group).
cleanup() {
  local pid
  for pid in ${store_pid:-} ${sink_pid:-} ${jaeger_pid:-}; do
    kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if [[ $mode == store ]]; then
  echo "building (release)…" >&2
  cargo build --release --locked -p tracelab -q
  cargo build --release --locked -p trace-store --example store_bench -q

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
  exit 0
fi

# ---- the side-by-side comparisons (--ingest, --jaeger, --peers) ----

fail() { echo "bench-store.sh: $*" >&2; exit 1; }
say() { echo "== $(date +%T) $*" >&2; }

if ! command -v wrk >/dev/null; then
  fail "wrk not found; install it (Debian/Ubuntu: apt-get install -y wrk)"
fi
command -v python3 >/dev/null || fail "python3 not found; install Python 3 with venv (Debian: apt-get install -y python3 python3-venv)"
command -v curl >/dev/null || fail "curl not found (Debian: apt-get install -y curl)"

say "Python venv (scripts/python-env.sh --bench)"
scripts/python-env.sh --bench >&2 || fail "could not build the benchmark venv (scripts/python-env.sh --bench, from PyPI): see the lines above"
py=target/python-bench-venv/bin/python
"$py" -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2, matplotlib' ||
  fail "the benchmark venv lacks opentelemetry-proto or matplotlib; rebuild it: rm -rf target/python-bench-venv && scripts/python-env.sh --bench"

if [[ $mode != ingest ]]; then
  say "Jaeger v2 (scripts/bench/build-jaeger.sh)"
  scripts/bench/build-jaeger.sh || fail "could not build Jaeger (scripts/bench/build-jaeger.sh): see the lines above"
fi
jaeger_bin=target/go/bin/jaeger

say "cargo build --release (tracelab, store_bench)"
nice -n 19 cargo build --release --locked -p tracelab -q
nice -n 19 cargo build --release --locked -p trace-store --example store_bench -q

out=target/bench/peers
bodies=target/bench/otlp-bodies
mkdir -p "$out/logs"
results=$out/results.jsonl
: >"$results"

# The bodies, written again only when the generator or its settings change.
stamp="$(sha256sum trace-store/examples/store_bench.rs | cut -d' ' -f1) bodies=2000 spans=512"
if [[ ! -f $bodies/.stamp || "$(cat "$bodies/.stamp")" != "$stamp" ]]; then
  rm -rf "$bodies"
  "$bench_bin" --write-bodies "$bodies" --bodies 2000 --body-spans 512
  echo "$stamp" >"$bodies/.stamp"
fi
meta() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$bodies/meta.json" "$1"; }
total_spans=$(meta spans)
body_spans=$(meta body_spans)

rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
metric() { # URL NAME -> the sum of every series of metric NAME or NAME_total (any labels)
  curl -sf "$1" | awk -v name="$2" '{m = $1; sub(/\{.*/, "", m)} (m == name || m == name "_total") {s += $NF} END {printf "%.0f\n", s}'
}
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo "+changes")
printf '{"kind": "meta", "commit": "%s", "duration_s": %s, "bodies": %s, "body_spans": %s, "spans": %s, "wrk": "%s", "jaeger": "v1.76.0", "loadavg": "%s", "cpus": %s}\n' \
  "$commit" "$duration" "$(meta bodies)" "$body_spans" "$total_spans" "$(wrk --version 2>&1 | head -1 | cut -d' ' -f2)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" >>"$results"

wrk_run() { # NAME HOST:PORT -> sets wrk_json
  local log=$out/logs/wrk-$1.txt
  say "wrk -t2 -c8 -d${duration}s → $1 ($2)"
  if ! wrk -t2 -c8 -d"${duration}s" --latency --timeout 10s -s scripts/bench/otlp_bodies.lua "http://$2" -- "$bodies" 2 >"$log" 2>&1; then
    cat "$log" >&2
    fail "wrk against $1 failed (non-2xx answers or socket errors, above; log $log)"
  fi
  wrk_json=$(sed -n 's/^wrk-json //p' "$log")
  [[ -n $wrk_json ]] || { cat "$log" >&2; fail "wrk printed no result line (log $log)"; }
}

start_sink() {
  local port
  port=$(free_ports 1)
  "$py" scripts/bench/otlp_sink.py --port "$port" >"$out/logs/sink.txt" 2>&1 &
  sink_pid=$! sink="127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -sf "http://$sink/ready" >/dev/null && return 0
    sleep 0.1
  done
  cat "$out/logs/sink.txt" >&2
  fail "the sink did not start"
}

start_jaeger() {
  read -r JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT JAEGER_HEALTH_PORT JAEGER_METRICS_PORT < <(free_ports 5)
  export JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT JAEGER_HEALTH_PORT JAEGER_METRICS_PORT
  jotlp="127.0.0.1:$JAEGER_OTLP_HTTP_PORT" jquery="127.0.0.1:$JAEGER_QUERY_PORT"
  jmetrics="http://127.0.0.1:$JAEGER_METRICS_PORT/metrics"
  "$jaeger_bin" --config scripts/bench/jaeger/config.yaml >"$out/logs/jaeger-$1.txt" 2>&1 &
  jaeger_pid=$!
  for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$JAEGER_HEALTH_PORT/status" >/dev/null &&
      curl -sf "http://$jquery/api/services" >/dev/null; then
      return 0
    fi
    kill -0 "$jaeger_pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -30 "$out/logs/jaeger-$1.txt" >&2
  fail "Jaeger did not start (log $out/logs/jaeger-$1.txt)"
}

stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

jaeger_settle() { # -> sets jaeger_accepted, jaeger_stored once every accepted span is stored
  local _
  for _ in $(seq 600); do
    jaeger_accepted=$(metric "$jmetrics" otelcol_receiver_accepted_spans)
    jaeger_stored=$(metric "$jmetrics" otelcol_exporter_sent_spans)
    ((jaeger_stored >= jaeger_accepted && jaeger_accepted > 0)) && return 0
    sleep 0.1
  done
  fail "Jaeger stored $jaeger_stored of $jaeger_accepted accepted spans after 60 s"
}

# Rate: a fresh process, wrk for --duration seconds, then what it holds and its RSS.
rate_store() {
  run_store "$total_spans"
  local before after held
  before=$(rss "$store_pid")
  wrk_run store "$otlp"
  sleep 1
  after=$(rss "$store_pid") held=$(metric "http://$query/metrics" tracelab_store_spans)
  printf '{"kind": "rate", "target": "store", "wrk": %s, "rss_before": %s, "rss_after": %s, "held_spans": %s}\n' \
    "$wrk_json" "$before" "$after" "$held" >>"$results"
  stop_store
}

rate_sink() {
  start_sink
  local before after stats
  before=$(rss "$sink_pid")
  wrk_run sink "$sink"
  sleep 1
  after=$(rss "$sink_pid") stats=$(curl -sf "http://$sink/stats")
  printf '{"kind": "rate", "target": "sink", "wrk": %s, "rss_before": %s, "rss_after": %s, "sink": %s}\n' \
    "$wrk_json" "$before" "$after" "$stats" >>"$results"
  stop_pid "$sink_pid"
  sink_pid=
}

rate_jaeger() {
  start_jaeger rate
  local before after
  before=$(rss "$jaeger_pid")
  wrk_run jaeger "$jotlp"
  jaeger_settle
  sleep 1
  after=$(rss "$jaeger_pid")
  printf '{"kind": "rate", "target": "jaeger", "wrk": %s, "rss_before": %s, "rss_after": %s, "held_spans": %s, "accepted_spans": %s}\n' \
    "$wrk_json" "$before" "$after" "$jaeger_stored" "$jaeger_accepted" >>"$results"
  stop_pid "$jaeger_pid"
  jaeger_pid=
}

# Load: a fresh process gets every body exactly once (store_bench --load, 8 connections),
# so both sides hold the same 1,024,000 spans; then RSS, trace by id and a tag search.
percent() { "$py" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
search_runs=100
start_us=$(($(meta first_start_ns) / 1000 - 1000000))
end_us=$(($(meta last_end_ns) / 1000 + 1000000))

load_and_query() { # TARGET PID OTLP BY_ID_PREFIX SEARCH_URL HELD_FUNCTION
  local target=$1 pid=$2 before after held loaded by_id search
  before=$(rss "$pid")
  say "loading every body once → $target"
  loaded=$("$bench_bin" --load "$bodies" --otlp "$3" --connections 8)
  [[ $target == jaeger ]] && jaeger_settle
  sleep 1
  after=$(rss "$pid") held=$("$6")
  sed "s|^|$4|" "$bodies/trace-ids.txt" >"$out/by-id-$target.txt"
  for _ in $(seq "$search_runs"); do echo "$5"; done >"$out/search-$target.txt"
  say "trace by id ($(wc -l <"$out/by-id-$target.txt") ids), tag search ($search_runs runs) → $target"
  by_id=$("$bench_bin" --get "$out/by-id-$target.txt")
  search=$("$bench_bin" --get "$out/search-$target.txt")
  curl -sf -o "$out/search-answer-$target.json" "$5"
  printf '{"kind": "load", "target": "%s", "load": %s, "rss_before": %s, "rss_after": %s, "held_spans": %s, "by_id": %s, "search": %s}\n' \
    "$target" "$loaded" "$before" "$after" "$held" "$by_id" "$search" >>"$results"
}

held_store() { metric "http://$query/metrics" tracelab_store_spans; }
held_jaeger() { echo "$jaeger_stored"; }

load_store() {
  run_store "$total_spans"
  local q
  q=$(percent '{ resource.service.name = "app-c" && span.http.response.status_code = 502 }')
  load_and_query store "$store_pid" "$otlp" "http://$query/api/traces/" \
    "http://$query/api/search?limit=20&q=$q" held_store
  stop_store
}

load_jaeger() {
  start_jaeger load
  local tags
  tags=$(percent '{"http.response.status_code":"502"}')
  load_and_query jaeger "$jaeger_pid" "$jotlp" "http://$jquery/api/v3/traces/" \
    "http://$jquery/api/traces?service=app-c&tags=$tags&limit=20&start=$start_us&end=$end_us" held_jaeger
  stop_pid "$jaeger_pid"
  jaeger_pid=
}

case $mode in
  ingest) rate_store; rate_sink ;;
  jaeger) rate_store; rate_jaeger; load_store; load_jaeger ;;
  peers) rate_store; rate_sink; rate_jaeger; load_store; load_jaeger ;;
esac

say "tables${plot:+ and plot ($plot)}"
"$py" scripts/bench/peers_report.py "$results" ${plot:+"$plot"} | tee "$out/results.md"
