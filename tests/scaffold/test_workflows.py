"""The GitHub Actions workflows and the pre-commit hook definition.

Their structure is asserted on the parsed YAML. The scripts of their steps are then run for
real, as the runner would run them: the pull-request check in a repository with a base
branch, apply and status against the emulator with the ledger pushed to a bare remote that
moved meanwhile. The linters that `make lint` runs on them run here too, one file at a time,
so that a failure names the file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CONSENT, RECORD_DELETE, git, write
from tests.ledger_helpers import record_applied

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
PR, APPLY, STATUS = "reconciler-check.yml", "reconciler-apply.yml", "reconciler-status.yml"
ADOBE_SECRETS = {
    "ADOBE_CLIENT_ID",
    "ADOBE_CLIENT_SECRET",
    "ADOBE_ORG_ID",
    "ADOBE_SANDBOX_NAME",
    "RECONCILER_AGE_KEY",
}
# Set in the workflow itself, where a pull request cannot change them (reconciler.yaml can).
ADOBE_ENDPOINTS = {
    "ADOBE_IMS_URL": "https://ims-na1.adobelogin.com",
    "ADOBE_PLATFORM_URL": "https://platform.adobe.io",
}
PINNED_LINE = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# This repository's own action, from the checkout being tested.
LOCAL_ACTION = "uses: ./ # zizmor: ignore[self-repository]"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping; YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True."""
    value = workflow["on"] if "on" in workflow else workflow[True]
    assert isinstance(value, dict)
    return value


def the_job(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow's main job: its only one, or (status) the one before the alerts job."""
    jobs = {k: v for k, v in workflow["jobs"].items() if k != "alerts"}
    (job,) = jobs.values()
    return job


def step_running(job: dict[str, Any], command: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if command in s.get("run", "")]
    return step


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_three_workflows_exist() -> None:
    assert {APPLY, PR, STATUS} <= set(all_workflows())
    assert not list(WORKFLOWS.glob("*.yaml")), "use .yml: `make lint` globs *.yml"


def test_they_are_the_templates_init_writes() -> None:
    """One source for both: `make workflows` renders these from init's templates."""
    from reconciler.scaffold.workflows import own_workflows

    for name, text in own_workflows().items():
        assert (WORKFLOWS / name).read_text(encoding="utf-8") == text, f"{name}: make workflows"


# --- the pull-request check --------------------------------------------------------------


def test_pr_check_runs_on_every_pull_request() -> None:
    """A required check must report on every pull request: no `paths:` on the trigger."""
    on = triggers(load(PR))
    assert on == {"pull_request": None}
    job = the_job(load(PR))
    first, *rest = [s for s in job["steps"] if "uses" not in s or "checkout" not in s["uses"]]
    assert first["id"] == "changes"
    assert all(s["if"].startswith("${{ steps.changes.outputs.relevant == 'true'") for s in rest)


def test_pr_check_reads_only_and_holds_no_secret() -> None:
    workflow = load(PR)
    assert workflow["permissions"] == {}
    job = the_job(workflow)
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    text = (WORKFLOWS / PR).read_text(encoding="utf-8")
    assert "secrets." not in text
    assert "environment" not in job
    # The token reaches the comment step only, and only on pull requests from this repository.
    comment = step_running(job, "gh api")
    assert comment["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "head.repo.full_name == github.repository" in comment["if"]
    assert comment["continue-on-error"] is True
    others = yaml.safe_dump([s for s in job["steps"] if s is not comment])
    assert "github.token" not in others
    (checkout,) = steps_using(job, "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False
    assert checkout["with"]["fetch-depth"] == 0, "--base needs the base branch's history"


def test_pr_check_validates_against_the_base_and_plans_offline() -> None:
    job = the_job(load(PR))
    validate = step_running(job, "reconciler validate")
    assert validate["run"] == 'reconciler validate --base "origin/${BASE_REF}" --format github'
    assert validate["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    plan = step_running(job, "reconciler plan")
    assert plan["run"].startswith('reconciler plan --offline --format markdown > "$RUNNER_TEMP')
    assert "env" not in plan
    (install,) = [s for s in job["steps"] if s.get("uses") == "./"]
    names = [s["name"] for s in job["steps"]]
    assert names.index(install["name"]) < names.index(validate["name"])


# --- apply and status ----------------------------------------------------------------------


def test_apply_runs_on_pushes_to_main_and_by_hand() -> None:
    on = triggers(load(APPLY))
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert set(on["push"]["paths"]) == {"requests/**", "reconciler.yaml", "ledger/**"}
    assert "ledger/**" not in _apply_trigger_with_a_ledger_branch()


def _apply_trigger_with_a_ledger_branch() -> list[str]:
    from reconciler.scaffold.workflows import render_workflows

    doc = yaml.safe_load(render_workflows("o/r@v1", "reconciler-ledger")[APPLY])
    return list(triggers(doc)["push"]["paths"])


def test_status_runs_on_a_schedule_and_by_hand() -> None:
    on = triggers(load(STATUS))
    assert set(on) == {"schedule", "workflow_dispatch"}
    (entry,) = on["schedule"]
    minute, hour, *rest = entry["cron"].split()
    assert minute.isdigit() and hour == "*/6" and rest == ["*", "*", "*"]


def test_apply_and_status_share_one_uncancellable_concurrency_group() -> None:
    for name in (APPLY, STATUS):
        assert load(name)["concurrency"] == {
            "group": "reconciler-apply",
            "cancel-in-progress": False,
        }, name


@pytest.mark.parametrize(
    ("name", "permissions"),
    [
        # Apply also reads who approved the pull requests that brought the requests.
        pytest.param(APPLY, {"contents": "write", "pull-requests": "read"}, id="apply"),
        pytest.param(STATUS, {"contents": "write"}, id="status"),
    ],
)
def test_only_the_job_may_write_contents(name: str, permissions: dict[str, str]) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    assert the_job(workflow)["permissions"] == permissions


@pytest.mark.parametrize(
    ("name", "command"),
    [
        pytest.param(
            APPLY,
            'if [ -f "$RUNNER_TEMP/approvals.json" ]; then\n'
            '  reconciler apply --auto-approve --commit --approvals "$RUNNER_TEMP/approvals.json"\n'
            "else\n"
            '  echo "::warning title=No approvals::The approvals could not be fetched: who" \\\n'
            '    "approved is not recorded in the ledger this time."\n'
            "  reconciler apply --auto-approve --commit\n"
            "fi\n",
            id="apply",
        ),
        pytest.param(
            STATUS,
            "code=0\n"
            "reconciler apply --auto-approve --commit || code=$?\n"
            "reconciler status --commit || code=$?\n"
            'exit "$code"\n',
            id="status",
        ),
    ],
)
def test_secrets_reach_the_one_step_that_calls_adobe(name: str, command: str) -> None:
    workflow = load(name)
    job = the_job(workflow)
    step = step_running(job, "reconciler apply --auto-approve --commit")
    assert step["run"] == command
    secrets = {key: f"${{{{ secrets.{key} }}}}" for key in ADOBE_SECRETS}
    assert step["env"] == secrets | ADOBE_ENDPOINTS
    others = [workflow.get("env"), job.get("env"), *(s for s in job["steps"] if s is not step)]
    # The age key also reaches apply's validation, which compares encrypted requests with
    # the ledger; no Adobe credential goes anywhere else.
    leaked = re.findall(r"secrets\.(\w+)", yaml.safe_dump(others))
    assert leaked == (["RECONCILER_AGE_KEY"] if name == APPLY else [])


@pytest.mark.parametrize("name", [APPLY, STATUS])
def test_the_token_reaches_the_push_step_only(name: str) -> None:
    """...and, in apply, the step that reads the approvals from GitHub, which holds no
    other secret and makes GET calls only."""
    job = the_job(load(name))
    (checkout,) = steps_using(job, "actions/checkout")
    assert checkout["with"] == {"ref": "main", "fetch-depth": 0, "persist-credentials": False}
    push = step_running(job, "reconciler push")
    assert push["run"] == "reconciler push"
    assert push["env"] == {"LEDGER_PUSH_TOKEN": "${{ github.token }}"}
    assert push["if"] == "${{ !cancelled() }}", "what a partly failed run recorded must land"
    names = [s.get("name") for s in job["steps"]]
    assert names.index(push["name"]) > names.index(step_running(job, " --commit")["name"])
    holders = [push]
    if name == APPLY:
        fetch = step_running(job, "gh api")
        holders.append(fetch)
        assert fetch["env"] == {
            "GH_TOKEN": "${{ github.token }}",
            "REPOSITORY": "${{ github.repository }}",
        }
        assert "reconciler apply" not in fetch["run"] and "reconciler push" not in fetch["run"]
        assert names.index(fetch["name"]) < names.index(step_running(job, "--approvals")["name"])
        calls = re.findall(r"gh api [^\n]*", fetch["run"])
        assert len(calls) == 4
        for call in calls:
            assert not re.search(r" (-X|--method|-f|-F|--field|--raw-field|--input)\b", call)
    others = yaml.safe_dump([s for s in job["steps"] if all(s is not h for h in holders)])
    assert "github.token" not in others


def test_apply_comment_explains_why_it_does_not_trigger_itself() -> None:
    text = (WORKFLOWS / APPLY).read_text(encoding="utf-8")
    assert "GITHUB_TOKEN do not trigger new workflow runs" in text
    assert "[skip ci]" in text


# --- every workflow ------------------------------------------------------------------------


@pytest.mark.parametrize("name", all_workflows())
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    lines = [
        line.strip().removeprefix("- ")
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]
    assert lines, name
    for line in lines:
        assert line == LOCAL_ACTION or PINNED_LINE.fullmatch(line), f"{name}: {line}"


@pytest.mark.parametrize("name", all_workflows())
def test_every_job_has_a_timeout_and_its_own_permissions(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job["timeout-minutes"], int), job_id
        assert 0 < job["timeout-minutes"] <= 60, job_id
        assert "permissions" in job, job_id
        assert "write-all" not in str(job["permissions"]), job_id


@pytest.mark.parametrize("name", all_workflows())
def test_no_expression_is_expanded_inside_a_script(name: str) -> None:
    """Expressions go through `env:`, so that no value can inject shell (template-injection)."""
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"


# --- the pre-commit hooks ------------------------------------------------------------------


def test_pre_commit_hooks_run_validate() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"reconciler-validate", "reconciler-validate-all"}
    for hook in hooks.values():
        assert hook["entry"] == "reconciler validate"
        assert hook["language"] == "python"
        assert hook["name"]
        pattern = re.compile(hook["files"])
        assert pattern.search("requests/record-deletes/jira-12345.yaml")
        assert pattern.search("requests/consent/a.yml")
        assert not pattern.search("ledger/jira-12345.json")
        assert not pattern.search("docs/requests/a.yaml")
    assert hooks["reconciler-validate"]["pass_filenames"] is True
    assert hooks["reconciler-validate-all"]["pass_filenames"] is False
    assert hooks["reconciler-validate-all"]["always_run"] is False


def test_pre_commit_hook_entry_checks_the_files_pre_commit_passes(tmp_path: Path) -> None:
    """What `pass_filenames: true` runs: the entry, then paths relative to the root."""
    write(tmp_path, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(tmp_path, "requests/req-b.yml", CONSENT.format(name="req-b"))
    bad = RECORD_DELETE.format(name="req-c").replace("b@example.com", "not-an-email")
    write(tmp_path, "requests/req-c.yaml", bad)
    entry = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))[0]["entry"].split()
    assert entry[0] == "reconciler"

    def hook(*files: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "reconciler", *entry[1:], *files]
        return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)

    good = hook("requests/req-a.yaml", "requests/req-b.yml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "2 file(s) valid" in good.stdout
    failed = hook("requests/req-a.yaml", "requests/req-c.yaml")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "requests/req-c.yaml:" in failed.stdout
    assert "requests/req-a.yaml:" not in failed.stdout


# --- the linters `make lint` runs ----------------------------------------------------------


def tool(name: str) -> str:
    """The executable installed next to this interpreter, else on PATH; skip if absent."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it comes with `pip install -e '.[dev]'`)")
    return found


def check(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("name", all_workflows())
def test_check_jsonschema_accepts_the_workflow(name: str) -> None:
    exe = tool("check-jsonschema")
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = check([exe, "--builtin-schema", schema, f".github/workflows/{name}"])
        assert result.returncode == 0, f"{name} ({schema}):\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", [f".github/workflows/{n}" for n in all_workflows()])
def test_zizmor_finds_nothing_in_the_workflow(path: str) -> None:
    """All severities, offline, regular persona: stricter than the gate in `make lint`."""
    result = check([tool("zizmor"), "-q", "--offline", "--strict-collection", path])
    assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"


def test_zizmor_checks_the_pre_commit_hook_definitions(tmp_path: Path) -> None:
    exe = tool("zizmor")
    ok = check([exe, "-q", "--offline", "--strict-collection", ".pre-commit-hooks.yaml"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(HOOKS.read_text(encoding="utf-8").replace("entry:", "entryy:"))
    result = check([exe, "-q", "--offline", "--strict-collection", str(broken)])
    assert result.returncode != 0
    assert "entry" in result.stdout + result.stderr


BAD_WORKFLOW = """\
name: t
on: pull_request
permissions: {}
jobs:
  t:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions:
      contents: read
    steps:
"""


@pytest.mark.parametrize(
    ("step", "fails"),
    [
        pytest.param(
            '      - run: echo "${{ github.event.pull_request.title }}"\n',
            True,
            id="high-template-injection-fails",
        ),
        pytest.param(
            "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n",
            False,
            id="medium-artipacked-passes",
        ),
    ],
)
def test_the_zizmor_gate_fails_on_high_findings_only(
    tmp_path: Path, step: str, fails: bool
) -> None:
    """The exact zizmor flags of `make lint`, on a workflow with one finding."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    flags = "-q --offline --min-severity high --strict-collection"
    assert f"$(BIN)/zizmor {flags} " in makefile
    workflow = tmp_path / "t.yml"
    workflow.write_text(BAD_WORKFLOW + step, encoding="utf-8")
    exe = tool("zizmor")
    found = check([exe, "-q", "--offline", str(workflow)])
    assert found.returncode != 0, "the sample must have a finding"
    gated = check([exe, *flags.split(), str(workflow)])
    assert (gated.returncode != 0) is fails, gated.stdout + gated.stderr


# --- the steps, run for real ---------------------------------------------------------------


def resolve(env: dict[str, str], context: dict[str, str]) -> dict[str, str]:
    """A step's `env:` with each ${{ expression }} looked up in ``context``."""
    return {key: EXPRESSION.sub(lambda m: context[m.group(1)], value) for key, value in env.items()}


def run_step(
    step: dict[str, Any], cwd: Path, context: dict[str, str] | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run a step's script as a runner with `shell: bash` does, in ``cwd``.

    `reconciler` is this interpreter's `python -m reconciler`; the step's own `env:` is
    resolved from ``context`` and replaces any inherited variable of the same name.
    """
    env = {**os.environ, **extra, **resolve(step.get("env", {}), context or {})}
    env.setdefault("RUNNER_TEMP", str(cwd.parent))
    prelude = f'reconciler() {{ "{sys.executable}" -m reconciler "$@"; }}\n'
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", prelude + step["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def pull_request(repo: Path, tmp_path: Path) -> Path:
    """A clone checked out on a pull request's branch, with origin/main as its base."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare req-a")
    git(tmp_path, "clone", "-q", "--bare", str(repo), "origin.git")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "origin.git", str(clone))
    git(clone, "checkout", "-q", "-b", "feature")
    write(clone, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "declare req-b")
    return clone


def test_pr_check_steps_pass_a_valid_pull_request(pull_request: Path, tmp_path: Path) -> None:
    job = the_job(load(PR))
    context = {"github.base_ref": "main"}
    validate = run_step(step_running(job, "reconciler validate"), pull_request, context)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "::error" not in validate.stdout
    summary = tmp_path / "summary.md"
    plan = run_step(
        step_running(job, "reconciler plan"), pull_request, GITHUB_STEP_SUMMARY=str(summary)
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### Plan")
    assert "`req-a`" in text and "`req-b`" in text


def test_pr_check_annotates_an_invalid_file(pull_request: Path) -> None:
    bad = RECORD_DELETE.format(name="req-c").replace("b@example.com", "not-an-email")
    write(pull_request, "requests/req-c.yaml", bad)
    git(pull_request, "add", "-A")
    git(pull_request, "commit", "-qm", "declare req-c")
    step = step_running(the_job(load(PR)), "reconciler validate")
    result = run_step(step, pull_request, {"github.base_ref": "main"})
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert errors and all("file=requests/req-c.yaml,line=" in line for line in errors)
    assert "not-an-email" not in result.stdout


def test_pr_check_catches_a_change_to_a_request_on_the_base(pull_request: Path) -> None:
    """--base works on the checkout the workflow makes: origin/<base_ref> is there."""
    git(pull_request, "checkout", "-q", "main")
    record_applied(pull_request, "req-a", "requests/req-a.yaml")
    git(pull_request, "add", "-A")
    git(pull_request, "commit", "-qm", "apply req-a")
    git(pull_request, "push", "-q", "origin", "main")
    git(pull_request, "checkout", "-q", "feature")
    git(pull_request, "rebase", "-q", "main")
    path = pull_request / "requests/req-a.yaml"
    path.write_text(path.read_text().replace("a@example.com", "z@example.com"))
    git(pull_request, "commit", "-qam", "edit req-a")
    step = step_running(the_job(load(PR)), "reconciler validate")
    result = run_step(step, pull_request, {"github.base_ref": "main"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "::error file=requests/req-a.yaml" in result.stdout


@pytest.fixture
def runner(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(origin, runner): a bare main with one request, and a full clone of it, as checked out."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare req-a")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    checkout = tmp_path / "runner"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    return origin, checkout


def at_the_emulator(step: dict[str, Any], adobe: Any) -> dict[str, Any]:
    """A step that calls Adobe, with the endpoints it sets to Adobe's replaced by the
    emulator's: the workflow takes them from nothing a test (or a pull request) can set."""
    assert {k: step["env"][k] for k in ADOBE_ENDPOINTS} == ADOBE_ENDPOINTS
    emulator = adobe.env()
    return {**step, "env": {**step["env"], **{k: emulator[k] for k in ADOBE_ENDPOINTS}}}


def secrets_context(adobe: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The repository's secrets, pointing at the emulator; removed from the inherited env."""
    env = adobe.env()
    values = {
        "ADOBE_CLIENT_ID": env["ADOBE_CLIENT_ID"],
        "ADOBE_CLIENT_SECRET": env["ADOBE_CLIENT_SECRET"],
        "ADOBE_ORG_ID": env["ADOBE_ORG_ID"],
        "ADOBE_SANDBOX_NAME": "prod",
        "RECONCILER_AGE_KEY": "",  # a secret that is not set reads as empty
    }
    for key in values:
        monkeypatch.delenv(key, raising=False)
    return {f"secrets.{key}": value for key, value in values.items()} | {
        "github.token": "not-a-real-token"
    }


def test_apply_steps_create_commit_and_push_over_a_moved_main(
    adobe: Any, monkeypatch: pytest.MonkeyPatch, repo: Path, runner: tuple[Path, Path]
) -> None:
    origin, checkout = runner
    declared = git(origin, "rev-parse", "main").strip()
    job = the_job(load(APPLY))
    context = secrets_context(adobe, monkeypatch)

    first_push = {**context, "github.event.before": "0" * 40}  # main was new
    validate = run_step(step_running(job, "reconciler validate"), checkout, first_push)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    apply = run_step(
        at_the_emulator(step_running(job, "reconciler apply"), adobe), checkout, context
    )
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "Ledger committed" in apply.stdout

    # A pull request merges while apply runs: main moves, the first push is rejected.
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare req-b")
    git(repo, "push", "-q", "origin", "main")
    merged = git(origin, "rev-parse", "main").strip()

    push = run_step(step_running(job, "reconciler push"), checkout, context)
    assert push.returncode == 0, push.stdout + push.stderr
    assert "rebased" in push.stdout

    # The intents written before sending, then the ledger, both rebased onto the merge.
    log = git(origin, "log", "-3", "--format=%s%x00%P", "main").splitlines()
    (subject, parent), (intents, grandparent), _ = (line.split("\0") for line in log)
    assert grandparent == merged
    assert intents.startswith("reconciler apply: about to create 1 request(s)")
    assert parent == git(origin, "rev-parse", "main~1").strip()
    assert subject.startswith("reconciler apply:") and subject.endswith("[skip ci]")
    ledger = git(origin, "show", "main:ledger/req-a.json")
    assert declared in ledger, "full history: the ledger names the commit that declared it"
    assert "a@example.com" not in ledger
    assert tagged_names(adobe) == ["req-a"]


def tagged_names(adobe: Any) -> list[str]:
    from reconciler.reconcile.tagging import untag

    return sorted(untag(o.get("description"))[1] or "" for o in adobe.admin.workorders())


def test_status_steps_refresh_and_push_nothing_when_nothing_changed(
    adobe: Any, monkeypatch: pytest.MonkeyPatch, runner: tuple[Path, Path], tmp_path: Path
) -> None:
    origin, checkout = runner
    context = secrets_context(adobe, monkeypatch)
    apply_job = the_job(load(APPLY))
    for step in (
        at_the_emulator(step_running(apply_job, "reconciler apply"), adobe),
        step_running(apply_job, "reconciler push"),
    ):
        done = run_step(step, checkout, context)
        assert done.returncode == 0, done.stdout + done.stderr

    job = the_job(load(STATUS))
    status = run_step(
        at_the_emulator(step_running(job, "reconciler status"), adobe), checkout, context
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "req-a" in status.stdout
    push = run_step(step_running(job, "reconciler push"), checkout, context)
    assert push.returncode == 0, push.stdout + push.stderr
    assert git(origin, "rev-parse", "main") == git(checkout, "rev-parse", "HEAD")

    summary = tmp_path / "summary.md"
    report = run_step(
        step_running(job, "--detailed-exitcode"), checkout, GITHUB_STEP_SUMMARY=str(summary)
    )
    assert report.returncode == 0, report.stdout + report.stderr
    assert "::warning" not in report.stdout


def test_status_report_warns_of_requests_not_applied(
    runner: tuple[Path, Path], tmp_path: Path
) -> None:
    _, checkout = runner
    summary = tmp_path / "summary.md"
    step = step_running(the_job(load(STATUS)), "--detailed-exitcode")
    report = run_step(step, checkout, GITHUB_STEP_SUMMARY=str(summary))
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.startswith("::warning title=Requests not applied::")
    assert "`req-a`" in summary.read_text(encoding="utf-8")


def test_push_step_pushes_a_ledger_commit_straight_when_main_did_not_move(
    runner: tuple[Path, Path],
) -> None:
    origin, checkout = runner
    write(checkout, "ledger/req-a.json", "{}\n")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-qm", "ledger [skip ci]")
    step = step_running(the_job(load(STATUS)), "reconciler push")
    push = run_step(step, checkout, {"github.token": "not-a-real-token"})
    assert push.returncode == 0, push.stdout + push.stderr
    assert "rebased" not in push.stdout
    assert git(origin, "rev-parse", "main") == git(checkout, "rev-parse", "HEAD")


# --- the pull-request check's own steps ----------------------------------------------------


def changes_step() -> dict[str, Any]:
    (step,) = [s for s in the_job(load(PR))["steps"] if s.get("id") == "changes"]
    return step


@pytest.mark.parametrize(
    ("changed", "relevant"),
    [
        pytest.param("requests/req-c.yaml", "true", id="a-request"),
        pytest.param("reconciler.yaml", "true", id="the-settings"),
        pytest.param(".github/workflows/reconciler-check.yml", "true", id="a-workflow"),
        pytest.param("reconciler/planner.py", "true", id="the-tool-itself"),
        pytest.param("requirements.lock", "true", id="the-lock"),
        pytest.param("docs/notes.md", "false", id="unrelated"),
    ],
)
def test_pr_check_skips_quickly_when_nothing_it_reads_changed(
    pull_request: Path, tmp_path: Path, changed: str, relevant: str
) -> None:
    base = git(pull_request, "rev-parse", "origin/main").strip()
    git(pull_request, "reset", "-q", "--hard", base)
    write(pull_request, changed, "x: 1\n")
    git(pull_request, "add", "-A")
    git(pull_request, "commit", "-qm", "change")
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    summary.write_text("")
    done = run_step(
        changes_step(),
        pull_request,
        {"github.event.pull_request.base.sha": base},
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"relevant={relevant}\n"
    assert ("nothing to check" in summary.read_text()) is (relevant == "false")


FAKE_GH = """#!/usr/bin/env bash
# Records each call; answers the comment listing from $GH_COMMENTS.
printf '%s\\n' "$*" >> "$GH_LOG"
for arg in "$@"; do
  case "$arg" in body=@*) cp "${arg#body=@}" "$GH_BODY" ;; esac
done
if [ "$2" = "--paginate" ]; then cat "$GH_COMMENTS"; fi
"""


def run_comment_step(
    tmp_path: Path, plan: str, comments: str
) -> tuple[subprocess.CompletedProcess[str], list[str], str]:
    """The comment step, with a stand-in for GitHub's `gh` CLI on PATH: (result, the calls
    it made, the comment body it sent)."""
    bin_dir = tmp_path / "bin"
    write(bin_dir, "gh", FAKE_GH).chmod(0o755)
    write(tmp_path, "comments", comments)
    runner_temp = tmp_path / "runner"
    write(runner_temp, "plan.md", plan)
    log, body = tmp_path / "gh.log", tmp_path / "body.md"
    done = run_step(
        step_running(the_job(load(PR)), "gh api"),
        tmp_path,
        {
            "github.token": "not-a-real-token",
            "github.event.pull_request.number": "12",
            "github.repository": "acme/privacy-requests",
        },
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        RUNNER_TEMP=str(runner_temp),
        GH_LOG=str(log),
        GH_COMMENTS=str(tmp_path / "comments"),
        GH_BODY=str(body),
    )
    assert done.returncode == 0, done.stderr
    return done, log.read_text().splitlines(), body.read_text()


@pytest.mark.parametrize(
    ("existing", "method"),
    [pytest.param("", "POST", id="first-push"), pytest.param("4711\n", "PATCH", id="later-push")],
)
def test_plan_comment_is_one_comment_updated_on_each_push(
    tmp_path: Path, existing: str, method: str
) -> None:
    _, calls, body = run_comment_step(tmp_path, "### Plan\n\n1 to create\n", existing)
    assert calls[0].startswith("api --paginate repos/acme/privacy-requests/issues/12/comments")
    expected = (
        "api --method PATCH repos/acme/privacy-requests/issues/comments/4711"
        if method == "PATCH"
        else "api --method POST repos/acme/privacy-requests/issues/12/comments"
    )
    assert calls[1].startswith(expected) and len(calls) == 2
    assert body == "<!-- reconciler-plan -->\n### Plan\n\n1 to create\n"


def test_a_huge_plan_is_cut_in_the_comment_and_says_where_the_rest_is(tmp_path: Path) -> None:
    _, _, body = run_comment_step(tmp_path, "| x |\n" * 20_000, "")
    assert len(body) < 65_536, "GitHub refuses comments over 65,536 characters"
    assert body.rstrip().endswith("the whole plan is in the job summary.")


# --- the approvals, fetched from GitHub and handed to apply ----------------------------------

FAKE_GH_API = """#!/usr/bin/env bash
# Answers `gh api [--paginate] PATH [--jq EXPR]` from $GH_ANSWERS/<PATH, / as _>.json through
# jq, which prints strings raw and the rest as JSON, as gh's --jq does; records each call
# without its jq expression.
path="" expr="." call=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jq) expr="$2"; shift ;;
    *) call="$call${call:+ }$1"; path="$1" ;;
  esac
  shift
done
printf '%s\\n' "$call" >> "$GH_LOG"
jq -r "$expr" "$GH_ANSWERS/${path//\\//_}.json"
"""


def test_apply_steps_fetch_the_approvals_and_record_them(
    adobe: Any, monkeypatch: pytest.MonkeyPatch, runner: tuple[Path, Path], tmp_path: Path
) -> None:
    _, checkout = runner
    declared = git(checkout, "log", "-1", "--format=%H", "--", "requests/req-a.yaml").strip()
    branch_commit = "a" * 40
    repo_path = "repos/acme/privacy-requests"
    answers = {
        f"{repo_path}/commits/{declared}/pulls": [
            {"number": 9, "merged_at": None, "base": {"ref": "main"}},  # closed unmerged
            {"number": 11, "merged_at": "2026-11-20T10:00:00Z", "base": {"ref": "release"}},
            {"number": 12, "merged_at": "2026-11-22T16:30:00Z", "base": {"ref": "main"}},
        ],
        f"{repo_path}/pulls/12": {
            "number": 12,
            "html_url": "https://github.com/acme/privacy-requests/pull/12",
            "title": 'Add req-a "$(touch pwned)"',
            "body": "not copied",
            "user": {"login": "priya"},
            "merged_by": {"login": "rui"},
            "merged_at": "2026-11-22T16:30:00Z",
            "merge_commit_sha": "b" * 40,
        },
        f"{repo_path}/pulls/12/commits": [{"sha": branch_commit}],
        f"{repo_path}/pulls/12/reviews": [
            {
                "user": {"login": "priya"},
                "state": "APPROVED",
                "submitted_at": "2026-11-22T16:20:00Z",
                "commit_id": branch_commit,
            },
            {
                "user": None,  # a deleted account
                "state": "COMMENTED",
                "submitted_at": "2026-11-22T16:21:00Z",
                "commit_id": branch_commit,
            },
            {
                "user": {"login": "rui"},
                "state": "APPROVED",
                "submitted_at": "2026-11-22T16:25:00Z",
                "commit_id": branch_commit,
            },
        ],
    }
    folder = tmp_path / "answers"
    for path, answer in answers.items():
        write(folder, path.replace("/", "_") + ".json", json.dumps(answer))
    bin_dir = tmp_path / "bin"
    write(bin_dir, "gh", FAKE_GH_API).chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    log = tmp_path / "gh.log"
    job = the_job(load(APPLY))
    context = secrets_context(adobe, monkeypatch) | {"github.repository": "acme/privacy-requests"}
    fetched = run_step(
        step_running(job, "gh api"),
        checkout,
        context,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        RUNNER_TEMP=str(runner_temp),
        GH_ANSWERS=str(folder),
        GH_LOG=str(log),
    )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert fetched.stdout == "Approvals of 1 pull request(s) fetched\n"
    assert log.read_text().splitlines() == [
        f"api {repo_path}/commits/{declared}/pulls",
        f"api {repo_path}/pulls/12",
        f"api --paginate {repo_path}/pulls/12/commits",
        f"api --paginate {repo_path}/pulls/12/reviews",
    ]
    assert not (checkout / "pwned").exists()
    assert git(checkout, "status", "--porcelain") == "", "nothing written to the work tree"
    written = json.loads((runner_temp / "approvals.json").read_text())
    assert written == {
        "version": 1,
        "pullRequests": [
            {
                "number": 12,
                "url": "https://github.com/acme/privacy-requests/pull/12",
                "title": 'Add req-a "$(touch pwned)"',
                "author": "priya",
                "mergedBy": "rui",
                "mergedAt": "2026-11-22T16:30:00Z",
                "mergeCommit": "b" * 40,
                "commits": sorted([branch_commit, declared]),
                "reviews": [
                    {
                        "reviewer": "priya",
                        "state": "APPROVED",
                        "submittedAt": "2026-11-22T16:20:00Z",
                        "commit": branch_commit,
                    },
                    {
                        "reviewer": "ghost",
                        "state": "COMMENTED",
                        "submittedAt": "2026-11-22T16:21:00Z",
                        "commit": branch_commit,
                    },
                    {
                        "reviewer": "rui",
                        "state": "APPROVED",
                        "submittedAt": "2026-11-22T16:25:00Z",
                        "commit": branch_commit,
                    },
                ],
            }
        ],
    }

    apply = run_step(
        at_the_emulator(step_running(job, "--approvals"), adobe),
        checkout,
        context,
        RUNNER_TEMP=str(runner_temp),
    )
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "::warning" not in apply.stdout
    entry = json.loads((checkout / "ledger/req-a.json").read_text())
    assert entry["declaredIn"] == declared
    assert entry["approval"]["pullRequest"] == 12
    assert entry["approval"]["approvedBy"] == ["rui"]
    assert entry["approval"]["mergedBy"] == "rui"


def test_apply_step_runs_without_approvals_when_they_could_not_be_fetched(
    adobe: Any, monkeypatch: pytest.MonkeyPatch, runner: tuple[Path, Path], tmp_path: Path
) -> None:
    _, checkout = runner
    job = the_job(load(APPLY))
    assert step_running(job, "gh api")["continue-on-error"] is True
    runner_temp = tmp_path / "empty-runner-temp"
    runner_temp.mkdir()
    apply = run_step(
        at_the_emulator(step_running(job, "--approvals"), adobe),
        checkout,
        secrets_context(adobe, monkeypatch),
        RUNNER_TEMP=str(runner_temp),
    )
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert apply.stdout.startswith(
        "::warning title=No approvals::The approvals could not be fetched: who approved is "
        "not recorded in the ledger this time.\n"
    )
    assert "approval" not in json.loads((checkout / "ledger/req-a.json").read_text())


def test_the_alerts_job_may_write_issues_and_nothing_else() -> None:
    workflow = load(STATUS)
    job = workflow["jobs"]["alerts"]
    assert job["needs"] == "status" and job["if"] == "${{ !cancelled() }}"
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    (step,) = [s for s in job["steps"] if "reconciler alerts" in s.get("run", "")]
    assert step["run"] == "reconciler alerts --github --fail-on overdue"
    assert step["env"] == {
        "GITHUB_TOKEN": "${{ github.token }}",
        "GITHUB_REPOSITORY": "${{ github.repository }}",
    }
    others = yaml.safe_dump([s for s in job["steps"] if s is not step])
    assert "github.token" not in others and "secrets." not in yaml.safe_dump(job)
