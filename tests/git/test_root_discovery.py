"""Commands find their repository from any folder in it, as git does; nothing is left
behind outside git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.repository import find_root
from tests.conftest import CONSENT, RECORD_DELETE, git, write


@pytest.fixture
def committed(repo: Path) -> Path:
    write(repo, "requests/record-deletes/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/consent/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare req-a and req-b")
    return repo


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )


def test_validate_from_a_subfolder_checks_the_repository(committed: Path) -> None:
    sub = committed / "requests" / "record-deletes"
    done = cli(sub, "validate", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["filesChecked"] == 2


def test_a_path_argument_is_relative_to_where_the_command_runs(committed: Path) -> None:
    sub = committed / "requests" / "record-deletes"
    done = cli(sub, "validate", "req-a.yaml", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["filesChecked"] == 1
    missing = cli(sub, "validate", "requests/consent/req-b.yaml")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_status_and_audit_from_a_subfolder(run, adobe: Any, committed: Path) -> None:
    assert run("-C", str(committed), "apply", "--auto-approve", "--commit").exit_code == 0
    sub = str(committed / "requests" / "consent")
    status = run("-C", sub, "status", "--format", "json")
    assert status.exit_code == 0, status.output
    names = {r["name"] for r in json.loads(status.output)["requests"]}
    assert "req-a" in names
    audit = run("-C", sub, "audit", "req-a", "--format", "json")
    assert audit.exit_code == 0, audit.output
    events = [e["event"] for e in json.loads(audit.output)["requests"][0]["events"]]
    assert events[0] == "declared" and "applied" in events


def test_plan_out_is_written_where_the_command_runs(run, adobe: Any, committed: Path) -> None:
    sub = committed / "requests"
    done = run("-C", str(sub), "plan", "--out", "plan.json")
    assert done.exit_code == 0, done.output
    assert (sub / "plan.json").is_file() and not (committed / "plan.json").exists()
    applied = run("-C", str(sub), "apply", "plan.json")
    assert applied.exit_code == 0, applied.output


def test_apply_outside_git_leaves_no_lock_file(run, adobe: Any, tmp_path: Path) -> None:
    folder = tmp_path / "not-a-repo"
    write(folder, "reconciler.yaml", "client:\n  requestsPerSecond: 1000\n")
    write(folder, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    done = run("-C", str(folder), "apply", "--auto-approve", "--allow-unreviewed")
    assert done.exit_code == 0, done.output
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert left == ["ledger/req-b.json", "reconciler.yaml", "requests/req-b.yaml"]


@pytest.mark.parametrize(
    ("files", "start", "expected"),
    [
        pytest.param({"r/.git/HEAD"}, "r/a/b", "r", id="git-top"),
        pytest.param({"r/.git/HEAD", "r/reconciler.yaml"}, "r/a", "r", id="settings-at-top"),
        pytest.param(
            {"r/.git/HEAD", "r/sub/reconciler.yaml"}, "r/sub/requests", "r/sub", id="settings-below"
        ),
        pytest.param(
            {"outer/reconciler.yaml", "outer/r/.git/HEAD"},
            "outer/r/x",
            "outer/r",
            id="never-leaves-the-work-tree",
        ),
        pytest.param(set(), "plain/folder", "plain/folder", id="no-repository"),
    ],
)
def test_find_root(tmp_path: Path, files: set[str], start: str, expected: str) -> None:
    for name in files:
        write(tmp_path, name, "x\n")
    (tmp_path / start).mkdir(parents=True, exist_ok=True)
    assert find_root(tmp_path / start) == tmp_path / expected


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags(run, flag: str) -> None:
    from reconciler import __version__

    result = run(flag)
    assert result.exit_code == 0 and result.output == f"reconciler, version {__version__}\n"


def test_shell_completion_lists_the_commands(tmp_path: Path) -> None:
    """The completion the README documents: click's, through _RECONCILER_COMPLETE."""
    env = {
        **os.environ,
        "_RECONCILER_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconciler pu",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "reconciler"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert "plain,push" in done.stdout.replace("\n", ",")
