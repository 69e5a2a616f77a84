"""Fixtures for the deployment checks: the rendered overlays and the files
behind them. Run by scripts/check-deploy.sh (which renders the overlays once
and passes RENDER_DIR); also runnable alone: pytest deploy/tests.

TRACELAB_ROOT points the checks at another copy of the repository (used to
prove that each check fails on a deliberately broken copy).
"""
import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(os.environ.get("TRACELAB_ROOT", pathlib.Path(__file__).resolve().parents[2]))
OVERLAYS = ("local", "eks")


def load_yaml_docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def render(overlay):
    """The overlay's manifests: from RENDER_DIR if check-deploy.sh made them."""
    render_dir = os.environ.get("RENDER_DIR")
    if render_dir:
        path = pathlib.Path(render_dir) / f"{overlay}.yaml"
        if path.exists():
            return load_yaml_docs(path.read_text())
    kubectl = os.environ.get("KUBECTL", "kubectl")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        check=True, capture_output=True, text=True,
    ).stdout
    return load_yaml_docs(out)


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request):
    """(name, documents) for each overlay."""
    return request.param, render(request.param)


@pytest.fixture(scope="session")
def rendered():
    return {name: render(name) for name in OVERLAYS}


def read_yaml(path):
    return yaml.safe_load(pathlib.Path(path).read_text())


def lib_defaults(root, *names):
    """Default values of scripts/lib.sh variables, as the scripts see them."""
    script = 'source "$1/scripts/lib.sh"; shift; for v in "$@"; do printf "%s\\n" "${!v}"; done'
    env = {k: v for k, v in os.environ.items() if k not in names}
    out = subprocess.run(["bash", "-c", script, "bash", str(root), *names],
                         check=True, capture_output=True, text=True, env=env).stdout
    return dict(zip(names, out.splitlines()))


def render_template(root, template, **values):
    """Fill an IAM template with scripts/lib.sh's own render_template."""
    script = 'source "$1/scripts/lib.sh"; render_template "$2"'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPO_", "AWS_", "OIDC_"))}
    env.update(values)
    return subprocess.run(["bash", "-c", script, "bash", str(root), str(template)],
                          check=True, capture_output=True, text=True, env=env).stdout
