"""Fixtures for the emulator suite: a fresh emulator per test and an HTTP client whose
every response is checked against Adobe's OpenAPI specs when the test ends.

Without the specs (``../shared/adobe-openapi`` beside the checkout) a test that uses the
``http`` or ``specs`` fixture is skipped, with the missing folder as the reason: it is
never passed without its responses being checked."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.openapi import Specs, specs_or_reason

SEED_DATASET = "c48b51623ec641a2949d339bad69cb15"
HYGIENE = "/data/core/hygiene"
PRIVACY = "/data/core/privacy"

# The seed's POST /workorder example (data-hygiene-workorder-endpoint.nl.md).
SEED_WORKORDER: dict[str, Any] = {
    "action": "delete_identity",
    "datasetId": SEED_DATASET,
    "displayName": "Example Consumer Delete Request",
    "description": "Cleanup identities required by Jira request 12345.",
    "identities": [
        {"namespace": {"code": "email"}, "id": "poul.anderson@example.com"},
        {"namespace": {"code": "email"}, "id": "cordwainer.smith@gmail.com"},
        {"namespace": {"code": "email"}, "id": "cyril.kornbluth@yahoo.com"},
    ],
}
# Gateway and fault statuses that the specs do not list for every operation.
GATEWAY_STATUSES = {400, 401, 403, 404, 429, 500, 502, 503}

_SPECS, _SPECS_REASON = specs_or_reason()


def workorder_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_WORKORDER)
    body.update(changes)
    return body


def job_body(org_id: str, count: int = 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "companyContexts": [{"namespace": "imsOrgID", "value": org_id}],
        "users": [
            {
                "key": f"user-{i}",
                "action": ["access"],
                "userIDs": [
                    {"namespace": "email", "value": f"u{i}@example.com", "type": "standard"}
                ],
            }
            for i in range(count)
        ],
        "include": ["analytics"],
        "regulation": "gdpr",
    }
    body.update(changes)
    return body


def spec_problems(specs: Specs, response: httpx.Response) -> list[str]:
    """Why ``response`` does not conform to Adobe's spec (empty when it does)."""
    request = response.request
    operation = specs.find(request.method, request.url.path)
    if operation is None:
        return []  # IMS and admin routes are not in Adobe's Platform specs
    where = f"{request.method} {request.url.path} -> {response.status_code}"
    documented, schema = specs.response_schema(operation, response.status_code)
    if not documented:
        if response.status_code not in GATEWAY_STATUSES:
            return [f"{where}: status not in the spec"]
        body = response.json()
        if not isinstance(body.get("error_code"), str) or not isinstance(body.get("message"), str):
            return [f"{where}: undocumented status without a gateway error body"]
        return []
    if schema is None:
        if response.is_success and response.content:
            return [f"{where}: the spec says no payload"]
        return []
    # Privacy Service dates follow the shape its docs and the spec's own examples use
    # ("04/29/2021 09:53 PM GMT"), not RFC 3339: check structure there, formats elsewhere.
    formats = operation.spec_name != "privacy-service.yaml"
    validator = specs.validator(schema, formats=formats)
    return [f"{where}: {e.message}" for e in validator.iter_errors(response.json())]


@pytest.fixture
def specs() -> Specs:
    if _SPECS is None:
        pytest.skip(_SPECS_REASON)
    return _SPECS


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as emu:
        yield emu


@pytest.fixture
def emulator(shared_emulator: RunningEmulator) -> RunningEmulator:
    """The session's emulator, reset: no objects, tokens, faults or log; the clock restarted."""
    shared_emulator.admin.reset()
    return shared_emulator


@contextmanager
def checked_client(url: str, specs: Specs) -> Iterator[httpx.Client]:
    """A client of ``url``; when the block ends, every response it got must conform to the
    spec (for tests that start an emulator of their own)."""
    seen: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    with httpx.Client(base_url=url, timeout=30, event_hooks={"response": [record]}) as client:
        yield client
    problems = [p for r in seen for p in spec_problems(specs, r)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def http(emulator: RunningEmulator, specs: Specs) -> Iterator[httpx.Client]:
    """A client of ``emulator``; at teardown every response it got must conform to the spec
    (skipped, through ``specs``, when the spec is not there to check against)."""
    with checked_client(emulator.url, specs) as client:
        yield client


@pytest.fixture
def headers(emulator: RunningEmulator) -> dict[str, str]:
    return emulator.headers()
