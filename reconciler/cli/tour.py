"""The guided demo: the whole workflow against the embedded emulator, in a throwaway repo.

Every step runs the real command (in this process) in a real git repository
with a bare remote, against the emulator over real HTTP; the narration says
what a user would see in a pull request or in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from reconciler.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID

PEOPLE = {
    "priya": ("Priya Privacy-Engineer", "priya@example.com"),
    "rui": ("Rui Reviewer", "rui@example.com"),
}
NEW_REQUEST = """\
# yaml-language-server: $schema=../../schemas/request.schema.json
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: jira-12399
  ticket: JIRA-12399
spec:
  datasetId: ALL
  displayName: Delete a former customer (JIRA-12399)
  description: Customer asked for erasure by email on 2026-11-20.
  identities:
    - namespace: {code: email}
      id: margaret.cavendish@example.com
    - namespace: {code: email}
      id: margaret.cavendish@example
"""


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


def _seed_repository(demo: Demo, examples: Path, schemas: Path) -> None:
    demo.repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(demo.remote)], check=True)
    demo.git("init", "-q", "-b", "main")
    shutil.copytree(examples, demo.repo / "requests")
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
        "Each request is a YAML file under requests/: record deletes (Data Hygiene work\n"
        "orders), privacy jobs (access/delete) and consent opt-outs. Validate them:",
    )
    _seed_repository(demo, examples, schemas)
    demo.run("validate")

    demo.step(
        "A pull request with a mistake",
        "Priya adds requests/record-deletes/jira-12399.yaml on a branch. CI runs the\n"
        "pull-request check against main; in GitHub the findings appear on the lines\n"
        "(--format github). Identities are masked in every message.",
    )
    demo.git("checkout", "-q", "-b", "jira-12399")
    path = demo.repo / "requests/record-deletes/jira-12399.yaml"
    path.write_text(NEW_REQUEST)
    demo.git("add", "-A")
    demo.git("commit", "-q", "-m", "Add JIRA-12399 erasure")
    demo.run("validate", "--base", "main", expect=1)

    demo.step(
        "The fix",
        "Priya fixes the email and, since the request really is for every dataset,\n"
        "confirms it with `allowAllDatasets: true`, which the reviewer sees in the diff.",
    )
    text = NEW_REQUEST.replace("margaret.cavendish@example\n", "m.cavendish@example.org\n")
    text = text.replace(
        "  ticket: JIRA-12399\n", "  ticket: JIRA-12399\n  allowAllDatasets: true\n"
    )
    path.write_text(text)
    demo.git("commit", "-q", "-am", "Fix JIRA-12399: valid email, confirm ALL datasets")
    demo.run("validate", "--base", "main")

    demo.step(
        "The plan in the pull request",
        "The pull-request job has no credentials (forks must not reach them): it plans\n"
        "from the ledger alone and posts this markdown in the job summary. Applying from\n"
        "the branch is refused: apply runs only on main, on what review let through.",
    )
    demo.run("plan", "--offline", "--format", "markdown")
    demo.run("apply", "--auto-approve", expect=1)

    demo.step(
        "Review and merge",
        "Rui reviews the diff and the plan, approves, and merges into main.",
    )
    demo.git("checkout", "-q", "main")
    demo.git("merge", "-q", "--no-ff", "jira-12399", "-m", "Merge JIRA-12399 erasure", who="rui")
    demo.git("push", "-q", "origin", "main", who="rui")

    demo.step(
        "Apply on merge",
        "CI on main plans against Adobe and applies with --auto-approve. Each work order\n"
        "carries its request's name as a tag, so a lost response can never cause a\n"
        "second deletion. The ledger records what was applied and is committed back.",
    )
    demo.run("apply", "--auto-approve", "--commit")
    demo.git("push", "-q", "origin", "main")
    demo.say(demo.git("log", "--format=   %h %an: %s", "-n", "3"))

    demo.step("Nothing twice", "Running apply again changes nothing at Adobe:")
    demo.run("apply", "--auto-approve", "--commit")

    demo.step(
        "Status over time",
        "Deletions take hours to days at Adobe. A scheduled job refreshes their status\n"
        "into the ledger. (The emulator's clock is moved forward 1 hour here.)",
    )
    advance(3600)
    demo.run("status", "--commit")

    demo.step(
        "Renaming a request",
        "Only displayName and description can change once applied. Priya renames one in\n"
        "a pull request; the plan shows one update, and apply sends one PUT.",
    )
    demo.git("checkout", "-q", "-b", "rename-12399")
    text = path.read_text().replace(
        "displayName: Delete a former customer (JIRA-12399)",
        "displayName: Erasure for JIRA-12399 (verified)",
    )
    path.write_text(text)
    demo.git("commit", "-q", "-am", "Clarify the JIRA-12399 display name")
    demo.run("validate", "--base", "main")
    demo.git("checkout", "-q", "main")
    demo.git("merge", "-q", "--no-ff", "rename-12399", "-m", "Merge rename", who="rui")
    demo.run("plan")
    demo.run("apply", "--auto-approve", "--commit")

    demo.step(
        "The audit trail",
        "A year later an auditor asks about JIRA-12399: who asked, who approved, when it\n"
        "was sent to Adobe, with what id, and what became of it. (Also --format csv|json.)",
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
