"""How a caller runs many creates with bounded concurrency."""

from __future__ import annotations

import json
import threading

import httpx

from reconciler.adobe import ApiError, OutcomeUnknownError, WorkOrder

from .conftest import HYGIENE, Harness, json_response, work_order_json


def test_many_creates_with_bounded_concurrency(harness: Harness) -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    full = threading.Event()

    def create(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        name = json.loads(request.content)["description"]
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 2:
                full.set()
        full.wait(timeout=2)
        with lock:
            in_flight -= 1
        if name == "req-3":
            return json_response(400, {"error_code": "400001", "message": "bad dataset"})
        if name == "req-5":
            return httpx.Response(502)
        return json_response(201, work_order_json(f"DI-{name}", description=name, displayName=name))

    harness.adobe.on("POST", f"{HYGIENE}/workorder", create)
    client = harness.make(max_concurrency=2)
    names = [f"req-{n}" for n in range(8)]

    def submit(name: str) -> WorkOrder:
        return client.hygiene.create_work_order(
            dataset_id="ALL",
            display_name=name,
            description=name,
            namespaces_identities={"email": [f"{name}@example.com"]},
        )

    results = client.map_concurrently(submit, names)
    assert [r.item for r in results] == names
    assert peak == 2
    assert [r.success for r in results] == [True, True, True, False, True, False, True, True]
    assert isinstance(results[3].error, ApiError)
    assert isinstance(results[5].error, OutcomeUnknownError)
    assert results[0].value is not None and results[0].value.workorder_id == "DI-req-0"
