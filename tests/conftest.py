"""Fixtures shared by the whole suite: the CLI runner, real git repositories, and the
emulator with counts of what it holds, decoded without the code under test."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
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
    """Run real git in ``cwd`` and return its output (its error output in the failure)."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ}
    )
    if done.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} in {cwd} exited {done.returncode}: {done.stderr}"
        )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with a `main` branch and a requests/ folder."""
    path = tmp_path / "repo"
    (path / "requests").mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    # The default client-side rate (10 calls/s) suits Adobe; the emulator can take more.
    write(path, "reconciler.yaml", "scope: testrepo\nclient:\n  requestsPerSecond: 1000\n")
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


# The tags as documented in reconciler/reconcile/tagging.py, written out again rather than
# imported: counts decoded by the code that wrote the tags would agree with any change to it.
# A work order's description is its text, a space, then the tag (only the tag if there is no
# text); a privacy job's user key is the request's name, a colon, then the user's key.
WORK_ORDER_TAG = re.compile(r"(?:\A| )\[reconciler:(?:[a-z0-9]{4,16}/)?([a-z0-9][-a-z0-9]*)\]\Z")
JOB_USER_KEY = re.compile(r"\A(?:[a-z0-9]{4,16}/)?([a-z0-9][-a-z0-9]*):(.+)\Z", re.DOTALL)


def tagged_counts(emu: Any) -> dict[str, int]:
    """How many work orders the emulator holds per request name (from the tag)."""
    counts: Counter[str] = Counter()
    for order in emu.admin.workorders():
        match = WORK_ORDER_TAG.search(order.get("description") or "")
        if match:
            counts[match.group(1)] += 1
    return dict(counts)


def tagged_jobs(emu: Any) -> dict[str, Counter[tuple[str, str, str]]]:
    """The privacy jobs the emulator holds per request name (from the user key), each
    counted as (user key, action, product): a create sent twice makes every count 2."""
    jobs: dict[str, Counter[tuple[str, str, str]]] = {}
    for job in emu.admin.jobs():
        match = JOB_USER_KEY.match(job.get("userKey") or "")
        if match:
            name, user = match.groups()
            jobs.setdefault(name, Counter())[(user, job["action"], job["product"])] += 1
    return jobs


def writes(emu: Any) -> list[tuple[str, str]]:
    """The write calls (POST/PUT) the emulator has seen, as (method, path)."""
    return [
        (r["method"], r["path"])
        for r in emu.admin.requests()
        if r["method"] in ("POST", "PUT") and not r["path"].startswith("/ims/")
    ]


def request_from(name: str, template: str) -> Any:
    """A validated request named ``name`` from one of the templates above."""
    from reconciler.check.validation import document_findings
    from reconciler.yamlfile import parse_document

    request, findings = document_findings(
        parse_document(f"requests/{name}.yaml", template.format(name=name))
    )
    assert request is not None and not findings, findings
    return request


def emulator_today(emu: Any) -> date:
    """The emulator's calendar day (GMT), the day Adobe files its privacy jobs under."""
    return datetime.fromtimestamp(emu.admin.clock()["epoch"], UTC).date()


def no_wait(seconds: float) -> None:
    """A ``sleep`` for the client and the applier: the emulator needs no waiting."""


def plan_now(
    emu: Any, client: Any, requests: Sequence[Any], ledger: Any, now: datetime | None = None
) -> Any:
    """The plan ``reconciler plan`` would show: Adobe read on the emulator's day; ``now``
    is the planner's clock (a later one: the grace periods of unknown outcomes passed)."""
    from reconciler.reconcile.planner import plan_changes
    from reconciler.reconcile.remote import fetch_remote_state

    remote = fetch_remote_state(client, requests, ledger, emulator_today(emu))
    return plan_changes(requests, ledger, remote, now)


def apply_plan(emu: Any, client: Any, requests: Sequence[Any], ledger: Any, plan: Any) -> Any:
    """Apply ``plan`` as ``reconciler apply`` does, on the emulator's day, with no real waits."""
    from reconciler.reconcile.applier import Applier

    today = emulator_today(emu)
    applier = Applier(
        client, ledger, {r.name: r for r in requests}, today=lambda: today, sleep=no_wait
    )
    return applier.apply(plan)


def plan_and_apply(
    emu: Any, client: Any, requests: Sequence[Any], ledger: Any, now: datetime | None = None
) -> Any:
    """One ``reconciler apply``: read Adobe, plan (with the planner's clock at ``now``), apply."""
    plan = plan_now(emu, client, requests, ledger, now)
    return apply_plan(emu, client, requests, ledger, plan)
