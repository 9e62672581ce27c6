"""`reconciler init`: a new repository that loads and validates, written whole or not at all."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from reconciler.check.validation import discover, load_requests
from reconciler.scaffold.workflows import DEFAULT_ACTION, render_workflows
from reconciler.settings import Limits, load_settings
from tests.conftest import git

CHECKOUT = Path(__file__).resolve().parents[2]
ORG = "0123456789ABCDEF01234567@AdobeOrg"
FLAGS = ("--org-id", ORG, "--sandbox", "prod")
SCHEMAS = sorted(p.name for p in (CHECKOUT / "schemas").glob("*.json"))
EXPECTED = {
    "reconciler.yaml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".github/CODEOWNERS",
    ".github/zizmor.yml",
    ".github/workflows/reconciler-check.yml",
    ".github/workflows/reconciler-apply.yml",
    ".github/workflows/reconciler-status.yml",
    "requests/record-deletes/jira-12345.yaml",
    "requests/privacy-jobs/gdpr-2026-11-access-delete.yaml",
    "requests/consent/ccpa-2026-11-opt-out.yaml",
    "requests/dataset-expirations/campaign-events-2025-retention.yaml",
    *(f"schemas/{name}" for name in SCHEMAS),
}
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)
SCOPE_LINE = re.compile(rb'^scope: "?([a-z0-9]{8})"?$', re.MULTILINE)


def init(run, root: Path, *args: str):
    return run("-C", str(root), "init", *args)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (outside .git), by path relative to it."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts[:1]
    }


def scope_of(folder: Path) -> str:
    """The scope line of the reconciler.yaml init wrote in ``folder``: 8 letters and digits."""
    (found,) = SCOPE_LINE.findall((folder / "reconciler.yaml").read_bytes())
    return str(found.decode())


def unscoped(folder: Path) -> dict[str, bytes]:
    """``tree(folder)`` with the scope (random in each new repository) left out."""
    files = tree(folder)
    files["reconciler.yaml"] = SCOPE_LINE.sub(b"scope: -", files["reconciler.yaml"])
    return files


def one_line(result) -> str:
    """The error message, after asserting it is one line and no traceback."""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- what it writes ----------------------------------------------------------------------------


def test_writes_every_file_in_a_new_folder(run, tmp_path: Path) -> None:
    result = init(run, tmp_path, "new", *FLAGS)
    assert result.exit_code == 0, result.output
    target = tmp_path / "new"
    assert set(tree(target)) == EXPECTED
    for path in EXPECTED:
        assert f"wrote new/{path}\n" in result.output
    assert "next steps:" in result.output
    assert "cd new && git init -b main && git add " in result.output
    assert "ADOBE_CLIENT_ID and ADOBE_CLIENT_SECRET" in result.output
    assert "TODO" not in result.output
    # The schemas are the package's, byte for byte: editors check the files against them.
    for name in SCHEMAS:
        assert (target / "schemas" / name).read_bytes() == (
            CHECKOUT / "schemas" / name
        ).read_bytes()


def test_settings_load_with_the_flags_and_the_defaults(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    settings = load_settings(tmp_path, {})
    assert settings.source == tmp_path / "reconciler.yaml"
    assert (settings.adobe.org_id, settings.adobe.sandbox_name) == (ORG, "prod")
    assert settings.ledger_branch == "reconciler-ledger"
    assert (settings.requests_dir, settings.ledger_dir) == ("requests", "ledger")
    assert settings.limits == Limits()
    text = (tmp_path / "reconciler.yaml").read_text(encoding="utf-8")
    assert "ADOBE_CLIENT_ID and ADOBE_CLIENT_SECRET" in text
    assert "TODO" not in text


@pytest.mark.parametrize(
    "flags, org, sandbox",
    [
        pytest.param((), None, None, id="neither"),
        pytest.param(("--org-id", ORG), ORG, None, id="org-only"),
        pytest.param(("--sandbox", "dev-1"), None, "dev-1", id="sandbox-only"),
    ],
)
def test_a_missing_value_is_a_commented_todo(
    run, tmp_path: Path, flags: tuple[str, ...], org: str | None, sandbox: str | None
) -> None:
    result = init(run, tmp_path, *flags)
    assert result.exit_code == 0, result.output
    settings = load_settings(tmp_path, {})
    assert (settings.adobe.org_id, settings.adobe.sandbox_name) == (org, sandbox)
    text = (tmp_path / "reconciler.yaml").read_text(encoding="utf-8")
    fields = (("orgId", org, "ADOBE_ORG_ID"), ("sandboxName", sandbox, "ADOBE_SANDBOX_NAME"))
    for key, value, env in fields:
        if value is None:
            assert re.search(rf"^ *# +{key}: \S", text, re.MULTILINE)
            assert re.search(rf"^ *# TODO: .*{env}$", text, re.MULTILINE)
            assert re.search(
                rf"fill in the TODO in reconciler\.yaml \(.*adobe\.{key}", result.output
            )
        else:
            assert f"\n  {key}: {value}\n" in text


def test_values_yaml_would_read_as_other_types_stay_strings(run, tmp_path: Path) -> None:
    result = init(run, tmp_path, "--sandbox", "123", "--ledger-branch", "true")
    assert result.exit_code == 0, result.output
    settings = load_settings(tmp_path, {})
    assert settings.adobe.sandbox_name == "123"
    assert settings.ledger_branch == "true"


def test_examples_one_per_kind_validate_in_the_new_repository(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, "repo", *FLAGS).exit_code == 0
    target = tmp_path / "repo"
    result = run("-C", str(target), "validate")
    assert result.exit_code == 0, result.output
    assert "4 file(s) valid" in result.output
    settings = load_settings(target, {})
    loaded = load_requests(discover([settings.requests_path]), settings)
    assert not loaded.findings
    kinds = {r.kind.value: Path(r.path).parent.as_posix() for r in loaded.requests}
    assert kinds == {
        "RecordDelete": "requests/record-deletes",
        "PrivacyJob": "requests/privacy-jobs",
        "ConsentOptOut": "requests/consent",
        "DatasetExpiration": "requests/dataset-expirations",
    }
    # The one RecordDelete names its dataset rather than deleting from every one.
    (record_delete,) = [r for r in loaded.requests if r.kind.value == "RecordDelete"]
    assert record_delete.spec["datasetId"] != "ALL"
    for request in loaded.requests:
        text = (target / request.path).read_text(encoding="utf-8")
        assert "merging applies every request" in text.splitlines()[2]


def test_every_modeline_and_schema_reference_resolves(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    modelines = 0
    for rel in sorted(tree(tmp_path)):
        if not rel.endswith(".yaml"):
            continue
        path = tmp_path / rel
        found = MODELINE.findall(path.read_text(encoding="utf-8"))
        for target in found:
            assert (path.parent / target).is_file(), f"{rel}: {target} does not exist"
        modelines += len(found)
        if rel.startswith("requests/"):
            assert len(found) == 1, rel
    assert modelines == 5  # the four examples and reconciler.yaml
    # request.schema.json names the kinds' schemas, which name common.schema.json.
    refs = set()
    for schema in (tmp_path / "schemas").glob("*.json"):
        refs.update(re.findall(r'"\$ref":\s*"([^"#]+)', schema.read_text(encoding="utf-8")))
    assert {"record-delete.schema.json", "common.schema.json"} <= refs
    for ref in refs:
        assert (tmp_path / "schemas" / ref).is_file(), ref


def test_workflows_come_from_render_workflows(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, "a", *FLAGS).exit_code == 0
    action = "my-org/reconciler-fork@v9.9.9"
    assert init(run, tmp_path, "b", *FLAGS, "--action", action).exit_code == 0
    for folder, pinned in (("a", DEFAULT_ACTION), ("b", action)):
        expected = render_workflows(pinned, "reconciler-ledger")
        assert set(expected) == {
            "reconciler-check.yml",
            "reconciler-apply.yml",
            "reconciler-status.yml",
        }
        for name, text in expected.items():
            path = tmp_path / folder / ".github/workflows" / name
            assert path.read_text(encoding="utf-8") == text
        assert pinned in (tmp_path / folder / ".github/workflows/reconciler-check.yml").read_text(
            encoding="utf-8"
        )


def test_pre_commit_uses_the_hook_at_the_action_release(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, "a", *FLAGS).exit_code == 0
    assert init(run, tmp_path, "b", *FLAGS, "--action", "my-org/my-fork@abc123").exit_code == 0
    hooks = yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    owner_repo, _, ref = DEFAULT_ACTION.partition("@")
    for folder, url, rev in (
        ("a", f"https://github.com/{owner_repo}", ref),
        ("b", "https://github.com/my-org/my-fork", "abc123"),
    ):
        config = yaml.safe_load((tmp_path / folder / ".pre-commit-config.yaml").read_text())
        assert config == {
            "repos": [{"repo": url, "rev": rev, "hooks": [{"id": "reconciler-validate"}]}]
        }
    assert "reconciler-validate" in {hook["id"] for hook in hooks}


def test_codeowners_is_all_comments_naming_the_three_paths(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    lines = (tmp_path / ".github/CODEOWNERS").read_text(encoding="utf-8").splitlines()
    assert all(ln.startswith("#") for ln in lines if ln.strip())
    rules = [ln.lstrip("# ").split()[0] for ln in lines if re.match(r"#\s+/\S+\s+@", ln)]
    assert rules == ["/requests/", "/reconciler.yaml", "/.github/"]
    assert "does not exist" in " ".join(lines)


def test_git_ignores_identities_keys_and_the_emulator_but_no_starter_file(
    run, tmp_path: Path
) -> None:
    result = init(run, tmp_path, "repo", *FLAGS)
    assert result.exit_code == 0, result.output
    target = tmp_path / "repo"
    # The first step, as printed, makes a repository holding exactly the files init wrote.
    (step,) = [ln for ln in result.output.splitlines() if ln.startswith("  1. ")]
    command = step.partition(": ")[2]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, capture_output=True)
    assert set(git(target, "ls-files").split()) == EXPECTED
    assert git(target, "status", "--porcelain") == ""
    ignored = [
        "ids.csv", "requests/subjects.csv", "emulator.db", "emulator.db-wal", "emulator.db-shm",
        "age-key.txt", "team.key", "me.agekey", "plan.json", ".venv/bin/python",
    ]  # fmt: skip
    for name in ignored:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text("x\n")
    assert git(target, "status", "--porcelain", "--untracked-files=all") == ""
    assert set(git(target, "check-ignore", *ignored).split()) == set(ignored)


# -- running it again ------------------------------------------------------------------------


def test_a_second_run_changes_nothing(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    before = {p: (tmp_path / p).stat().st_mtime_ns for p in EXPECTED}
    result = init(run, tmp_path, *FLAGS)
    assert result.exit_code == 0, result.output
    assert result.output == "nothing to do: every file is already as init writes it\n"
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in EXPECTED} == before
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_a_changed_file_is_refused_then_replaced_with_force(run, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    assert init(run, tmp_path, "repo", *FLAGS).exit_code == 0
    (target / "reconciler.yaml").write_text("apiVersion: reconciler/v1\n")
    (target / ".gitignore").write_text("*.log\n")
    (target / ".github/CODEOWNERS").unlink()
    edited = tree(target)
    result = init(run, tmp_path, "repo", *FLAGS)
    assert result.exit_code == 1
    message = one_line(result)
    assert message.startswith("error: nothing written: 2 files already exist and differ")
    assert "repo/.gitignore, repo/reconciler.yaml" in message
    assert "--force" in message
    assert tree(target) == edited  # the missing file was not written either

    result = init(run, tmp_path, "repo", *FLAGS, "--force")
    assert result.exit_code == 0, result.output
    assert "replaced repo/reconciler.yaml\n" in result.output
    assert "replaced repo/.gitignore\n" in result.output
    assert "wrote repo/.github/CODEOWNERS\n" in result.output
    assert f"left {len(EXPECTED) - 3} files as they were" in result.output
    assert init(run, tmp_path, "fresh", *FLAGS).exit_code == 0
    assert unscoped(target) == unscoped(tmp_path / "fresh")


def test_other_flags_than_an_earlier_run_are_refused(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    before = tree(tmp_path)
    result = init(run, tmp_path, *FLAGS, "--ledger-in-tree")
    assert result.exit_code == 1
    message = one_line(result)
    assert "reconciler.yaml" in message and ".github/workflows/reconciler-apply.yml" in message
    assert "requests/" not in message
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda d: (d / "reconciler.yaml").mkdir(), "reconciler.yaml is a folder"),
        pytest.param(
            lambda d: (d / "requests").write_text("x"), "requests is a file, not a folder"
        ),
    ],
    ids=["folder-for-a-file", "file-for-a-folder"],
)
def test_something_in_the_way_is_refused_even_with_force(
    run, tmp_path: Path, make, message: str
) -> None:
    make(tmp_path)
    before = tree(tmp_path)
    for force in ((), ("--force",)):
        result = init(run, tmp_path, *FLAGS, *force)
        assert result.exit_code == 1
        assert message in one_line(result)
        assert tree(tmp_path) == before


# -- flags -------------------------------------------------------------------------------------


BAD_FLAGS = {
    "org": (["--org-id", "0123456789ABCDEF"], "--org-id '0123456789ABCDEF' must be an IMS "
            "organisation id ending in @AdobeOrg"),
    "org-space": (["--org-id", "x @AdobeOrg"], "--org-id 'x @AdobeOrg' must be"),
    "sandbox-case": (["--sandbox", "Prod"], "--sandbox 'Prod' must be a sandbox name"),
    "sandbox-underscore": (["--sandbox", "my_sandbox"], "--sandbox 'my_sandbox' must be"),
    "main": (["--ledger-branch", "main"], "--ledger-branch must not be main"),
    "dots": (["--ledger-branch", "a..b"], "--ledger-branch 'a..b' must be a plain branch name"),
    "space": (["--ledger-branch", "has space"], "--ledger-branch 'has space' must be"),
    "both": (["--ledger-branch", "x", "--ledger-in-tree"], "exclude each other"),
    "no-ref": (["--action", "my-org/reconciler"], "--action 'my-org/reconciler' must read "
               "OWNER/REPO@REF"),
    "no-owner": (["--action", "reconciler@v1"], "must read OWNER/REPO@REF"),
    "path": (["--action", "a/b/c@v1"], "must read OWNER/REPO@REF"),
    "shell": (["--action", "a/b@v1 ; rm"], "must read OWNER/REPO@REF"),
}  # fmt: skip


@pytest.mark.parametrize("args, message", list(BAD_FLAGS.values()), ids=list(BAD_FLAGS))
def test_bad_flags_are_one_line_errors_and_write_nothing(
    run, tmp_path: Path, args: list[str], message: str
) -> None:
    result = init(run, tmp_path, "repo", *args)
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "repo").exists()


def test_ledger_in_tree_writes_no_ledger_branch(run, tmp_path: Path) -> None:
    result = init(run, tmp_path, *FLAGS, "--ledger-in-tree")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "reconciler.yaml").read_text(encoding="utf-8")
    assert "ledger" not in yaml.safe_load(text)
    assert load_settings(tmp_path, {}).ledger_branch is None
    assert "without branch protection" in text
    for name, expected in render_workflows(DEFAULT_ACTION, None).items():
        assert (tmp_path / ".github/workflows" / name).read_text(encoding="utf-8") == expected
    assert "main must let GitHub Actions push" in result.output


def test_ledger_branch_flag(run, tmp_path: Path) -> None:
    result = init(run, tmp_path, *FLAGS, "--ledger-branch", "privacy/ledger")
    assert result.exit_code == 0, result.output
    assert load_settings(tmp_path, {}).ledger_branch == "privacy/ledger"
    for name, expected in render_workflows(DEFAULT_ACTION, "privacy/ledger").items():
        assert (tmp_path / ".github/workflows" / name).read_text(encoding="utf-8") == expected
    assert "leave privacy/ledger open to GitHub Actions" in result.output


# -- where it runs ------------------------------------------------------------------------------


def test_in_an_existing_repository_it_says_commit_not_init(run, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    result = init(run, tmp_path, *FLAGS)
    assert result.exit_code == 0, result.output
    assert "git init" not in result.output
    (step,) = [ln for ln in result.output.splitlines() if ln.startswith("  1. ")]
    assert step.startswith("  1. commit the files: git add .github .gitignore")
    subprocess.run(["bash", "-c", step.partition(": ")[2]], cwd=tmp_path, check=True)
    assert set(git(tmp_path, "ls-files").split()) == EXPECTED


def test_inside_another_repository_it_warns(run, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    result = init(run, tmp_path, "sub", *FLAGS)
    assert result.exit_code == 0, result.output
    assert "note: sub is inside the git repository" in result.stderr
    assert "GitHub reads .github/ at the top of a repository only" in result.stderr


SECRET_LOOKING = [
    re.compile(r"AGE-SECRET-KEY-1"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY"),
    re.compile(r"\bp8e-[A-Za-z0-9_-]{10,}"),  # the form of Adobe's client secrets
    re.compile(r"\beyJ[A-Za-z0-9_-]{20,}"),  # a JWT / access token
    re.compile(
        r"(?i)(secret|password|token|client_?id|api_?key)['\"]?\s*[:=]\s*['\"]?(?!\$\{\{)[A-Za-z0-9+/_-]{8,}"
    ),
]


def test_no_file_holds_a_secret_looking_value(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    for rel, raw in tree(tmp_path).items():
        text = raw.decode("utf-8")
        for pattern in SECRET_LOOKING:
            assert not pattern.search(text), f"{rel}: {pattern.search(text)}"


def test_as_a_subprocess_without_a_terminal(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "reconciler", "init", "repo", *FLAGS]
    for expected in (0, 0):
        proc = subprocess.run(
            command, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert proc.returncode == expected, proc.stderr
        assert proc.stderr == ""
    assert proc.stdout == "nothing to do: every file is already as init writes it\n"
    assert set(tree(tmp_path / "repo")) == EXPECTED


def test_a_wheel_starts_the_same_repository(run, tmp_path: Path) -> None:
    """From a wheel, the templates, examples and schemas are package data."""
    pytest.importorskip("hatchling")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=CHECKOUT, check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import reconciler.cli as c; "
        "assert c.__file__.startswith(sys.path[0]), c.__file__; c.main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(site), "-C", str(tmp_path), "init", "wheel", *FLAGS],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert init(run, tmp_path, "checkout", *FLAGS).exit_code == 0
    assert unscoped(tmp_path / "wheel") == unscoped(tmp_path / "checkout")


def test_help_has_an_example(run) -> None:
    result = run("init", "--help")
    assert result.exit_code == 0
    assert "reconciler init privacy-requests --org-id" in result.output


# -- the scope -----------------------------------------------------------------------------


def test_each_new_repository_gets_a_scope_of_its_own(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, "one", *FLAGS).exit_code == 0
    assert init(run, tmp_path, "two", *FLAGS).exit_code == 0
    one, two = scope_of(tmp_path / "one"), scope_of(tmp_path / "two")
    assert one != two
    assert load_settings(tmp_path / "one", {}).declared_scope == one
    text = (tmp_path / "one/reconciler.yaml").read_text(encoding="utf-8")
    assert "[reconciler:SCOPE/NAME]" in text and "Never change it" in text


def test_running_again_with_force_keeps_the_scope(run, tmp_path: Path) -> None:
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    settings = tmp_path / "reconciler.yaml"
    settings.write_text("apiVersion: reconciler/v1\nscope: keep1234\n", encoding="utf-8")
    result = init(run, tmp_path, *FLAGS, "--force")
    assert result.exit_code == 0, result.output
    assert "replaced reconciler.yaml" in result.output
    assert scope_of(tmp_path) == "keep1234"
    assert "ADOBE_CLIENT_ID" in settings.read_text(encoding="utf-8")


def test_in_a_repository_with_history_the_scope_is_the_one_it_tags_with(
    run, tmp_path: Path
) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README.md").write_text("privacy requests\n", encoding="utf-8")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "-qm", "Start")
    root = git(tmp_path, "rev-list", "--max-parents=0", "HEAD").strip()
    assert load_settings(tmp_path, {}).scope.value == root[:8]  # before init
    assert init(run, tmp_path, *FLAGS).exit_code == 0
    assert scope_of(tmp_path) == root[:8]
