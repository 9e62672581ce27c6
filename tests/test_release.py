"""The release and lock-refresh workflows, Dependabot's settings and the changelog.

Their structure is asserted on the parsed YAML, and the scripts of their steps are run for
real, as a runner with `shell: bash` runs them: the tag check and the release notes on this
checkout, the lock diff, the test gate and the pull-request step in scratch repositories,
with `make` and `gh` replaced by recording stand-ins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GIT_ENV, git
from tests.test_distribution import VERSION

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE, REFRESH = "release.yml", "lock-refresh.yml"
CHANGELOG = ROOT / "CHANGELOG.md"
# The same pins as the other workflows and action.yml.
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def text(name: str) -> str:
    return (WORKFLOWS / name).read_text(encoding="utf-8")


def load(name: str) -> dict[Any, Any]:
    doc = yaml.safe_load(text(name))
    assert isinstance(doc, dict)
    return doc


def triggers(workflow: dict[Any, Any]) -> Any:
    """The `on:` value; YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True."""
    return workflow["on"] if "on" in workflow else workflow[True]


def the_job(name: str) -> dict[str, Any]:
    jobs: dict[str, dict[str, Any]] = load(name)["jobs"]
    (job,) = jobs.values()
    return job


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("name", "").startswith(prefix)]
    return step


def index(job: dict[str, Any], step: dict[str, Any]) -> int:
    return [s is step for s in job["steps"]].index(True)


def others(job: dict[str, Any], step: dict[str, Any]) -> str:
    return yaml.safe_dump([s for s in job["steps"] if s is not step])


def run_step(
    step: dict[str, Any],
    cwd: Path,
    context: dict[str, str] | None = None,
    path: Path | None = None,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """A step's script run as `shell: bash` runs it; its `env:` looked up in ``context``.

    Without the suite's git identity: a runner has none, the step must give its own.
    """
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV or k == "GIT_CONFIG_NOSYSTEM"}
    env.update(extra)
    for key, value in step.get("env", {}).items():
        env[key] = EXPRESSION.sub(lambda m: (context or {})[m.group(1)], str(value))
    env.setdefault("RUNNER_TEMP", str(cwd.parent))
    if path is not None:
        env["PATH"] = os.pathsep.join([str(path), env["PATH"]])
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def stand_in(bin_dir: Path, name: str, script: str) -> None:
    """An executable ``name`` on a PATH of its own that logs its arguments to $STAND_IN_LOG."""
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text(
        f'#!/usr/bin/env bash\necho "{name} $*" >> "$STAND_IN_LOG"\n{script}\n', encoding="utf-8"
    )
    exe.chmod(0o755)


# --- both workflows ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [RELEASE, REFRESH])
def test_one_job_with_its_own_permissions_and_a_timeout(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    job = the_job(name)
    assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 60
    assert workflow["defaults"] == {"run": {"shell": "bash"}}, "bash -eo pipefail"
    assert workflow["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", [RELEASE, REFRESH])
def test_actions_are_the_pinned_ones_without_credentials_left_behind(name: str) -> None:
    uses = [
        line.strip().removeprefix("- ").removeprefix("uses: ")
        for line in text(name).splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]
    assert uses == [CHECKOUT, SETUP_PYTHON]
    checkout = the_job(name)["steps"][0]
    assert checkout["with"] == {"persist-credentials": False}


@pytest.mark.parametrize("name", [RELEASE, REFRESH])
def test_no_expression_inside_a_script_and_the_token_in_one_step(name: str) -> None:
    job = the_job(name)
    for step in job["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")
    (holder,) = [s for s in job["steps"] if "github.token" in yaml.safe_dump(s)]
    assert holder["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "github.token" not in yaml.safe_dump({k: v for k, v in job.items() if k != "steps"})
    assert "secrets." not in text(name)


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it comes with `pip install -e '.[dev]'`)")
    return found


@pytest.mark.parametrize("name", [RELEASE, REFRESH])
def test_linters_find_nothing(name: str) -> None:
    """zizmor at every severity, pedantic persona; the schemas `make lint` and CI use."""
    path = f".github/workflows/{name}"
    for args in (
        [tool("zizmor"), "-q", "--offline", "--persona", "pedantic", path],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", path],
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "custom.github-workflows-require-timeout",
            path,
        ],
    ):
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"{args[0]}:\n{result.stdout}{result.stderr}"


# --- release -------------------------------------------------------------------------------


def test_release_runs_on_version_tags_and_may_only_write_contents() -> None:
    assert triggers(load(RELEASE)) == {"push": {"tags": ["v*"]}}
    job = the_job(RELEASE)
    assert job["permissions"] == {"contents": "write"}
    assert job["env"] == {"TAG": "${{ github.ref_name }}"}


def test_release_checks_tests_builds_then_releases() -> None:
    job = the_job(RELEASE)
    check = step_named(job, "Check the tag")
    notes = step_named(job, "Take the release notes")
    test = step_named(job, "Test")
    build = step_named(job, "Build")
    release = step_named(job, "Create the GitHub release")
    order = [index(job, s) for s in (check, notes, test, build, release)]
    assert order == sorted(order)
    assert test["run"] == "make test"
    assert build["run"].startswith("make dist\n")
    assert release["env"] == {
        "GH_TOKEN": "${{ github.token }}",
        "GH_REPO": "${{ github.repository }}",
    }
    assert release["run"].startswith('gh release create "$TAG" dist/* --verify-tag')
    assert '--notes-file "$RUNNER_TEMP/notes.md"' in release["run"]
    assert all("if" not in s and "continue-on-error" not in s for s in job["steps"])


def test_release_publishes_nowhere_else() -> None:
    workflow = text(RELEASE)
    assert "Nothing is published to PyPI" in workflow
    assert not re.search(r"twine|pypa/gh-action-pypi-publish|uv publish|id-token", workflow)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        pytest.param(f"v{VERSION}", True, id="matching"),
        pytest.param(VERSION, False, id="no-v"),
        pytest.param(f"v{VERSION}.1", False, id="other-version"),
        pytest.param("v", False, id="empty"),
    ],
)
def test_release_tag_check_on_this_checkout(tmp_path: Path, tag: str, ok: bool) -> None:
    step = step_named(the_job(RELEASE), "Check the tag")
    output = tmp_path / "output"
    output.touch()
    result = run_step(step, ROOT, TAG=tag, GITHUB_OUTPUT=str(output))
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    if ok:
        assert output.read_text() == f"version={VERSION}\n"
    else:
        assert result.stdout.startswith("::error title=Tag and version differ::")
        assert output.read_text() == ""


def test_release_notes_are_the_versions_changelog_section(tmp_path: Path) -> None:
    step = step_named(the_job(RELEASE), "Take the release notes")
    result = run_step(
        step, ROOT, {"steps.version.outputs.version": VERSION}, RUNNER_TEMP=str(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    notes = (tmp_path / "notes.md").read_text(encoding="utf-8")
    assert notes.lstrip().startswith("### ")
    assert "\n## " not in notes and "Releasing" not in notes
    section = CHANGELOG.read_text(encoding="utf-8").split(f"## [{VERSION}]", 1)[1]
    assert section.split("\n", 1)[1].startswith(notes)


def test_release_notes_step_fails_without_a_section(tmp_path: Path) -> None:
    step = step_named(the_job(RELEASE), "Take the release notes")
    result = run_step(
        step, ROOT, {"steps.version.outputs.version": "0.0.0"}, RUNNER_TEMP=str(tmp_path)
    )
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=No release notes::")


def test_the_changelog_has_a_dated_section_for_this_version() -> None:
    """A version bump without its changelog entry fails here, not at release time."""
    changelog = CHANGELOG.read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert headings[0] == "Unreleased" and VERSION in headings and "0.1.0" in headings
    assert "## Releasing" in changelog


# --- lock refresh --------------------------------------------------------------------------


def test_lock_refresh_runs_weekly_and_by_hand() -> None:
    on = triggers(load(REFRESH))
    assert set(on) == {"schedule", "workflow_dispatch"}
    (entry,) = on["schedule"]
    minute, hour, day, month, weekday = entry["cron"].split()
    assert minute.isdigit() and hour.isdigit() and weekday.isdigit()
    assert (day, month) == ("*", "*")
    assert the_job(REFRESH)["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_lock_refresh_opens_the_pull_request_only_after_the_tests_pass() -> None:
    job = the_job(REFRESH)
    upgrade = step_named(job, "Upgrade")
    diff = step_named(job, "List what changed")
    test = step_named(job, "Test on the upgraded lock")
    pull = step_named(job, "Open or update the pull request")
    order = [index(job, s) for s in (upgrade, diff, test, pull)]
    assert order == sorted(order)
    assert upgrade["run"] == "make lock-upgrade"
    assert diff["id"] == "diff"
    assert "if" not in test and "continue-on-error" not in test
    assert pull["if"] == "${{ steps.diff.outputs.changed == 'true' }}"
    assert set(pull["env"]) == {"GH_TOKEN", "GH_REPO", "BASE", "RUN_URL"}
    assert "GITHUB_TOKEN do not trigger workflows" in text(REFRESH)


LOCK = """\
# This file was autogenerated by uv via the following command:
#    make lock
click==8.1.7 \\
    --hash=sha256:aaaa
    # via aep-privacy-reconciler (pyproject.toml)
numpy==2.0.0 ; python_full_version < '3.12' \\
    --hash=sha256:bbbb
numpy==2.3.0 ; python_full_version >= '3.12' \\
    --hash=sha256:cccc
pytest==8.3.0 \\
    --hash=sha256:dddd
"""


@pytest.fixture
def locks(tmp_path: Path) -> Path:
    """A repository whose last commit has both locks, as checked out before the upgrade."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "requirements.lock").write_text(LOCK)
    (repo / "requirements.runtime.lock").write_text(LOCK.split("numpy")[0])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "locks")
    return repo


def test_lock_diff_reports_nothing_when_nothing_moved(locks: Path, tmp_path: Path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    step = step_named(the_job(REFRESH), "List what changed")
    result = run_step(step, locks, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.read_text() == "changed=false\n"
    assert "up to date" in summary.read_text()


def test_lock_diff_lists_each_moved_pin(locks: Path, tmp_path: Path) -> None:
    upgraded = (
        LOCK.replace("click==8.1.7", "click==8.2.0")
        .replace("numpy==2.3.0", "numpy==2.3.1")
        .replace(
            "pytest==8.3.0 \\\n    --hash=sha256:dddd\n",
            "Rich_Text==1.0 \\\n    --hash=sha256:eeee\n",
        )
    )
    (locks / "requirements.lock").write_text(upgraded)
    (locks / "requirements.runtime.lock").write_text(upgraded.split("numpy")[0])
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    step = step_named(the_job(REFRESH), "List what changed")
    result = run_step(step, locks, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.read_text() == "changed=true\n"
    rows = (tmp_path / "changes.md").read_text().splitlines()
    assert rows[2:] == [
        "| click | 8.1.7 | 8.2.0 | yes |",
        "| numpy | 2.0.0, 2.3.0 | 2.0.0, 2.3.1 |  |",
        "| pytest | 8.3.0 | (removed) |  |",
        "| rich-text | (new) | 1.0 |  |",
    ]
    assert summary.read_text().startswith("### The upgraded lock\n\n| Package |")


@pytest.mark.parametrize("passes", [True, False], ids=["passing", "failing"])
def test_the_test_gate(tmp_path: Path, passes: bool) -> None:
    bin_dir, log, summary = tmp_path / "bin", tmp_path / "log", tmp_path / "summary.md"
    stand_in(bin_dir, "make", "echo 'tests ran'\n" + ("" if passes else "echo 'E boom'; exit 2"))
    work = tmp_path / "work"
    work.mkdir()
    step = step_named(the_job(REFRESH), "Test on the upgraded lock")
    result = run_step(
        step, work, path=bin_dir, STAND_IN_LOG=str(log), GITHUB_STEP_SUMMARY=str(summary)
    )
    assert log.read_text() == "make test\n"
    assert "tests ran" in result.stdout, "the whole output stays in the log"
    if passes:
        assert result.returncode == 0, result.stdout + result.stderr
        assert not summary.exists()
    else:
        assert result.returncode == 1
        report = summary.read_text()
        assert report.startswith("### make test failed on the lock\n")
        assert "No pull request was opened or updated" in report
        assert "~~~\ntests ran\nE boom\n~~~\n" in report


@pytest.mark.parametrize("existing", ["", "7"], ids=["new", "existing"])
def test_the_pull_request_step(locks: Path, tmp_path: Path, existing: str) -> None:
    """The branch is pushed with the upgraded locks only, then the pull request made or edited."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(locks), str(origin))
    git(locks, "remote", "add", "origin", str(origin))
    (locks / "requirements.lock").write_text(LOCK.replace("click==8.1.7", "click==8.2.0"))
    (locks / "stray.txt").write_text("not part of the lock refresh\n")
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    (runner_temp / "changes.md").write_text("| click | 8.1.7 | 8.2.0 | yes |\n")
    bin_dir, log, summary = tmp_path / "bin", tmp_path / "log", tmp_path / "summary.md"
    stand_in(
        bin_dir,
        "gh",
        f'if [ "$1 $2" = "pr list" ]; then echo "{existing}"; fi\n'
        'if [ "$1 $2" = "pr create" ] || [ "$1 $2" = "pr edit" ]; then\n'
        '  cp "${@: -1}" "$STAND_IN_LOG.body"; fi',
    )
    context = {
        "github.token": "not-a-real-token",
        "github.repository": "o/r",
        "github.ref_name": "main",
        "github.server_url": "https://github.com",
        "github.run_id": "42",
    }
    step = step_named(the_job(REFRESH), "Open or update the pull request")
    result = run_step(
        step,
        locks,
        context,
        path=bin_dir,
        RUNNER_TEMP=str(runner_temp),
        STAND_IN_LOG=str(log),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert result.returncode == 0, result.stdout + result.stderr

    changed = git(origin, "diff", "--name-only", "main", "lock-refresh").split()
    assert changed == ["requirements.lock"]
    subject = git(origin, "log", "-1", "--format=%s|%an", "lock-refresh").strip()
    assert subject == "Refresh the locks (make lock-upgrade)|github-actions[bot]"
    calls = log.read_text().splitlines()
    assert calls[0].startswith("gh pr list --head lock-refresh --base main --state open")
    if existing:
        assert calls[1] == f"gh pr edit 7 --body-file {runner_temp}/pr-body.md"
        assert "Updated pull request #7." in summary.read_text()
    else:
        assert calls[1].startswith("gh pr create --head lock-refresh --base main --title ")
    body = Path(f"{log}.body").read_text()
    assert "| click | 8.1.7 | 8.2.0 | yes |" in body
    assert "https://github.com/o/r/actions/runs/42" in body
    assert "close and reopen it" in body


# --- Dependabot ----------------------------------------------------------------------------


def test_dependabot_updates_the_pinned_actions_weekly() -> None:
    path = ROOT / ".github" / "dependabot.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["version"] == 2
    (update,) = config["updates"]
    assert update["package-ecosystem"] == "github-actions"
    assert update["directory"] == "/"
    assert update["schedule"] == {"interval": "weekly"}
    assert "lock-refresh.yml" in path.read_text(encoding="utf-8"), "why pip is not listed"
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
