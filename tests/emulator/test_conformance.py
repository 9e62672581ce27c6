"""Every documented example request body (specs and seeds) is accepted; responses conform.

Response conformance is checked for every test by the ``http`` fixture; this
module adds the examples and a walk over every implemented operation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, SEED_DATASET, job_body, workorder_body
from tests.emulator.openapi import SEED_DIR, Specs, specs_or_reason

# Operations of the specs that take a request body (every operation is implemented).
IMPLEMENTED = {
    ("POST", "/data/core/hygiene/workorder"),
    ("PUT", "/data/core/hygiene/workorder/{WORKORDER_ID}"),
    ("POST", "/data/core/hygiene/ttl"),
    ("PUT", "/data/core/hygiene/ttl/{ID}"),
    ("POST", "/data/core/privacy/jobs"),
    ("POST", "/data/core/privacy/consent"),
}


def _fill(value: Any, org_id: str) -> Any:
    """Replace the docs' ``{IMS_ORG}``-style placeholders with the caller's org. YAML reads
    the /ttl examples' unquoted ``expiry: 2030-12-31`` as a date: it is sent as written."""
    text = json.dumps(value, default=str).replace("{IMS_ORG}", org_id).replace("{ORG_ID}", org_id)
    return json.loads(text)


def spec_examples(specs: Specs) -> list[tuple[str, str, Any]]:
    """(method, template, body) for each request example in the specs' implemented operations."""
    found = []
    for op in specs.operations:
        if (op.method, op.template) not in IMPLEMENTED:
            continue
        body = op.operation.get("requestBody", {})
        media = body.get("content", {}).get("application/json", {})
        for example in media.get("examples", {}).values():
            found.append((op.method, op.template, example["value"]))
        if "example" in media:
            found.append((op.method, op.template, media["example"]))
        schema = specs.resolve(op.spec_name, media.get("schema", {}))
        if "example" in schema:
            found.append((op.method, op.template, schema["example"]))
    return found


def seed_examples() -> list[tuple[str, str, Any]]:
    """(method, path, body) for each curl call with a body in the seed pages.

    The method comes from the section's "API format" block: the seed's update
    example says ``curl -X GET`` under ``PUT /workorder{WORK_ORDER_ID}``.
    """
    found = []
    for page in sorted(SEED_DIR.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        method = None
        for block in re.finditer(r"```(\w+)\n(.*?)```", text, re.DOTALL):
            kind, content = block.groups()
            if kind == "http":
                method = content.split()[0]
            elif kind == "shell" and " -d " in content:
                url = re.search(r"https://platform\.adobe\.io(\S+)", content)
                data = re.search(r"-d '(.*)'", content, re.DOTALL)
                assert url and data and method
                found.append((method, url.group(1), json.loads(data.group(1))))
    return found


def test_the_examples_were_found(specs: Specs) -> None:
    kinds = {(m, t) for m, t, _ in spec_examples(specs)}
    assert kinds == IMPLEMENTED
    seeds = seed_examples()
    assert {m for m, _, _ in seeds} == {"POST", "PUT"}


def test_spec_request_examples_are_accepted(
    specs: Specs, emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    # The PUT /ttl example updates an expiration of another dataset than the POST example's.
    expiration = {"datasetId": SEED_DATASET, "expiry": "2030-06-30", "displayName": "Seed"}
    ttl = http.post(f"{HYGIENE}/ttl", json=expiration, headers=headers).json()
    for method, template, body in spec_examples(specs):
        path = template.replace("{WORKORDER_ID}", order["workorderId"])
        path = path.replace("{ID}", ttl["ttlId"])
        answer = http.request(
            method, path, json=_fill(body, emulator.client.org_id), headers=headers
        )
        assert answer.status_code in (200, 201, 202), (method, path, answer.text)


def test_seed_request_examples_are_accepted(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    if not SEED_DIR.is_dir():
        pytest.skip(f"the seed pages are not found at {SEED_DIR}")
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    examples = seed_examples()
    assert examples, "no examples in the seeds"
    for method, path, body in examples:
        path = re.sub(r"/workorder/[^/]+$", f"/workorder/{order['workorderId']}", path)
        answer = http.request(method, path, json=body, headers=headers)
        assert answer.status_code == 200, (method, path, answer.text)


def test_every_operation_and_error_conforms(
    specs: Specs, emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    """Walk each implemented route through success and error answers; the fixture validates."""
    org = emulator.client.org_id
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    unknown = http.post(
        f"{HYGIENE}/workorder", json=workorder_body(datasetId="0" * 32), headers=headers
    ).json()
    jobs = http.post(f"{PRIVACY}/jobs", json=job_body(org), headers=headers).json()
    job_id = jobs["jobs"][0]["jobId"]
    for seconds in (0, 400, 900, 3600, 4 * 3600):
        emulator.admin.advance(seconds)
        for wid in (order["workorderId"], unknown["workorderId"]):
            assert http.get(f"{HYGIENE}/workorder/{wid}", headers=headers).status_code == 200
        assert http.get(f"{HYGIENE}/workorder", headers=headers).status_code == 200
        assert http.get(f"{HYGIENE}/quota", headers=headers).status_code == 200
        assert http.get(f"{PRIVACY}/jobs/{job_id}", headers=headers).status_code == 200
        assert http.get(f"{PRIVACY}/jobs?regulation=gdpr", headers=headers).status_code == 200
    http.put(f"{HYGIENE}/workorder/{order['workorderId']}", json={"name": "n"}, headers=headers)
    consent = {"optOutOfSale": True, "entities": [{"nameSpace": "email", "values": ["a@b.c"]}]}
    assert http.post(f"{PRIVACY}/consent", json=consent, headers=headers).status_code == 202
    # Errors: bad bodies, unknown ids, bad queries, gateway refusals.
    assert http.post(f"{HYGIENE}/workorder", json={}, headers=headers).status_code == 400
    assert http.get(f"{HYGIENE}/workorder/DI-x", headers=headers).status_code == 404
    assert (
        http.put(f"{HYGIENE}/workorder/DI-x", json={"name": "n"}, headers=headers).status_code
        == 404
    )
    assert http.get(f"{HYGIENE}/workorder?limit=0", headers=headers).status_code == 400
    assert http.get(f"{HYGIENE}/quota?quotaType=nope", headers=headers).status_code == 400
    assert http.post(f"{PRIVACY}/jobs", json={}, headers=headers).status_code == 400
    assert http.get(f"{PRIVACY}/jobs", headers=headers).status_code == 400
    assert http.get(f"{PRIVACY}/jobs/nope", headers=headers).status_code == 404
    assert http.post(f"{PRIVACY}/consent", json={}, headers=headers).status_code == 400
    for path in (f"{HYGIENE}/workorder", f"{PRIVACY}/jobs", f"{HYGIENE}/quota"):
        assert http.get(path).status_code == 403
        assert http.get(path, headers={**headers, "Authorization": "Bearer x"}).status_code == 401


def test_a_wrong_content_type_is_refused(http: httpx.Client, headers: dict[str, str]) -> None:
    answer = http.post(
        f"{HYGIENE}/workorder",
        content=json.dumps(workorder_body()),
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == "A valid content-type must be specified"


@pytest.mark.parametrize("suffix", ["/", ""])
def test_trailing_slashes_are_tolerated(
    suffix: str, http: httpx.Client, headers: dict[str, str]
) -> None:
    created = http.post(f"{HYGIENE}/workorder{suffix}", json=workorder_body(), headers=headers)
    assert created.status_code == 200
    wid = created.json()["workorderId"]
    assert http.get(f"{HYGIENE}/workorder/{wid}{suffix}", headers=headers).status_code == 200
    assert http.get(f"{HYGIENE}/workorder{suffix}", headers=headers).json()["total"] == 1


def test_without_the_specs_the_reason_names_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "adobe-openapi"
    specs, reason = specs_or_reason(missing)
    assert specs is None
    assert str(missing) in reason
