"""What Adobe returns about an object is checked against the request before it is believed.

A tag names a request, not a deletion: another clone or repository can tag its own
work order or privacy job with the same name, and a ledger file can be edited to point
anywhere. Each test reproduces one of those against the emulator over real HTTP and
checks the plan and what reached Adobe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.applier import Applier
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger
from reconciler.reconcile.planner import ActionType, RemoteState, plan_changes
from tests.conftest import (
    PRIVACY_JOB,
    RECORD_DELETE,
    emulator_today,
    git,
    no_wait,
    plan_and_apply,
    plan_now,
    request_from,
    tagged_counts,
    tagged_jobs,
    write,
)

OTHER_DATASET = RECORD_DELETE.replace(
    "c48b51623ec641a2949d339bad69cb15", "7eab61f3e5c34810a49a1ab3"
).replace("b@example.com", "z@example.com")
THREE_IDENTITIES = RECORD_DELETE.replace(
    "      id: b@example.com\n",
    "      id: b@example.com\n    - namespace: {{code: email}}\n      id: y@example.com\n",
)
OTHER_USER = PRIVACY_JOB.replace("key: user-1", "key: user-9").replace(
    "c@example.com", "q@example.com"
)


@pytest.fixture
def client(adobe: Any) -> Any:
    with AdobeClient(AdobeConfig.from_env({**os.environ}), sleep=no_wait) as c:
        yield c


def ledger_in(tmp_path: Path, name: str) -> Ledger:
    return Ledger.load(tmp_path / name)


def test_a_tagged_work_order_of_another_dataset_is_a_conflict_not_an_adopt(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    # A clone applied its own `shared-name`; main declares a different request of that name.
    theirs = request_from("shared-name", RECORD_DELETE)
    assert plan_and_apply(adobe, client, [theirs], ledger_in(tmp_path, "clone")).success
    ours = request_from("shared-name", OTHER_DATASET)
    plan = plan_now(adobe, client, [ours], ledger_in(tmp_path, "main"))
    (action,) = plan.actions
    assert action.type is ActionType.CONFLICT
    assert (
        "dataset is c48b51623ec641a2949d339bad69cb15 at Adobe but 7eab61f3e5c34810a49a1ab3 in "
        "the file" in action.reason
    )
    assert "name this request anew" in action.reason
    assert "@example.com" not in action.reason
    assert tagged_counts(adobe) == {"shared-name": 1}


def test_a_tagged_work_order_with_other_identities_is_a_conflict(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    theirs = request_from("same-dataset", RECORD_DELETE)
    assert plan_and_apply(adobe, client, [theirs], ledger_in(tmp_path, "clone")).success
    ours = request_from("same-dataset", THREE_IDENTITIES)
    (action,) = plan_now(adobe, client, [ours], ledger_in(tmp_path, "main")).actions
    assert action.type is ActionType.CONFLICT
    assert "identity count is 2 at Adobe but 3 in the file" in action.reason


def test_the_request_s_own_work_order_is_still_adopted_after_a_lost_ledger(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    request = request_from("lost-ledger", RECORD_DELETE)
    assert plan_and_apply(adobe, client, [request], ledger_in(tmp_path, "first")).success
    (action,) = plan_now(adobe, client, [request], ledger_in(tmp_path, "empty")).actions
    assert action.type is ActionType.ADOPT
    assert action.reason.startswith("found at Adobe by its tag but missing from the ledger")


def test_a_ledger_entry_pointing_at_another_request_s_work_order_is_a_conflict(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    a, b = request_from("req-a", RECORD_DELETE), request_from("req-b", RECORD_DELETE)
    ledger = ledger_in(tmp_path, "ledger")
    assert plan_and_apply(adobe, client, [a, b], ledger).success
    b_id = ledger.get("req-b").remote_id  # type: ignore[union-attr]
    path = tmp_path / "ledger" / "req-a.json"
    doc = json.loads(path.read_text())
    doc["remote"]["workorderId"] = b_id
    path.write_text(json.dumps(doc))
    plan = plan_now(adobe, client, [a, b], Ledger.load(tmp_path / "ledger"))
    by_name = {x.name: x for x in plan.actions}
    assert by_name["req-a"].type is ActionType.CONFLICT
    assert by_name["req-a"].reason.startswith(
        f"the ledger records {b_id}, but at Adobe that work order carries the tag of request "
        "'req-b'"
    )
    assert by_name["req-b"].type is ActionType.NOOP


def test_a_forged_ledger_entry_for_a_new_request_does_not_hide_it(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    request = request_from("never-sent", RECORD_DELETE)
    ledger = ledger_in(tmp_path, "ledger")
    ledger.put(  # what a pull request could add: an invented id, a fingerprint that matches
        Entry(
            name="never-sent",
            kind=request.kind,
            path=request.path,
            fingerprint=Fingerprint.of(request),
            submitted_at="2026-11-30T10:00:00Z",
            display_name=request.display_name,
            description=request.description,
            remote_id="DI-invented000000000000000",
            identity_count=2,
        )
    )
    plan = plan_now(adobe, client, [request], ledger)
    (action,) = plan.actions
    assert action.type is ActionType.CREATE
    assert (
        "the ledger records DI-invented000000000000000, but Adobe has no such work order and "
        "none carries this request's tag" in action.reason
    )
    applied = Applier(
        client, ledger, {request.name: request}, today=lambda: emulator_today(adobe), sleep=no_wait
    ).apply(plan)
    assert applied.success
    assert tagged_counts(adobe) == {"never-sent": 1}
    recorded = ledger.get("never-sent")
    assert recorded is not None and recorded.remote_id != "DI-invented000000000000000"
    assert recorded.remote_id == adobe.admin.workorders()[0]["workorderId"]


def test_a_ledger_id_adobe_does_not_have_is_repaired_from_the_tag(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    request = request_from("wrong-id", RECORD_DELETE)
    ledger = ledger_in(tmp_path, "ledger")
    assert plan_and_apply(adobe, client, [request], ledger).success
    real = adobe.admin.workorders()[0]["workorderId"]
    path = tmp_path / "ledger" / "wrong-id.json"
    doc = json.loads(path.read_text())
    doc["remote"]["workorderId"] = "DI-gone0000000000000000000"
    path.write_text(json.dumps(doc))
    ledger = Ledger.load(tmp_path / "ledger")
    plan = plan_now(adobe, client, [request], ledger)
    (action,) = plan.actions
    assert action.type is ActionType.ADOPT
    assert action.remote_ids == (real,)
    assert "DI-gone0000000000000000000, which Adobe does not have" in action.reason
    Applier(
        client, ledger, {request.name: request}, today=lambda: emulator_today(adobe), sleep=no_wait
    ).apply(plan)
    assert ledger.get("wrong-id").remote_id == real  # type: ignore[union-attr]
    assert tagged_counts(adobe) == {"wrong-id": 1}


def test_privacy_jobs_of_another_request_of_the_same_name_are_not_adopted(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    theirs = request_from("dsr-0001", PRIVACY_JOB)
    assert plan_and_apply(adobe, client, [theirs], ledger_in(tmp_path, "other-repo")).success
    ours = request_from("dsr-0001", OTHER_USER)
    (action,) = plan_now(adobe, client, [ours], ledger_in(tmp_path, "this-repo")).actions
    assert action.type is ActionType.CONFLICT
    assert "its user key is none of the users this file declares" in action.reason
    assert "user-1" not in action.reason and "user-9" not in action.reason
    assert set(tagged_jobs(adobe)["dsr-0001"]) == {
        ("user-1", "access", "analytics"),
        ("user-1", "access", "profileService"),
        ("user-1", "delete", "analytics"),
        ("user-1", "delete", "profileService"),
    }


def test_the_look_before_create_never_records_a_stranger(
    adobe: Any, client: Any, tmp_path: Path
) -> None:
    # A plan made before the other clone's create (no tagged work order yet), applied after.
    theirs = request_from("race", RECORD_DELETE)
    ours = request_from("race", OTHER_DATASET)
    ledger = ledger_in(tmp_path, "main")
    plan = plan_changes([ours], ledger, RemoteState())
    assert plan_and_apply(adobe, client, [theirs], ledger_in(tmp_path, "clone")).success
    foreign = adobe.admin.workorders()[0]["workorderId"]
    result = Applier(
        client, ledger, {ours.name: ours}, today=lambda: emulator_today(adobe), sleep=no_wait
    ).apply(plan)
    assert result.success
    (outcome,) = result.outcomes
    assert outcome.message.startswith("created ")
    recorded = ledger.get("race")
    assert recorded is not None and recorded.remote_id != foreign
    datasets = {o["workorderId"]: o["datasetId"] for o in adobe.admin.workorders()}
    assert datasets[recorded.remote_id] == "7eab61f3e5c34810a49a1ab3"
    assert tagged_counts(adobe) == {"race": 2}


def test_apply_refuses_the_adoption_of_another_clone_s_work_order(
    run: Any, adobe: Any, repo: Path, tmp_path: Path, client: Any
) -> None:
    theirs = request_from("shared-name", RECORD_DELETE)
    assert plan_and_apply(adobe, client, [theirs], ledger_in(tmp_path, "clone")).success
    write(repo, "requests/shared-name.yaml", OTHER_DATASET.format(name="shared-name"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code != 0
    assert "carries this request's tag at Adobe but is not this request" in result.output
    assert "nothing was applied" in result.output
    assert not (repo / "ledger" / "shared-name.json").exists()
    assert tagged_counts(adobe) == {"shared-name": 1}
