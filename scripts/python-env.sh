#!/usr/bin/env bash
# Create (once) the Python venv of the seed's stack, for the interop tests and
# the benchmarks.
#
#   scripts/python-env.sh           the seed's Flask apps under opentelemetry-instrument,
#                                   from interop/requirements.txt, in target/python-seed-venv
#   scripts/python-env.sh --bench   matplotlib for the benchmark plot, from
#                                   scripts/bench/requirements.txt, in target/python-bench-venv
#
# Every package is pinned. A stamp file in the venv holds the hash of the
# requirements file and the interpreter version: while they match, the script
# only says so and exits (a few milliseconds). Otherwise it rebuilds the venv
# from PyPI. PYTHON picks the interpreter (default python3, 3.9 or newer).
# Concurrent runs wait for each other (flock, when available).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

requirements=interop/requirements.txt
venv=target/python-seed-venv
case "${1:-}" in
  -h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --bench)
    requirements=scripts/bench/requirements.txt
    venv=target/python-bench-venv
    ;;
  "") ;;
  *)
    echo "python-env.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

: "${PYTHON:=python3}"
if ! command -v "$PYTHON" >/dev/null; then
  echo "python-env.sh: $PYTHON not found; install Python 3 with venv and pip (Debian: apt-get install -y python3 python3-venv)" >&2
  exit 1
fi

mkdir -p target
if command -v flock >/dev/null; then
  exec 9>"$venv.lock"
  flock 9
fi

version=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
wanted="$(sha256sum "$requirements" | cut -d' ' -f1) python-$version"
stamp="$venv/.tracelab-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "python-env: $venv is up to date ($requirements, Python $version)"
  exit 0
fi

echo "python-env: building $venv from $requirements with Python $version"
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
echo "python-env: installing pinned packages from PyPI"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
echo "python-env: checking dependencies (pip check)"
"$venv/bin/python" -m pip check --disable-pip-version-check
# Written last: an interrupted build leaves no stamp, so the next run starts over.
echo "$wanted" >"$stamp"
echo "python-env: $venv is ready"
