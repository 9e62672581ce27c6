"""Data Hygiene request rules: the work-order bodies and the list query.

Messages for the identity-form errors are Adobe's own (api-notes.md). Every field is
type-checked before use: ``null`` is not a string. An identity form sent as ``null``
counts as absent, as a Java service reading it into a list would see it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reconciler.emulator.clock import utc_day
from reconciler.emulator.config import MAX_IDENTITIES_PER_WORKORDER
from reconciler.emulator.gateway import bad_request, clip, is_day, query_day, query_int
from reconciler.emulator.lifecycle import WORKORDER_STATUSES
from reconciler.emulator.textmatch import author_matches

TARGET_SERVICES: tuple[str, ...] = ("datalake", "identity", "profile", "ajo")
BOTH_FORMS = "Identities and NamespacesIdentities are not allowed at the same time"
NO_IDENTITIES = "Identities are Empty for Delete Identity request."
# The spec (CreateWorkorderRequest.action) and the seed send delete_identity; Adobe's newer
# workorder guide shows delete-identity (api-notes, "Spellings that differ between
# sources"): accept both. Responses say identity-delete either way.
REQUEST_ACTIONS = ("delete_identity", "delete-identity")
# The spec's enum for the list's ``type`` (parameters.workorderType).
WORKORDER_TYPES = ("identity-delete",)
# The spec gives no maxLength for these (CreateWorkorderRequest, UpdateWorkorderRequest):
# the bounds are the emulator's own, well above the most a request file may hold (a
# displayName of 256 characters, a description of 1,024 plus a tag of at most 94), so a
# 10 MB description is refused instead of being sent back on every list page. Dataset ids
# are 24 hex digits or ALL.
MAX_DISPLAY_NAME = 1_024
MAX_DESCRIPTION = 4_096
MAX_DATASET_ID = 256


@dataclass(frozen=True)
class NewWorkOrder:
    dataset_id: str
    display_name: str
    description: str
    identities: tuple[tuple[str, str], ...]
    target_services: tuple[str, ...]

    @property
    def namespaces(self) -> frozenset[str]:
        return frozenset(ns for ns, _ in self.identities)


def _namespace(item: Mapping[str, Any]) -> str:
    namespace = item.get("namespace")
    code = namespace.get("code") if isinstance(namespace, Mapping) else None
    if not isinstance(code, str) or not code:
        raise bad_request("Each identity needs a namespace with a code.")
    return code


@dataclass(frozen=True)
class WorkOrderUpdate:
    """What a ``PUT /workorder/{id}`` changes; None leaves a field as it is."""

    display_name: str | None
    description: str | None


def _ids_of(item: Mapping[str, Any]) -> Any:
    # The spec spells the list "IDs", the newer docs "ids": accept either.
    for key, value in item.items():
        if key.lower() == "ids":
            return value
    return None


def parse_identities(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Both identity forms, flattened to ``(namespace, id)`` pairs."""
    old = body.get("identities")
    new = body.get("namespacesIdentities")
    if old is not None and new is not None:
        raise bad_request(BOTH_FORMS)
    key, items = ("identities", old) if old is not None else ("namespacesIdentities", new)
    if items is None or items == []:
        raise bad_request(NO_IDENTITIES)
    if not isinstance(items, list):
        raise bad_request(f"{key} must be an array.")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise bad_request("Each identity must be an object.")
        code = _namespace(item)
        if old is not None:
            value = item.get("id")
            if not isinstance(value, str) or not value:
                raise bad_request("Each identity needs an id.")
            pairs.append((code, value))
            continue
        ids = _ids_of(item)
        if ids is None or ids == []:
            raise bad_request(NO_IDENTITIES)
        if not isinstance(ids, list):
            raise bad_request("IDs must be an array of strings.")
        for value in ids:
            if not isinstance(value, str) or not value:
                raise bad_request("Each identity id must be a non-empty string.")
            pairs.append((code, value))
        if len(pairs) > MAX_IDENTITIES_PER_WORKORDER:
            break
    if len(pairs) > MAX_IDENTITIES_PER_WORKORDER:
        raise bad_request(
            f"A work order can hold at most {MAX_IDENTITIES_PER_WORKORDER} identities."
        )
    return tuple(pairs)


def text_field(body: Mapping[str, Any], key: str, limit: int) -> str | None:
    """A string field of at most ``limit`` characters; None when absent, 400 when ``null``
    or not a string."""
    if key not in body:
        return None
    value = body[key]
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.")
    if len(value) > limit:
        raise bad_request(f"{key} must be at most {limit} characters.")
    return value


def _target_services(body: Mapping[str, Any]) -> tuple[str, ...]:
    if "targetServices" not in body:
        return TARGET_SERVICES
    services = body["targetServices"]
    if (
        not isinstance(services, list)
        or not services
        or not all(isinstance(s, str) and s in TARGET_SERVICES for s in services)
    ):
        raise bad_request(
            f"targetServices must be a non-empty array drawn from {', '.join(TARGET_SERVICES)}."
        )
    if len(set(services)) != len(services):
        raise bad_request("targetServices must not name a service twice.")
    return tuple(services)


def parse_workorder(body: Any) -> NewWorkOrder:
    """Check a ``POST /workorder`` body (dataset rules are checked by the caller)."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    if not isinstance(body.get("action"), str) or body["action"] not in REQUEST_ACTIONS:
        raise bad_request("Invalid action: only delete_identity (or delete-identity) is supported.")
    dataset_id = text_field(body, "datasetId", MAX_DATASET_ID)
    if not dataset_id:
        raise bad_request("datasetId is required.")
    return NewWorkOrder(
        dataset_id=dataset_id,
        display_name=text_field(body, "displayName", MAX_DISPLAY_NAME) or "",
        description=text_field(body, "description", MAX_DESCRIPTION) or "",
        identities=parse_identities(body),
        target_services=_target_services(body),
    )


def parse_update(body: Any) -> WorkOrderUpdate:
    """Check a ``PUT /workorder/{id}`` body."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    # The seed sends displayName, the spec names it "name": accept both, displayName first.
    display_name = text_field(body, "displayName", MAX_DISPLAY_NAME)
    name = text_field(body, "name", MAX_DISPLAY_NAME)
    description = text_field(body, "description", MAX_DESCRIPTION)
    if display_name is None and name is None and description is None:
        raise bad_request("Only displayName (or name) and description can be updated.")
    return WorkOrderUpdate(display_name if display_name is not None else name, description)


# -- the list query --------------------------------------------------------------

ORDER_FIELDS: dict[str, str] = {
    "displayName": "displayName",
    "description": "description",
    "id": "workorderId",
    "createdBy": "createdBy",
    "createdAt": "createdAt",
    "updatedAt": "updatedAt",
    "operation": "action",
    "operationCount": "operationCount",
    "status": "status",
}


@dataclass(frozen=True)
class ListQuery:
    page: int = 0
    limit: int = 25
    statuses: frozenset[str] | None = None
    type: str | None = None
    search: str | None = None
    author: str | None = None
    display_name: str | None = None
    description: str | None = None
    workorder_id: str | None = None
    sandbox: str | None = None  # None: every sandbox of the org
    from_ts: float | None = None
    to_ts: float | None = None
    filter_date: date | None = None
    order_field: str = "createdAt"
    descending: bool = True


# Python's fromisoformat also takes other shapes and other scripts' digits: the shape is
# pinned first, ASCII digits only. A space stands for the "+" of an offset that the query
# string decoded.
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+ -][0-9]{2}:[0-9]{2})?"
)
# One optional sign, then a field. A "+" sent unencoded arrives as a space: read it as "+".
_ORDER = re.compile(r"([+ -]?)([A-Za-z]+)")


def _moment(raw: str, key: str, end_of_day: bool) -> float:
    message = f"{key} must be a date (YYYY-MM-DD) or an ISO 8601 time."
    if is_day(raw):
        day = query_day(raw, key)
        return datetime.combine(day, time.max if end_of_day else time.min, UTC).timestamp()
    if not _MOMENT.fullmatch(raw):
        raise bad_request(message)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError) as e:  # 2024-02-30T10:00, 2024-01-01T24:00
        raise bad_request(message) from e


def parse_list_query(params: Mapping[str, str], header_sandbox: str) -> ListQuery:
    """Check ``GET /workorder``'s query parameters."""
    statuses = None
    if params.get("status"):
        statuses = frozenset(s.strip() for s in params["status"].split(","))
        unknown = statuses - set(WORKORDER_STATUSES)
        if unknown:
            raise bad_request(f"Unknown status value(s): {clip(', '.join(sorted(unknown)))}.")
    kind = params.get("type") or None
    if kind is not None and kind not in WORKORDER_TYPES:
        raise bad_request(f"Unknown type {clip(kind)}: only {', '.join(WORKORDER_TYPES)}.")
    from_raw, to_raw = params.get("fromDate"), params.get("toDate")
    if bool(from_raw) != bool(to_raw):
        raise bad_request("fromDate and toDate must be given together.")
    filter_raw = params.get("filterDate")
    filter_date = query_day(filter_raw, "filterDate") if filter_raw else None
    order = _ORDER.fullmatch(params.get("orderBy") or "-createdAt")
    if order is None or order.group(2) not in ORDER_FIELDS:
        raise bad_request(f"orderBy cannot sort by {clip(params.get('orderBy', ''))}.")
    sandbox_param = params.get("sandboxName")
    return ListQuery(
        page=query_int(params, "page", 0, 0, None),
        limit=query_int(params, "limit", 25, 1, 100),
        statuses=statuses,
        type=kind,
        search=params.get("search") or None,
        author=params.get("author") or None,
        display_name=params.get("displayName") or None,
        description=params.get("description") or None,
        workorder_id=params.get("workorderId") or None,
        sandbox=None if sandbox_param == "*" else (sandbox_param or header_sandbox),
        from_ts=_moment(from_raw, "fromDate", False) if from_raw else None,
        to_ts=_moment(to_raw, "toDate", True) if to_raw else None,
        filter_date=filter_date,
        order_field=ORDER_FIELDS[order.group(2)],
        descending=order.group(1) == "-",
    )


def matches(query: ListQuery, item: Mapping[str, Any], created: float, updated: float) -> bool:
    """Whether a rendered work order passes the query's filters."""
    if query.statuses is not None and item["status"] not in query.statuses:
        return False
    if query.type is not None and query.type != item["action"]:
        return False
    if query.workorder_id is not None and query.workorder_id != item["workorderId"]:
        return False
    if query.author is not None and not author_matches(query.author, item["createdBy"]):
        return False
    for wanted, key in ((query.display_name, "displayName"), (query.description, "description")):
        if wanted is not None and wanted.lower() not in item[key].lower():
            return False
    if query.search is not None:
        needle = query.search.lower()
        haystack = (item["createdBy"], item["displayName"], item["description"])
        texts = haystack + (item.get("datasetName") or "",)
        if query.search != item["workorderId"] and not any(needle in t.lower() for t in texts):
            return False
    if query.from_ts is not None and query.to_ts is not None:
        if not query.from_ts <= created <= query.to_ts:
            return False
    if query.filter_date is not None and query.filter_date not in (
        utc_day(created),
        utc_day(updated),
    ):
        return False
    return True


def day_and_month_start(now: float) -> tuple[float, float]:
    """Quota windows: 00:00 GMT today and on the 1st of this month (the spec's reset times)."""
    today = utc_day(now)
    day_start = datetime.combine(today, time.min, UTC)
    month_start = day_start - timedelta(days=today.day - 1)
    return day_start.timestamp(), month_start.timestamp()
