#!/usr/bin/env bash
# Create the AWS side of Tempo-on-S3, idempotently (safe to re-run):
#   1. S3 bucket (private) + lifecycle rule aborting incomplete multipart uploads
#   2. IAM policy scoped to the bucket (deploy/iam/tempo-s3-policy.json.tmpl)
#   3. IAM role for Tempo's service account monitor/tempo, trusted through
#      IRSA (OIDC provider, StringEquals on sub and aud) or EKS Pod Identity
#   4. the EBS CSI driver (EKS add-on aws-ebs-csi-driver) with its own role:
#      Tempo's volume needs it, and clusters created at 1.30 or later have no
#      default StorageClass (deploy.sh applies k8s/overlays/eks/storageclass-gp3.yaml)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${CLUSTER_NAME:=dev-eks}"
: "${AUTH_MODE:=irsa}" # irsa | pod-identity
: "${INSTALL_EBS_CSI:=1}" # 0: the cluster already has the EBS CSI driver
: "${EBS_CSI_ROLE_NAME:=${CLUSTER_NAME}-ebs-csi-driver-role}"
EBS_CSI_POLICY_ARN=arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy

usage() {
  cat <<USAGE
Usage: scripts/setup-aws.sh [--dry-run] [--help]

Creates (or updates) the S3 bucket, IAM policy and IAM role Tempo uses on EKS.
Re-running is safe: existing resources are kept and policies are updated.

Options:
  --dry-run   print every AWS command instead of running it
  --help      this text

Environment (default):
  AWS_REGION             (${AWS_REGION})
  CLUSTER_NAME           EKS cluster (${CLUSTER_NAME})
  AUTH_MODE              irsa | pod-identity (${AUTH_MODE})
  TEMPO_BUCKET           S3 bucket, globally unique (${TEMPO_BUCKET})
  TEMPO_POLICY_NAME      IAM policy (${TEMPO_POLICY_NAME})
  TEMPO_ROLE_NAME        IAM role (${TEMPO_ROLE_NAME})
  TEMPO_NAMESPACE        Tempo's namespace (${TEMPO_NAMESPACE})
  TEMPO_SERVICE_ACCOUNT  Tempo's service account (${TEMPO_SERVICE_ACCOUNT})
  INSTALL_EBS_CSI        1 installs the aws-ebs-csi-driver add-on if missing (${INSTALL_EBS_CSI})
  EBS_CSI_ROLE_NAME      IAM role of the EBS CSI controller (${EBS_CSI_ROLE_NAME})

Prints the role ARN at the end; scripts/deploy.sh eks finds it by name.
USAGE
}

parse_standard_args "$@"

need aws "${HINT_AWS}"
if [[ "${AUTH_MODE}" == irsa ]]; then
  need eksctl "${HINT_EKSCTL}"
fi
[[ "${AUTH_MODE}" == irsa || "${AUTH_MODE}" == pod-identity ]] ||
  die "AUTH_MODE must be irsa or pod-identity, not '${AUTH_MODE}'"

work="${REPO_ROOT}/target/deploy"
# save FILE: stdin to FILE; a dry run writes nothing and only says so.
save() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    cat >/dev/null
    printf '+ (write %s)\n' "${1#"${REPO_ROOT}/"}" >&2
  else
    cat >"$1"
  fi
}
if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: nothing is created or written; <...> values are placeholders for what AWS would answer"
else
  mkdir -p "${work}"
fi

AWS_ACCOUNT_ID="$(capture '<account-id>' aws sts get-caller-identity --query Account --output text)"
policy_arn="arn:aws:iam::${AWS_ACCOUNT_ID}:policy/${TEMPO_POLICY_NAME}"
log "account ${AWS_ACCOUNT_ID}, region ${AWS_REGION}, cluster ${CLUSTER_NAME}, auth ${AUTH_MODE}"

# ---- 1. bucket ----------------------------------------------------------------
if probe aws s3api head-bucket --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}"; then
  log "bucket ${TEMPO_BUCKET} exists"
else
  log "creating bucket ${TEMPO_BUCKET}"
  if [[ "${AWS_REGION}" == us-east-1 ]]; then
    run aws s3api create-bucket --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}"
  else
    run aws s3api create-bucket --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}" \
      --create-bucket-configuration "LocationConstraint=${AWS_REGION}"
  fi
fi
run aws s3api put-public-access-block --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}" \
  --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
# Retention is Tempo's compactor (tempo.retention); S3 only cleans up uploads
# that never completed, as Tempo's S3 documentation recommends.
run aws s3api put-bucket-lifecycle-configuration --bucket "${TEMPO_BUCKET}" --region "${AWS_REGION}" \
  --lifecycle-configuration "file://${REPO_ROOT}/deploy/iam/s3-lifecycle.json"

# ---- 2. policy ----------------------------------------------------------------
render_template "${REPO_ROOT}/deploy/iam/tempo-s3-policy.json.tmpl" | save "${work}/tempo-s3-policy.json"
if probe aws iam get-policy --policy-arn "${policy_arn}"; then
  log "policy ${TEMPO_POLICY_NAME} exists: adding a new default version"
  # IAM keeps at most 5 versions: drop the oldest non-default one first.
  oldest="$(capture None aws iam list-policy-versions --policy-arn "${policy_arn}" \
    --query 'sort_by(Versions[?!IsDefaultVersion], &CreateDate)[0].VersionId' --output text)"
  count="$(capture 1 aws iam list-policy-versions --policy-arn "${policy_arn}" \
    --query 'length(Versions)' --output text)"
  if [[ "${count}" -ge 5 && "${oldest}" != None ]]; then
    run aws iam delete-policy-version --policy-arn "${policy_arn}" --version-id "${oldest}"
  fi
  run aws iam create-policy-version --policy-arn "${policy_arn}" \
    --policy-document "file://${work}/tempo-s3-policy.json" --set-as-default
else
  run aws iam create-policy --policy-name "${TEMPO_POLICY_NAME}" \
    --policy-document "file://${work}/tempo-s3-policy.json" \
    --description "Tempo traces in s3://${TEMPO_BUCKET}"
fi

# ---- 3. role and trust ----------------------------------------------------------
if [[ "${AUTH_MODE}" == irsa ]]; then
  issuer_url="$(capture "https://oidc.eks.${AWS_REGION}.amazonaws.com/id/<oidc-id>" \
    aws eks describe-cluster --name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
    --query cluster.identity.oidc.issuer --output text)"
  OIDC_ISSUER="${issuer_url#https://}"
  if probe aws iam get-open-id-connect-provider --open-id-connect-provider-arn \
    "arn:aws:iam::${AWS_ACCOUNT_ID}:oidc-provider/${OIDC_ISSUER}"; then
    log "OIDC provider for ${CLUSTER_NAME} exists"
  else
    # The seed omits this prerequisite: IRSA needs the cluster's OIDC provider in IAM.
    run eksctl utils associate-iam-oidc-provider --cluster "${CLUSTER_NAME}" \
      --region "${AWS_REGION}" --approve
  fi
  trust_template="${REPO_ROOT}/deploy/iam/tempo-trust-irsa.json.tmpl"
else
  OIDC_ISSUER=""
  trust_template="${REPO_ROOT}/deploy/iam/tempo-trust-pod-identity.json.tmpl"
fi
render_template "${trust_template}" | save "${work}/tempo-trust.json"

if probe aws iam get-role --role-name "${TEMPO_ROLE_NAME}"; then
  log "role ${TEMPO_ROLE_NAME} exists: updating its trust policy"
  run aws iam update-assume-role-policy --role-name "${TEMPO_ROLE_NAME}" \
    --policy-document "file://${work}/tempo-trust.json"
else
  run aws iam create-role --role-name "${TEMPO_ROLE_NAME}" \
    --assume-role-policy-document "file://${work}/tempo-trust.json" \
    --description "Grafana Tempo (${TEMPO_NAMESPACE}/${TEMPO_SERVICE_ACCOUNT}) on ${CLUSTER_NAME}"
fi
run aws iam attach-role-policy --role-name "${TEMPO_ROLE_NAME}" --policy-arn "${policy_arn}"
role_arn="arn:aws:iam::${AWS_ACCOUNT_ID}:role/${TEMPO_ROLE_NAME}"

if [[ "${AUTH_MODE}" == pod-identity ]]; then
  if probe aws eks describe-addon --cluster-name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
    --addon-name eks-pod-identity-agent; then
    log "eks-pod-identity-agent add-on present"
  else
    run aws eks create-addon --cluster-name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
      --addon-name eks-pod-identity-agent
  fi
  existing="$(capture None aws eks list-pod-identity-associations --cluster-name "${CLUSTER_NAME}" \
    --region "${AWS_REGION}" --namespace "${TEMPO_NAMESPACE}" \
    --service-account "${TEMPO_SERVICE_ACCOUNT}" \
    --query 'associations[0].associationId' --output text)"
  if [[ "${existing}" == None ]]; then
    run aws eks create-pod-identity-association --cluster-name "${CLUSTER_NAME}" \
      --region "${AWS_REGION}" --namespace "${TEMPO_NAMESPACE}" \
      --service-account "${TEMPO_SERVICE_ACCOUNT}" --role-arn "${role_arn}"
  else
    run aws eks update-pod-identity-association --cluster-name "${CLUSTER_NAME}" \
      --region "${AWS_REGION}" --association-id "${existing}" --role-arn "${role_arn}"
  fi
fi

# ---- 4. EBS CSI driver ------------------------------------------------------------
# Tempo's WAL volume (persistence.enabled, StorageClass gp3) is provisioned by
# the EBS CSI driver, which EKS does not install by itself. Its controller
# (kube-system/ebs-csi-controller-sa) gets a role with AWS's managed policy.
if [[ "${INSTALL_EBS_CSI}" == 1 ]]; then
  if probe aws eks describe-addon --cluster-name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
    --addon-name aws-ebs-csi-driver; then
    log "aws-ebs-csi-driver add-on present"
  else
    # The same trust templates, for the driver's service account.
    TEMPO_NAMESPACE=kube-system TEMPO_SERVICE_ACCOUNT=ebs-csi-controller-sa \
      render_template "${trust_template}" | save "${work}/ebs-csi-trust.json"
    if ! probe aws iam get-role --role-name "${EBS_CSI_ROLE_NAME}"; then
      run aws iam create-role --role-name "${EBS_CSI_ROLE_NAME}" \
        --assume-role-policy-document "file://${work}/ebs-csi-trust.json" \
        --description "EBS CSI driver (kube-system/ebs-csi-controller-sa) on ${CLUSTER_NAME}"
    fi
    run aws iam attach-role-policy --role-name "${EBS_CSI_ROLE_NAME}" --policy-arn "${EBS_CSI_POLICY_ARN}"
    ebs_role_arn="arn:aws:iam::${AWS_ACCOUNT_ID}:role/${EBS_CSI_ROLE_NAME}"
    if [[ "${AUTH_MODE}" == irsa ]]; then
      run aws eks create-addon --cluster-name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
        --addon-name aws-ebs-csi-driver --service-account-role-arn "${ebs_role_arn}"
    else
      run aws eks create-addon --cluster-name "${CLUSTER_NAME}" --region "${AWS_REGION}" \
        --addon-name aws-ebs-csi-driver \
        --pod-identity-associations "serviceAccount=ebs-csi-controller-sa,roleArn=${ebs_role_arn}"
    fi
  fi
else
  log "INSTALL_EBS_CSI=0: assuming the cluster already provisions EBS volumes (ebs.csi.aws.com)"
fi

if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: nothing was created (the role would be ${role_arn})"
  exit 0
fi
log "done. Tempo role: ${role_arn}"
log "next: scripts/push-ecr.sh, then AUTH_MODE=${AUTH_MODE} scripts/deploy.sh eks"
