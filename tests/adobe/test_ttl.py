"""The dataset expiration calls (``client.ttl``) against answers that lie, scripted with
``httpx.MockTransport``. The round trips against the emulator are in
``test_ttl_emulator.py``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from reconciler.adobe import (
    ApiError,
    DatasetExpirationStatus,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
)

from .conftest import DATASET, TTL, TTL_ID, Harness, expiration_json, json_response

# --- create ---


def test_create_sends_the_spec_body(harness: Harness) -> None:
    harness.adobe.on("POST", TTL, json_response(201, expiration_json()))
    created = harness.make().ttl.create_expiration(
        DATASET,
        date(2030, 12, 31),
        "Expiry rule for Acme customers",
        "Set expiration for Acme customer dataset",
    )
    (request,) = harness.adobe.calls("POST")
    assert json.loads(request.content) == {
        "datasetId": DATASET,
        "expiry": "2030-12-31",
        "displayName": "Expiry rule for Acme customers",
        "description": "Set expiration for Acme customer dataset",
    }
    assert request.headers["x-sandbox-name"] == "prod"
    assert created.ttl_id == TTL_ID
    assert created.status is DatasetExpirationStatus.PENDING
    assert created.expiry == "2030-12-31T00:00:00Z"  # as Adobe wrote it
    assert created.expires_at == datetime(2030, 12, 31, tzinfo=UTC)
    assert created.updated_at == "2029-01-02T10:35:45.000Z"
    assert (created.dataset_name, created.sandbox_name) == ("Acme_Customer_Data", "acme-prod")
    assert created.ims_org == "C9D8E7F6A5B41234567890AB@AcmeOrg"
    assert created.updated_by is not None and created.updated_by.startswith("s.stark@")


def echo_created(request: httpx.Request) -> httpx.Response:
    """Answers a create with what it sent, as Adobe does."""
    body = json.loads(request.content)
    fields = {name: body[name] for name in ("displayName", "description", "expiry")}
    return json_response(201, expiration_json(**fields))


@pytest.mark.parametrize(
    ("expiry", "sent"),
    [
        pytest.param(datetime(2031, 3, 4, 10, 20, tzinfo=UTC), "2031-03-04T10:20:00Z", id="utc"),
        pytest.param(
            datetime(2031, 3, 4, 10, 20, tzinfo=timezone(timedelta(hours=2))),
            "2031-03-04T08:20:00Z",
            id="offset",
        ),
        pytest.param(
            datetime(2031, 3, 4, 10, 20, 0, 250_000, tzinfo=UTC),
            "2031-03-04T10:20:00.250Z",
            id="milliseconds",
        ),
        pytest.param("2031-03-04", "2031-03-04", id="date-text"),
        pytest.param("2031-03-04T10:20:00+02:00", "2031-03-04T10:20:00+02:00", id="text-as-is"),
    ],
)
def test_create_sends_times_in_utc(harness: Harness, expiry: datetime | str, sent: str) -> None:
    harness.adobe.on("POST", TTL, echo_created)
    harness.make().ttl.create_expiration(DATASET, expiry, "x")
    assert json.loads(harness.adobe.calls("POST")[0].content)["expiry"] == sent


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param(("../quota", date(2031, 1, 1), "x"), "dataset_id", id="dataset-path"),
        pytest.param(("", date(2031, 1, 1), "x"), "dataset_id", id="dataset-empty"),
        pytest.param((DATASET, datetime(2031, 1, 1), "x"), "time zone", id="naive-time"),
        pytest.param((DATASET, "31/12/2030", "x"), "ISO 8601", id="expiry-text"),
        pytest.param((DATASET, "2030-W52-1", "x"), "ISO 8601", id="expiry-week-date"),
        pytest.param((DATASET, "2030-02-30", "x"), "ISO 8601", id="expiry-no-such-day"),
        pytest.param((DATASET, 20301231, "x"), "ISO 8601 text", id="expiry-number"),
        pytest.param((DATASET, date(2031, 1, 1), " "), "display_name", id="blank-name"),
        pytest.param((DATASET, date(2031, 1, 1), "x", None), "description", id="description"),
    ],
)
def test_create_refuses_bad_input_before_sending(
    harness: Harness, args: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        harness.make().ttl.create_expiration(*args)
    assert harness.adobe.requests == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(json_response(201, {"status": "pending"}), id="no-ids"),
        pytest.param(json_response(201, expiration_json(datasetId="ffff")), id="other-dataset"),
        pytest.param(json_response(201, expiration_json(ttlId="SD-1/../x")), id="bad-id"),
        pytest.param(json_response(201, expiration_json(expiry="soon")), id="bad-expiry"),
        pytest.param(json_response(201, expiration_json(status=None)), id="no-status"),
        pytest.param(json_response(503, {"error_code": "503000"}), id="server-error"),
        pytest.param(json_response(201, expiration_json(displayName="y")), id="other-name"),
        pytest.param(json_response(201, expiration_json(description="z")), id="other-text"),
        pytest.param(
            json_response(201, expiration_json(expiry="2031-01-02T00:00:00Z")), id="other-expiry"
        ),
    ],
)
def test_a_create_without_a_valid_answer_is_an_unknown_outcome(
    harness: Harness, answer: httpx.Response
) -> None:
    harness.adobe.on("POST", TTL, answer)
    with pytest.raises(OutcomeUnknownError):
        harness.make().ttl.create_expiration(
            DATASET,
            date(2030, 12, 31),
            "Expiry rule for Acme customers",
            "Set expiration for Acme customer dataset",
        )
    assert len(harness.adobe.calls("POST")) == 1  # never re-sent blindly


def test_a_throttled_create_is_not_sent_again(harness: Harness) -> None:
    throttled = json_response(429, {"error_code": "429050"}, {"Retry-After": "2"})
    harness.adobe.on("POST", TTL, throttled, echo_created)
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().ttl.create_expiration(DATASET, date(2031, 1, 1), "x")
    assert caught.value.status == 429
    assert len(harness.adobe.calls("POST")) == 1
    assert harness.waits == []


def test_a_create_answer_without_name_or_description_is_taken(harness: Harness) -> None:
    answer = expiration_json(expiry="2031-01-01")
    del answer["displayName"], answer["description"]
    harness.adobe.on("POST", TTL, json_response(201, answer))
    assert harness.make().ttl.create_expiration(DATASET, date(2031, 1, 1), "x").ttl_id == TTL_ID


def test_the_refusal_of_a_create_is_read(harness: Harness) -> None:
    # The shape of the guide's example of a refusal: the reason in the title.
    refusal = {
        "type": "http://ns.adobe.com/aep/errors/HYGN-3102-400",
        "title": "The requested dataset already has an existing expiration.",
        "status": 400,
        "report": {"tenantInfo": {"sandboxName": "prod", "sandboxId": "not-applicable"}},
    }
    harness.adobe.on("POST", TTL, json_response(400, refusal))
    with pytest.raises(ApiError) as caught:
        harness.make().ttl.create_expiration(DATASET, date(2031, 1, 1), "x")
    assert caught.value.status == 400
    assert caught.value.error_code == "HYGN-3102-400"
    assert caught.value.message == "The requested dataset already has an existing expiration."


# --- get ---


def test_get_by_either_id(harness: Harness) -> None:
    harness.adobe.on("GET", f"{TTL}/{TTL_ID}", json_response(200, expiration_json()))
    harness.adobe.on("GET", f"{TTL}/{DATASET}", json_response(200, expiration_json()))
    client = harness.make()
    assert client.ttl.get_expiration(TTL_ID).dataset_id == DATASET
    assert client.ttl.get_expiration(DATASET).ttl_id == TTL_ID


def test_get_unknown_is_not_found(harness: Harness) -> None:
    missing = {"error_code": "404003", "message": f"Dataset expiration {TTL_ID} not found."}
    harness.adobe.on("GET", f"{TTL}/{TTL_ID}", json_response(404, missing))
    with pytest.raises(NotFoundError) as caught:
        harness.make().ttl.get_expiration(TTL_ID)
    assert caught.value.error_code == "404003"


def test_get_of_another_expiration_is_invalid(harness: Harness) -> None:
    other = expiration_json("SD-other", datasetId="other")
    harness.adobe.on("GET", f"{TTL}/{TTL_ID}", json_response(200, other))
    with pytest.raises(InvalidResponseError, match="another expiration"):
        harness.make().ttl.get_expiration(TTL_ID)


@pytest.mark.parametrize(
    ("status", "parsed"),
    [
        ("executing", DatasetExpirationStatus.EXECUTING),
        ("completed", DatasetExpirationStatus.COMPLETED),
        ("cancelled", DatasetExpirationStatus.CANCELLED),
        ("paused", DatasetExpirationStatus.UNKNOWN),
        ("Pending", DatasetExpirationStatus.UNKNOWN),  # the spec's values are case-sensitive
    ],
)
def test_statuses(harness: Harness, status: str, parsed: DatasetExpirationStatus) -> None:
    harness.adobe.on("GET", f"{TTL}/{TTL_ID}", json_response(200, expiration_json(status=status)))
    expiration = harness.make().ttl.get_expiration(TTL_ID)
    assert (expiration.status, expiration.status_text) == (parsed, status)
    assert expiration.status.is_final == (status in ("completed", "cancelled"))


@pytest.mark.parametrize("bad_id", ["", "../quota", "SD-1/x", "SD 1", "SD-1?page=2", "é"])
def test_bad_ids_from_the_caller_are_refused(harness: Harness, bad_id: str) -> None:
    client = harness.make()
    for call in (
        lambda: client.ttl.get_expiration(bad_id),
        lambda: client.ttl.update_expiration(bad_id, description="x"),
        lambda: client.ttl.cancel_expiration(bad_id),
        lambda: client.ttl.list_expirations(dataset_id=bad_id),
    ):
        with pytest.raises(InvalidArgumentError):
            call()
    assert harness.adobe.requests == []


# --- update ---


def test_update_sends_only_what_changes(harness: Harness) -> None:
    answer = expiration_json(description="new", expiry="2031-06-15T00:00:00.000Z")
    harness.adobe.on("PUT", f"{TTL}/{TTL_ID}", json_response(200, answer))
    updated = harness.make().ttl.update_expiration(
        TTL_ID, expiry=date(2031, 6, 15), description="new"
    )
    assert updated.expires_at == datetime(2031, 6, 15, tzinfo=UTC)
    (request,) = harness.adobe.calls("PUT")
    assert json.loads(request.content) == {"description": "new", "expiry": "2031-06-15"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"display_name": "New"}, "displayName", id="name"),
        pytest.param({"description": "new"}, "description", id="description"),
        pytest.param({"expiry": date(2031, 6, 15)}, "expiry", id="expiry"),
    ],
)
def test_an_update_the_answer_does_not_show_is_invalid(
    harness: Harness, change: dict[str, Any], field: str
) -> None:
    harness.adobe.on("PUT", f"{TTL}/{TTL_ID}", json_response(200, expiration_json()))
    with pytest.raises(InvalidResponseError, match=f"change to {field}"):
        harness.make().ttl.update_expiration(TTL_ID, **change)


def test_update_is_retried_and_needs_a_change(harness: Harness) -> None:
    harness.adobe.on(
        "PUT",
        f"{TTL}/{TTL_ID}",
        json_response(502, {"error_code": "502000"}),
        json_response(200, expiration_json(displayName="New")),
    )
    client = harness.make()
    assert client.ttl.update_expiration(TTL_ID, display_name="New").display_name == "New"
    assert len(harness.adobe.calls("PUT")) == 2  # PUT is idempotent
    with pytest.raises(InvalidArgumentError, match="nothing to update"):
        client.ttl.update_expiration(TTL_ID)


# --- cancel ---


def test_cancel(harness: Harness) -> None:
    harness.adobe.on(
        "DELETE", f"{TTL}/{TTL_ID}", json_response(200, expiration_json(status="cancelled"))
    )
    cancelled = harness.make().ttl.cancel_expiration(TTL_ID)
    assert cancelled.status is DatasetExpirationStatus.CANCELLED


def test_a_cancel_answered_pending_is_invalid(harness: Harness) -> None:
    harness.adobe.on("DELETE", f"{TTL}/{TTL_ID}", json_response(200, expiration_json()))
    with pytest.raises(InvalidResponseError, match="says pending, not cancelled"):
        harness.make().ttl.cancel_expiration(TTL_ID)


@pytest.mark.parametrize("refused", [400, 404])
def test_a_retried_cancel_finds_it_cancelled(harness: Harness, refused: int) -> None:
    refusal = {"title": f"Dataset expiration {TTL_ID} is cancelled: only a pending one can be."}
    harness.adobe.on(
        "DELETE",
        f"{TTL}/{TTL_ID}",
        json_response(503, {"error_code": "503000"}),  # applied, but the answer was lost
        json_response(refused, refusal),
    )
    harness.adobe.on(
        "GET", f"{TTL}/{TTL_ID}", json_response(200, expiration_json(status="cancelled"))
    )
    assert harness.make().ttl.cancel_expiration(TTL_ID).status_text == "cancelled"
    assert [r.method for r in harness.adobe.calls()] == ["DELETE", "DELETE", "GET"]


def test_a_refused_cancel_of_an_executing_expiration_is_raised(harness: Harness) -> None:
    refusal = {"detail": f"Dataset expiration {TTL_ID} is executing."}
    harness.adobe.on("DELETE", f"{TTL}/{TTL_ID}", json_response(400, refusal))
    harness.adobe.on(
        "GET", f"{TTL}/{TTL_ID}", json_response(200, expiration_json(status="executing"))
    )
    with pytest.raises(ApiError, match="is executing"):
        harness.make().ttl.cancel_expiration(TTL_ID)


def test_a_cancel_of_an_unknown_expiration_is_not_found(harness: Harness) -> None:
    missing = json_response(404, {"error_code": "404003", "message": "not found"})
    harness.adobe.on("DELETE", f"{TTL}/{TTL_ID}", missing)
    harness.adobe.on("GET", f"{TTL}/{TTL_ID}", missing)
    with pytest.raises(NotFoundError) as caught:
        harness.make().ttl.cancel_expiration(TTL_ID)
    assert caught.value.method == "DELETE"  # the refusal, not the look-up
    assert [r.method for r in harness.adobe.calls()] == ["DELETE", "GET"]


def test_a_cancel_that_keeps_failing_is_a_server_error(harness: Harness) -> None:
    harness.adobe.on("DELETE", f"{TTL}/{TTL_ID}", json_response(500, {"error_code": "500001"}))
    with pytest.raises(ServerError):
        harness.make().ttl.cancel_expiration(TTL_ID)
    assert len(harness.adobe.calls("DELETE")) == 4  # max_retries 3 in the harness
