# shellcheck shell=bash disable=SC2034 # variables here are read by the scripts that source it
# Shared helpers and pinned versions for scripts/*.sh. Sourced, not run.
#
# Every knob is an environment variable with a default (": ${VAR:=default}"),
# so "AWS_REGION=us-east-1 scripts/setup-aws.sh" overrides one setting.

# Repository root, whatever the caller's working directory.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ---- pinned versions ---------------------------------------------------------
: "${HELM_REPO_NAME:=grafana-community}"
: "${HELM_REPO_URL:=https://grafana-community.github.io/helm-charts}"
: "${TEMPO_CHART_VERSION:=2.2.4}"      # Tempo 2.10.x, single binary
: "${GRAFANA_CHART_VERSION:=12.11.1}"  # Grafana 13.2.x
: "${KIND_NODE_IMAGE:=kindest/node:v1.33.1}"

# ---- names shared by the manifests, Helm values and IAM ----------------------
# Keep in step with k8s/ and deploy/helm/ (scripts/check-deploy.sh checks it).
: "${APP_NAMESPACE:=tracelab}"
: "${TEMPO_NAMESPACE:=monitor}"
: "${TEMPO_SERVICE_ACCOUNT:=tempo}"
: "${AWS_REGION:=ap-northeast-2}"
: "${TEMPO_BUCKET:=dev-monitor-tempo-bucket}"
: "${TEMPO_ROLE_NAME:=dev-monitor-tempo-role}"
: "${TEMPO_POLICY_NAME:=dev-monitor-tempo-policy}"
: "${ECR_PREFIX:=tracelab}"
: "${LOCAL_IMAGE_PREFIX:=tracelab}"
: "${LOCAL_IMAGE_TAG:=dev}"
: "${DRY_RUN:=0}"

# ---- output ------------------------------------------------------------------
log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# run CMD ARGS...: print the command, then run it (only print it with --dry-run).
run() {
  printf '+ %s\n' "$(quote_cmd "$@")" >&2
  if [[ "${DRY_RUN}" == 1 ]]; then
    return 0
  fi
  "$@"
}

# capture PLACEHOLDER CMD ARGS...: run a read-only query and print its output.
# With --dry-run it prints the command to stderr and PLACEHOLDER to stdout.
capture() {
  local placeholder=$1
  shift
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '+ %s\n' "$(quote_cmd "$@")" >&2
    printf '%s\n' "${placeholder}"
    return 0
  fi
  "$@"
}

# probe CMD ARGS...: a check whose failure is an answer ("does it exist?").
# With --dry-run it prints the command and answers "no", so the dry run shows
# the commands a first run would make.
probe() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '+ %s\n' "$(quote_cmd "$@")" >&2
    return 1
  fi
  "$@" >/dev/null 2>&1
}

quote_cmd() {
  local out="" arg
  for arg in "$@"; do
    out+="$(printf '%q' "${arg}") "
  done
  printf '%s' "${out% }"
}

# parse_help_only "$@": the arguments of a script that takes only --help
# (the caller defines usage()); anything else is an error.
parse_help_only() {
  local arg
  for arg in "$@"; do
    case "${arg}" in
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: ${arg}" ;;
    esac
  done
}

# parse_standard_args "$@": the arguments of a script that takes only
# --dry-run and --help (the caller defines usage()); anything else is an error.
parse_standard_args() {
  local arg
  for arg in "$@"; do
    case "${arg}" in
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: ${arg}" ;;
    esac
  done
}

# need TOOL HINT: fail early, saying how to install a missing prerequisite.
# A dry run only warns, so the commands can be reviewed on any machine.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ "${DRY_RUN}" == 1 ]]; then
    warn "'$1' not found (needed for a real run). Install it: $2"
    return 0
  fi
  die "'$1' not found. Install it: $2"
}

# Install hints for the tools the scripts use (read by the sourcing scripts).
HINT_AWS="https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
HINT_DOCKER="Docker Engine + buildx: https://docs.docker.com/engine/install/ (buildx ships with it; check 'docker buildx version')"
HINT_KUBECTL="https://kubernetes.io/docs/tasks/tools/ (or run scripts/check-deploy.sh once: target/deploy-tools/bin/kubectl)"
HINT_HELM="https://helm.sh/docs/intro/install/ (v3.8+ or v4)"
HINT_KIND="https://kind.sigs.k8s.io/docs/user/quick-start/#installation (e.g. 'go install sigs.k8s.io/kind@v0.29.0')"
HINT_JQ="apt-get install jq | brew install jq"
HINT_EKSCTL="https://eksctl.io/installation/"
HINT_GIT="apt-get install git | brew install git"

# need_buildx: docker with the buildx plugin.
need_buildx() {
  need docker "${HINT_DOCKER}"
  if [[ "${DRY_RUN}" != 1 ]]; then
    docker buildx version >/dev/null 2>&1 || die "docker buildx not available. ${HINT_DOCKER}"
  fi
}

# render_template FILE: print FILE with ${VAR} replaced by the variable's value,
# for the variables named in TEMPLATE_VARS only (no eval, no envsubst needed).
TEMPLATE_VARS=(AWS_ACCOUNT_ID AWS_REGION OIDC_ISSUER TEMPO_BUCKET TEMPO_NAMESPACE TEMPO_SERVICE_ACCOUNT)
render_template() {
  local text var
  text="$(<"$1")"
  for var in "${TEMPLATE_VARS[@]}"; do
    text="${text//"\${${var}}"/${!var:-}}"
  done
  # shellcheck disable=SC2016 # a literal "${"
  if [[ "${text}" == *'${'* ]]; then
    die "unfilled placeholder left in $1"
  fi
  printf '%s\n' "${text}"
}

# git_sha: the commit the images are built from (full 40 hex digits).
git_sha() {
  git -C "${REPO_ROOT}" rev-parse HEAD
}

# ---- podman, as the container scripts use it ----------------------------------
# Rootful podman with everything under target/podman (images, containers,
# build cache), and the two settings these machines need: the runc runtime
# (crun stops with "cgroups in hybrid mode not supported") and no default
# ulimits ("setrlimit RLIMIT_NOFILE: Operation not permitted"). The settings
# reach podman through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so nothing
# in /etc changes and podman-compose (which calls podman) sees them too.
: "${PODMAN_DIR:=${REPO_ROOT}/target/podman}"
HINT_PODMAN="apt-get install podman runc (Debian 12: podman 4.3; scripts/lib.sh sets runc and the storage under target/podman)"

# podman_env: export the settings; fail with a clear message when podman is
# missing or does not work here.
podman_env() {
  command -v podman >/dev/null 2>&1 || die "'podman' not found. Install it: ${HINT_PODMAN}"
  command -v runc >/dev/null 2>&1 || die "'runc' not found. Install it: ${HINT_PODMAN}"
  mkdir -p "${PODMAN_DIR}/storage" "${PODMAN_DIR}/run"
  cat >"${PODMAN_DIR}/containers.conf" <<CONF
# Written by scripts/lib.sh (podman_env).
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
  cat >"${PODMAN_DIR}/storage.conf" <<CONF
# Written by scripts/lib.sh (podman_env).
[storage]
driver = "overlay"
graphroot = "${PODMAN_DIR}/storage"
runroot = "${PODMAN_DIR}/run"
CONF
  export CONTAINERS_CONF="${PODMAN_DIR}/containers.conf"
  export CONTAINERS_STORAGE_CONF="${PODMAN_DIR}/storage.conf"
  local out
  out="$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphRoot}}' 2>&1)" ||
    die "podman does not work here: ${out}"
  [[ "${out}" == "runc ${PODMAN_DIR}/storage" ]] || die "podman ignored its settings: ${out}"
}
