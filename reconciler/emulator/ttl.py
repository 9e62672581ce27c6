"""Dataset expiration handlers under ``/data/core/hygiene/ttl``.

Follows data-hygiene.yaml, and where it says nothing, the dataset-expiration guide and
api-notes.md:

- ``POST /ttl`` answers 201 with the CreateTTLResponse fields. The dataset must be one the
  emulator knows (its configuration), else 404 as the guide says ("if the dataset does not
  exist"; the spec lists no 404 there): the answer names the dataset (``datasetName``),
  and the status enum has no ``failed`` to report an unknown one later.
- One expiration per dataset (api-notes): while one is pending or executing, another is a
  400; a completed one deleted the dataset, so a new one is a 400 too; a cancelled one
  blocks nothing ("To reopen a cancelled expiration, set a new expiry", the guide).
- ``GET`` and ``DELETE /ttl/{ID}`` take an expiration id or a dataset id (the spec's
  ``ttlOrDatasetId``), ``PUT`` an expiration id only (``ttlId``). A PUT or DELETE is
  accepted only while the expiration is pending.
- An id the caller's org and sandbox do not have is a 404 in the spec's ErrorResponse404
  shape on every method: the spec lists a 404 for GET only, but the object is missing the
  same way for PUT and DELETE (``PUT /workorder/{id}`` answers 404 too).
- The service's own 400s come in the spec's ``ttlErrorResponse400`` shape (code
  ``HYGN-3102-400``), the reason in ``title`` after "Additional detail:", as in the
  guide's example of a refused cancel; the gateway's refusals (headers, content type)
  keep their own shapes.
- ``include=history`` adds the guide's ``history``: ``{status, expiry, updatedAt,
  updatedBy}`` per change (``created``, ``updated``, ``cancelled``), oldest first.
- ``datasetExpirationQuota`` counts the org's pending and executing expirations, "the
  number of concurrently active dataset expirations" (spec, ``GET /quota``); a create
  beyond the quota is a 400, as for identities.
- ``GET /ttl`` lists the caller's sandbox (``sandboxName`` another, ``*`` all), newest
  first; ``total_pages`` is 0 when nothing matches.
- The fault plan's search lag, lying totals and short pages act on ``GET /ttl`` (a lying
  ``total_count`` brings ``total_pages`` along), reused ids on the ``ttlId`` that
  ``POST /ttl`` answers (``faults.py``).
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.clock import iso
from reconciler.emulator.faults import request_faults
from reconciler.emulator.gateway import (
    Caller,
    Handler,
    Rejected,
    authenticate,
    bad_request,
    clip,
    error,
    json_body,
)
from reconciler.emulator.lifecycle import ACTIVE_EXPIRATION_STATUSES, expiration_state
from reconciler.emulator.state import Emulator
from reconciler.emulator.ttl_rules import (
    check_lead,
    expiration_matches,
    parse_expiration,
    parse_expiration_query,
    parse_expiration_update,
    wants_history,
)
from reconciler.emulator.ttl_store import ExpirationRecord

TTL_ERROR_CODE = "HYGN-3102-400"
# The spec's example title; the guide's example adds the reason after "Additional detail:".
TTL_ERROR_TITLE = (
    "The requested operation could not be completed due to invalid or missing required parameters."
)


def _ttl_error(emulator: Emulator, request: Request, message: str) -> Response:
    """A 400 in the spec's ``ttlErrorResponse400`` shape. The headers it echoes were
    checked by ``authenticate`` (clipped all the same)."""
    headers = request.headers
    return JSONResponse(
        {
            "type": f"http://ns.adobe.com/aep/errors/{TTL_ERROR_CODE}",
            "title": f"{TTL_ERROR_TITLE} Additional detail: {message}",
            "status": 400,
            "report": {
                "tenantInfo": {
                    "sandboxName": clip(headers.get("x-sandbox-name", "")),
                    "sandboxId": "not-applicable",
                    "imsOrgId": clip(headers.get("x-gw-ims-org-id", "")),
                },
                "additionalContext": {"Invoking Client ID": clip(headers.get("x-api-key", ""))},
            },
            "error-chain": [
                {
                    "serviceId": "HYGN",
                    "errorCode": TTL_ERROR_CODE,
                    "invokingServiceId": "acp_privacy_hygiene",
                    "unixTimeStampMs": int(emulator.clock.now() * 1000),
                }
            ],
        },
        400,
    )


def _ttl_errors(handler: Handler) -> Handler:
    """``handler`` with its ``bad_request`` 400s (``400001``) reshaped by :func:`_ttl_error`."""

    @functools.wraps(handler)
    def run(emulator: Emulator, request: Request, body: bytes) -> Response:
        try:
            return handler(emulator, request, body)
        except Rejected as rejected:
            response = rejected.response
            if response.status_code == 400:
                data = json.loads(bytes(response.body))
                if isinstance(data, dict) and data.get("error_code") == "400001":
                    raise Rejected(_ttl_error(emulator, request, str(data["message"]))) from None
            raise

    return run


def _view(emulator: Emulator, record: ExpirationRecord, now: float) -> tuple[dict[str, Any], float]:
    """An expiration as Adobe shows it, and its ``updatedAt`` in epoch seconds."""
    state = expiration_state(record, now, emulator.config.expiration_steps)
    updated = max(state.changed_at, record.edited_at or record.created_at)
    item = {
        "ttlId": record.ttl_id,
        "datasetId": record.dataset_id,
        "datasetName": record.dataset_name,
        "sandboxName": record.sandbox,
        "displayName": record.display_name,
        "description": record.description,
        "imsOrg": record.org_id,
        "status": state.status,
        "expiry": iso(record.expiry),
        "updatedAt": iso(updated),
        "updatedBy": record.updated_by,
    }
    return item, updated


def render_expiration(emulator: Emulator, record: ExpirationRecord, now: float) -> dict[str, Any]:
    """A dataset expiration as Adobe shows it at emulator time ``now``."""
    return _view(emulator, record, now)[0]


def active_expirations(emulator: Emulator, org_id: str, now: float) -> int:
    """The org's pending and executing expirations: ``datasetExpirationQuota``'s use."""
    completed = emulator.config.expiration_steps.completed
    return emulator.store.expirations.active_count(org_id, now, completed)


def _not_found(ident: str) -> Rejected:
    # The spec's ErrorResponse404 example message.
    return error(404, "404003", f"Dataset expiration configuration {clip(ident)} not found.")


def _by_ttl_id(emulator: Emulator, caller: Caller, ttl_id: str) -> ExpirationRecord:
    record = emulator.store.expirations.get(ttl_id)
    if record is None or record.org_id != caller.org_id or record.sandbox != caller.sandbox:
        raise _not_found(ttl_id)
    return record


def _by_either(emulator: Emulator, caller: Caller, ident: str) -> ExpirationRecord:
    """The expiration with id ``ident``, else the one of dataset ``ident``: the one not
    cancelled (there is at most one), else the newest."""
    record = emulator.store.expirations.get(ident)
    if record is not None and record.org_id == caller.org_id and record.sandbox == caller.sandbox:
        return record
    found = emulator.store.expirations.records(caller.org_id, caller.sandbox or "", ident)
    if not found:
        raise _not_found(ident)
    standing = [r for r in found if r.cancelled_at is None]
    return (standing or found)[-1]


def _require_pending(emulator: Emulator, record: ExpirationRecord, now: float, done: str) -> None:
    status = expiration_state(record, now, emulator.config.expiration_steps).status
    if status != "pending":
        raise bad_request(
            f"Dataset expiration {record.ttl_id} is {status}: "
            f"only a pending expiration can be {done}."
        )


@_ttl_errors
def create_expiration(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    new = parse_expiration(json_body(request, body))
    dataset = emulator.config.dataset(new.dataset_id)
    if dataset is None:
        raise error(404, "404003", f"Dataset {clip(new.dataset_id)} not found.")
    sandbox = caller.sandbox or ""
    steps = emulator.config.expiration_steps
    quota = emulator.config.quotas.dataset_expirations
    with emulator.store.locked():
        now = emulator.clock.now()
        check_lead(new.expiry, now)
        for earlier in emulator.store.expirations.records(caller.org_id, sandbox, dataset.id):
            status = expiration_state(earlier, now, steps).status
            if status in ACTIVE_EXPIRATION_STATUSES:
                raise bad_request(
                    f"Dataset {dataset.id} already has an expiration ({earlier.ttl_id}, "
                    f"{status}): one per dataset."
                )
            if status == "completed":
                raise bad_request(
                    f"Dataset {dataset.id} was deleted by expiration {earlier.ttl_id}."
                )
        active = active_expirations(emulator, caller.org_id, now)
        if active >= quota:
            raise bad_request(
                f"Dataset expiration quota exceeded: {active} of {quota} expirations are active."
            )
        record = ExpirationRecord(
            ttl_id=f"SD-{uuid.uuid4()}",
            org_id=caller.org_id,
            sandbox=sandbox,
            dataset_id=dataset.id,
            dataset_name=dataset.name,
            display_name=new.display_name,
            description=new.description,
            expiry=new.expiry,
            created_at=now,
            edited_at=None,
            cancelled_at=None,
            updated_by=caller.created_by,
        )
        emulator.store.expirations.add(record)
    answer = render_expiration(emulator, record, now)
    faults = request_faults(request.scope)
    if faults.decision.reused_id:
        others = [
            r.ttl_id
            for r in emulator.store.expirations.records(caller.org_id, sandbox)
            if r.ttl_id != record.ttl_id
        ]
        if others:
            answer["ttlId"] = others[-1]  # the newest other expiration of the sandbox
            emulator.faults.happened(faults, "reused_id")
    return JSONResponse(answer, 201)


@_ttl_errors
def list_expirations(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    query = parse_expiration_query(request.query_params, caller.sandbox or "")
    now = emulator.clock.now()
    # Statuses and updatedAt follow the clock: every candidate is rendered, then filtered.
    # The candidates are the sandbox's expirations (of one dataset, when asked).
    records = emulator.store.expirations.records(caller.org_id, query.sandbox, query.dataset_id)
    faults = request_faults(request.scope)
    cutoff = faults.lag_cutoff(now)
    matched = []
    hid = False
    for record in reversed(records):
        item, updated = _view(emulator, record, now)
        if expiration_matches(query, item, record.expiry, updated):
            if cutoff is not None and record.created_at > cutoff:
                hid = True
                continue
            matched.append(item)
    if hid:
        emulator.faults.happened(faults, "search_lag")
    size = faults.page_size(query.limit)
    start = query.page * size
    total, page = emulator.faults.listing(
        faults, len(matched), matched[start : start + size], start, query.limit
    )
    return JSONResponse(
        {
            "results": page,
            "current_page": query.page,
            "total_pages": -(-total // query.limit),
            "total_count": total,
        }
    )


@_ttl_errors
def get_expiration(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    history = wants_history(request.query_params)
    record = _by_either(emulator, caller, request.path_params["ttl_id"])
    item = render_expiration(emulator, record, emulator.clock.now())
    if history:
        item["history"] = [
            {
                "status": event.event,
                "expiry": iso(event.expiry),
                "updatedAt": iso(event.changed_at),
                "updatedBy": event.changed_by,
            }
            for event in emulator.store.expirations.events(record.ttl_id)
        ]
    return JSONResponse(item)


@_ttl_errors
def update_expiration(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    change = parse_expiration_update(json_body(request, body))
    with emulator.store.locked():
        record = _by_ttl_id(emulator, caller, request.path_params["ttl_id"])
        now = emulator.clock.now()
        _require_pending(emulator, record, now, "updated")
        # The 24-hour rule is for a new expiry: a PUT that sends the one in force (with a new
        # name, say) is not refused for it.
        if change.expiry is not None and change.expiry != record.expiry:
            check_lead(change.expiry, now)
        emulator.store.expirations.update(
            record.ttl_id,
            display_name=(
                change.display_name if change.display_name is not None else record.display_name
            ),
            description=(
                change.description if change.description is not None else record.description
            ),
            expiry=change.expiry if change.expiry is not None else record.expiry,
            edited_at=now,
            updated_by=caller.created_by,
        )
        updated = emulator.store.expirations.get(record.ttl_id)
    assert updated is not None
    return JSONResponse(render_expiration(emulator, updated, now))


@_ttl_errors
def cancel_expiration(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    with emulator.store.locked():
        record = _by_either(emulator, caller, request.path_params["ttl_id"])
        now = emulator.clock.now()
        _require_pending(emulator, record, now, "cancelled")
        emulator.store.expirations.cancel(
            record.ttl_id, cancelled_at=now, updated_by=caller.created_by
        )
        cancelled = emulator.store.expirations.get(record.ttl_id)
    assert cancelled is not None
    return JSONResponse(render_expiration(emulator, cancelled, now))
