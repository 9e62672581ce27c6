"""Git-aware rules against a real repository with a base branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONSENT, RECORD_DELETE, git, write
from tests.ledger_helpers import record_applied


@pytest.fixture
def based(repo: Path) -> Path:
    """main holds two requests, both applied; the work happens on branch `change`."""
    write(repo, "requests/deletes/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/consent/req-b.yaml", CONSENT.format(name="req-b"))
    record_applied(repo, "req-a", "requests/deletes/req-a.yaml")
    record_applied(repo, "req-b", "requests/consent/req-b.yaml", kind="ConsentOptOut")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare requests")
    git(repo, "checkout", "-qb", "change")
    return repo


def check(run, repo: Path) -> tuple[int, list[str]]:
    result = run("-C", str(repo), "validate", "--base", "main")
    return result.exit_code, result.output.strip().splitlines()


def test_mutable_fields_may_change(run, based: Path) -> None:
    path = based / "requests/deletes/req-a.yaml"
    text = path.read_text().replace("displayName: Example", "displayName: Renamed")
    path.write_text(text.replace("  name: req-a\n", "  name: req-a\n  ticket: T-1\n"))
    assert check(run, based) == (0, ["2 file(s) valid"])


def test_immutable_field_change_is_located(run, based: Path) -> None:
    path = based / "requests/deletes/req-a.yaml"
    path.write_text(path.read_text().replace("b@example.com", "z@example.com"))
    code, lines = check(run, based)
    assert code == 1
    assert lines[0].startswith("requests/deletes/req-a.yaml:9:3: error: spec.identities")
    assert lines[0].endswith("(immutable-field)")
    assert "declare a new request" in lines[0]
    assert "z@example.com" not in "\n".join(lines)


def test_dataset_change_in_a_committed_branch(run, based: Path) -> None:
    path = based / "requests/deletes/req-a.yaml"
    path.write_text(path.read_text().replace("c48b51623ec641a2949d339bad69cb15", "abc123"))
    git(based, "commit", "-qam", "change dataset")
    code, lines = check(run, based)
    assert code == 1
    assert lines[0].startswith("requests/deletes/req-a.yaml:6:3: error: spec.datasetId")


def test_removal_is_an_error(run, based: Path) -> None:
    git(based, "rm", "-q", "requests/consent/req-b.yaml")
    code, lines = check(run, based)
    assert code == 1
    assert lines[0].startswith("requests/consent/req-b.yaml:1:1: error: request 'req-b' was")
    assert lines[0].endswith("(request-removed)")


def test_rename_is_an_error(run, based: Path) -> None:
    git(based, "rm", "-q", "requests/consent/req-b.yaml")
    write(based, "requests/consent/req-c.yaml", CONSENT.format(name="req-c"))
    code, lines = check(run, based)
    assert code == 1
    assert lines[0].startswith("requests/consent/req-c.yaml:4:9: error: this is request 'req-b'")
    assert lines[0].endswith("(request-renamed)")


def test_moving_a_file_between_folders_is_fine(run, based: Path) -> None:
    git(based, "mv", "requests/consent/req-b.yaml", "requests/req-b.yaml")
    assert check(run, based)[0] == 0


def test_new_request_on_the_branch_is_fine(run, based: Path) -> None:
    write(based, "requests/req-d.yaml", CONSENT.format(name="req-d"))
    assert check(run, based)[0] == 0


def test_unknown_base_is_a_clear_error(run, based: Path) -> None:
    result = run("-C", str(based), "validate", "--base", "no-such-branch")
    assert result.exit_code == 1
    assert "unknown git revision 'no-such-branch'" in result.output


def test_not_a_repository(run, tmp_path: Path) -> None:
    write(tmp_path / "plain", "requests/req-b.yaml", CONSENT.format(name="req-b"))
    result = run("-C", str(tmp_path / "plain"), "validate", "--base", "main")
    assert result.exit_code == 1
    assert "is not inside a git repository" in result.output
