"""The kinds registry: every kind behind one interface, and no kind reached by its name."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.kinds import Kind, RequestKind, UnknownKindError
from reconciler.reconcile.ledger import Entry, Ledger, LedgerError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconciler"
# Where a kind may be named: its own module and the registry.
MAY_NAME_KINDS = {"kinds"}


def test_the_registry_holds_the_four_kinds_in_order() -> None:
    assert Kind.names() == ("RecordDelete", "PrivacyJob", "ConsentOptOut", "DatasetExpiration")
    assert [k.value for k in Kind] == list(Kind.names())
    assert len(Kind) == 4
    for kind in Kind:
        assert isinstance(kind, RequestKind)
        assert Kind(kind.value) is kind
        assert Kind(kind) is kind
        assert str(kind) == kind.value
        assert (ROOT / "schemas" / kind.schema).is_file()


@pytest.mark.parametrize("name", ["recorddelete", "Consent", "", "RecordDelete ", None, 3])
def test_an_unknown_kind_is_an_error_that_lists_the_kinds(name: object) -> None:
    with pytest.raises(UnknownKindError) as caught:
        Kind(name)
    assert isinstance(caught.value, ReconcilerError)
    assert "RecordDelete, PrivacyJob, ConsentOptOut, DatasetExpiration" in str(caught.value)


def test_a_ledger_entry_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    doc = {
        "apiVersion": "reconciler/v1",
        "name": "req-a",
        "kind": "DatasetDeletion",
        "path": "requests/req-a.yaml",
        "fingerprint": {"algorithm": "blake2b-256", "salt": "0" * 32, "digest": "0" * 64},
        "submittedAt": "2026-11-30T10:00:00Z",
        "remote": {},
    }
    (tmp_path / "ledger/req-a.json").write_text(json.dumps(doc))
    with pytest.raises(LedgerError, match="ledger/req-a.json"):
        Ledger.load(tmp_path / "ledger")
    with pytest.raises(UnknownKindError):
        Entry.from_json(doc)


def _kind_references(path: Path, root: Path = ROOT) -> list[str]:
    """Every ``Kind.SOMETHING`` attribute in a module: a branch on a kind's name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(root).as_posix()}:{node.lineno} Kind.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Kind"
        and node.attr.isupper()
    ]


def test_the_core_never_branches_on_a_kind_by_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if {rel.parts[0], rel.as_posix()} & MAY_NAME_KINDS or rel.parts[0] in ("adobe", "emulator"):
            continue
        found += _kind_references(path)
    assert found == []


def test_the_check_is_not_blind_to_a_branch_on_a_kind(tmp_path: Path) -> None:
    module = tmp_path / "reconciler" / "x.py"
    module.parent.mkdir()
    module.write_text("if kind is Kind.RECORD_DELETE or kind is Kind.PRIVACY_JOB:\n    pass\n")
    assert _kind_references(module, tmp_path) == [
        "reconciler/x.py:1 Kind.RECORD_DELETE",
        "reconciler/x.py:1 Kind.PRIVACY_JOB",
    ]


def test_new_refuses_a_kind_it_does_not_write_and_says_where_to_start(run, repo: Path) -> None:
    result = run("-C", str(repo), "new", "DatasetExpiration", "--name", "logs")
    assert result.exit_code == 2
    assert (
        "`reconciler new` writes RecordDelete, PrivacyJob, ConsentOptOut requests; write a "
        "DatasetExpiration from the example in requests/dataset-expirations/"
    ) in result.output
    assert not (repo / "requests" / "dataset-expirations").exists()
