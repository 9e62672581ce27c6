"""Dataset expirations (``/ttl``) over real HTTP: create, the 24-hour rule, one per dataset,
the status on the emulator clock, get by either id, update and cancel.

Every response is checked against Adobe's spec by the ``http`` fixture. The list is in
``test_ttl_listing.py``; quotas, faults, isolation and persistence in ``test_ttl_service.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.emulator.config import EmulatorConfig, parse_config
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.ttl_helpers import (
    COMPLETED_AFTER,
    CONFIG,
    DATASETS,
    DAY,
    SPEC_FIELDS,
    TTL,
    TTL_ID,
    clock,
    create,
    created,
    detail,
    stamp,
)


@pytest.fixture(scope="module")
def ttl_emulator() -> Iterator[RunningEmulator]:
    with running_emulator(CONFIG) as emu:
        yield emu


@pytest.fixture
def emulator(ttl_emulator: RunningEmulator) -> RunningEmulator:
    """This module's emulator (more datasets, completion 2 h after the expiry), reset."""
    ttl_emulator.admin.reset()
    return ttl_emulator


# -- create -------------------------------------------------------------------------


def test_create_answers_the_spec_fields(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    answer = create(http, headers, 3, "2031-01-01", description="Retention: 5 years")
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == SPEC_FIELDS
    assert TTL_ID.fullmatch(body["ttlId"])
    assert body["datasetId"] == DATASETS[3].id
    assert body["datasetName"] == "Dataset_3"
    assert (body["sandboxName"], body["imsOrg"]) == ("prod", emulator.client.org_id)
    assert (body["displayName"], body["description"]) == ("Expiry", "Retention: 5 years")
    assert body["status"] == "pending"
    assert body["expiry"] == "2031-01-01T00:00:00.000Z"
    assert f"<{emulator.client.client_id}@techacct.adobe.com>" in body["updatedBy"]
    assert http.get(f"{TTL}/{body['ttlId']}", headers=headers).json() == body
    assert [e["ttlId"] for e in emulator.admin.expirations()] == [body["ttlId"]]


@pytest.mark.parametrize(
    ("expiry", "rendered"),
    [
        pytest.param("2031-03-04", "2031-03-04T00:00:00.000Z", id="date-is-midnight-utc"),
        pytest.param("2031-03-04T10:20", "2031-03-04T10:20:00.000Z", id="no-seconds-no-zone"),
        pytest.param("2031-03-04T10:20:30Z", "2031-03-04T10:20:30.000Z", id="utc"),
        pytest.param("2031-03-04T10:20:30.5+02:00", "2031-03-04T08:20:30.500Z", id="offset"),
        pytest.param("2031-03-04T23:30:00-01:00", "2031-03-05T00:30:00.000Z", id="next-day"),
    ],
)
def test_expiry_shapes(
    http: httpx.Client, headers: dict[str, str], expiry: str, rendered: str
) -> None:
    assert created(http, headers, expiry=expiry)["expiry"] == rendered


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"datasetId": None}, "datasetId must be a string", id="dataset-null"),
        pytest.param({"datasetId": 5}, "datasetId must be a string", id="dataset-number"),
        pytest.param({"datasetId": ""}, "datasetId is required", id="dataset-empty"),
        pytest.param({"datasetId": "a" * 300}, "at most 256", id="dataset-too-long"),
        pytest.param({"expiry": None}, "ISO 8601", id="expiry-null"),
        pytest.param({"expiry": 20310101}, "ISO 8601", id="expiry-number"),
        pytest.param({"expiry": "2031/01/01"}, "ISO 8601", id="expiry-slashes"),
        pytest.param({"expiry": "20310101"}, "ISO 8601", id="expiry-basic-format"),
        pytest.param({"expiry": "2031-W01-1"}, "ISO 8601", id="expiry-week-date"),
        pytest.param({"expiry": "２０３１-01-01"}, "ISO 8601", id="expiry-fullwidth-digits"),
        pytest.param({"expiry": "2031-02-30"}, "ISO 8601", id="expiry-no-such-day"),
        pytest.param({"expiry": "2031-01-01T24:00"}, "ISO 8601", id="expiry-hour-24"),
        pytest.param({"expiry": "2031-01-01T10:00+24:00"}, "ISO 8601", id="expiry-bad-offset"),
        pytest.param({"expiry": "9999-06-01"}, "before the year 9999", id="expiry-too-far"),
        pytest.param({"displayName": ""}, "displayName must not be empty", id="name-empty"),
        pytest.param({"displayName": ["x"]}, "displayName must be a string", id="name-list"),
        pytest.param({"description": 7}, "description must be a string", id="description"),
    ],
)
def test_bad_bodies_are_refused(
    emulator: RunningEmulator,
    http: httpx.Client,
    headers: dict[str, str],
    change: dict[str, Any],
    reason: str,
) -> None:
    assert reason in detail(create(http, headers, **change))
    assert emulator.admin.expirations() == []


def test_an_unknown_dataset_is_not_found(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    unknown = "ab" * 12
    body = {"datasetId": unknown, "expiry": "2031-01-01", "displayName": "x"}
    answer = http.post(TTL, json=body, headers=headers)
    assert answer.status_code == 404
    assert answer.json() == {"error_code": "404003", "message": f"Dataset {unknown} not found."}
    assert emulator.admin.expirations() == []


@pytest.mark.parametrize("missing", ["datasetId", "expiry", "displayName"])
def test_required_fields(http: httpx.Client, headers: dict[str, str], missing: str) -> None:
    body = {"datasetId": DATASETS[0].id, "expiry": "2031-01-01", "displayName": "x"}
    del body[missing]
    assert detail(http.post(TTL, json=body, headers=headers)) == f"{missing} is required."


def test_other_bodies_and_extra_fields(http: httpx.Client, headers: dict[str, str]) -> None:
    assert "JSON object" in detail(http.post(TTL, json=[], headers=headers))
    deep = b'{"a":' * 40 + b"1" + b"}" * 40
    sent = {**headers, "content-type": "application/json"}
    assert "nests JSON" in detail(http.post(TTL, content=deep, headers=sent))
    plain = http.post(TTL, content=b"{}", headers={**headers, "content-type": "text/plain"})
    assert plain.json()["detail"] == "A valid content-type must be specified"
    # Fields the spec does not name are tolerated, as by POST /workorder.
    assert create(http, headers, ttlTag="x").status_code == 201


def test_the_24_hour_rule(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    now = clock(emulator)
    early = create(http, headers, 0, stamp(now + DAY - 120))
    assert "at least 24 hours in the future" in detail(early)
    assert create(http, headers, 0, stamp(now - DAY)).status_code == 400
    item = created(http, headers, dataset=0, expiry=stamp(now + DAY + 120))
    url = f"{TTL}/{item['ttlId']}"
    assert "24 hours" in detail(http.put(url, json={"expiry": stamp(now + 3600)}, headers=headers))
    later = stamp(now + 3 * DAY)
    moved = http.put(url, json={"expiry": later}, headers=headers).json()
    assert moved["expiry"] == later.replace("Z", ".000Z")
    # Two days on, that expiry is under 24 hours away: sending it unchanged is no new
    # expiry, and the rest of the change is taken.
    emulator.admin.advance(2 * DAY + 60)
    same = http.put(url, json={"expiry": later, "displayName": "Renamed"}, headers=headers)
    assert (same.status_code, same.json()["displayName"]) == (200, "Renamed")
    moved_again = http.put(url, json={"expiry": stamp(now + 3 * DAY + 60)}, headers=headers)
    assert "24 hours" in detail(moved_again)


# -- one per dataset ------------------------------------------------------------------


def test_one_expiration_per_dataset(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    first = created(http, headers, dataset=1)
    again = detail(create(http, headers, 1, "2032-01-01"))
    assert again == (
        f"Dataset {DATASETS[1].id} already has an expiration ({first['ttlId']}, pending): "
        "one per dataset."
    )
    assert http.delete(f"{TTL}/{first['ttlId']}", headers=headers).status_code == 200
    second = created(http, headers, dataset=1, expiry="2032-01-01")
    by_dataset = http.get(f"{TTL}/{DATASETS[1].id}", headers=headers).json()
    assert by_dataset["ttlId"] == second["ttlId"]
    listed = http.get(TTL, params={"datasetId": DATASETS[1].id}, headers=headers).json()
    assert [r["status"] for r in listed["results"]] == ["pending", "cancelled"]


def test_a_completed_expiration_deleted_its_dataset(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    item = created(http, headers, dataset=2, expiry=stamp(clock(emulator) + DAY + 60))
    assert "already has an expiration" in detail(create(http, headers, 2, "2035-01-01"))
    emulator.admin.advance(DAY + 60)  # executing: still blocks
    assert f"({item['ttlId']}, executing)" in detail(create(http, headers, 2, "2035-01-01"))
    emulator.admin.advance(COMPLETED_AFTER)
    deleted = detail(create(http, headers, 2, "2035-01-01"))
    assert deleted == f"Dataset {DATASETS[2].id} was deleted by expiration {item['ttlId']}."


# -- status on the clock ----------------------------------------------------------------


def test_statuses_follow_the_clock(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    now = clock(emulator)
    expiry = int(now) + 2 * DAY
    item = created(http, headers, dataset=4, expiry=stamp(expiry))
    url = f"{TTL}/{item['ttlId']}"
    seen = []
    for target in (expiry - 5, expiry + 5, expiry + COMPLETED_AFTER - 5, expiry + COMPLETED_AFTER):
        emulator.admin.advance(target - clock(emulator))
        seen.append(http.get(url, headers=headers).json())
    assert [s["status"] for s in seen] == ["pending", "executing", "executing", "completed"]
    at_expiry = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    done = datetime.fromtimestamp(expiry + COMPLETED_AFTER, UTC)
    assert [s["updatedAt"] for s in seen] == [
        item["updatedAt"],
        at_expiry,
        at_expiry,
        done.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    ]
    assert {s["expiry"] for s in seen} == {at_expiry}


def test_expiration_steps_are_configurable() -> None:
    assert parse_config({"expiration_steps": {"completed": 60}}).expiration_steps.completed == 60
    assert EmulatorConfig().expiration_steps.completed == DAY


# -- get, update, cancel ------------------------------------------------------------------


def test_get_by_either_id(http: httpx.Client, headers: dict[str, str]) -> None:
    item = created(http, headers, dataset=5)
    assert http.get(f"{TTL}/{DATASETS[5].id}", headers=headers).json() == item
    missing = http.get(f"{TTL}/SD-nope", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "404003",
        "message": "Dataset expiration configuration SD-nope not found.",
    }
    assert http.get(f"{TTL}/{DATASETS[6].id}", headers=headers).status_code == 404
    assert "Unknown include" in detail(
        http.get(f"{TTL}/{item['ttlId']}?include=x", headers=headers)
    )


def test_the_history_of_an_expiration(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    item = created(http, headers, dataset=5, expiry="2031-01-01")
    url = f"{TTL}/{item['ttlId']}"
    emulator.admin.advance(60)
    moved = http.put(url, json={"expiry": "2031-02-01T12:00:00Z"}, headers=headers).json()
    emulator.admin.advance(60)
    cancelled = http.delete(url, headers=headers).json()
    plain = http.get(url, headers=headers).json()
    assert "history" not in plain
    answer = http.get(f"{TTL}/{DATASETS[5].id}", params={"include": "history"}, headers=headers)
    body = answer.json()
    assert {k: v for k, v in body.items() if k != "history"} == plain == cancelled
    assert body["history"] == [
        {
            "status": "created",
            "expiry": "2031-01-01T00:00:00.000Z",
            "updatedAt": item["updatedAt"],
            "updatedBy": item["updatedBy"],
        },
        {
            "status": "updated",
            "expiry": "2031-02-01T12:00:00.000Z",
            "updatedAt": moved["updatedAt"],
            "updatedBy": item["updatedBy"],
        },
        {
            "status": "cancelled",
            "expiry": "2031-02-01T12:00:00.000Z",
            "updatedAt": cancelled["updatedAt"],
            "updatedBy": item["updatedBy"],
        },
    ]


def test_update(emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]) -> None:
    item = created(http, headers, dataset=0, description="old")
    url = f"{TTL}/{item['ttlId']}"
    emulator.admin.advance(60)
    change = {"displayName": "Renamed", "description": "new", "expiry": "2032-02-29"}
    answer = http.put(url, json=change, headers=headers)
    assert answer.status_code == 200
    updated = answer.json()
    assert (updated["displayName"], updated["description"]) == ("Renamed", "new")
    assert updated["expiry"] == "2032-02-29T00:00:00.000Z"
    assert updated["updatedAt"] > item["updatedAt"]
    assert http.get(url, headers=headers).json() == updated
    only = http.put(url, json={"description": "newer"}, headers=headers).json()
    assert (only["displayName"], only["description"]) == ("Renamed", "newer")
    assert only["expiry"] == updated["expiry"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({}, "Only displayName, description and expiry", id="empty"),
        pytest.param({"datasetId": DATASETS[1].id}, "datasetId cannot be changed", id="dataset"),
        pytest.param({"status": "cancelled"}, "status cannot be changed", id="status"),
        pytest.param({"displayName": None}, "displayName must be a string", id="name-null"),
        pytest.param({"expiry": "soon"}, "ISO 8601", id="expiry"),
        pytest.param([], "JSON object", id="list"),
    ],
)
def test_bad_updates(http: httpx.Client, headers: dict[str, str], body: Any, reason: str) -> None:
    item = created(http, headers)
    assert reason in detail(http.put(f"{TTL}/{item['ttlId']}", json=body, headers=headers))
    assert http.get(f"{TTL}/{item['ttlId']}", headers=headers).json() == item


def test_update_and_cancel_only_while_pending(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    soon = created(http, headers, dataset=0, expiry=stamp(clock(emulator) + DAY + 60))
    later = created(http, headers, dataset=1, expiry="2032-01-01")
    emulator.admin.advance(DAY + 120)
    for answer in (
        http.put(f"{TTL}/{soon['ttlId']}", json={"description": "x"}, headers=headers),
        http.delete(f"{TTL}/{soon['ttlId']}", headers=headers),
    ):
        assert f"{soon['ttlId']} is executing: only a pending expiration" in detail(answer)
    cancelled = http.delete(f"{TTL}/{DATASETS[1].id}", headers=headers)  # by dataset id
    assert cancelled.status_code == 200
    assert set(cancelled.json()) == SPEC_FIELDS
    assert (cancelled.json()["ttlId"], cancelled.json()["status"]) == (later["ttlId"], "cancelled")
    again = http.delete(f"{TTL}/{later['ttlId']}", headers=headers)
    assert detail(again) == (
        f"Dataset expiration {later['ttlId']} is cancelled: only a pending expiration can be "
        "cancelled."
    )
    renamed = http.put(f"{TTL}/{later['ttlId']}", json={"displayName": "x"}, headers=headers)
    assert "is cancelled: only a pending expiration can be updated" in detail(renamed)


def test_unknown_ids_on_put_and_delete_are_404s(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    created(http, headers, dataset=3)
    # PUT takes an expiration id only (the spec's ttlId); DELETE either, as GET.
    by_dataset = http.put(f"{TTL}/{DATASETS[3].id}", json={"description": "x"}, headers=headers)
    assert by_dataset.status_code == 404
    assert http.put(f"{TTL}/SD-x", json={"description": "x"}, headers=headers).status_code == 404
    assert http.delete(f"{TTL}/SD-x", headers=headers).json()["error_code"] == "404003"
