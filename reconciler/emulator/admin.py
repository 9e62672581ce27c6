"""Admin endpoints under ``/_emulator/`` for local tests and the demo: no auth, never faulted.

======  ===========================  ===============================================
GET     /_emulator/health            ``{"status": "ok"}``
GET     /_emulator/faults            the fault plan (see ``faults.py``) + ``counters``
PUT     /_emulator/faults            replace the plan; ``{}`` switches faults off
GET     /_emulator/counters          ``{"total": {kind: n}, "by_class": {...}}``
GET     /_emulator/requests          ``{"requests": [{seq, method, path, status, fault, at}]}``
GET     /_emulator/workorders        ``{"workorders": [...]}``, ``?orgId=&sandbox=`` filter
GET     /_emulator/expirations       ``{"expirations": [...]}``, ``?orgId=&sandbox=`` filter
GET     /_emulator/jobs              ``{"jobs": [...]}``, ``?orgId=`` filter
GET     /_emulator/consents          ``{"consents": [{orgId, requests, entities, identities}]}``
GET     /_emulator/clock             ``{"now", "epoch", "speed", "offset_seconds"}``
POST    /_emulator/clock             ``{"advance_seconds": n, "speed": f}`` (both optional)
POST    /_emulator/tokens/expire     every issued token stops working: ``{"expired": n}``
POST    /_emulator/reset             forget objects, tokens, faults, counters, the log
======  ===========================  ===============================================

Fault kinds counted: ``latency``, ``error_500``, ``error_502``, ``error_503``,
``throttle_429``, ``drop_after_commit``, ``commit_then_429``, ``commit_then_401``,
``commit_then_500``, ``commit_then_502``, ``commit_then_503``, ``reused_id``, ``partial_answer``,
``search_lag``, ``lying_total``, ``short_page``, ``token_down`` (see ``faults.py``).
Dumps hold counts, never identities.

What these endpoints list is what is stored, whatever the fault plan: no search lag,
no lying total or short page, and the ids objects were stored under (a reused-id
answer names another), so a test can count the duplicates a client made.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.clock import iso
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.gateway import bad_request, endpoint
from reconciler.emulator.hygiene import render
from reconciler.emulator.lifecycle import job_state
from reconciler.emulator.state import Emulator
from reconciler.emulator.ttl import render_expiration


def _body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError as e:
        raise bad_request("The request body is not valid JSON.") from e


def health(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse({"status": "ok"})


def get_faults(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse({**emulator.faults.plan.to_dict(), "counters": emulator.faults.counters()})


def put_faults(emulator: Emulator, request: Request, body: bytes) -> Response:
    try:
        plan = FaultPlan.from_dict(_body(body))
    except ValueError as e:
        raise bad_request(str(e)) from e
    emulator.faults.set_plan(plan)
    return JSONResponse(plan.to_dict())


def counters(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse(emulator.faults.counters())


def requests_log(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse({"requests": emulator.requests.entries()})


def workorders(emulator: Emulator, request: Request, body: bytes) -> Response:
    params = request.query_params
    now = emulator.clock.now()
    out = []
    for record in emulator.store.list_workorders(params.get("orgId"), params.get("sandbox")):
        item = render(emulator, record, now)
        out.append(
            {
                "workorderId": record.workorder_id,
                "orgId": record.org_id,
                "sandbox": record.sandbox,
                "datasetId": record.dataset_id,
                "displayName": record.display_name,
                "description": record.description,
                "status": item["status"],
                "createdAt": item["createdAt"],
                "updatedAt": item["updatedAt"],
                "identityCount": record.identity_count,
            }
        )
    return JSONResponse({"workorders": out})


def expirations(emulator: Emulator, request: Request, body: bytes) -> Response:
    params = request.query_params
    now = emulator.clock.now()
    records = emulator.store.expirations.records(params.get("orgId"), params.get("sandbox"))
    return JSONResponse({"expirations": [render_expiration(emulator, r, now) for r in records]})


def jobs(emulator: Emulator, request: Request, body: bytes) -> Response:
    now = emulator.clock.now()
    steps = emulator.config.job_steps
    out = [
        {
            "jobId": job.job_id,
            "requestId": job.request_id,
            "orgId": job.org_id,
            "userKey": job.user_key,
            "action": job.action,
            "product": job.product,
            "regulation": job.regulation,
            "status": job_state(job, now, steps).status,
            "createdAt": iso(job.created_at),
        }
        for job in emulator.store.jobs.select(request.query_params.get("orgId"))
    ]
    return JSONResponse({"jobs": out})


def consents(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse({"consents": emulator.store.jobs.consent_counts()})


def _clock(emulator: Emulator) -> dict[str, Any]:
    now = emulator.clock.now()
    return {
        "now": iso(now),
        "epoch": now,
        "speed": emulator.clock.speed,
        "offset_seconds": emulator.clock.offset(),
    }


def get_clock(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse(_clock(emulator))


def post_clock(emulator: Emulator, request: Request, body: bytes) -> Response:
    data = _body(body)
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        if "speed" in data:
            emulator.clock.set_speed(float(data["speed"]))
        if "advance_seconds" in data:
            emulator.advance_clock(float(data["advance_seconds"]))
    except (TypeError, ValueError) as e:
        raise bad_request(str(e)) from e
    return JSONResponse(_clock(emulator))


def expire_tokens(emulator: Emulator, request: Request, body: bytes) -> Response:
    return JSONResponse({"expired": emulator.store.expire_tokens()})


def reset(emulator: Emulator, request: Request, body: bytes) -> Response:
    emulator.reset()
    return JSONResponse({"status": "reset"})


def admin_routes(emulator: Emulator) -> list[Route]:
    """The routes above, bound to ``emulator``."""
    table = (
        ("/health", health, ["GET"]),
        ("/faults", get_faults, ["GET"]),
        ("/faults", put_faults, ["PUT"]),
        ("/counters", counters, ["GET"]),
        ("/requests", requests_log, ["GET"]),
        ("/workorders", workorders, ["GET"]),
        ("/expirations", expirations, ["GET"]),
        ("/jobs", jobs, ["GET"]),
        ("/consents", consents, ["GET"]),
        ("/clock", get_clock, ["GET"]),
        ("/clock", post_clock, ["POST"]),
        ("/tokens/expire", expire_tokens, ["POST"]),
        ("/reset", reset, ["POST"]),
    )
    return [
        Route(f"/_emulator{path}", endpoint(emulator, handler), methods=methods)
        for path, handler, methods in table
    ]
