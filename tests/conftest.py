"""Fixtures shared by the whole suite: the CLI runner and real git repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Author",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

RECORD_DELETE = """\
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: {name}
spec:
  datasetId: c48b51623ec641a2949d339bad69cb15
  displayName: Example
  description: Example description.
  identities:
    - namespace: {{code: email}}
      id: a@example.com
    - namespace: {{code: email}}
      id: b@example.com
"""

PRIVACY_JOB = """\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: {name}
spec:
  regulation: gdpr
  include: [analytics, profileService]
  users:
    - key: user-1
      action: [access, delete]
      userIDs:
        - namespace: email
          value: c@example.com
          type: standard
"""

CONSENT = """\
apiVersion: reconciler/v1
kind: ConsentOptOut
metadata:
  name: {name}
spec:
  optOutOfSale: true
  entities:
    - nameSpace: email
      values: [d@example.com]
"""


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key in list(os.environ):
        if key.startswith("ADOBE_") or key.startswith("RECONCILER_"):
            monkeypatch.delenv(key)


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the CLI in-process; exceptions that are bugs propagate to the test."""

    def _run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, input=input)

    return _run


def git(cwd: Path, *args: str) -> str:
    """Run real git in ``cwd`` and return its output."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ}
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with a `main` branch and a requests/ folder."""
    path = tmp_path / "repo"
    (path / "requests").mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    # The default client-side rate (10 calls/s) suits Adobe; the emulator can take more.
    write(path, "reconciler.yaml", "client:\n  requestsPerSecond: 1000\n")
    return path


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def _shared_adobe() -> Iterator[Any]:
    from reconciler.emulator.testing import running_emulator

    with running_emulator() as emu:
        yield emu


@pytest.fixture
def adobe(_shared_adobe: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, reset, with the environment pointing the tool at it."""
    _shared_adobe.admin.reset()
    for key, value in _shared_adobe.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ADOBE_SANDBOX_NAME", "prod")
    return _shared_adobe


def tagged_counts(emu: Any) -> dict[str, int]:
    """How many work orders the emulator holds per request name (from the tag)."""
    from reconciler.reconcile.tagging import untag

    counts: dict[str, int] = {}
    for order in emu.admin.workorders():
        _, name = untag(order.get("description"))
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def writes(emu: Any) -> list[tuple[str, str]]:
    """The write calls (POST/PUT) the emulator has seen, as (method, path)."""
    return [
        (r["method"], r["path"])
        for r in emu.admin.requests()
        if r["method"] in ("POST", "PUT") and not r["path"].startswith("/ims/")
    ]
