"""Dataset expiration (``/ttl``) request rules: the POST and PUT bodies, the expiry, the list
and detail queries.

Follows data-hygiene.yaml: ``expiry`` is ISO 8601, a date alone meaning midnight UTC and a
time without a zone meaning UTC, at least 24 hours after the emulator's clock
(CreateTTLRequest.expiry); a PUT changes only ``displayName``, ``description`` and
``expiry`` (updateTtl). Every field is type-checked before use (``null`` is not a string);
fields the spec does not name are tolerated on create, as on ``POST /workorder``, while a
PUT naming a field an expiration has but cannot change (``datasetId``, ``status``…) is
refused rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from reconciler.emulator.clock import iso, utc_day
from reconciler.emulator.gateway import bad_request, clip, is_day, query_day, query_int
from reconciler.emulator.hygiene_rules import (
    MAX_DATASET_ID,
    MAX_DESCRIPTION,
    MAX_DISPLAY_NAME,
    text_field,
)
from reconciler.emulator.lifecycle import EXPIRATION_STATUSES
from reconciler.emulator.textmatch import author_matches

# "The expiry must be at least 24 hours in the future" (CreateTTLRequest, UpdateTTLRequest).
MIN_LEAD_SECONDS = 24 * 3600
# Fields of an expiration that a PUT cannot change (the spec's response schemas).
IMMUTABLE_FIELDS = (
    "ttlId",
    "datasetId",
    "datasetName",
    "sandboxName",
    "imsOrg",
    "status",
    "updatedAt",
    "updatedBy",
)
# The shapes ISO 8601 allows here, ASCII digits only (fromisoformat takes more: week dates,
# other scripts' digits, 20301231): a date, or a date and a time with optional seconds,
# fraction and zone.
_EXPIRY = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
# Far enough ahead for any real expiry, and far enough from datetime's end (year 9999)
# that every time derived from it (completion, updatedAt) can still be rendered.
_LATEST = datetime(9999, 1, 1, tzinfo=UTC).timestamp()
# The list's page size: the spec's ``limit`` says default 25, its ``page`` says 50; the
# emulator follows ``limit``, the parameter that sets it.
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def parse_expiry(value: Any, key: str = "expiry") -> float:
    """An ISO 8601 date or date-time as epoch seconds (UTC unless a zone is given)."""
    message = f"{key} must be an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)."
    if not isinstance(value, str) or not _EXPIRY.fullmatch(value):
        raise bad_request(message)
    try:
        if is_day(value):
            moment = datetime.combine(date.fromisoformat(value), time.min, UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        epoch = moment.timestamp()
    except (ValueError, OverflowError) as e:  # 2030-02-30, 2030-01-01T24:00, +25:00
        raise bad_request(message) from e
    if epoch >= _LATEST:
        raise bad_request(f"{key} must be before the year 9999.")
    return epoch


def check_lead(expiry: float, now: float) -> None:
    """Refuse an expiry less than 24 hours after the emulator's ``now``."""
    if expiry - now < MIN_LEAD_SECONDS:
        raise bad_request(
            "The expiry must be at least 24 hours in the future: "
            f"at or after {iso(now + MIN_LEAD_SECONDS)}."
        )


@dataclass(frozen=True)
class NewExpiration:
    dataset_id: str
    expiry: float
    display_name: str
    description: str


@dataclass(frozen=True)
class ExpirationUpdate:
    """What a ``PUT /ttl/{ttlId}`` changes; None leaves a field as it is."""

    display_name: str | None
    description: str | None
    expiry: float | None


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    return body


def _display_name(body: Mapping[str, Any]) -> str | None:
    name = text_field(body, "displayName", MAX_DISPLAY_NAME)
    if name is not None and not name.strip():
        raise bad_request("displayName must not be empty.")
    return name


def parse_expiration(body: Any) -> NewExpiration:
    """Check a ``POST /ttl`` body (whether the dataset exists is the caller's check)."""
    body = _object(body)
    dataset_id = text_field(body, "datasetId", MAX_DATASET_ID)
    if not dataset_id:
        raise bad_request("datasetId is required.")
    if "expiry" not in body:
        raise bad_request("expiry is required.")
    expiry = parse_expiry(body["expiry"])
    display_name = _display_name(body)
    if display_name is None:
        raise bad_request("displayName is required.")
    return NewExpiration(
        dataset_id=dataset_id,
        expiry=expiry,
        display_name=display_name,
        description=text_field(body, "description", MAX_DESCRIPTION) or "",
    )


def parse_expiration_update(body: Any) -> ExpirationUpdate:
    """Check a ``PUT /ttl/{ttlId}`` body."""
    body = _object(body)
    for key in IMMUTABLE_FIELDS:
        if key in body:
            raise bad_request(
                f"{key} cannot be changed: only displayName, description and expiry can."
            )
    change = ExpirationUpdate(
        display_name=_display_name(body),
        description=text_field(body, "description", MAX_DESCRIPTION),
        expiry=parse_expiry(body["expiry"]) if "expiry" in body else None,
    )
    if change == ExpirationUpdate(None, None, None):
        raise bad_request("Only displayName, description and expiry can be updated.")
    return change


def wants_history(params: Mapping[str, str]) -> bool:
    """``GET /ttl/{ID}``'s ``include``: ``history`` (the spec's only value) or nothing."""
    raw = params.get("include")
    if raw and raw != "history":
        raise bad_request(f"Unknown include {clip(raw)}: only history.")
    return bool(raw)


# -- the list query --------------------------------------------------------------


@dataclass(frozen=True)
class ExpirationQuery:
    """``GET /ttl``'s parameters; text filters are None when absent, days both ends included."""

    page: int = 0
    limit: int = DEFAULT_LIMIT
    statuses: frozenset[str] | None = None
    dataset_id: str | None = None
    search: str | None = None
    author: str | None = None
    display_name: str | None = None
    description: str | None = None
    dataset_name: str | None = None
    ttl_id: str | None = None
    sandbox: str | None = None  # None: every sandbox of the org
    expiry_from: date | None = None
    expiry_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None


def _day(params: Mapping[str, str], key: str) -> date | None:
    raw = params.get(key)
    return query_day(raw, key) if raw else None


def _window(params: Mapping[str, str], prefix: str) -> tuple[date | None, date | None]:
    """``{prefix}Date`` (one day), or ``{prefix}FromDate``/``{prefix}ToDate`` (either or
    both): as one window of days."""
    exact = _day(params, f"{prefix}Date")
    start = _day(params, f"{prefix}FromDate")
    end = _day(params, f"{prefix}ToDate")
    if exact is not None:
        start = exact if start is None else max(start, exact)
        end = exact if end is None else min(end, exact)
    return start, end


def parse_expiration_query(params: Mapping[str, str], header_sandbox: str) -> ExpirationQuery:
    """Check ``GET /ttl``'s query parameters. ``orgId`` is ignored, as the spec says it is
    without a service token. ``sandboxName`` (``*`` for all) and ``ttlId`` are not in the
    spec but in the guide's list of parameters (its appendix), as for work orders."""
    statuses = None
    if params.get("status"):
        statuses = frozenset(s.strip() for s in params["status"].split(","))
        unknown = statuses - set(EXPIRATION_STATUSES)
        if unknown:
            raise bad_request(f"Unknown status value(s): {clip(', '.join(sorted(unknown)))}.")
    expiry_from, expiry_to = _window(params, "expiry")
    updated_from, updated_to = _window(params, "updated")
    sandbox_param = params.get("sandboxName")
    return ExpirationQuery(
        page=query_int(params, "page", 0, 0, None),
        limit=query_int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        statuses=statuses,
        dataset_id=params.get("datasetId") or None,
        search=params.get("search") or None,
        author=params.get("author") or None,
        display_name=params.get("displayName") or None,
        description=params.get("description") or None,
        dataset_name=params.get("datasetName") or None,
        ttl_id=params.get("ttlId") or None,
        sandbox=None if sandbox_param == "*" else (sandbox_param or header_sandbox),
        expiry_from=expiry_from,
        expiry_to=expiry_to,
        updated_from=updated_from,
        updated_to=updated_to,
    )


def _in_window(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def expiration_matches(
    query: ExpirationQuery, item: Mapping[str, Any], expiry: float, updated: float
) -> bool:
    """Whether a rendered expiration passes the query's filters (``expiry`` and ``updated``
    are its times in epoch seconds)."""
    if query.statuses is not None and item["status"] not in query.statuses:
        return False
    if query.dataset_id is not None and query.dataset_id != item["datasetId"]:
        return False
    if query.ttl_id is not None and query.ttl_id != item["ttlId"]:
        return False
    if query.author is not None and not author_matches(query.author, item["updatedBy"]):
        return False
    for wanted, key in (
        (query.display_name, "displayName"),
        (query.description, "description"),
        (query.dataset_name, "datasetName"),
    ):
        if wanted is not None and wanted.lower() not in item[key].lower():
            return False
    if query.search is not None and query.search != item["ttlId"]:
        needle = query.search.lower()
        texts = (item["updatedBy"], item["displayName"], item["description"], item["datasetName"])
        if not any(needle in text.lower() for text in texts):
            return False
    if not _in_window(utc_day(expiry), query.expiry_from, query.expiry_to):
        return False
    return _in_window(utc_day(updated), query.updated_from, query.updated_to)
