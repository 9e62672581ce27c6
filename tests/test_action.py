"""The composite GitHub Action (action.yml): its steps run for real, as a runner would.

The runner's setup-python step is stood in for by a fresh virtualenv first on PATH;
the install step then installs the runtime lock and this checkout into it, and the
run step executes `args` there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import __version__
from tests.conftest import CONSENT, write

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"


def action() -> dict[str, Any]:
    doc = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def step(name_part: str) -> dict[str, Any]:
    (found,) = [s for s in action()["runs"]["steps"] if name_part in s.get("name", "")]
    return found


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(venv, env): the action's install step run once into a fresh virtualenv."""
    base = tmp_path_factory.mktemp("action")
    venv = base / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    output = base / "github_output"
    output.write_text("")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHON"))
    } | {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output),
        "HOME": str(base / "home"),
    }
    done = run_script(step("Install")["run"], base, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert output.read_text() == f"version={__version__}\n"
    return venv, env


def test_the_install_step_installs_exactly_the_runtime_lock(
    installed: tuple[Path, dict[str, str]],
) -> None:
    venv, _ = installed
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert {"aep-privacy-reconciler", "click", "httpx", "pyyaml"} <= names
    assert not {"pytest", "mypy", "ruff", "aepp"} & names, "dev tools stay out of users' CI"
    assert (venv / "bin" / "reconciler").exists()


def test_the_run_step_runs_args_in_the_workspace(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = installed
    write(tmp_path, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    run = step("Run")
    assert run["if"] == "${{ inputs.args != '' }}"
    assert run["env"] == {"RECONCILER_ARGS": "${{ inputs.args }}"}
    done = run_script(run["run"], tmp_path, env | {"RECONCILER_ARGS": "validate --format json"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["filesChecked"] == 1


def test_args_are_split_on_spaces_without_shell_expansion(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = installed
    marker = tmp_path / "pwned"
    args = f"validate $(touch {marker}) * --format json"
    done = run_script(step("Run")["run"], tmp_path, env | {"RECONCILER_ARGS": args})
    assert not marker.exists()
    assert done.returncode != 0  # `$(touch` and `*` reach reconciler as literal paths


def test_no_input_is_expanded_inside_a_script() -> None:
    for s in action()["runs"]["steps"]:
        assert "${{" not in s.get("run", ""), s.get("name")
