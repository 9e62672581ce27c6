"""A pull request cannot make anything unreviewed reach Adobe.

Property: start from a main branch whose requests are applied and whose ledger is
committed; let a pull request change request files, ledger files and settings the way
a careless or hostile author could (any mix of the mutations below); run the
pull-request check on it, merge it *whatever the check said* (an admin may override),
then run the apply job's steps (validate against the commit before the merge, apply).

* The check refuses the pull request exactly when a hostile mutation is in it.
* With a hostile mutation, nothing at all is written to Adobe after the merge.
* Without one, Adobe receives exactly the reviewed changes: each new request created
  once with exactly its declared identities, a changed display name updated once.
* No identity value of the hostile files appears in any output.

The emulator holds the work orders' identities; they are read from its store directly,
not through the code under test.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import cli
from tests.conftest import (
    CONSENT,
    PRIVACY_JOB,
    WORK_ORDER_TAG,
    git,
    tagged_counts,
    tagged_jobs,
    write,
    writes,
)

pytestmark = pytest.mark.chaos

EXAMPLES = int(os.environ.get("REVIEW_PROPERTY_EXAMPLES", "80"))
OTHER_DATASET = "7eab61f3e5c34810a49a1ab3"
# Values the hostile files carry, never to be shown in clear.
HOSTILE_VALUES = ("nl-victim@example.com", "zw-victim@example.com", "mailto-victim@example.com")


def record_delete(name: str, *ids: str, dataset: str = "c48b51623ec641a2949d339bad69cb15") -> str:
    lines = "".join(f"    - namespace: {{code: email}}\n      id: {i}\n" for i in ids)
    return (
        f"apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: {name}\nspec:\n"
        f"  datasetId: {dataset}\n  displayName: Example\n  description: Example.\n"
        f"  identities:\n{lines}"
    )


BASE = {
    "rd-a": record_delete("rd-a", "a1@example.com", "a2@example.com"),
    "rd-b": record_delete("rd-b", "b1@example.com"),
    "rd-c": record_delete("rd-c", "c1@example.com", dataset=OTHER_DATASET),
    "rd-d": record_delete("rd-d", "d1@example.com", "d2@example.com"),
    "pj-e": PRIVACY_JOB.format(name="pj-e"),
    "co-f": CONSENT.format(name="co-f"),
}


def path_of(repo: Path, name: str) -> Path:
    return repo / "requests" / f"{name}.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def settings_add(repo: Path, text: str) -> None:
    path = repo / "reconciler.yaml"
    path.write_text(path.read_text() + text)


def ledger_doc(repo: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((repo / "ledger" / f"{name}.json").read_text())
    return doc


# -- benign mutations: what a reviewer approves and Adobe should then receive -----------


def new_record_delete(repo: Path) -> None:
    write(repo, "requests/new-rd.yaml", record_delete("new-rd", "n1@example.com", "n2@example.com"))


def new_privacy_job(repo: Path) -> None:
    text = PRIVACY_JOB.format(name="new-pj").replace("c@example.com", "p1@example.com")
    write(repo, "requests/new-pj.yaml", text)


def display_name_changed(repo: Path) -> None:
    edit(path_of(repo, "rd-a"), "displayName: Example", "displayName: Reviewed new title")


def limits_lowered(repo: Path) -> None:
    settings_add(repo, "limits:\n  maxIdentitiesPerRun: 5000\n")


BENIGN: dict[str, Callable[[Path], None]] = {
    "new-record-delete": new_record_delete,
    "new-privacy-job": new_privacy_job,
    "display-name-changed": display_name_changed,
    "limits-lowered": limits_lowered,
}

# -- hostile mutations: each must be refused, and nothing may reach Adobe ---------------


def trailing_newline(repo: Path) -> None:
    text = record_delete("bad-nl", "placeholder").replace(
        "id: placeholder", f'id: "{HOSTILE_VALUES[0]}\\n"'
    )
    write(repo, "requests/bad-nl.yaml", text)


def zero_width(repo: Path) -> None:
    local, domain = HOSTILE_VALUES[1].split("@")
    text = record_delete("bad-zw", "placeholder").replace(
        "id: placeholder", f'id: "{local}\\u200b@{domain}"'
    )
    write(repo, "requests/bad-zw.yaml", text)


def mailto(repo: Path) -> None:
    text = record_delete("bad-mailto", f"mailto:{HOSTILE_VALUES[2]}")
    write(repo, "requests/bad-mailto.yaml", text)


def all_by_case(repo: Path) -> None:
    text = record_delete("bad-all", "all1@example.com", dataset="all").replace(
        "  name: bad-all\n", "  name: bad-all\n  allowAllDatasets: true\n"
    )
    write(repo, "requests/bad-all.yaml", text)


def yaml_1_2(repo: Path) -> None:
    write(repo, "requests/bad-yaml12.yaml", "%YAML 1.2\n---\n" + CONSENT.format(name="bad-yaml12"))


def symlink_outside(repo: Path) -> None:
    outside = repo.parent / "outside.yaml"
    outside.write_text(record_delete("bad-link", "link1@example.com"))
    (repo / "requests" / "bad-link.yaml").symlink_to(outside)


def imported_privacy_job(repo: Path) -> None:
    text = PRIVACY_JOB.format(name="bad-imported").replace(
        "  name: bad-imported\n", "  name: bad-imported\n  imported: true\n"
    )
    write(repo, "requests/bad-imported.yaml", text)


def renamed_applied(repo: Path) -> None:
    git(repo, "mv", "requests/rd-b.yaml", "requests/rd-b-renamed.yaml")
    edit(repo / "requests/rd-b-renamed.yaml", "name: rd-b", "name: rd-b-renamed")


def copied_applied(repo: Path) -> None:
    text = BASE["rd-c"].replace("name: rd-c", "name: rd-c-copy")
    write(repo, "requests/rd-c-copy.yaml", text)


def identity_edited(repo: Path) -> None:
    edit(path_of(repo, "rd-d"), "d2@example.com", "d3@example.com")


def request_removed(repo: Path) -> None:
    git(repo, "rm", "-q", "requests/rd-c.yaml")


def ledger_points_elsewhere(repo: Path) -> None:
    doc = ledger_doc(repo, "rd-a")
    doc["remote"]["workorderId"] = ledger_doc(repo, "rd-c")["remote"]["workorderId"]
    (repo / "ledger" / "rd-a.json").write_text(json.dumps(doc, indent=2) + "\n")


def ledger_forged(repo: Path) -> None:
    write(repo, "requests/forged.yaml", record_delete("forged", "f1@example.com"))
    doc = ledger_doc(repo, "rd-b")  # a real entry's shape, for another request
    doc.update(name="forged", path="requests/forged.yaml")
    doc["remote"]["workorderId"] = "DI-forged000000000000000000"
    (repo / "ledger" / "forged.json").write_text(json.dumps(doc, indent=2) + "\n")


def ledger_deleted(repo: Path) -> None:
    git(repo, "rm", "-q", "ledger/rd-d.json")


def endpoint_redirected(repo: Path) -> None:
    settings_add(repo, "adobe:\n  imsUrl: https://ims.attacker.example\n")


def ledger_path_moved(repo: Path) -> None:
    settings_add(repo, "paths:\n  ledger: fresh-ledger\n")


def limits_raised(repo: Path) -> None:
    settings_add(repo, "limits:\n  maxIdentitiesPerRun: 90000000\n")


HOSTILE: dict[str, Callable[[Path], None]] = {
    "trailing-newline": trailing_newline,
    "zero-width": zero_width,
    "mailto": mailto,
    "all-by-case": all_by_case,
    "yaml-1.2": yaml_1_2,
    "symlink-outside": symlink_outside,
    "imported-privacy-job": imported_privacy_job,
    "renamed-applied": renamed_applied,
    "copied-applied": copied_applied,
    "identity-edited": identity_edited,
    "request-removed": request_removed,
    "ledger-points-elsewhere": ledger_points_elsewhere,
    "ledger-forged": ledger_forged,
    "ledger-deleted": ledger_deleted,
    "endpoint-redirected": endpoint_redirected,
    "ledger-path-moved": ledger_path_moved,
    "limits-raised": limits_raised,
}
MUTATIONS = {**BENIGN, **HOSTILE}
# Settings mutations each append a top-level key: two of them at once would repeat it.
SETTINGS = {"limits-lowered", "endpoint-redirected", "ledger-path-moved", "limits-raised"}


def invoke(repo: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(repo), *args], catch_exceptions=False)
    return result.exit_code, result.output


def stored_identities(adobe: Any) -> dict[str, set[str]]:
    """Identity values of every work order, by request name from its tag (the emulator's
    own table, read directly)."""
    store = adobe.server.emulator.store
    with store._lock:
        rows = store._db.execute(
            "SELECT w.description AS d, i.value AS v FROM workorders w "
            "JOIN workorder_identities i ON i.workorder_id = w.workorder_id"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for row in rows:
        match = WORK_ORDER_TAG.search(row["d"] or "")
        if match:  # scoped or not, the tag's request name
            found.setdefault(match.group(1), set()).add(row["v"])
    return found


def applied_main(adobe: Any, root: Path) -> Path:
    repo = root / "repo"
    (repo / "requests").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo, "reconciler.yaml", "client:\n  requestsPerSecond: 1000\n")
    for name, text in BASE.items():
        write(repo, f"requests/{name}.yaml", text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    code, output = invoke(repo, "apply", "--auto-approve", "--commit")
    assert code == 0, output
    assert git(repo, "status", "--porcelain") == ""
    return repo


@pytest.mark.timeout(1800)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    chosen=st.sets(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3).filter(
        lambda s: len(s & SETTINGS) <= 1
    )
)
def test_nothing_unreviewed_reaches_adobe(adobe: Any, chosen: set[str]) -> None:
    adobe.admin.reset()
    root = Path(tempfile.mkdtemp(prefix="review-property-"))
    try:
        repo = applied_main(adobe, root)
        base_counts, base_jobs = tagged_counts(adobe), tagged_jobs(adobe)
        base_writes = len(writes(adobe))
        before = git(repo, "rev-parse", "HEAD").strip()

        git(repo, "checkout", "-q", "-b", "pr")
        for name in sorted(chosen):
            MUTATIONS[name](repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "pull request")
        check, check_output = invoke(repo, "validate", "--base", "main")
        hostile = chosen & set(HOSTILE)
        assert (check != 0) == bool(hostile), (sorted(chosen), check_output)

        # Merged whatever the check said; then the apply job's steps.
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", "-m", "merge", "pr")
        gate, gate_output = invoke(repo, "validate", "--base", before)
        outputs = check_output + gate_output
        if gate == 0:
            applied, apply_output = invoke(repo, "apply", "--auto-approve")
            outputs += apply_output
            assert applied == 0, apply_output
        assert (gate != 0) == bool(hostile), (sorted(chosen), gate_output)
        for value in HOSTILE_VALUES:
            assert value not in outputs

        new = writes(adobe)[base_writes:]
        if hostile:
            assert new == [], (sorted(chosen), new)
            assert tagged_counts(adobe) == base_counts
            return
        expected_counts = dict(base_counts)
        expected_writes = 0
        if "new-record-delete" in chosen:
            expected_counts["new-rd"] = 1
            expected_writes += 1
            assert stored_identities(adobe)["new-rd"] == {"n1@example.com", "n2@example.com"}
        if "display-name-changed" in chosen:
            expected_writes += 1
            (order,) = [
                o
                for o in adobe.admin.workorders()
                if (m := WORK_ORDER_TAG.search(o["description"])) and m.group(1) == "rd-a"
            ]
            assert order["displayName"] == "Reviewed new title"
        if "new-privacy-job" in chosen:
            expected_writes += 1
            assert set(tagged_jobs(adobe)["new-pj"].values()) == {1}
        assert tagged_counts(adobe) == expected_counts
        assert {k: v for k, v in tagged_jobs(adobe).items() if k != "new-pj"} == base_jobs
        assert len(new) == expected_writes, new
    finally:
        shutil.rmtree(root, ignore_errors=True)
