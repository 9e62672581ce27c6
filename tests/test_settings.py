"""reconciler.yaml: defaults, overrides and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SettingsError
from reconciler.reconcile.tagging import UNSCOPED, Scope
from reconciler.settings import load_settings
from tests.conftest import git, write


def test_defaults_without_a_settings_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.requests_path == tmp_path / "requests"
    assert settings.ledger_path == tmp_path / "ledger"
    assert settings.adobe.platform_url == "https://platform.adobe.io"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "adobe:\n  orgId: FILE@AdobeOrg\n  sandboxName: dev\n")
    settings = load_settings(tmp_path, {"ADOBE_ORG_ID": "ENV@AdobeOrg"})
    assert settings.adobe.org_id == "ENV@AdobeOrg"
    assert settings.adobe.sandbox_name == "dev"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("limits:\n  maxIdentitiesPerRequest: lots\n", ":2:28:", id="wrong-type"),
        pytest.param("client:\n  maxConcurrency: 0\n", ":2:19:", id="out-of-range"),
        pytest.param("secret: x\n", ":1:1:", id="unknown-key"),
        pytest.param("paths: [a\n", ":2:1:", id="broken-yaml"),
        pytest.param("paths:\n  ledger: ../elsewhere\n", "outside the repository", id="escape"),
    ],
)
def test_bad_settings_are_a_located_error(tmp_path: Path, text: str, where: str) -> None:
    write(tmp_path, "reconciler.yaml", text)
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert where in str(info.value)
    assert str(info.value).startswith("reconciler.yaml")


# -- scope ------------------------------------------------------------------------------


def _committed(path: Path, file: str = "README.md") -> str:
    """A repository at ``path`` with one commit; the root commit's sha, as git prints it."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    write(path, file, "privacy requests\n")
    git(path, "add", file)
    git(path, "commit", "-qm", "Start")
    return git(path, "rev-list", "--max-parents=0", "HEAD").strip()


def test_a_declared_scope_is_the_scope(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "scope: team1a2b\n")
    settings = load_settings(tmp_path)
    assert settings.declared_scope == "team1a2b"
    assert settings.scope == Scope("team1a2b")


@pytest.mark.parametrize(
    "value", ["abc", "abcdefghijklmnopq", "Team1a2b", "team-1a2b", "'team1a2b\\n'", "1234567"]
)
def test_a_malformed_scope_is_a_located_error(tmp_path: Path, value: str) -> None:
    write(tmp_path, "reconciler.yaml", f"apiVersion: reconciler/v1\nscope: {value}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert str(info.value).startswith("reconciler.yaml:2:8: scope must be 4 to 16 lower-case")


def test_without_a_scope_it_is_derived_from_the_root_commit(tmp_path: Path) -> None:
    root = _committed(tmp_path / "repo")
    settings = load_settings(tmp_path / "repo")
    assert settings.declared_scope is None
    assert settings.scope == Scope(root[:8])
    # Later commits and another clone derive the same one.
    write(tmp_path / "repo", "reconciler.yaml", "limits:\n  maxIdentitiesPerRun: 10\n")
    git(tmp_path / "repo", "add", "reconciler.yaml")
    git(tmp_path / "repo", "commit", "-qm", "Settings")
    git(tmp_path, "clone", "-q", str(tmp_path / "repo"), "clone")
    assert load_settings(tmp_path / "repo").scope == Scope(root[:8])
    assert load_settings(tmp_path / "clone").scope == Scope(root[:8])


def test_merging_an_unrelated_history_keeps_the_derived_scope(tmp_path: Path) -> None:
    root = _committed(tmp_path / "repo")
    _committed(tmp_path / "other", "NOTES.md")
    repo = tmp_path / "repo"
    git(repo, "fetch", "-q", str(tmp_path / "other"), "main")
    git(repo, "merge", "-q", "--allow-unrelated-histories", "-m", "Merge", "FETCH_HEAD")
    assert len(git(repo, "rev-list", "--max-parents=0", "HEAD").split()) == 2
    assert load_settings(repo).scope == Scope(root[:8])


def test_no_commit_and_no_git_tag_without_a_scope(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    git(tmp_path / "empty", "init", "-q", "-b", "main")
    assert load_settings(tmp_path / "empty").scope == UNSCOPED
    (tmp_path / "plain").mkdir()
    assert load_settings(tmp_path / "plain").scope == UNSCOPED


def test_a_shallow_clone_without_a_scope_is_refused(tmp_path: Path) -> None:
    _committed(tmp_path / "repo")
    write(tmp_path / "repo", "more.txt", "x\n")
    git(tmp_path / "repo", "add", "more.txt")
    git(tmp_path / "repo", "commit", "-qm", "More")
    url = (tmp_path / "repo").as_uri()
    git(tmp_path, "clone", "-q", "--depth", "1", url, "shallow")
    settings = load_settings(tmp_path / "shallow")
    with pytest.raises(SettingsError, match="shallow clone") as info:
        settings.scope  # noqa: B018
    assert "scope:" in str(info.value)
    # With the scope in reconciler.yaml, a shallow clone needs no history.
    write(tmp_path / "shallow", "reconciler.yaml", "scope: team1a2b\n")
    assert load_settings(tmp_path / "shallow").scope == Scope("team1a2b")
