"""The guided demo: the whole workflow against the embedded emulator, in a throwaway repo.

Every step runs the real command (in this process) in a real git repository
with a bare remote, against the emulator over real HTTP; the narration says
what a user would see in a pull request or in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from reconciler.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID

PEOPLE = {
    "priya": ("Priya Privacy-Engineer", "priya@example.com"),
    "rui": ("Rui Reviewer", "rui@example.com"),
}
# Priya's first draft files a data subject's erasure as a record delete, out of habit.
# The check warns (Adobe keeps record deletes for cleansing) and finds a typo.
FIRST_DRAFT = """\
# yaml-language-server: $schema=../../schemas/request.schema.json
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: jira-12399
  ticket: JIRA-12399
  receivedAt: {received}
spec:
  datasetId: c48b51623ec641a2949d339bad69cb15
  displayName: Delete a former customer (JIRA-12399)
  description: Customer asked for erasure by email.
  identities:
    - namespace: {{code: email}}
      id: margaret.cavendish@example.com
    - namespace: {{code: email}}
      id: margaret.cavendish@example
"""
# The fix: the same data subject's erasure as a privacy job, the email corrected.
PRIVACY_JOB = """\
# yaml-language-server: $schema=../../schemas/request.schema.json
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: jira-12399
  ticket: JIRA-12399
  receivedAt: {received}
spec:
  regulation: gdpr
  include: [AdobeCloudPlatform, identity, profileService]
  users:
    - key: jira-12399
      action: [delete]
      userIDs:
        - namespace: email
          value: margaret.cavendish@example.com
          type: standard
        - namespace: email
          value: m.cavendish@example.org
          type: standard
"""
# The cleansing request of the examples that the demo renames.
CLEANSING = "requests/record-deletes/qa-2026-11-test-identities.yaml"
# The day the examples' receivedAt dates were written for: the demo moves them by as many
# days as have passed since, so that their deadlines read the same on any day.
EXAMPLES_DATED = date(2026, 12, 2)
_RECEIVED = re.compile(r"^([ \t]*receivedAt: )(\d{4}-\d{2}-\d{2})\b", re.MULTILINE)


class Demo:
    """Runs and narrates the steps. ``say`` prints; ``cli`` runs a reconciler command."""

    def __init__(self, workdir: Path, cli: Callable[[Sequence[str]], int]) -> None:
        self.workdir = workdir
        self.repo = workdir / "privacy-requests"
        self.remote = workdir / "origin.git"
        self._cli = cli
        self.step_no = 0

    def say(self, text: str = "") -> None:
        click.echo(text)

    def step(self, title: str, explanation: str) -> None:
        self.step_no += 1
        click.echo("")
        click.secho(f"━━ Step {self.step_no}: {title} ", bold=True, fg="cyan")
        for line in explanation.strip().splitlines():
            click.echo(f"   {line}")
        click.echo("")

    def git(self, *args: str, who: str = "priya") -> str:
        name, email = PEOPLE[who]
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        done = subprocess.run(
            ["git", *args], cwd=self.repo, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def run(self, *args: str, expect: int = 0) -> int:
        click.secho(f"$ reconciler {' '.join(args)}", fg="yellow")
        code = self._cli(["-C", str(self.repo), *args])
        if code != expect:
            raise click.ClickException(
                f"demo step `reconciler {' '.join(args)}` exited {code}, expected {expect}"
            )
        return code


def _approvals_file(demo: Demo, reviewed: str, merge: str) -> Path:
    """What the apply workflow's "Fetch the approvals" step writes from GitHub's API for
    the demo's pull request #1 (schemas/approvals.schema.json), outside the work tree."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "version": 1,
        "pullRequests": [
            {
                "number": 1,
                "url": "https://github.com/example/privacy-requests/pull/1",
                "title": "Add JIRA-12399 erasure (GDPR privacy job)",
                "author": "priya",
                "mergedBy": "rui",
                "mergedAt": stamp,
                "mergeCommit": merge,
                "commits": [reviewed],
                "reviews": [
                    {
                        "reviewer": "rui",
                        "state": "APPROVED",
                        "submittedAt": stamp,
                        "commit": reviewed,
                    }
                ],
            }
        ],
    }
    path = demo.repo.parent / "approvals.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def _seed_repository(demo: Demo, examples: Path, schemas: Path) -> None:
    demo.repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(demo.remote)], check=True)
    demo.git("init", "-q", "-b", "main")
    shutil.copytree(examples, demo.repo / "requests")
    _redate(demo.repo / "requests", _today() - EXAMPLES_DATED)
    shutil.copytree(schemas, demo.repo / "schemas")
    (demo.repo / "reconciler.yaml").write_text(
        "# Repository settings: see schemas/settings.schema.json\n"
        "apiVersion: reconciler/v1\n"
        "# Names this repository in the tags of what it creates (`reconciler init` writes one).\n"
        "scope: demo\nadobe:\n  sandboxName: prod\n"
        "limits:\n  maxIdentitiesPerRequest: 1000\n"
    )
    demo.git("add", "-A")
    demo.git("commit", "-q", "-m", "Declare the first privacy requests")
    demo.git("remote", "add", "origin", str(demo.remote))
    demo.git("push", "-q", "origin", "main")


def _today() -> date:
    return datetime.now(UTC).date()


def _redate(folder: Path, by: timedelta) -> None:
    """Move every ``receivedAt`` under ``folder`` ``by`` days later."""
    if not by:
        return
    for path in sorted(folder.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        moved = _RECEIVED.sub(lambda m: m[1] + (date.fromisoformat(m[2]) + by).isoformat(), text)
        if moved != text:
            path.write_text(moved, encoding="utf-8")


def run_demo(
    cli: Callable[[Sequence[str]], int],
    examples: Path,
    schemas: Path,
    advance: Callable[[float], object],
    keep: Path | None = None,
) -> Path:
    """The story, step by step. Returns the directory it ran in."""
    workdir = keep or Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    demo = Demo(workdir, cli)
    demo.say("reconciler demo: privacy requests as code, against a local stand-in for Adobe.")
    demo.say(f"Working in {workdir} (a throwaway git repository and its remote).")

    demo.step(
        "A repository of privacy requests",
        "Each request is a YAML file under requests/: privacy jobs (Privacy Service) for\n"
        "data subjects' access and erasure requests, with the day each was received;\n"
        "record deletes (Data Hygiene work orders) for data cleansing and minimisation,\n"
        "as Adobe advises; a consent opt-out and a dataset expiration. Validate them:",
    )
    _seed_repository(demo, examples, schemas)
    demo.run("validate")

    demo.step(
        "A pull request with a mistake",
        "A former customer asks for erasure. Priya adds requests/record-deletes/\n"
        "jira-12399.yaml on a branch, out of habit as a record delete. CI runs the\n"
        "pull-request check against main; in GitHub the findings appear on the lines\n"
        "(--format github). Identities are masked in every message.",
    )
    demo.git("checkout", "-q", "-b", "jira-12399")
    received = (_today() - timedelta(days=2)).isoformat()
    draft = demo.repo / "requests/record-deletes/jira-12399.yaml"
    draft.write_text(FIRST_DRAFT.format(received=received))
    demo.git("add", "-A")
    demo.git("commit", "-q", "-m", "Add JIRA-12399 erasure")
    demo.run("validate", "--base", "main", expect=1)

    demo.step(
        "The fix",
        "As the warning says, a data subject's erasure is a privacy job: Priya refiles it\n"
        "as one under GDPR (its deadline runs from receivedAt), fixes the email, and\n"
        "amends her commit.",
    )
    path = demo.repo / "requests/privacy-jobs/jira-12399.yaml"
    demo.git("rm", "-q", str(draft.relative_to(demo.repo)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PRIVACY_JOB.format(received=received))
    demo.git("add", "-A")
    demo.git("commit", "-q", "--amend", "-m", "Add JIRA-12399 erasure (GDPR privacy job)")
    demo.run("validate", "--base", "main")

    demo.step(
        "The plan in the pull request",
        "The pull-request job has no credentials (forks must not reach them): it plans\n"
        "from the ledger alone and posts this markdown in the job summary, each data\n"
        "subject's request with the day it is due. Applying from the branch is refused:\n"
        "apply runs only on main, on what review let through.",
    )
    demo.run("plan", "--offline", "--format", "markdown")
    demo.run("apply", "--auto-approve", expect=1)

    demo.step(
        "Review and merge",
        "Rui reviews the diff and the plan, approves, and merges into main.",
    )
    reviewed = demo.git("rev-parse", "jira-12399").strip()
    demo.git("checkout", "-q", "main")
    demo.git(
        "merge",
        "-q",
        "--no-ff",
        "jira-12399",
        "-m",
        "Merge pull request #1 from priya/jira-12399",
        who="rui",
    )
    demo.git("push", "-q", "origin", "main", who="rui")
    approvals = _approvals_file(demo, reviewed, demo.git("rev-parse", "HEAD").strip())

    demo.step(
        "Apply on merge",
        "CI on main plans against Adobe and applies with --auto-approve. Each work order\n"
        "and privacy job carries its request's name as a tag, so a lost response can\n"
        "never cause a second deletion. The ledger records what was applied, and who\n"
        "approved it (the reviews the workflow fetched from GitHub: here a file written\n"
        "as it writes one), and is committed back.",
    )
    demo.run("apply", "--auto-approve", "--commit", "--approvals", str(approvals))
    demo.git("push", "-q", "origin", "main")
    demo.say(demo.git("log", "--format=   %h %an: %s", "-n", "3"))

    demo.step("Nothing twice", "Running apply again changes nothing at Adobe:")
    demo.run("apply", "--auto-approve", "--commit")

    demo.step(
        "Status over time",
        "Privacy jobs and deletions take hours to days at Adobe. A scheduled job refreshes\n"
        "their status into the ledger, and each data subject's request shows whether it\n"
        "was answered in time. (The emulator's clock is moved forward 1 hour here.)",
    )
    advance(3600)
    demo.run("status", "--commit")

    demo.step(
        "Renaming a request",
        "Only a work order's displayName and description can change once applied. Priya\n"
        "renames the load-test cleansing in a pull request; the plan shows one update,\n"
        "and apply sends one PUT.",
    )
    demo.git("checkout", "-q", "-b", "rename-qa")
    cleansing = demo.repo / CLEANSING
    text = cleansing.read_text().replace(
        "displayName: Load-test identities in prod (DATA-2231)",
        "displayName: Load test LT-14 cleanup (DATA-2231)",
    )
    cleansing.write_text(text)
    demo.git("commit", "-q", "-am", "Clarify the DATA-2231 display name")
    demo.run("validate", "--base", "main")
    demo.git("checkout", "-q", "main")
    demo.git("merge", "-q", "--no-ff", "rename-qa", "-m", "Merge rename", who="rui")
    demo.run("plan")
    demo.run("apply", "--auto-approve", "--commit")

    demo.step(
        "The audit trail",
        "A year later an auditor asks about JIRA-12399: who asked, who approved, when it\n"
        "was sent to Adobe, with what ids, and what became of it. (Also --format csv|json.)",
    )
    advance(30 * 24 * 3600)
    demo.run("status", "--commit")
    demo.run("audit", "jira-12399")

    demo.say("")
    click.secho("Done.", bold=True)
    click.echo(f"The demo repository is in {demo.repo}; `git log` there shows the history.")
    return workdir


@contextmanager
def demo_environment(url: str) -> Iterator[None]:
    """Point the tool at the emulator with the demo's credentials, restoring after."""
    values = {
        "ADOBE_IMS_URL": url,
        "ADOBE_PLATFORM_URL": url,
        "ADOBE_CLIENT_ID": DEMO_CLIENT_ID,
        "ADOBE_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "ADOBE_ORG_ID": DEMO_ORG_ID,
        "ADOBE_SANDBOX_NAME": "prod",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
