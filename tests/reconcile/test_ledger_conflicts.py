"""Two clones that recorded one request differently: Adobe decides, or a person does.

Real git (a bare remote, two clones), the CLI, the emulator over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RECORD_DELETE, git, tagged_counts, write, writes


@pytest.fixture
def clones(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    one, two = tmp_path / "one", tmp_path / "two"
    git(tmp_path, "clone", "-q", str(bare), str(one))
    git(tmp_path, "clone", "-q", str(bare), str(two))
    return one, two


def apply(run, repo: Path, *args: str):
    return run("-C", str(repo), "apply", "--auto-approve", *args)


def test_the_entry_adobe_confirms_is_kept(run, adobe, clones: tuple[Path, Path]) -> None:
    one, two = clones
    assert apply(run, two, "--push").exit_code == 0
    published = json.loads((two / "ledger/req-a.json").read_text())
    # This clone's unpushed commit records an id Adobe does not know.
    forged = {**published, "remote": {"workorderId": "WO-nowhere"}}
    write(one, "ledger/req-a.json", json.dumps(forged, indent=2) + "\n")
    git(one, "add", "-A")
    git(one, "commit", "-qm", "a ledger entry of this clone")
    before = len(writes(adobe))
    result = apply(run, one, "--push")
    assert result.exit_code == 0, result.output
    assert "No changes" in result.output
    kept = json.loads((one / "ledger/req-a.json").read_text())
    assert kept["remote"] == published["remote"]
    assert git(one, "status", "--porcelain").strip() == ""
    assert len(writes(adobe)) == before
    assert tagged_counts(adobe) == {"req-a": 1}


def test_two_objects_at_adobe_stop_for_a_person(run, adobe, clones: tuple[Path, Path]) -> None:
    one, two = clones
    # A lagging listing hides the first clone's work order from the second: two at Adobe.
    adobe.admin.set_faults({"read": {"search_lag_s": 600}})
    assert apply(run, one, "--commit").exit_code == 0
    assert apply(run, two, "--push").exit_code == 0
    adobe.admin.set_faults({})
    assert tagged_counts(adobe) == {"req-a": 2}
    head = git(one, "rev-parse", "HEAD").strip()
    result = apply(run, one, "--push")
    assert result.exit_code == 1
    assert "ledger/req-a.json" in result.stderr
    assert "Traceback" not in result.output
    # Never left mid-rebase: on its branch, at its own commit.
    assert git(one, "rev-parse", "HEAD").strip() == head
    assert git(one, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert not (one / ".git" / "rebase-merge").exists()
