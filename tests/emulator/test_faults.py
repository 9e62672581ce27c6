"""Fault injection: latency, 5xx, 429 with Retry-After, dropped responses, IMS down; counted."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.faults import FaultPlan, FaultSpec
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, PRIVACY, workorder_body


def test_errors_are_answered_before_anything_is_written(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"write": {"error_rate": 1}})
    statuses = [
        http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).status_code
        for _ in range(12)
    ]
    assert set(statuses) <= {500, 502, 503}
    assert len(set(statuses)) > 1
    assert emulator.admin.workorders() == []
    counts = emulator.admin.counters()
    assert sum(counts["by_class"]["write"].values()) == 12
    assert counts["total"] == {k: statuses.count(int(k[-3:])) for k in counts["total"]}
    # Reads are a separate class and unaffected.
    assert http.get(f"{HYGIENE}/workorder", headers=headers).status_code == 200


def test_throttling_sends_retry_after(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"throttle_rate": 1, "retry_after": 7})
    answer = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error_code"] == "429050"
    assert http.get(f"{PRIVACY}/jobs?regulation=gdpr", headers=headers).status_code == 429
    assert emulator.admin.workorders() == []
    assert emulator.admin.counters()["total"] == {"throttle_429": 2}


def test_response_dropped_after_the_write_committed(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"write": {"drop_after_commit_rate": 1}})
    with pytest.raises(httpx.TransportError):
        http.post(f"{HYGIENE}/workorder", json=workorder_body(description="lost"), headers=headers)
    consent = {"optOutOfSale": True, "entities": [{"nameSpace": "email", "values": ["a@x.io"]}]}
    with pytest.raises(httpx.TransportError):  # even a 202 with no body is cut short
        http.post(f"{PRIVACY}/consent", json=consent, headers=headers)
    refused = http.post(f"{HYGIENE}/workorder", json={}, headers=headers)
    assert refused.status_code == 400  # nothing committed: answered normally
    assert [w["description"] for w in emulator.admin.workorders()] == ["lost"]
    assert emulator.admin.consents()[0]["requests"] == 1
    assert emulator.admin.counters()["total"] == {"drop_after_commit": 2}
    log = emulator.admin.requests()
    assert [e["fault"] for e in log if e["method"] == "POST"][-3:] == [
        "drop_after_commit",
        "drop_after_commit",
        None,
    ]


def test_token_endpoint_down_or_slow(emulator: RunningEmulator, http: httpx.Client) -> None:
    c = emulator.client
    form = {
        "grant_type": "client_credentials",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
    }
    emulator.admin.set_faults({"token_down": True})
    down = http.post("/ims/token/v3", data=form)
    assert down.status_code == 503
    assert down.json()["error"] == "temporarily_unavailable"
    emulator.admin.set_faults({"token": {"latency_ms": 20}})
    assert http.post("/ims/token/v3", data=form).status_code == 200
    counts = emulator.admin.counters()["by_class"]["token"]
    assert counts == {"token_down": 1, "latency": 1}


def test_latency_is_counted_and_logged(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"read": {"latency_ms": 5, "jitter_ms": 5}})
    for _ in range(3):
        assert http.get(f"{HYGIENE}/workorder", headers=headers).status_code == 200
    assert emulator.admin.counters()["by_class"]["read"] == {"latency": 3}
    entries = emulator.admin.requests()
    assert [e["fault"] for e in entries if e["method"] == "GET"] == ["latency"] * 3
    assert set(entries[0]) == {"seq", "method", "path", "status", "fault", "at"}


def test_campaigns_are_reproducible(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    def campaign() -> list[int]:
        emulator.admin.set_faults({"seed": 42, "read": {"error_rate": 0.4, "throttle_rate": 0.2}})
        return [http.get(f"{HYGIENE}/workorder", headers=headers).status_code for _ in range(25)]

    first, second = campaign(), campaign()
    assert first == second
    assert 200 in first and set(first) - {200}


def test_faults_can_be_set_at_start() -> None:
    plan = FaultPlan(write=FaultSpec(error_rate=1.0))
    with (
        running_emulator(EmulatorConfig(faults=plan)) as emu,
        httpx.Client(base_url=emu.url) as http,
    ):
        answer = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=emu.headers())
        assert answer.status_code in (500, 502, 503)
        assert emu.admin.faults()["write"]["error_rate"] == 1.0
        emu.admin.set_faults({})
        answer = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=emu.headers())
        assert answer.status_code == 200


def test_bad_fault_plans_are_refused(emulator: RunningEmulator, http: httpx.Client) -> None:
    for plan in ({"error_rate": 1.5}, {"write": {"explode": 1}}, {"seed": "x"}):
        assert http.put("/_emulator/faults", json=plan).status_code == 400
