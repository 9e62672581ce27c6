"""DatasetExpiration end to end: the CLI, a real git repository, the emulator over HTTP.

Counts are taken at the emulator (its admin listing of every expiration), never from
the tool's own view, and the tag is decoded here from its documented form.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, write
from tests.ledger_helpers import record_applied

EXPIRATION = """\
apiVersion: reconciler/v1
kind: DatasetExpiration
metadata:
  name: {name}
spec:
  datasetId: {dataset}
  expiry: "{expiry}"
  displayName: Retention of {dataset}
  description: Retention schedule.
"""
# The tag as tagging.py documents it: the repository's scope (derived from the root commit
# in these repositories) and a slash, then the request's name.
TAG = re.compile(r"(?:\A| )\[reconciler:(?:[a-z0-9]{4,16}/)?([a-z0-9][-a-z0-9]*)\]\Z")
FAR = "2031-03-31"


def expirations(adobe: Any) -> list[dict[str, Any]]:
    return list(adobe.admin.expirations())


def per_dataset(adobe: Any) -> Counter[str]:
    """Live (not cancelled) expirations per dataset at the emulator."""
    return Counter(e["datasetId"] for e in expirations(adobe) if e["status"] != "cancelled")


def tags(adobe: Any) -> Counter[str]:
    found: Counter[str] = Counter()
    for e in expirations(adobe):
        match = TAG.search(e.get("description") or "")
        if match:
            found[match.group(1)] += 1
    return found


def ttl_writes(adobe: Any) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in adobe.admin.requests()
        if r["method"] in ("POST", "PUT", "DELETE") and "/ttl" in r["path"]
    ]


def declare(repo: Path, name: str, dataset: str, expiry: str = FAR) -> Path:
    path = write(
        repo,
        f"requests/dataset-expirations/{name}.yaml",
        EXPIRATION.format(name=name, dataset=dataset, expiry=expiry),
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"declare {name}")
    return path


def edit(repo: Path, path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(repo, "commit", "-qam", f"edit {path.name}")


def apply(run: Any, repo: Path) -> Any:
    return run("-C", str(repo), "apply", "--auto-approve")


def plan(run: Any, repo: Path, *args: str) -> Any:
    return run("-C", str(repo), "plan", *args)


def ledger(repo: Path, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((repo / f"ledger/{name}.json").read_text())
    return result


def test_create_update_cancel_and_a_lost_ledger_keep_one_expiration(
    run: Any, adobe: Any, repo: Path
) -> None:
    path = declare(repo, "events-retention", "3e9f815ae1194c65b2a4c5ea")
    assert run("-C", str(repo), "validate").exit_code == 0

    offline = plan(run, repo, "--offline")
    assert offline.exit_code == 0, offline.output
    assert "create   DatasetExpiration" in offline.output
    assert "dataset 3e9f815ae1194c65b2a4c5ea expires 2031-03-31T00:00:00Z" in offline.output

    created = apply(run, repo)
    assert created.exit_code == 0, created.output
    assert "1 created" in created.output
    (item,) = expirations(adobe)
    assert item["status"] == "pending" and item["expiry"].startswith("2031-03-31")
    assert tags(adobe) == {"events-retention": 1}
    entry = ledger(repo, "events-retention")
    assert entry["kind"] == "DatasetExpiration"
    assert entry["remote"] == {"ttlId": item["ttlId"]}
    assert entry["fields"] == {"expiry": "2031-03-31T00:00:00Z"}

    before = len(ttl_writes(adobe))
    again = apply(run, repo)
    assert again.exit_code == 0 and "No changes" in again.output
    assert len(ttl_writes(adobe)) == before

    # expiry and displayName change while pending: one PUT, the same expiration.
    edit(repo, path, f'expiry: "{FAR}"', 'expiry: "2032-01-15"')
    edit(repo, path, "displayName: Retention of", "displayName: Longer retention of")
    shown = plan(run, repo)
    assert "update   DatasetExpiration" in shown.output
    assert 'expiry: "2031-03-31T00:00:00Z" → "2032-01-15T00:00:00Z"' in shown.output
    updated = apply(run, repo)
    assert updated.exit_code == 0, updated.output
    assert ttl_writes(adobe)[before:] == [("PUT", f"/data/core/hygiene/ttl/{item['ttlId']}")]
    (item,) = expirations(adobe)
    assert item["expiry"].startswith("2032-01-15")
    assert item["displayName"].startswith("Longer retention of")
    assert ledger(repo, "events-retention")["fields"] == {"expiry": "2032-01-15T00:00:00Z"}

    # The ledger is lost: the expiration is found by its tag and recorded, not re-created.
    shutil.rmtree(repo / "ledger")
    adopted = plan(run, repo)
    assert "adopt    DatasetExpiration" in adopted.output
    assert apply(run, repo).exit_code == 0
    assert ledger(repo, "events-retention")["remote"] == {"ttlId": item["ttlId"]}
    assert per_dataset(adobe) == {"3e9f815ae1194c65b2a4c5ea": 1}

    # Cancelled by a reviewed change: one DELETE; then nothing more to do.
    edit(
        repo,
        path,
        "  description: Retention schedule.\n",
        "  description: Retention schedule.\n  cancelled: true\n",
    )
    cancel = plan(run, repo)
    assert "x cancel   DatasetExpiration events-retention" in cancel.output
    done = apply(run, repo)
    assert done.exit_code == 0, done.output
    assert "1 cancelled" in done.output
    assert ttl_writes(adobe)[-1] == ("DELETE", f"/data/core/hygiene/ttl/{item['ttlId']}")
    assert [e["status"] for e in expirations(adobe)] == ["cancelled"]
    assert ledger(repo, "events-retention")["status"]["value"] == "cancelled"
    writes_after = len(ttl_writes(adobe))
    assert "No changes" in apply(run, repo).output
    assert len(ttl_writes(adobe)) == writes_after


def test_a_lost_create_response_is_found_by_dataset_and_tag(
    run: Any, adobe: Any, repo: Path
) -> None:
    declare(repo, "lost-answer", "7eab61f3e5c34810a49a1ab3")
    adobe.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 3})
    first = apply(run, repo)
    adobe.admin.set_faults({})
    assert "found at Adobe and recorded" in first.output, first.output
    assert adobe.admin.counters()["total"].get("drop_after_commit", 0) >= 1
    assert apply(run, repo).exit_code == 0
    assert per_dataset(adobe) == {"7eab61f3e5c34810a49a1ab3": 1}
    assert tags(adobe) == {"lost-answer": 1}
    (item,) = expirations(adobe)
    assert ledger(repo, "lost-answer")["remote"] == {"ttlId": item["ttlId"]}


def _advance_past(adobe: Any, expiry: str) -> None:
    now = adobe.admin.clock()["epoch"]
    target = datetime.fromisoformat(expiry).replace(tzinfo=UTC).timestamp()
    adobe.admin.advance(target - now + 60)


def test_once_executing_it_can_neither_change_nor_be_cancelled(
    run: Any, adobe: Any, repo: Path
) -> None:
    path = declare(repo, "old-logs", "5c7a6b8f3b9b455eac9321cd")
    assert apply(run, repo).exit_code == 0
    _advance_past(adobe, FAR)
    assert [e["status"] for e in expirations(adobe)] == ["executing"]

    edit(repo, path, f'expiry: "{FAR}"', 'expiry: "2033-01-01"')
    changed = plan(run, repo)
    assert changed.exit_code == 1, changed.output
    assert "conflict DatasetExpiration old-logs" in changed.output
    assert "executing at Adobe" in changed.output

    edit(repo, path, 'expiry: "2033-01-01"', f'expiry: "{FAR}"')
    edit(
        repo,
        path,
        "  description: Retention schedule.\n",
        "  description: Retention schedule.\n  cancelled: true\n",
    )
    cancelled = plan(run, repo)
    assert cancelled.exit_code == 1
    assert "cannot cancel: it is executing at Adobe" in cancelled.output
    before = len(ttl_writes(adobe))
    assert apply(run, repo).exit_code != 0
    assert len(ttl_writes(adobe)) == before
    assert [e["status"] for e in expirations(adobe)] == ["executing"]


def test_an_expiry_less_than_a_day_away_is_refused_before_anything_is_sent(
    run: Any, adobe: Any, repo: Path
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    declare(repo, "too-soon", "c48b51623ec641a2949d339bad69cb15", expiry=soon)
    shown = plan(run, repo, "--offline")
    assert shown.exit_code == 1
    assert "less than 24 hours away" in shown.output
    assert apply(run, repo).exit_code != 0
    assert expirations(adobe) == []


def test_one_expiration_per_dataset_names_both_files(run: Any, repo: Path) -> None:
    declare(repo, "first", "9ba9452f7de80400007fc52e")
    declare(repo, "second", "9ba9452f7de80400007fc52e", expiry="2032-06-30")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    line = (
        "requests/dataset-expirations/second.yaml:6:14: error: dataset "
        "9ba9452f7de80400007fc52e already has an expiration in "
        "requests/dataset-expirations/first.yaml:6; Adobe keeps one per dataset: change "
        "that file, or cancel it first (one-expiration-per-dataset)"
    )
    assert line in result.output
    assert result.output.count("one-expiration-per-dataset") == 1


def test_a_cancelled_expiration_frees_its_dataset(run: Any, repo: Path) -> None:
    first = declare(repo, "first", "9ba9452f7de80400007fc52e")
    edit(
        repo,
        first,
        "  description: Retention schedule.\n",
        "  description: Retention schedule.\n  cancelled: true\n",
    )
    declare(repo, "second", "9ba9452f7de80400007fc52e", expiry="2032-06-30")
    assert run("-C", str(repo), "validate").exit_code == 0


@pytest.mark.parametrize(
    ("expiry", "valid"),
    [
        ("2031-03-31", True),
        ("2031-03-31T12:00:00Z", True),
        ("2031-03-31T12:00:00+02:00", True),
        ("2031-03-31T12:00", False),  # a time needs its offset: no guessing the zone
        ("2031-02-30x", False),
        ("31/03/2031", False),
        ("", False),
    ],
)
def test_expiry_forms(run: Any, repo: Path, expiry: str, valid: bool) -> None:
    declare(repo, "form", "aba9452f7de80400007fc52f", expiry=expiry)
    result = run("-C", str(repo), "validate")
    assert (result.exit_code == 0) is valid, result.output


def _validate_against(run: Any, repo: Path, base: str) -> Any:
    return run("-C", str(repo), "validate", "--base", base)


def _record_applied(repo: Path, name: str) -> None:
    """The ledger entry apply writes: the base rules hold for requests Adobe accepted."""
    path = f"requests/dataset-expirations/{name}.yaml"
    remote = {"ttlId": f"ttl-{name}"}
    record_applied(repo, name, path, kind="DatasetExpiration", remote=remote, identityCount=0)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"apply {name}")


def test_against_the_base_expiry_may_change_the_dataset_may_not(run: Any, repo: Path) -> None:
    path = declare(repo, "kept", "3e9f815ae1194c65b2a4c5ea")
    _record_applied(repo, "kept")
    base = git(repo, "rev-parse", "HEAD").strip()
    edit(repo, path, f'expiry: "{FAR}"', 'expiry: "2032-02-29"')
    edit(
        repo,
        path,
        "  description: Retention schedule.\n",
        "  description: Retention schedule.\n  cancelled: true\n",
    )
    assert _validate_against(run, repo, base).exit_code == 0
    edit(repo, path, "datasetId: 3e9f815ae1194c65b2a4c5ea", "datasetId: 7eab61f3e5c34810a49a1ab3")
    moved = _validate_against(run, repo, base)
    assert moved.exit_code == 1
    assert "spec.datasetId of request 'kept' changed since" in moved.output
    assert "(immutable-field)" in moved.output


def test_removing_an_expiration_says_to_cancel_it_instead(run: Any, repo: Path) -> None:
    path = declare(repo, "gone", "3e9f815ae1194c65b2a4c5ea")
    _record_applied(repo, "gone")
    base = git(repo, "rev-parse", "HEAD").strip()
    path.unlink()
    git(repo, "commit", "-qam", "remove gone")
    result = _validate_against(run, repo, base)
    assert result.exit_code == 1
    assert (
        "requests/dataset-expirations/gone.yaml:1:1: error: request 'gone' was removed; "
        "removing a file cancels nothing at Adobe and loses the record of it: restore the "
        "file, and set spec.cancelled: true in it to cancel the dataset expiration "
        "(request-removed)"
    ) in result.output
