"""The client against the real emulator over HTTP (skipped if the emulator is not available)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig, OutcomeUnknownError

testing = pytest.importorskip("reconciler.emulator.testing")


@pytest.fixture
def emulator() -> Iterator[Any]:
    with testing.running_emulator() as emu:
        yield emu


def make_client(emulator: Any) -> AdobeClient:
    env = {**emulator.env(), "ADOBE_SANDBOX_NAME": "prod"}
    config = AdobeConfig.from_env(env, backoff_base=0.01, requests_per_second=500.0)
    return AdobeClient(config)


def test_work_order_round_trip(emulator: Any) -> None:
    with make_client(emulator) as client:
        order = client.hygiene.create_work_order(
            dataset_id="ALL",
            display_name="Example",
            description="jira-round-trip",
            namespaces_identities={"email": ["a@example.com", "b@example.com"]},
        )
        assert order.workorder_id.startswith("DI-")
        assert order.operation_count == 2
        updated = client.hygiene.update_work_order(order.workorder_id, display_name="Renamed")
        assert updated.display_name == "Renamed"
        emulator.admin.expire_tokens()  # the next call gets a 401 and renews its token
        found = client.hygiene.list_work_orders(search="jira-round-trip", limit=1)
        assert [o.workorder_id for o in found] == [order.workorder_id]
        assert client.token_fetches == 2
        assert client.hygiene.get_quota()


def test_privacy_job_and_consent(emulator: Any) -> None:
    with make_client(emulator) as client:
        created = client.privacy.create_privacy_job(
            regulation="gdpr",
            include=["analytics"],
            users=[
                {
                    "key": "req-1",
                    "action": ["access", "delete"],
                    "userIDs": [
                        {"namespace": "email", "value": "a@example.com", "type": "standard"}
                    ],
                }
            ],
        )
        assert len(created.jobs) == 2
        job = client.privacy.get_privacy_job(created.jobs[0].job_id)
        assert job.user_key == "req-1"
        listed = client.privacy.list_privacy_jobs("gdpr")
        assert {j.job_id for j in listed} == {j.job_id for j in created.jobs}
        client.privacy.submit_consent({"email": ["a@example.com"]})


def test_lost_answer_is_unknown_and_found_by_its_tag(emulator: Any) -> None:
    emulator.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 1})
    with make_client(emulator) as client:
        with pytest.raises(OutcomeUnknownError):
            client.hygiene.create_work_order(
                dataset_id="ALL",
                display_name="Example",
                description="jira-lost",
                identities=[("email", "a@example.com")],
            )
        emulator.admin.set_faults({})
        assert len(client.hygiene.list_work_orders(search="jira-lost")) == 1


def posts(emulator: Any, path: str) -> list[dict[str, Any]]:
    return [e for e in emulator.admin.requests() if e["method"] == "POST" and e["path"] == path]


@pytest.mark.parametrize("status", [429, 401])
def test_a_create_answered_with_an_error_after_it_committed_is_sent_once(
    emulator: Any, status: int
) -> None:
    emulator.admin.set_faults(
        {
            "write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [status]},
            "seed": 3,
        }
    )
    with make_client(emulator) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            client.hygiene.create_work_order(
                dataset_id="ALL",
                display_name="Example",
                description="jira-committed",
                identities=[("email", "a@example.com")],
            )
        assert caught.value.status == status
        assert caught.value.attempts == 1
        assert f"answered {status}" in str(caught.value)
        assert "a@example.com" not in str(caught.value)
        # The look-up that follows gets a valid token even after the 401.
        emulator.admin.set_faults({})
        assert len(client.hygiene.list_work_orders(search="jira-committed")) == 1
    assert [e["status"] for e in posts(emulator, "/data/core/hygiene/workorder")] == [status]
    assert len(emulator.admin.workorders()) == 1
    assert emulator.admin.counters()["total"][f"commit_then_{status}"] == 1


@pytest.mark.parametrize("status", [429, 401])
def test_a_privacy_job_answered_with_an_error_after_it_committed_is_sent_once(
    emulator: Any, status: int
) -> None:
    emulator.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [status]}}
    )
    with make_client(emulator) as client, pytest.raises(OutcomeUnknownError) as caught:
        client.privacy.create_privacy_job(
            regulation="gdpr",
            include=["analytics"],
            users=[
                {
                    "key": "req-committed",
                    "action": ["delete"],
                    "userIDs": [{"namespace": "email", "value": "b@example.com"}],
                }
            ],
        )
    assert caught.value.status == status
    assert len(posts(emulator, "/data/core/privacy/jobs")) == 1
    assert [job["userKey"] for job in emulator.admin.jobs()] == ["req-committed"]
