#!/usr/bin/env bash
# End-to-end check of a deployed lab:
#   1. curl app-a from inside the cluster (the curl client pod), with a
#      traceparent header whose trace id we chose, and check the body;
#   2. read that trace back from Tempo's API (GET /api/traces/<id>) until it
#      has the expected spans: 5 spans (a server, a->b client, b server,
#      b->c client, c server) from 3 services.
# "compose" runs the same check against compose.yaml's published ports.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${KUBE_CONTEXT:=}"
default_body="I'm app-a I'm app-b I'm app-c"
: "${EXPECTED_BODY:=${default_body}}"
: "${EXPECTED_SPANS:=5}"
: "${EXPECTED_SERVICES:=app-a app-b app-c}"
: "${TRACE_WAIT_SECONDS:=60}"
: "${TEMPO_URL:=http://tempo.${TEMPO_NAMESPACE}.svc.cluster.local:3200}"
: "${APP_A_URL:=http://app-a}"

usage() {
  cat <<USAGE
Usage: scripts/smoke-test.sh [--dry-run] [--help] [k8s|compose]

k8s (default): runs curl in deploy/curl (namespace ${APP_NAMESPACE}) of the current
context; compose: curls 127.0.0.1:\${APP_A_HOST_PORT:-5000} and 127.0.0.1:\${QUERY_HOST_PORT:-3200}
from this machine, with TRACELAB_TOKEN as the query's bearer token when set
(compose's store profile).

Options:
  --dry-run   print every command instead of running it
  --help      this text

Environment (default):
  KUBE_CONTEXT        kube context (current)
  APP_A_URL           (${APP_A_URL}; compose: http://127.0.0.1:5000)
  TEMPO_URL           (${TEMPO_URL}; compose: http://127.0.0.1:3200)
  EXPECTED_BODY       (${EXPECTED_BODY})
  EXPECTED_SPANS      (${EXPECTED_SPANS})
  EXPECTED_SERVICES   (${EXPECTED_SERVICES})
  TRACE_WAIT_SECONDS  how long to wait for the trace (${TRACE_WAIT_SECONDS})
USAGE
}

mode=k8s
for arg in "$@"; do
  case "${arg}" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    k8s | compose) mode="${arg}" ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done

need jq "${HINT_JQ}"
if [[ "${mode}" == k8s ]]; then
  need kubectl "${HINT_KUBECTL}"
  kubectl_args=()
  [[ -n "${KUBE_CONTEXT}" ]] && kubectl_args=(--context "${KUBE_CONTEXT}")
  # in_cluster CMD...: run a command in the curl client pod.
  in_cluster() { capture "$1" kubectl "${kubectl_args[@]}" -n "${APP_NAMESPACE}" exec deploy/curl -- "${@:2}"; }
else
  need curl "apt-get install curl | brew install curl"
  APP_A_URL="http://127.0.0.1:${APP_A_HOST_PORT:-5000}"
  TEMPO_URL="http://127.0.0.1:${QUERY_HOST_PORT:-3200}"
  in_cluster() { capture "$1" "${@:2}"; }
fi

# W3C trace context with our own random trace id: the trace is then known
# without searching (and never confused with an older one).
trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
parent_id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
traceparent="00-${trace_id}-${parent_id}-01"

log "GET ${APP_A_URL}/ (trace ${trace_id})"
body="$(in_cluster "${EXPECTED_BODY}" curl -sS --fail --max-time 15 \
  -H "traceparent: ${traceparent}" "${APP_A_URL}/")"
if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: would check the body is '${EXPECTED_BODY}'"
elif [[ "${body}" != "${EXPECTED_BODY}" ]]; then
  die "unexpected body: '${body}' (want '${EXPECTED_BODY}')"
else
  log "body ok: ${body}"
fi

# Spans and service names, whatever the response shape (Tempo v1 "batches" or
# OTLP "resourceSpans"): count objects with a spanId, collect service.name.
summary_filter='[
  ([.. | objects | select(has("spanId"))] | length),
  ([.. | objects | select(has("resource")) | .resource.attributes[]?
     | select(.key == "service.name") | .value.stringValue] | unique | join(" "))
] | @tsv'
want_services="$(tr ' ' '\n' <<<"${EXPECTED_SERVICES}" | sort -u | paste -sd ' ' -)"

# The store off loopback requires its token (compose's store profile).
auth_args=()
if [[ "${mode}" == compose && -n "${TRACELAB_TOKEN:-}" ]]; then
  auth_args=(-H "Authorization: Bearer ${TRACELAB_TOKEN}")
fi

deadline=$((SECONDS + TRACE_WAIT_SECONDS))
while :; do
  json="$(in_cluster '{"batches":[]}' curl -sS --max-time 10 "${auth_args[@]}" \
    "${TEMPO_URL}/api/traces/${trace_id}" || true)"
  if [[ "${DRY_RUN}" == 1 ]]; then
    log "dry run: would wait for ${EXPECTED_SPANS} spans from: ${want_services}"
    exit 0
  fi
  summary="$(jq -r "${summary_filter}" <<<"${json}" 2>/dev/null || true)"
  spans="${summary%%$'\t'*}"
  services="${summary#*$'\t'}"
  if [[ "${spans}" == "${EXPECTED_SPANS}" && "${services}" == "${want_services}" ]]; then
    log "trace ok: ${spans} spans from ${services}"
    log "passed"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    die "trace ${trace_id}: got ${spans:-0} spans from '${services:-}', want ${EXPECTED_SPANS} from '${want_services}'"
  fi
  sleep 2
done
