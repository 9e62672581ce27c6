"""Daily and monthly identity quotas: enforced on create, reported by /quota."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from reconciler.emulator.config import EmulatorConfig, QuotaConfig
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, workorder_body


@pytest.fixture
def small_quotas() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(quotas=QuotaConfig(daily_identities=5, monthly_identities=8))
    with running_emulator(config) as emu:
        # Start at 01:00 on the 2nd of next month, so "tomorrow" is in the same month.
        now = datetime.fromtimestamp(emu.admin.clock()["epoch"], UTC)
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        target = datetime(year, month, 2, 1, tzinfo=UTC).timestamp()
        emu.admin.advance(target - emu.admin.clock()["epoch"])
        yield emu


def _post(http: httpx.Client, headers: dict[str, str], count: int) -> httpx.Response:
    identities = [{"namespace": {"code": "email"}, "id": f"q{i}@x.io"} for i in range(count)]
    return http.post(
        f"{HYGIENE}/workorder", json=workorder_body(identities=identities), headers=headers
    )


def _consumed(http: httpx.Client, headers: dict[str, str]) -> dict[str, tuple[int, int]]:
    quotas = http.get(f"{HYGIENE}/quota", headers=headers).json()["quotas"]
    return {q["name"]: (q["consumed"], q["quota"]) for q in quotas}


def test_daily_and_monthly_quotas(small_quotas: RunningEmulator) -> None:
    emu = small_quotas
    headers = emu.headers()
    with httpx.Client(base_url=emu.url) as http:
        assert _post(http, headers, 3).status_code == 200
        refused = _post(http, headers, 3)
        assert refused.status_code == 400
        assert "Daily" in refused.json()["message"]
        assert _post(http, headers, 2).status_code == 200
        assert _consumed(http, headers)["dailyConsumerDeleteIdentitiesQuota"] == (5, 5)

        emu.admin.advance(24 * 3600)
        consumed = _consumed(http, headers)
        assert consumed["dailyConsumerDeleteIdentitiesQuota"] == (0, 5)
        assert consumed["monthlyConsumerDeleteIdentitiesQuota"] == (5, 8)
        monthly = _post(http, headers, 4)
        assert monthly.status_code == 400
        assert "Monthly" in monthly.json()["message"]
        assert _post(http, headers, 3).status_code == 200

        only = http.get(
            f"{HYGIENE}/quota?quotaType=monthlyConsumerDeleteIdentitiesQuota", headers=headers
        )
        assert [q["name"] for q in only.json()["quotas"]] == [
            "monthlyConsumerDeleteIdentitiesQuota"
        ]
    assert sum(w["identityCount"] for w in emu.admin.workorders()) == 8


def test_failed_workorders_do_not_count(emulator: RunningEmulator, http: httpx.Client) -> None:
    headers = emulator.headers()
    body = workorder_body(datasetId="ffffffffffffffffffffffffffffffff")
    assert http.post(f"{HYGIENE}/workorder", json=body, headers=headers).status_code == 200
    assert _consumed(http, headers)["dailyConsumerDeleteIdentitiesQuota"][0] == 3
    emulator.admin.advance(301)
    assert _consumed(http, headers)["dailyConsumerDeleteIdentitiesQuota"][0] == 0
