#!/usr/bin/env bash
# The manifests against a real Kubernetes API server, with no cluster:
# etcd and kube-apiserver built from their Go modules (apiserver/, pinned
# releases, through the Go module proxy) and started on loopback; then
#   1. kubectl apply --server-side --dry-run=server of every overlay (the
#      namespaces are created for real first: a dry run cannot hold them);
#   2. Pod Security admission as the namespaces ask for it ("restricted",
#      enforce): each Deployment's pod template is created as a Pod with
#      --dry-run=server, which enforce admits or rejects (for Deployments it
#      only warns). A pod that breaks "restricted" must be rejected too.
# No controller, scheduler or kubelet runs: nothing is started, only admitted.
# Ends with "N passed, N failed"; exit 1 on any failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TOOLS_DIR:=${REPO_ROOT}/target/deploy-tools}"
: "${KUBE_VERSION:=v1.37.2}" # apiserver/kube-apiserver/go.mod requires k8s.io/kubernetes at this version

usage() {
  cat <<USAGE
Usage: scripts/apiserver-check.sh [--help]

Builds apiserver/etcd (etcd v3.7.3) and apiserver/kube-apiserver
(Kubernetes ${KUBE_VERSION}) with Go, static, caches under target/go (the first
build downloads about 1 GB of modules and compiles for a long while), starts
both on loopback, and checks every overlay with server-side dry runs and Pod
Security admission. Needs openssl and the tools of scripts/check-deploy.sh.
USAGE
}
parse_help_only "$@"

command -v go >/dev/null 2>&1 || die "'go' not found: https://go.dev/doc/install"
command -v openssl >/dev/null 2>&1 || die "'openssl' not found: apt-get install openssl"
kubectl="${TOOLS_DIR}/bin/kubectl"
python="${TOOLS_DIR}/venv/bin/python"
[[ -x "${kubectl}" && -x "${python}" ]] || die "run scripts/check-deploy.sh once first: it installs kubectl"

export GOPATH="${REPO_ROOT}/target/go" GOMODCACHE="${REPO_ROOT}/target/go/mod" GOCACHE="${REPO_ROOT}/target/go/cache"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
bin="${REPO_ROOT}/target/apiserver/bin"
mkdir -p "${bin}"
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
version_flags="-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1"
version_flags+=" -X k8s.io/component-base/version.gitMinor=${minor}"
for component in etcd kube-apiserver; do
  start=${SECONDS}
  flags="-s -w"
  [[ "${component}" == kube-apiserver ]] && flags+=" ${version_flags}"
  (cd "${REPO_ROOT}/apiserver/${component}" && go build -trimpath -ldflags "${flags}" -o "${bin}/${component}" .)
  log "${component} ready in $((SECONDS - start)) s ($(du -h "${bin}/${component}" | cut -f1))"
done

work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "${pid}" 2>/dev/null || true; done
  rm -rf "${work}"
}
trap cleanup EXIT
free_port() { "${python}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds (bounded).
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { tail -n 30 "${work}"/*.log >&2; die "${what} did not come up in time"; }
    sleep 0.5
  done
}

etcd_port="$(free_port)"
peer_port="$(free_port)"
"${bin}/etcd" --data-dir "${work}/etcd" --listen-client-urls "http://127.0.0.1:${etcd_port}" \
  --advertise-client-urls "http://127.0.0.1:${etcd_port}" --listen-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-cluster "default=http://127.0.0.1:${peer_port}" >"${work}/etcd.log" 2>&1 &
pids+=($!)
wait_for etcd 60 curl -fsS "http://127.0.0.1:${etcd_port}/health"

openssl genrsa -out "${work}/sa.key" 2048 2>/dev/null
openssl rsa -in "${work}/sa.key" -pubout -out "${work}/sa.pub" 2>/dev/null
token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s,admin,admin,system:masters\n' "${token}" >"${work}/tokens.csv"
api_port="$(free_port)"
"${bin}/kube-apiserver" --etcd-servers "http://127.0.0.1:${etcd_port}" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${api_port}" \
  --cert-dir "${work}/certs" --token-auth-file "${work}/tokens.csv" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "${work}/sa.pub" --service-account-signing-key-file "${work}/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none >"${work}/kube-apiserver.log" 2>&1 &
pids+=($!)
k() { "${kubectl}" --server "https://127.0.0.1:${api_port}" --token "${token}" --insecure-skip-tls-verify "$@"; }
wait_for kube-apiserver 120 k get --raw /readyz
log "etcd on :${etcd_port}, kube-apiserver $(k version -o json 2>/dev/null | "${python}" -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') on :${api_port}"

passed=0
failed=0
result() {
  if [[ "$1" == 0 ]]; then passed=$((passed + 1)); printf 'ok    %s\n' "$2"
  else failed=$((failed + 1)); printf 'FAIL  %s\n' "$2"; sed 's/^/      /' "${work}/out"; fi
}

# The namespaces, for real (with their Pod Security labels), and the default
# service accounts a controller would create.
k apply --server-side -f "${REPO_ROOT}/k8s/base/namespaces.yaml" >/dev/null
for ns in tracelab monitor; do
  k -n "${ns}" create serviceaccount default --dry-run=client -o yaml | k apply --server-side -f - >/dev/null
done

for overlay in "${REPO_ROOT}"/k8s/overlays/*/; do
  name="$(basename "${overlay}")"
  "${kubectl}" kustomize "${overlay}" >"${work}/${name}.yaml"
  status=0
  k apply --server-side --dry-run=server --field-manager tracelab -f "${work}/${name}.yaml" >"${work}/out" 2>&1 ||
    status=$?
  if [[ "${status}" == 0 ]] && grep -qi 'warning' "${work}/out"; then status=1; fi
  result "${status}" "kubectl apply --server-side --dry-run=server k8s/overlays/${name} ($(grep -c . "${work}/out") objects, no warning)"
done

# Pod Security "restricted", enforced: a Pod from each workload's template
# (the overlay's, and the Tempo and Grafana chart renders when
# scripts/render-charts.sh has made them). The service accounts the pods name
# must exist for the ServiceAccount admission plugin: apply them for real
# (nothing runs them).
charts=()
for f in "${REPO_ROOT}"/target/chart-render/{tempo,grafana}-local.yaml; do
  [[ -s "${f}" ]] && charts+=("${f}")
done
if ((${#charts[@]})); then
  log "with the chart renders of scripts/render-charts.sh: ${charts[*]#"${REPO_ROOT}/"}"
  for f in "${charts[@]}"; do
    k apply --server-side --dry-run=server -n monitor -f "${f}" >"${work}/out" 2>&1 && status=0 || status=$?
    result "${status}" "kubectl apply --server-side --dry-run=server ${f#"${REPO_ROOT}/"}"
  done
else
  log "no chart renders (scripts/render-charts.sh CHARTS_DIR makes them): Tempo and Grafana not checked"
fi
"${python}" - "${work}" "${work}/local.yaml" "${charts[@]}" <<'PY'
import sys, yaml
out = sys.argv[1]
docs = []
for f in sys.argv[2:]:
    for d in yaml.safe_load_all(open(f)):
        if d:
            d["metadata"].setdefault("namespace", "monitor")  # helm template -n monitor
            docs.append(d)
sas = [d for d in docs if d["kind"] == "ServiceAccount"]
yaml.safe_dump_all(sas, open(f"{out}/serviceaccounts.yaml", "w"))
pods = []
for d in docs:
    if d["kind"] not in ("Deployment", "StatefulSet"):
        continue
    tpl = d["spec"]["template"]
    spec = yaml.safe_load(yaml.safe_dump(tpl["spec"]))
    # A StatefulSet's pod gets its claims as volumes.
    for claim in d["spec"].get("volumeClaimTemplates", []):
        name = claim["metadata"]["name"]
        spec.setdefault("volumes", []).append(
            {"name": name, "persistentVolumeClaim": {"claimName": f"{name}-{d['metadata']['name']}-0"}})
    pods.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": d["metadata"]["name"], "namespace": d["metadata"]["namespace"],
                              "labels": tpl["metadata"].get("labels", {})},
                 "spec": spec})
yaml.safe_dump_all(pods, open(f"{out}/pods.yaml", "w"))
# The same pods, each broken the way "restricted" forbids: must be rejected.
bad = []
for p in pods:
    q = yaml.safe_load(yaml.safe_dump(p))
    q["metadata"]["name"] += "-privileged"
    q["spec"]["containers"][0].setdefault("securityContext", {})["allowPrivilegeEscalation"] = True
    bad.append(q)
yaml.safe_dump_all(bad, open(f"{out}/pods-bad.yaml", "w"))
PY
k apply --server-side -f "${work}/serviceaccounts.yaml" >/dev/null
status=0
k create --dry-run=server -f "${work}/pods.yaml" >"${work}/out" 2>&1 || status=$?
if [[ "${status}" == 0 ]] && grep -qi 'warning' "${work}/out"; then status=1; fi
result "${status}" "Pod Security admission (enforce: restricted) admits every workload's pod ($(grep -c created "${work}/out" || true) pods)"
status=0
if k create --dry-run=server -f "${work}/pods-bad.yaml" >"${work}/out" 2>&1; then
  status=1
else
  rejected="$(grep -c 'violates PodSecurity "restricted' "${work}/out" || true)"
  [[ "${rejected}" -ge 1 && "$(grep -c created "${work}/out" || true)" == 0 ]] || status=1
fi
result "${status}" "Pod Security admission rejects the same pods with allowPrivilegeEscalation: true (${rejected:-0} rejected)"

echo "${passed} passed, ${failed} failed"
((failed == 0))
