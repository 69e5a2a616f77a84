#!/usr/bin/env bash
# Remove what the other scripts created.
#   local: delete the kind cluster.
#   eks:   delete the apps, Collector and Helm releases from the cluster; with
#          --aws also the IAM role, policy, Pod Identity association and the
#          S3 bucket with all traces in it (asks for --yes).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${KIND_CLUSTER_NAME:=tracelab}"
: "${KUBE_CONTEXT:=}"
: "${CLUSTER_NAME:=dev-eks}"

usage() {
  cat <<USAGE
Usage: scripts/teardown.sh [--dry-run] [--help] [--aws --yes] local|eks

Options:
  --dry-run   print every command instead of running it
  --aws       eks: also delete the AWS resources of setup-aws.sh (needs --yes)
  --yes       confirm deleting the bucket ${TEMPO_BUCKET} and its traces
  --help      this text

Environment (default): KIND_CLUSTER_NAME (${KIND_CLUSTER_NAME}), KUBE_CONTEXT,
AWS_REGION (${AWS_REGION}), CLUSTER_NAME (${CLUSTER_NAME}), TEMPO_BUCKET,
TEMPO_ROLE_NAME (${TEMPO_ROLE_NAME}), TEMPO_POLICY_NAME (${TEMPO_POLICY_NAME}).
ECR repositories are kept (delete them in the console if wanted).
USAGE
}

target="" aws=0 yes=0
for arg in "$@"; do
  case "${arg}" in
    --dry-run) DRY_RUN=1 ;;
    --aws) aws=1 ;;
    --yes) yes=1 ;;
    -h | --help) usage; exit 0 ;;
    local | eks) target="${arg}" ;;
    *) usage >&2; die "unknown argument: ${arg}" ;;
  esac
done
[[ -n "${target}" ]] || { usage >&2; die "say which: local or eks"; }
# Refuse before anything is listed or deleted, not halfway through.
if [[ "${aws}" == 1 && "${target}" != eks ]]; then
  die "--aws goes with eks (the AWS resources of setup-aws.sh)"
fi
if [[ "${aws}" == 1 && "${yes}" != 1 ]]; then
  die "--aws deletes s3://${TEMPO_BUCKET} and every trace in it; add --yes"
fi

if [[ "${target}" == local ]]; then
  need kind "${HINT_KIND}"
  if probe bash -c "kind get clusters | grep -qx '${KIND_CLUSTER_NAME}'" || [[ "${DRY_RUN}" == 1 ]]; then
    run kind delete cluster --name "${KIND_CLUSTER_NAME}"
  else
    log "no kind cluster ${KIND_CLUSTER_NAME}: nothing to do"
  fi
  exit 0
fi

need kubectl "${HINT_KUBECTL}"
need helm "${HINT_HELM}"
kubectl_args=() helm_args=()
if [[ -n "${KUBE_CONTEXT}" ]]; then
  kubectl_args=(--context "${KUBE_CONTEXT}")
  helm_args=(--kube-context "${KUBE_CONTEXT}")
fi
run kubectl "${kubectl_args[@]}" delete -k "${REPO_ROOT}/k8s/overlays/eks" --ignore-not-found
for release in grafana tempo; do
  run helm uninstall "${release}" "${helm_args[@]}" --namespace "${TEMPO_NAMESPACE}" --ignore-not-found
done
# The WAL volume outlives the StatefulSet.
run kubectl "${kubectl_args[@]}" -n "${TEMPO_NAMESPACE}" delete pvc \
  -l app.kubernetes.io/instance=tempo --ignore-not-found

[[ "${aws}" == 1 ]] || exit 0
need aws "${HINT_AWS}"
account="$(capture '<account-id>' aws sts get-caller-identity --query Account --output text)"
policy_arn="arn:aws:iam::${account}:policy/${TEMPO_POLICY_NAME}"

assoc="$(capture None aws eks list-pod-identity-associations --cluster-name "${CLUSTER_NAME}" \
  --region "${AWS_REGION}" --namespace "${TEMPO_NAMESPACE}" \
  --service-account "${TEMPO_SERVICE_ACCOUNT}" --query 'associations[0].associationId' --output text)"
if [[ "${assoc}" != None ]]; then
  run aws eks delete-pod-identity-association --cluster-name "${CLUSTER_NAME}" \
    --region "${AWS_REGION}" --association-id "${assoc}"
fi
if probe aws iam get-role --role-name "${TEMPO_ROLE_NAME}" || [[ "${DRY_RUN}" == 1 ]]; then
  run aws iam detach-role-policy --role-name "${TEMPO_ROLE_NAME}" --policy-arn "${policy_arn}"
  run aws iam delete-role --role-name "${TEMPO_ROLE_NAME}"
fi
if probe aws iam get-policy --policy-arn "${policy_arn}" || [[ "${DRY_RUN}" == 1 ]]; then
  for v in $(capture "" aws iam list-policy-versions --policy-arn "${policy_arn}" \
    --query 'Versions[?!IsDefaultVersion].VersionId' --output text); do
    run aws iam delete-policy-version --policy-arn "${policy_arn}" --version-id "${v}"
  done
  run aws iam delete-policy --policy-arn "${policy_arn}"
fi
if probe aws s3api head-bucket --bucket "${TEMPO_BUCKET}" || [[ "${DRY_RUN}" == 1 ]]; then
  run aws s3 rm "s3://${TEMPO_BUCKET}" --recursive --region "${AWS_REGION}"
  run aws s3api delete-bucket --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}"
fi
if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: nothing was deleted"
else
  log "AWS resources removed (kept: the cluster's OIDC provider and the aws-ebs-csi-driver add-on with its role, which other roles and volumes may use)"
fi
