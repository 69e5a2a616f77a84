#!/usr/bin/env bash
# Build the app images for linux/amd64 and linux/arm64 (cross-compiled, no
# emulation) and push them to ECR, one repository per image, tagged with the
# git commit. Repositories are created if missing, with immutable tags: a tag
# always means the same commit. An already pushed tag is skipped.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${IMAGES:=app-a app-b app-c}"
: "${PLATFORMS:=linux/amd64,linux/arm64}"
: "${ALLOW_DIRTY:=0}"

usage() {
  cat <<USAGE
Usage: scripts/push-ecr.sh [--dry-run] [--help]

Pushes <account>.dkr.ecr.<region>.amazonaws.com/${ECR_PREFIX}/<image>:<git sha>.
Then deploy with: TAG=<git sha> scripts/deploy.sh eks (the default TAG is HEAD).

Options:
  --dry-run   print every command instead of running it
  --help      this text

Environment (default):
  AWS_REGION   (${AWS_REGION})
  ECR_PREFIX   repository prefix (${ECR_PREFIX})
  IMAGES       (${IMAGES}; add "tracelab" for the store image)
  PLATFORMS    (${PLATFORMS})
  TAG          image tag (git rev-parse HEAD)
  ALLOW_DIRTY  1 to push from a tree with uncommitted changes (${ALLOW_DIRTY});
               the tag then gets a "-dirty" suffix
USAGE
}

parse_standard_args "$@"

need aws "${HINT_AWS}"
need git "${HINT_GIT}"
need_buildx

if [[ -z "${TAG:-}" ]]; then
  TAG="$(git_sha)"
  if ! git -C "${REPO_ROOT}" diff --quiet HEAD; then
    [[ "${ALLOW_DIRTY}" == 1 ]] ||
      die "uncommitted changes: commit first (the tag must name what was built) or set ALLOW_DIRTY=1"
    TAG="${TAG}-dirty"
  fi
fi

account="$(capture '<account-id>' aws sts get-caller-identity --query Account --output text)"
registry="${account}.dkr.ecr.${AWS_REGION}.amazonaws.com"

log "logging in to ${registry}"
if [[ "${DRY_RUN}" == 1 ]]; then
  printf '+ aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' \
    "${AWS_REGION}" "${registry}" >&2
else
  aws ecr get-login-password --region "${AWS_REGION}" |
    docker login --username AWS --password-stdin "${registry}"
fi

for image in ${IMAGES}; do
  repo="${ECR_PREFIX}/${image}"
  if probe aws ecr describe-repositories --region "${AWS_REGION}" --repository-names "${repo}"; then
    log "repository ${repo} exists"
  else
    run aws ecr create-repository --region "${AWS_REGION}" --repository-name "${repo}" \
      --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true
  fi
  if probe aws ecr describe-images --region "${AWS_REGION}" --repository-name "${repo}" \
    --image-ids "imageTag=${TAG}"; then
    log "${repo}:${TAG} already pushed (immutable): skipping"
    continue
  fi
  run docker buildx build --platform "${PLATFORMS}" \
    --file "${REPO_ROOT}/Dockerfiles/Dockerfile" --target "${image}" \
    --tag "${registry}/${repo}:${TAG}" --provenance=false --push "${REPO_ROOT}"
done

if [[ "${DRY_RUN}" == 1 ]]; then
  log "dry run: nothing was pushed (<account-id> is a placeholder)"
  exit 0
fi
log "pushed tag ${TAG}; deploy with: TAG=${TAG} scripts/deploy.sh eks"
