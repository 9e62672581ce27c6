"""Shared by the dataset expiration (``/ttl``) tests: an emulator with more datasets and a
short completion step, and helpers that create expirations and read the spec's 400s."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from reconciler.emulator.config import (
    DEFAULT_DATASETS,
    DatasetConfig,
    EmulatorConfig,
    ExpirationSteps,
)
from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE

TTL = f"{HYGIENE}/ttl"
DATASETS = tuple(DatasetConfig(f"{i:02d}{'ab' * 11}", f"Dataset_{i}", "email") for i in range(8))
COMPLETED_AFTER = 7200
CONFIG = EmulatorConfig(
    datasets=DEFAULT_DATASETS + DATASETS,
    expiration_steps=ExpirationSteps(completed=COMPLETED_AFTER),
)
# CreateTTLResponse's properties, as listed in data-hygiene.yaml.
SPEC_FIELDS = {
    "ttlId",
    "datasetId",
    "datasetName",
    "sandboxName",
    "displayName",
    "description",
    "imsOrg",
    "status",
    "expiry",
    "updatedAt",
    "updatedBy",
}
TTL_ID = re.compile(r"SD-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DAY = 86400


def clock(emulator: RunningEmulator) -> float:
    return float(emulator.admin.clock()["epoch"])


def stamp(epoch: float) -> str:
    """An expiry as a client writes one, to the second."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create(
    http: httpx.Client,
    headers: dict[str, str],
    dataset: int = 0,
    expiry: str = "2031-01-01",
    **fields: Any,
) -> httpx.Response:
    body = {"datasetId": DATASETS[dataset].id, "expiry": expiry, "displayName": "Expiry"}
    body.update(fields)
    return http.post(TTL, json=body, headers=headers)


def created(http: httpx.Client, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    answer = create(http, headers, **kwargs)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


# The spec's example title, which the guide's example follows with the reason.
TITLE = (
    "The requested operation could not be completed due to invalid or missing required "
    "parameters. Additional detail: "
)


def detail(answer: httpx.Response) -> str:
    """The reason of a 400 in the spec's ttlErrorResponse400 shape."""
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["type"] == "http://ns.adobe.com/aep/errors/HYGN-3102-400"
    assert body["status"] == 400
    assert body["error-chain"][0]["errorCode"] == "HYGN-3102-400"
    assert body["title"].startswith(TITLE)
    return str(body["title"][len(TITLE) :])
