"""The emulator against a property-based tester driven by Adobe's own OpenAPI specs.

Schemathesis (locked in requirements.lock) generates requests for every operation of
both specs in ``../shared/adobe-openapi/``, valid ones and malformed ones, sends them to
the running emulator over real HTTP with valid credentials, and checks each answer:
never a server error, a status code the spec declares, the declared content type, and
a body that matches the declared response schema. ``make test`` runs a few examples per
operation and generation mode; ``make chaos`` runs many (``FUZZ_EXAMPLES``).

Where Adobe's spec is known to disagree with Adobe's documentation (api-notes.md), the
emulator follows the documentation and the check is allowed to fail for that reason
only: :data:`ALLOWED`, each entry with its reason.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import openapi
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.openapi import BASES, SPEC_DIR

pytestmark = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason=f"Adobe's specs are not beside the checkout ({SPEC_DIR})"
)

QUICK_EXAMPLES = 12
CAMPAIGN_EXAMPLES = 400
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# (spec, operation label, failure type) → why the spec, not the emulator, is wrong there.
# An undocumented status is the failure type "UndefinedStatusCode:<status>", so allowing one
# status does not hide another.
_UNKNOWN_TTL = (
    "the spec lists a 404 for GET /ttl/{ID} only; an expiration that does not exist is "
    "missing the same way for PUT and DELETE, which answer 404 as GET does (and as "
    "PUT /workorder/{WORKORDER_ID}, whose spec lists it)"
)
ALLOWED: dict[tuple[str, str, str], str] = {
    ("data-hygiene.yaml", "POST /ttl", "UndefinedStatusCode:404"): (
        "the spec lists no 404 for POST /ttl; the dataset-expiration guide answers 404 when "
        "the dataset does not exist, and a generated datasetId is never a known one"
    ),
    ("data-hygiene.yaml", "PUT /ttl/{ID}", "UndefinedStatusCode:404"): _UNKNOWN_TTL,
    ("data-hygiene.yaml", "DELETE /ttl/{ID}", "UndefinedStatusCode:404"): _UNKNOWN_TTL,
}


@dataclass
class Tally:
    sent: int = 0
    failures: Counter[tuple[str, str, str, str]] | None = None

    def add(self, key: tuple[str, str, str, str]) -> None:
        if self.failures is None:
            self.failures = Counter()
        self.failures[key] += 1


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as emu:
        yield emu


def auth_headers(emu: RunningEmulator) -> dict[str, str]:
    c = emu.client
    token = httpx.post(
        f"{emu.url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "scope": "openid,AdobeID",
        },
        timeout=10,
    ).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": c.client_id,
        "x-gw-ims-org-id": c.org_id,
        "x-sandbox-name": "prod",
    }


def operations() -> list[Any]:
    if not SPEC_DIR.is_dir():  # parametrize runs at collection, before the skipif applies
        return []
    found = []
    for spec_name in sorted(BASES):
        schema = openapi.from_path(SPEC_DIR / spec_name)
        for result in schema.get_all_operations():
            operation = result.ok()
            # The emulator serves every operation of both specs, /ttl included.
            found.append(pytest.param(spec_name, operation, id=f"{spec_name}:{operation.label}"))
    return found


def fuzz(
    emu: RunningEmulator,
    spec_name: str,
    operation: Any,
    mode: GenerationMode,
    examples: int = QUICK_EXAMPLES,
) -> Tally:
    headers = auth_headers(emu)
    base_url = emu.url + BASES[spec_name]
    tally = Tally()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        # Credentials the tester may not overwrite: a request without them only tests the
        # gateway's 401/403, which tests/emulator/test_auth.py covers.
        case.headers = {**(case.headers or {}), **headers}
        tally.sent += 1
        try:
            case.call_and_validate(base_url=base_url, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                check = type(failure).__name__  # ServerError, UndefinedStatusCode, …
                if check == "UndefinedStatusCode":
                    check = f"{check}:{getattr(failure, 'status_code', '?')}"
                key = (spec_name, operation.label, check)
                if key not in ALLOWED:
                    tally.add((*key, str(failure.title)))
        except AssertionError as failure:
            tally.add((spec_name, operation.label, "assertion", str(failure)[:200]))

    run()
    return tally


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("spec_name", "operation"), operations())
def test_every_operation_answers_as_the_spec_says(
    emulator: RunningEmulator, spec_name: str, operation: Any, mode: GenerationMode
) -> None:
    emulator.admin.reset()
    tally = fuzz(emulator, spec_name, operation, mode)
    assert tally.sent > 0
    report = {"sent": tally.sent, "failures": [list(k) for k in (tally.failures or {})]}
    assert not tally.failures, json.dumps(report, indent=1)


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_fuzz_campaign(emulator: RunningEmulator) -> None:
    """Every operation of both specs, both modes, FUZZ_EXAMPLES (default 400) examples each."""
    examples = int(os.environ.get("FUZZ_EXAMPLES", CAMPAIGN_EXAMPLES))
    sent, failures = 0, Counter[tuple[str, str, str, str]]()
    for param in operations():
        spec_name, operation = param.values
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            emulator.admin.reset()
            tally = fuzz(emulator, spec_name, operation, mode, examples)
            sent += tally.sent
            failures.update(tally.failures or {})
    print(f"fuzz: {json.dumps({'requests': sent, 'failures': len(failures)})}")
    assert not failures, json.dumps([[*k, n] for k, n in failures.items()], indent=1)


def test_the_harness_reports_a_server_error(emulator: RunningEmulator) -> None:
    """Injected 500s on every read must come back as failures: the run can fail."""
    emulator.admin.reset()
    spec_name, operation = next(p.values for p in operations() if p.values[1].label == "GET /quota")
    emulator.admin.set_faults({"read": {"error_rate": 1.0}, "seed": 1})
    try:
        tally = fuzz(emulator, spec_name, operation, GenerationMode.POSITIVE)
    finally:
        emulator.admin.set_faults({})
    assert tally.failures, "a 500 on every call went unreported"
    checks = {key[2] for key in tally.failures}
    assert "ServerError" in checks
