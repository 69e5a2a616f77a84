#!/usr/bin/env bash
# The workshop's captures, from a real run: starts the lab, runs the commands
# of docs/workshop.md chapter by chapter, and writes what they print (plain
# text, no colour) and screenshots of the web viewer (PNG, headless Chromium,
# 1280 px wide) into docs/workshop/. The guides (docs/workshop.md and
# docs/workshop.ko.md) link these files; tracelab/tests/workshop.rs runs the
# same commands and checks the answers, so the captures only show them.
#
# Trace ids, ports in some findings and timings differ from run to run.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/workshop-captures.sh [--binary PATH] [--out DIR] [--free-ports] [--help]

Builds the lab (cargo build -p tracelab, a debug build) unless --binary is
given, starts it, runs the workshop's commands and writes their output and
web viewer screenshots into DIR (default docs/workshop/). Takes about a minute.

Options:
  --binary PATH   use this tracelab binary instead of building one
  --out DIR       where the captures go (default: docs/workshop)
  --free-ports    run the lab on free ports instead of the defaults (5000-5002,
                  3200, 4317, 4318, 3210); the captures then show those ports
  --help          this text

Environment: CHROMIUM (default /usr/bin/chromium, else chromium on PATH),
CARGO_TARGET_DIR (where cargo builds).
USAGE
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary=""
out="${root}/docs/workshop"
free_ports=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --free-ports) free_ports=true; shift ;;
    --help|-h) usage; exit 0 ;;
    *) printf 'unknown argument: %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { printf 'workshop-captures: %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

chromium="${CHROMIUM:-}"
if [[ -z "${chromium}" ]]; then
  if [[ -x /usr/bin/chromium ]]; then chromium=/usr/bin/chromium
  else chromium="$(command -v chromium || true)"; fi
fi
[[ -n "${chromium}" ]] || die "needs Chromium for the screenshots (apt-get install chromium, or set CHROMIUM)"
command -v curl >/dev/null || die "needs curl"

if [[ -z "${binary}" ]]; then
  log "building tracelab (debug)"
  (cd "${root}" && cargo build -q -p tracelab)
  target_dir="$(cd "${root}" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  binary="${target_dir}/debug/tracelab"
fi
[[ -x "${binary}" ]] || die "no tracelab binary at ${binary}"

work="$(mktemp -d)"
lab_pid=""
cleanup() {
  if [[ -n "${lab_pid}" ]] && kill -0 "${lab_pid}" 2>/dev/null; then
    kill -INT "${lab_pid}" 2>/dev/null || true
    wait "${lab_pid}" 2>/dev/null || true
  fi
  rm -rf "${work}"
}
trap cleanup EXIT

# `tracelab` on PATH, as the guide has it after its setup step.
mkdir -p "${work}/bin"
cp "${binary}" "${work}/bin/tracelab"
export PATH="${work}/bin:${PATH}"
export NO_COLOR=1 TRACELAB_COLOR=never

# Ports: the defaults, or free ones (the lab picks them for 0 and prints them).
lab_args=(--color never)
if ${free_ports}; then
  for flag in --app-a-port --app-b-port --app-c-port --otlp-port --grpc-port --query-port --control-port; do
    lab_args+=("${flag}" 0)
  done
fi
log "starting the lab"
tracelab "${lab_args[@]}" >"${work}/lab.out" 2>"${work}/lab.err" </dev/null &
lab_pid=$!
deadline=$((SECONDS + 60))
until grep -q 'Ctrl-C stops everything' "${work}/lab.out"; do
  kill -0 "${lab_pid}" 2>/dev/null || die "the lab exited: $(cat "${work}/lab.err")"
  ((SECONDS < deadline)) || die "the lab did not start within 60 s"
  sleep 0.2
done
banner_url() { sed -n "s|^  $1 *\(http://[^ ]*\).*|\1|p" "${work}/lab.out" | head -1; }
app_a="$(banner_url 'app-a')"
store="$(banner_url 'web viewer')"
store="${store%/}"
lab="$(banner_url 'lab control')"
export TRACELAB_LAB="${lab}" TRACELAB_STORE="${store}"
app_host="${app_a#http://}"
app_host="${app_host%/}"
store_host="${store#http://}"

mkdir -p "${out}"
strip() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r$//'; }
capture_file=""
# Start a capture file.
begin() { capture_file="${out}/$1"; : >"${capture_file}"; log "$1"; }
# Show `command` as the guide writes it, run it with this lab's addresses
# (from the repository's root, where the guide's commands run).
run() {
  local shown="$1" actual="$1"
  actual="${actual//localhost:5000/${app_host}}"
  actual="${actual//localhost:3200/${store_host}}"
  actual="${actual//TRACE_ID/${trace_id:-}}"
  printf '$ %s\n' "${shown//TRACE_ID/${trace_id:-TRACE_ID}}" >>"${capture_file}"
  (cd "${root}" && bash -c "${actual}") 2>&1 | strip >>"${capture_file}" || true
  printf '\n' >>"${capture_file}"
}
# The newest trace id matching a TraceQL query, once one is stored.
newest() {
  local id="" deadline=$((SECONDS + 20))
  while [[ -z "${id}" ]]; do
    id="$(tracelab traces --limit 1 "$1" | awk 'NR == 2 { print $1 }')"
    if [[ -z "${id}" ]]; then
      ((SECONDS < deadline)) || die "no trace for $1 within 20 s"
      sleep 0.3
    fi
  done
  printf '%s' "${id}"
}
# Wait until a trace has all its spans (the lab draws a trace once it settled).
settled() {
  local deadline=$((SECONDS + 20))
  until grep -q "^trace $1 " "${work}/lab.out"; do
    ((SECONDS < deadline)) || die "trace $1 did not settle within 20 s"
    sleep 0.2
  done
}
screenshot() {
  local file="$1" url="$2" height="${3:-800}"
  log "${file}"
  local profile="${work}/chromium-${file%.png}"
  "${chromium}" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --virtual-time-budget=10000 \
    --user-data-dir="${profile}" --window-size="1280,${height}" \
    --screenshot="${out}/${file}" "${url}" >/dev/null 2>&1 \
    || die "chromium could not take ${file}"
}

# 0. The lab: its banner and the first trace it draws.
curl -s "${app_a}" >/dev/null
trace_id="$(newest '{}')"
settled "${trace_id}"
{
  printf '$ cargo run --release\n'
  strip <"${work}/lab.out"
} >"${out}/00-lab.txt"

# 1. What a trace is.
begin 01-trace.txt
run 'curl -s localhost:5000/'
trace_id="$(newest '{}')"
settled "${trace_id}"
run 'tracelab traces --limit 3'
run 'tracelab show -v TRACE_ID'

# 2. The chain.
begin 02-chain.txt
run 'tracelab show TRACE_ID'
run 'tracelab stats'

# 3. Where latency happens.
begin 03-latency.txt
run 'tracelab scenario run slow-hop'
run "tracelab traces --limit 5 '{ resource.service.name = \"app-b\" && kind = server && duration > 2200ms }'"
slow_id="$(newest '{ resource.service.name = "app-b" && kind = server && duration > 2200ms }')"

# 4. Which service failed.
begin 04-failed.txt
run 'tracelab stop app-c'
run "curl -s -w ' (%{http_code})\n' localhost:5000/"
run 'tracelab start app-c'
run 'tracelab scenario run flaky'
error_id="$(newest '{ status = error && resource.service.name = "app-c" }')"
begin 04-outage.txt
run 'tracelab scenario run app-c-down'

# 5. How the request flows.
begin 05-flow.txt
run "curl -s localhost:5000/ -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'"
settled 0af7651916cd43dd8448eb211c80319c
run 'tracelab show 0af7651916cd43dd8448eb211c80319c'
begin 05-broken.txt
run 'tracelab scenario run broken-propagation'
run "tracelab traces --limit 3 '{ trace:rootService = \"app-c\" }'"

# 6. TraceQL.
begin 06-traceql.txt
run "tracelab traces --limit 5 '{ status = error && resource.service.name = \"app-c\" }'"
run "tracelab metrics --since 5m --step 10s '{ status = error } | count_over_time() by (resource.service.name)'"
run "curl -s -G localhost:3200/api/search --data-urlencode 'q={ status = error }' --data-urlencode limit=1"

# 7. The path to EKS: only what runs without a cluster.
begin 07-eks.txt
run 'scripts/deploy.sh --help'

# 8. Check a trace in CI.
begin 08-expect.txt
run 'curl -s localhost:5000/'
settled "$(newest '{}')"
run "tracelab expect tracelab/tests/shapes/chain.yaml --query '{ resource.service.name = \"app-c\" }'"
run 'tracelab stop app-c'
run "curl -s -w ' (%{http_code})\n' localhost:5000/"
run "tracelab expect tracelab/tests/shapes/chain.yaml --query '{ resource.service.name = \"app-a\" }' --wait 3s; echo \"exit \$?\""
run 'tracelab start app-c'

# The web viewer, as the guide opens it; `text=large` is the viewer's projector size (A+).
q_errors='%7B%20status%20%3D%20error%20%26%26%20resource.service.name%20%3D%20%22app-c%22%20%7D'
screenshot web-search.png "${store}/#/search?q=${q_errors}&since=5m&text=large" 900
screenshot web-trace-error.png "${store}/#/trace/${error_id}?text=large" 720
screenshot web-trace-slow.png "${store}/#/trace/${slow_id}?text=large" 720
screenshot web-metrics.png "${store}/#/metrics?since=5m&step=10s&text=large" 1300

log "captures in ${out}:"
ls -l "${out}" >&2
