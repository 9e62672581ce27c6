"""Data Hygiene handlers under ``/data/core/hygiene``: work orders and quotas (dataset
expirations are ``ttl``'s).

Follows the OpenAPI spec (``data-hygiene.yaml``) where it and the prose
docs disagree: ``POST /workorder`` answers 200, ``PUT`` accepts ``name``
as well as the seed's ``displayName``, ``namespacesIdentities`` items may
spell their list ``IDs`` (spec) or ``ids`` (docs), and the request's
``action`` may be the newer guide's ``delete-identity`` as well as the
spec's ``delete_identity``.

The fault plan's search lag, lying totals and short pages act on ``GET /workorder``
(``_links.next`` follows the page size and total answered), reused ids on the
``workorderId`` that ``POST /workorder`` answers (``faults.py``).
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.clock import iso
from reconciler.emulator.faults import request_faults
from reconciler.emulator.gateway import Caller, authenticate, bad_request, clip, error, json_body
from reconciler.emulator.hygiene_rules import (
    ListQuery,
    day_and_month_start,
    matches,
    parse_list_query,
    parse_update,
    parse_workorder,
)
from reconciler.emulator.lifecycle import workorder_state
from reconciler.emulator.state import Emulator
from reconciler.emulator.store import WORKORDER_SORT_KEYS, WorkOrderFilter, WorkOrderRecord
from reconciler.emulator.ttl import active_expirations

# The request says delete_identity (or delete-identity); responses spell it so.
ACTION = "identity-delete"

QUOTA_DESCRIPTIONS: dict[str, str] = {
    "datasetExpirationQuota": (
        "The number of concurrently active dataset-expiration delete operations "
        "in all work order requests for the organization."
    ),
    "dailyConsumerDeleteIdentitiesQuota": (
        "The consumed number of deleted identities in all work order requests "
        "for the organization for today."
    ),
    "monthlyConsumerDeleteIdentitiesQuota": (
        "The consumed number of deleted identities in all work order requests "
        "for the organization this month."
    ),
}
# Older quota type names that aepp still sends, mapped to today's.
_QUOTA_ALIASES: dict[str, tuple[str, ...]] = {
    "expirationDatasetQuota": ("datasetExpirationQuota",),
    "deleteIdentityWorkOrderDatasetQuota": (
        "dailyConsumerDeleteIdentitiesQuota",
        "monthlyConsumerDeleteIdentitiesQuota",
    ),
    "fieldUpdateWorkOrderDatasetQuota": (),
}


def render(emulator: Emulator, record: WorkOrderRecord, now: float) -> dict[str, Any]:
    """A work order as Adobe shows it; identities are never part of it."""
    state = workorder_state(record, now, emulator.config.workorder_steps)
    updated = max(state.changed_at, record.edited_at or record.created_at)
    item: dict[str, Any] = {
        "workorderId": record.workorder_id,
        "orgId": record.org_id,
        "bundleId": record.bundle_id,
        "action": ACTION,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(updated),
        "operationCount": record.identity_count,
        "targetServices": list(record.target_services),
        "status": state.status,
        "createdBy": record.created_by,
        "datasetId": record.dataset_id,
        "displayName": record.display_name,
        "description": record.description,
    }
    if record.dataset_name is not None:
        item["datasetName"] = record.dataset_name
    if state.products is not None:
        item["productStatusDetails"] = list(state.products)
    return item


def _consumed(emulator: Emulator, org_id: str, now: float) -> tuple[int, int]:
    """Identities used today and this month; failed (rejected) work orders do not count."""
    day_start, month_start = day_and_month_start(now)
    steps = emulator.config.workorder_steps
    # Only a work order on an unknown dataset can fail (``workorder_state``): the others are
    # summed by SQLite, and only those few are looked at one by one.
    daily = emulator.store.identity_sum(org_id, day_start, dataset_known=True)
    monthly = emulator.store.identity_sum(org_id, month_start, dataset_known=True)
    for record in emulator.store.list_workorders(org_id, since=month_start, dataset_known=False):
        if workorder_state(record, now, steps).status == "failed":
            continue
        monthly += record.identity_count
        if record.created_at >= day_start:
            daily += record.identity_count
    return daily, monthly


def _owned(emulator: Emulator, caller: Caller, workorder_id: str) -> WorkOrderRecord:
    record = emulator.store.get_workorder(workorder_id)
    if record is None or record.org_id != caller.org_id or record.sandbox != caller.sandbox:
        raise error(404, "404003", f"Work order {clip(workorder_id)} not found.")
    return record


def create_workorder(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    new = parse_workorder(json_body(request, body))
    dataset = emulator.config.dataset(new.dataset_id)
    if dataset is not None:
        wrong = sorted(new.namespaces - {dataset.namespace})
        if wrong:
            raise bad_request(
                f"Identity namespace(s) {clip(', '.join(wrong))} do not match the primary "
                f"identity namespace {dataset.namespace} of dataset {dataset.id}."
            )
    quotas = emulator.config.quotas
    count = len(new.identities)
    with emulator.store.locked():
        now = emulator.clock.now()
        daily, monthly = _consumed(emulator, caller.org_id, now)
        if daily + count > quotas.daily_identities:
            raise bad_request(
                f"Daily identity quota exceeded: {daily} of {quotas.daily_identities} used, "
                f"{count} requested."
            )
        if monthly + count > quotas.monthly_identities:
            raise bad_request(
                f"Monthly identity quota exceeded: {monthly} of {quotas.monthly_identities} "
                f"used, {count} requested."
            )
        record = WorkOrderRecord(
            workorder_id=f"DI-{uuid.uuid4()}",
            org_id=caller.org_id,
            sandbox=caller.sandbox or "",
            bundle_id=f"BN-{uuid.uuid4()}",
            dataset_id=new.dataset_id,
            dataset_name=(dataset.name if dataset else None),
            dataset_known=dataset is not None or new.dataset_id == "ALL",
            display_name=new.display_name,
            description=new.description,
            created_by=caller.created_by,
            created_at=now,
            edited_at=None,
            identity_count=count,
            target_services=new.target_services,
        )
        emulator.store.add_workorder(record, new.identities)
    answer = render(emulator, record, now)
    faults = request_faults(request.scope)
    if faults.decision.reused_id:
        earlier = _earlier_workorder(emulator, record)
        if earlier is not None:
            answer["workorderId"] = earlier
            emulator.faults.happened(faults, "reused_id")
    return JSONResponse(answer, 200)


def _earlier_workorder(emulator: Emulator, record: WorkOrderRecord) -> str | None:
    """The id of the newest other work order of ``record``'s org and sandbox: the one a
    reused-id answer names instead of ``record``'s."""
    where = WorkOrderFilter(org_id=record.org_id, sandbox=record.sandbox)
    _, newest = emulator.store.page_workorders(where, "createdAt", True, 0, 2)
    others = [r.workorder_id for r in newest if r.workorder_id != record.workorder_id]
    return others[0] if others else None


def get_workorder(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    record = _owned(emulator, caller, request.path_params["workorder_id"])
    return JSONResponse(render(emulator, record, emulator.clock.now()))


def update_workorder(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    change = parse_update(json_body(request, body))
    with emulator.store.locked():
        record = _owned(emulator, caller, request.path_params["workorder_id"])
        now = emulator.clock.now()
        emulator.store.update_workorder(
            record.workorder_id,
            change.display_name if change.display_name is not None else record.display_name,
            change.description if change.description is not None else record.description,
            now,
        )
        updated = emulator.store.get_workorder(record.workorder_id)
    assert updated is not None
    return JSONResponse(render(emulator, updated, now))


def _links(request: Request, query: ListQuery, total: int, size: int) -> dict[str, Any]:
    """The answer's ``_links``; ``size`` is the page size the answer paged by (smaller than
    ``query.limit`` on a short page), so ``next`` is there while more follow."""
    base = str(request.url.replace(query=""))
    others = {k: v for k, v in request.query_params.items() if k not in ("page", "limit")}
    links: dict[str, Any] = {
        "page": {"href": f"{base}?limit={{limit}}&page={{page}}", "templated": True}
    }
    if (query.page + 1) * size < total:
        params = urlencode({**others, "page": query.page + 1, "limit": query.limit})
        links["next"] = {"href": f"{base}?{params}", "templated": False}
    return links


def _stored_filter(caller: Caller, query: ListQuery, created_to: float | None) -> WorkOrderFilter:
    """The query's filters on stored fields. ``type`` needs none: ``identity-delete`` is the
    only type (parse_list_query)."""
    return WorkOrderFilter(
        org_id=caller.org_id,
        sandbox=query.sandbox,
        search=query.search,
        workorder_id=query.workorder_id,
        author=query.author,
        display_name=query.display_name,
        description=query.description,
        created_from=query.from_ts if query.to_ts is not None else None,
        created_to=created_to,
        day=query.filter_date,
    )


def _page_in_sql(
    emulator: Emulator,
    caller: Caller,
    query: ListQuery,
    now: float,
    size: int,
    cutoff: float | None,
) -> tuple[int, list[dict[str, Any]], bool]:
    """The page of ``size``, the match count and whether the lag hid a match, with SQLite
    filtering, sorting and slicing stored fields, so only the page is rendered (for queries
    that do not involve the status). Nothing created after ``cutoff`` is listed."""
    created_to = query.to_ts if query.from_ts is not None else None
    where = _stored_filter(caller, query, created_to)
    shown = where
    if cutoff is not None:
        shown = replace(where, created_to=cutoff if created_to is None else min(created_to, cutoff))
    total, records = emulator.store.page_workorders(
        shown, query.order_field, query.descending, query.page * size, size
    )
    hid = False
    if cutoff is not None:  # an offset past every row only counts them
        everything, _ = emulator.store.page_workorders(
            where, query.order_field, query.descending, sys.maxsize, 1
        )
        hid = everything > total
    return total, [render(emulator, record, now) for record in records], hid


def _page_rendered(
    emulator: Emulator,
    caller: Caller,
    query: ListQuery,
    now: float,
    size: int,
    cutoff: float | None,
) -> tuple[int, list[dict[str, Any]], bool]:
    """As :func:`_page_in_sql`, rendering every match: for status filters and orders."""
    items = []
    hid = False
    records = emulator.store.list_workorders(caller.org_id, query.sandbox, search=query.search)
    for record in records:
        item = render(emulator, record, now)
        updated = max(record.created_at, record.edited_at or 0.0)
        if matches(query, item, record.created_at, updated):
            if cutoff is not None and record.created_at > cutoff:
                hid = True
                continue
            items.append(item)
    # Ties fall back to creation order, so "-createdAt" is newest first even within a millisecond.
    order = sorted(
        range(len(items)), key=lambda n: (items[n][query.order_field], n), reverse=query.descending
    )
    start = query.page * size
    return len(items), [items[n] for n in order[start : start + size]], hid


def list_workorders(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=True)
    query = parse_list_query(request.query_params, caller.sandbox or "")
    now = emulator.clock.now()
    faults = request_faults(request.scope)
    size = faults.page_size(query.limit)
    cutoff = faults.lag_cutoff(now, searched=bool(query.search))
    # Status and updatedAt (which follows the status) are computed from the clock, not stored.
    if query.statuses is None and query.order_field in WORKORDER_SORT_KEYS:
        total, page, hid = _page_in_sql(emulator, caller, query, now, size, cutoff)
    else:
        total, page, hid = _page_rendered(emulator, caller, query, now, size, cutoff)
    if hid:
        emulator.faults.happened(faults, "search_lag")
    total, page = emulator.faults.listing(faults, total, page, query.page * size, query.limit)
    return JSONResponse(
        {
            "results": page,
            "total": total,
            "count": len(page),
            "_links": _links(request, query, total, size),
        }
    )


def get_quota(emulator: Emulator, request: Request, body: bytes) -> Response:
    # The spec lists no x-sandbox-name for /quota: quotas are per organisation.
    caller = authenticate(emulator, request, sandbox_required=False)
    wanted_raw = request.query_params.get("quotaType")
    names: tuple[str, ...] = tuple(QUOTA_DESCRIPTIONS)
    if wanted_raw:
        if wanted_raw in QUOTA_DESCRIPTIONS:
            names = (wanted_raw,)
        elif wanted_raw in _QUOTA_ALIASES:
            names = _QUOTA_ALIASES[wanted_raw]
        else:
            raise bad_request(f"Unknown quotaType {clip(wanted_raw)}.")
    now = emulator.clock.now()
    daily, monthly = _consumed(emulator, caller.org_id, now)
    quotas = emulator.config.quotas
    values = {
        "datasetExpirationQuota": (
            active_expirations(emulator, caller.org_id, now),
            quotas.dataset_expirations,
        ),
        "dailyConsumerDeleteIdentitiesQuota": (daily, quotas.daily_identities),
        "monthlyConsumerDeleteIdentitiesQuota": (monthly, quotas.monthly_identities),
    }
    return JSONResponse(
        {
            "quotas": [
                {
                    "name": name,
                    "description": QUOTA_DESCRIPTIONS[name],
                    "consumed": values[name][0],
                    "quota": values[name][1],
                }
                for name in names
            ]
        }
    )
