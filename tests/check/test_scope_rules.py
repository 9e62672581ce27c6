"""Rules on ``scope`` in reconciler.yaml, on real git repositories: a scope not stored
(a warning that prints the line to add) and a scope changed by a pull request while the
ledger has entries (an error)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.check.findings import Severity
from reconciler.check.settingsrules import scope_changes, scope_findings
from reconciler.errors import SettingsError
from reconciler.settings import load_settings
from reconciler.yamlfile import load_document, parse_document
from tests.conftest import RECORD_DELETE, git, write
from tests.ledger_helpers import record_applied

SETTINGS = "reconciler.yaml"


def committed(path: Path, settings: str | None) -> str:
    """A repository at ``path`` whose first commit holds ``settings`` (if any); its root sha."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, "README.md", "privacy requests\n")
    if settings is not None:
        write(path, SETTINGS, settings)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "Start")
    return git(path, "rev-list", "--max-parents=0", "HEAD").strip()


def warnings(root: Path) -> list[str]:
    settings = load_settings(root)
    document = load_document(settings.source, SETTINGS) if settings.source else None
    found = scope_findings(settings, document, SETTINGS)
    assert all(f.rule == "scope-not-stored" and f.severity is Severity.WARNING for f in found)
    return [f.message for f in found]


def test_without_a_settings_file_there_is_no_line_to_add(tmp_path: Path) -> None:
    """A folder that has not adopted the tool (the pre-commit hook run anywhere)."""
    committed(tmp_path / "repo", None)
    assert warnings(tmp_path / "repo") == []


def test_a_stored_scope_is_no_warning(tmp_path: Path) -> None:
    committed(tmp_path / "repo", "scope: team1a2b\n")
    assert warnings(tmp_path / "repo") == []


def test_without_a_scope_the_warning_prints_the_line_that_stores_the_derived_one(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    root = committed(repo, "limits:\n  maxIdentitiesPerRun: 10\n")
    (message,) = warnings(repo)
    assert "names no scope" in message and "derived from the root commit" in message
    line = re.search(r"add the line `(.+)` to reconciler.yaml", message)
    assert line is not None
    expected = f'scope: "{root[:8]}"' if root[:8].isdigit() else f"scope: {root[:8]}"
    assert line.group(1) == expected
    # Adding that line silences the warning and tags exactly as before.
    derived = load_settings(repo).scope
    with (repo / SETTINGS).open("a", encoding="utf-8") as f:
        f.write(line.group(1) + "\n")
    assert warnings(repo) == []
    assert load_settings(repo).scope == derived


def test_without_a_commit_the_warning_offers_a_new_scope(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    git(tmp_path / "repo", "init", "-q", "-b", "main")
    write(tmp_path / "repo", SETTINGS, "limits:\n  maxIdentitiesPerRun: 10\n")
    (message,) = warnings(tmp_path / "repo")
    assert "no commit" in message
    assert re.search(r"add the line `scope: \"?[0-9a-f]{8}\"?` to reconciler.yaml", message)


def test_in_a_shallow_clone_the_warning_says_where_to_read_the_line(tmp_path: Path) -> None:
    committed(tmp_path / "repo", "limits:\n  maxIdentitiesPerRun: 10\n")
    write(tmp_path / "repo", "more.txt", "x\n")
    git(tmp_path / "repo", "add", "more.txt")
    git(tmp_path / "repo", "commit", "-qm", "More")
    git(tmp_path, "clone", "-q", "--depth", "1", (tmp_path / "repo").as_uri(), "shallow")
    (message,) = warnings(tmp_path / "shallow")
    assert "shallow clone" in message and "full clone" in message


# -- scope-changed ----------------------------------------------------------------------------


def changed(tmp_path: Path, base: str | None, head: str | None, applied: bool) -> list[str]:
    """The scope-changed messages of a branch that turns the base's reconciler.yaml
    (``base``) into ``head``; the base side is read back from git, as ``--base`` does."""
    repo = tmp_path / "repo"
    committed(repo, base)
    git(repo, "checkout", "-q", "-b", "change-scope")
    if head is None:
        git(repo, "rm", "-q", SETTINGS)
    else:
        write(repo, SETTINGS, head)
        git(repo, "add", SETTINGS)
    git(repo, "commit", "-qm", "Change the settings")
    shown = git(repo, "show", f"main:{SETTINGS}") if base is not None else None
    before = parse_document(SETTINGS, shown).data if shown is not None else None
    settings = load_settings(repo)
    document = load_document(settings.source, SETTINGS) if settings.source else None
    found = list(scope_changes(before, settings, document, SETTINGS, "main", applied=applied))
    assert all(f.rule == "scope-changed" and f.severity is Severity.ERROR for f in found)
    lines = (head or "").splitlines()
    if any(ln.startswith("scope:") for ln in lines):  # located on its line
        expected = [i for i, ln in enumerate(lines, 1) if ln.startswith("scope:")]
        assert all([f.line] == expected for f in found)
    return [f.message for f in found]


def test_changing_the_scope_with_applied_requests_is_an_error(tmp_path: Path) -> None:
    head = "apiVersion: reconciler/v1\nscope: teamb222\n"
    (message,) = changed(tmp_path, "scope: teama111\n", head, applied=True)
    assert message.startswith("scope changed from teama111 to teamb222 since main")
    assert "the ledger has entries" in message
    assert message.endswith("restore `scope: teama111`")


def test_changing_the_scope_before_anything_is_applied_is_fine(tmp_path: Path) -> None:
    assert changed(tmp_path, "scope: teama111\n", "scope: teamb222\n", applied=False) == []


def test_adding_the_derived_scope_line_is_no_change(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = committed(repo, "limits:\n  maxIdentitiesPerRun: 10\n")
    git(repo, "checkout", "-q", "-b", "store-scope")
    write(repo, SETTINGS, f'limits:\n  maxIdentitiesPerRun: 10\nscope: "{root[:8]}"\n')
    git(repo, "commit", "-qam", "Store the scope")
    before = parse_document(SETTINGS, git(repo, "show", f"main:{SETTINGS}")).data
    settings = load_settings(repo)
    document = load_document(repo / SETTINGS, SETTINGS)
    assert list(scope_changes(before, settings, document, SETTINGS, "main", applied=True)) == []


@pytest.mark.parametrize(
    ("base", "head", "start"),
    [
        pytest.param(None, "scope: teamb222\n", "scope changed from ", id="added-another"),
        pytest.param(
            "scope: teama111\n", "limits: {}\n", "scope changed from teama111 ", id="removed"
        ),
        pytest.param("scope: teama111\n", None, "scope changed from teama111 ", id="file-removed"),
    ],
)
def test_adding_another_or_removing_the_scope_is_an_error(
    tmp_path: Path, base: str | None, head: str | None, start: str
) -> None:
    (message,) = changed(tmp_path, base, head, applied=True)
    assert message.startswith(start)


def test_a_shallow_clone_cannot_tell_a_changed_scope(tmp_path: Path) -> None:
    committed(tmp_path / "repo", None)
    git(tmp_path / "repo", "checkout", "-q", "-b", "add-scope")
    write(tmp_path / "repo", SETTINGS, "scope: teamb222\n")
    git(tmp_path / "repo", "add", SETTINGS)
    git(tmp_path / "repo", "commit", "-qm", "Add a scope")
    url = (tmp_path / "repo").as_uri()
    git(tmp_path, "clone", "-q", "--depth", "1", "-b", "add-scope", url, "shallow")
    settings = load_settings(tmp_path / "shallow")
    with pytest.raises(SettingsError, match="shallow clone"):
        list(scope_changes(None, settings, None, SETTINGS, "main", applied=True))


# -- through `reconciler validate` -----------------------------------------------------------


def test_validate_prints_the_warning_and_still_passes(run, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = committed(repo, "limits:\n  maxIdentitiesPerRun: 10\n")
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if "scope-not-stored" in ln]
    assert line.startswith("reconciler.yaml:1:1: warning: ")
    assert root[:8] in line


def test_validate_base_refuses_a_changed_scope_once_applied(run, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    committed(repo, "scope: teama111\n")
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    record_applied(repo, "req-a", "requests/req-a.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Apply req-a")
    git(repo, "checkout", "-q", "-b", "change-scope")
    write(repo, SETTINGS, "scope: teamb222\n")
    git(repo, "commit", "-qam", "Change the scope")
    result = run("-C", str(repo), "validate", "--base", "main")
    assert result.exit_code == 1, result.output
    (line,) = [ln for ln in result.output.splitlines() if "(scope-changed)" in ln]
    assert line.startswith("reconciler.yaml:1:1: error: scope changed from teama111 to teamb222")
