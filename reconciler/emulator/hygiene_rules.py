"""Data Hygiene request rules: the work-order body and the list query.

Messages for the identity-form errors are Adobe's own (api-notes.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reconciler.emulator.clock import utc_day
from reconciler.emulator.config import MAX_IDENTITIES_PER_WORKORDER
from reconciler.emulator.gateway import bad_request
from reconciler.emulator.lifecycle import WORKORDER_STATUSES
from reconciler.emulator.textmatch import author_matches

TARGET_SERVICES: tuple[str, ...] = ("datalake", "identity", "profile", "ajo")
BOTH_FORMS = "Identities and NamespacesIdentities are not allowed at the same time"
NO_IDENTITIES = "Identities are Empty for Delete Identity request."


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
    if not old and not new:
        raise bad_request(NO_IDENTITIES)
    items = old if old is not None else new
    if not isinstance(items, list):
        raise bad_request(NO_IDENTITIES)
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
        if not isinstance(ids, list) or not ids:
            raise bad_request(NO_IDENTITIES)
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


def _optional_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.")
    return value


def parse_workorder(body: Any) -> NewWorkOrder:
    """Check a ``POST /workorder`` body (dataset rules are checked by the caller)."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    if body.get("action") != "delete_identity":
        raise bad_request("Invalid action: only delete_identity is supported.")
    dataset_id = body.get("datasetId")
    if not isinstance(dataset_id, str) or not dataset_id:
        raise bad_request("datasetId is required.")
    services = body.get("targetServices", list(TARGET_SERVICES))
    if (
        not isinstance(services, list)
        or not services
        or any(s not in TARGET_SERVICES for s in services)
    ):
        raise bad_request(f"targetServices must be a list drawn from {', '.join(TARGET_SERVICES)}.")
    return NewWorkOrder(
        dataset_id=dataset_id,
        display_name=_optional_str(body, "displayName"),
        description=_optional_str(body, "description"),
        identities=parse_identities(body),
        target_services=tuple(dict.fromkeys(services)),
    )


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


def _int(params: Mapping[str, str], key: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise bad_request(f"{key} must be an integer.") from e
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{key} must be {bound}.")
    return value


def _moment(raw: str, key: str, end_of_day: bool) -> float:
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.max if end_of_day else time.min, UTC)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError as e:
        raise bad_request(f"{key} must be a date (YYYY-MM-DD) or an ISO 8601 time.") from e
    return moment.timestamp()


def parse_list_query(params: Mapping[str, str], header_sandbox: str) -> ListQuery:
    """Check ``GET /workorder``'s query parameters."""
    statuses = None
    if params.get("status"):
        statuses = frozenset(s.strip() for s in params["status"].split(","))
        unknown = statuses - set(WORKORDER_STATUSES)
        if unknown:
            raise bad_request(f"Unknown status value(s): {', '.join(sorted(unknown))}.")
    from_raw, to_raw = params.get("fromDate"), params.get("toDate")
    if bool(from_raw) != bool(to_raw):
        raise bad_request("fromDate and toDate must be given together.")
    filter_date = None
    if params.get("filterDate"):
        try:
            filter_date = date.fromisoformat(params["filterDate"][:10])
        except ValueError as e:
            raise bad_request("filterDate must be a date (YYYY-MM-DD).") from e
    order = params.get("orderBy") or "-createdAt"
    descending = order.startswith("-")
    field = order.lstrip("+- ")
    if field not in ORDER_FIELDS:
        raise bad_request(f"orderBy cannot sort by {field}.")
    sandbox_param = params.get("sandboxName")
    return ListQuery(
        page=_int(params, "page", 0, 0, None),
        limit=_int(params, "limit", 25, 1, 100),
        statuses=statuses,
        type=params.get("type") or None,
        search=params.get("search") or None,
        author=params.get("author") or None,
        display_name=params.get("displayName") or None,
        description=params.get("description") or None,
        workorder_id=params.get("workorderId") or None,
        sandbox=None if sandbox_param == "*" else (sandbox_param or header_sandbox),
        from_ts=_moment(from_raw, "fromDate", False) if from_raw else None,
        to_ts=_moment(to_raw, "toDate", True) if to_raw else None,
        filter_date=filter_date,
        order_field=ORDER_FIELDS[field],
        descending=descending,
    )


def _day(epoch: float) -> date:
    return utc_day(epoch)


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
    if query.filter_date is not None and query.filter_date not in (_day(created), _day(updated)):
        return False
    return True


def day_and_month_start(now: float) -> tuple[float, float]:
    """Quota windows: 00:00 GMT today and on the 1st of this month (the spec's reset times)."""
    today = _day(now)
    day_start = datetime.combine(today, time.min, UTC)
    month_start = day_start - timedelta(days=today.day - 1)
    return day_start.timestamp(), month_start.timestamp()
