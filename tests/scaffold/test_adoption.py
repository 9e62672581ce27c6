"""Adopting the tool end to end: a repository made by `reconciler init`, run by its own workflows.

A bare remote whose main refuses direct pushes stands in for GitHub with branch
protection (a pre-receive hook: only a reviewed merge moves main). Each CI job is a
fresh clone, and runs the steps of the workflow files `init` wrote, as the runner
would run them (tests/scaffold/test_workflows.run_step), against the emulator.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RECORD_DELETE, git, write, writes
from tests.git.test_gitops_loop import as_
from tests.git.test_ledger_branch import REVIEWED, protect_main
from tests.scaffold.test_workflows import (
    at_the_emulator,
    run_step,
    secrets_context,
    step_running,
)

ROOT = Path(__file__).resolve().parents[2]
ORG = "0123456789ABCDEF01234567@AdobeOrg"
BRANCH = "reconciler-ledger"
EXAMPLES = {
    "jira-12345",
    "gdpr-2026-11-access-delete",
    "ccpa-2026-11-opt-out",
    "campaign-events-2025-retention",
}


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return as_(env or {}, cwd, *args)


def workflow(clone: Path, name: str) -> dict[str, Any]:
    jobs = yaml.safe_load((clone / ".github/workflows" / name).read_text())["jobs"]
    (job,) = [v for k, v in jobs.items() if k != "alerts"]
    assert isinstance(job, dict)
    return job


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s.get("name") == name]
    return found


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def started(run, tmp_path: Path) -> Path:
    """The repository `reconciler init` starts, committed."""
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    made = run("-C", str(seed), "init", "--org-id", ORG, "--sandbox", "prod")
    assert made.exit_code == 0, made.output
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Start privacy requests")
    return seed


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if not found.exists():
        pytest.skip(f"{name} is not installed (make installs it from the lock)")
    return str(found)


def test_the_workflows_init_writes_pass_githubs_schema_and_zizmor(started: Path) -> None:
    workflows = sorted(str(p) for p in (started / ".github/workflows").glob("*.yml"))
    assert len(workflows) == 3
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        [tool("zizmor"), "-q", "--offline", "--min-severity", "high", *workflows],
        capture_output=True,
        text=True,
        cwd=started,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.fixture
def origin(started: Path, tmp_path: Path) -> Path:
    """GitHub, with main protected, holding what init started."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    protect_main(remote)
    git(started, "remote", "add", "origin", str(remote))
    sh(started, "push", "-q", "origin", "main", env=REVIEWED)
    return remote


def checkout(origin: Path, where: Path) -> Path:
    """What actions/checkout with fetch-depth 0 leaves: every branch as origin/*."""
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


def run_apply_job(adobe: Any, clone: Path, context: dict[str, str], before: str) -> str:
    """The apply job's steps, run on a push whose previous tip was ``before``."""
    job = workflow(clone, "reconciler-apply.yml")
    pushed_after = context | {"github.event.before": before}
    ok(run_step(step(job, "Validate the requests"), clone, pushed_after))
    applied = ok(run_step(at_the_emulator(step(job, "Apply"), adobe), clone, context))
    pushed = ok(run_step(step(job, "Push the ledger"), clone, context))
    return applied + pushed


def test_adopting_it_with_a_protected_main(
    adobe: Any, monkeypatch: pytest.MonkeyPatch, origin: Path, tmp_path: Path
) -> None:
    context = secrets_context(adobe, monkeypatch)
    start = sh(origin, "rev-parse", "main")

    # The merge of init's commit starts the apply job: the four examples are applied and
    # the ledger goes to its own branch; main does not move and could not.
    first = run_apply_job(adobe, checkout(origin, tmp_path / "ci-1"), context, "0" * 40)
    assert "4 created" in first and f"Ledger pushed to origin/{BRANCH}" in first
    assert sh(origin, "rev-parse", "main") == start
    files = sh(origin, "ls-tree", "-r", "--name-only", BRANCH).splitlines()
    assert files == sorted(f"ledger/{name}.json" for name in EXAMPLES)

    # A pull request adds a record delete. Its check, a fresh checkout without secrets,
    # finds the change relevant, validates against the base and plans from the ledger
    # branch: one create, the four applied requests unchanged.
    pr = checkout(origin, tmp_path / "pr")
    sh(pr, "checkout", "-q", "-b", "add-req-a")
    write(pr, "requests/record-deletes/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    sh(pr, "add", "-A")
    sh(pr, "commit", "-qm", "Add req-a")
    check = workflow(pr, "reconciler-check.yml")
    base = sh(pr, "rev-parse", "origin/main")
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    summary.write_text("")
    pr_context = {"github.event.pull_request.base.sha": base, "github.base_ref": "main"}
    files_env = {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    ok(run_step(check["steps"][1], pr, pr_context, **files_env))
    assert output.read_text() == "relevant=true\n"
    ok(run_step(step(check, "Validate the requests"), pr, pr_context))
    plan = step_running(check, "reconciler plan")
    ok(run_step(plan, pr, pr_context, RUNNER_TEMP=str(tmp_path), **files_env))
    text = summary.read_text()
    assert "**create** | RecordDelete | `req-a`" in text
    assert "1 to create, 0 to update, 4 unchanged" in text

    # The review merges it: the only way main moves.
    sh(pr, "push", "-q", "origin", "add-req-a")
    merger = checkout(origin, tmp_path / "merger")
    sh(merger, "merge", "-q", "--no-ff", "origin/add-req-a", "-m", "Merge req-a")
    sh(merger, "push", "-q", "origin", "main", env=REVIEWED)
    merged = sh(origin, "rev-parse", "main")

    second = run_apply_job(adobe, checkout(origin, tmp_path / "ci-2"), context, start)
    assert "1 created" in second
    assert sh(origin, "rev-parse", "main") == merged
    # Tagged with the scope init wrote, decoded here from its documented form.
    scope = yaml.safe_load(sh(origin, "show", "main:reconciler.yaml"))["scope"]
    assert isinstance(scope, str) and re.fullmatch(r"[a-z0-9]{4,16}", scope)
    tags = [o["description"].rsplit(" ", 1)[-1] for o in adobe.admin.workorders()]
    assert sorted(tags) == [f"[reconciler:{scope}/jira-12345]", f"[reconciler:{scope}/req-a]"]

    # Another run sends nothing and pushes nothing.
    before = len(writes(adobe))
    ledger_tip = sh(origin, "rev-parse", BRANCH)
    third = run_apply_job(adobe, checkout(origin, tmp_path / "ci-3"), context, merged)
    assert "No changes" in third and "Ledger unchanged" in third
    assert len(writes(adobe)) == before
    assert sh(origin, "rev-parse", BRANCH) == ledger_tip

    # The scheduled status job, then an auditor's fresh clone.
    adobe.admin.advance(5 * 3600)
    status_clone = checkout(origin, tmp_path / "status")
    job = workflow(status_clone, "reconciler-status.yml")
    refresh = at_the_emulator(step(job, "Apply what is waiting and refresh statuses"), adobe)
    refreshed = ok(run_step(refresh, status_clone, context))
    assert "req-a" in refreshed and "completed" in refreshed
    ok(run_step(step(job, "Push the ledger"), status_clone, context))
    report = ok(
        run_step(
            step(job, "Report requests not applied yet"),
            status_clone,
            context,
            GITHUB_STEP_SUMMARY=str(summary),
        )
    )
    assert "::warning" not in report
    assert sh(origin, "rev-parse", "main") == merged

    auditor = checkout(origin, tmp_path / "auditor")
    audit = subprocess.run(
        [*reconciler(), "-C", str(auditor), "audit", "req-a", "--format", "json"],
        capture_output=True,
        text=True,
    )
    events = [e["event"] for e in json.loads(ok(audit))["requests"][0]["events"]]
    assert events[:2] == ["declared", "merged"]
    assert "applied" in events and events[-1] == "status"
    entry = json.loads(sh(origin, "show", f"{BRANCH}:ledger/req-a.json"))
    assert entry["status"]["value"] == "completed"
    assert "@example.com" not in sh(origin, "log", "-p", BRANCH)
    shutil.rmtree(tmp_path / "ci-1")  # nothing in a checkout is needed afterwards


def reconciler() -> list[str]:
    return [sys.executable, "-m", "reconciler"]


def test_an_action_pinned_to_a_commit_needs_no_exception(run, tmp_path: Path) -> None:
    pinned = "my-org/reconciler@" + "3f" * 20
    made = run("-C", str(tmp_path), "init", "--org-id", ORG, "--action", pinned)
    assert made.exit_code == 0, made.output
    policy = yaml.safe_load((tmp_path / ".github/zizmor.yml").read_text())
    assert policy["rules"]["unpinned-uses"]["config"]["policies"] == {"*": "hash-pin"}
    default = tmp_path / "default"
    assert run("-C", str(default), "init").exit_code == 0
    policies = yaml.safe_load((default / ".github/zizmor.yml").read_text())["rules"]
    assert policies["unpinned-uses"]["config"]["policies"] == {
        "aep-privacy-reconciler/reconciler": "ref-pin",
        "*": "hash-pin",
    }
    workflows = sorted(str(p) for p in (tmp_path / ".github/workflows").glob("*.yml"))
    audit = subprocess.run(
        [tool("zizmor"), "-q", "--offline", "--min-severity", "high", *workflows],
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
