"""Privacy Service request rules: the ``POST /jobs`` body, the list query, consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reconciler.adobe import codes
from reconciler.emulator.clock import utc_day
from reconciler.emulator.config import MAX_USER_IDS_PER_USER, MAX_USERS_PER_JOB
from reconciler.emulator.gateway import bad_request, query_day, query_int

# Adobe's vocabulary, from the one table the schema and `reconciler new` read too
# (sources and dates there). The current codes, and the retired short names the spec's
# enum still lists, taken as their current code: a client written from the spec sends them.
REGULATIONS: frozenset[str] = frozenset(codes.regulation_codes()) | frozenset(
    codes.RETIRED_REGULATIONS
)
# Every accepted spelling, lowercased (Adobe ignores case), → the product's code.
PRODUCTS: dict[str, str] = {
    spelling.lower(): product.code for product in codes.PRODUCTS for spelling in product.accepted
}
ID_TYPES = frozenset(
    {"standard", "custom", "integrationCode", "namespaceId", "unregistered", "analytics", "target"}
)
JOB_STATUS_FILTERS = frozenset({"complete", "processing", "submitted", "error"})


@dataclass(frozen=True)
class PrivacyUser:
    key: str
    actions: tuple[str, ...]
    user_ids: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class NewJobs:
    users: tuple[PrivacyUser, ...]
    products: tuple[str, ...]
    regulation: str
    request_id: str | None


def _optional_string(raw: Mapping[str, Any], key: str) -> str | None:
    """``raw[key]`` when given; a string (OpenAPI 3.0 without ``nullable``: not null)."""
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.")
    return value


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> None:
    """``raw[key]``, when given, is one of ``choices`` (the first is the default)."""
    # The type first: a list or an object must never reach a membership test.
    value = raw.get(key, choices[0])
    if not isinstance(value, str) or value not in choices:
        raise bad_request(f"{key} must be one of {', '.join(choices)}.")


def _int32(value: Any) -> bool:
    # bool is an int in Python, not in JSON.
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


def _user_id(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise bad_request("Each userID must be an object.")
    namespace, value = raw.get("namespace"), raw.get("value")
    if not isinstance(namespace, str) or not namespace or not isinstance(value, str) or not value:
        raise bad_request("Each userID needs a namespace and a value, both strings.")
    id_type = raw.get("type", "standard")
    if not isinstance(id_type, str) or id_type not in ID_TYPES:
        raise bad_request(f"userID type must be one of {', '.join(sorted(ID_TYPES))}.")
    if "namespaceId" in raw and not _int32(raw["namespaceId"]):
        raise bad_request("namespaceId must be an integer (int32).")
    if not isinstance(raw.get("isDeletedClientSide", False), bool):
        raise bad_request("isDeletedClientSide must be true or false.")
    return {"namespace": namespace, "value": value, "type": id_type}


def _user(raw: Any) -> PrivacyUser:
    if not isinstance(raw, Mapping):
        raise bad_request("Each user must be an object.")
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise bad_request("Each user needs a key (a string).")
    actions = raw.get("action")
    if (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(a, str) and a in ("access", "delete") for a in actions)
        or len(set(actions)) != len(actions)
    ):
        raise bad_request("Each user's action must list access and/or delete, once each.")
    ids = raw.get("userIDs")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_USER_IDS_PER_USER:
        raise bad_request(f"Each user needs 1 to {MAX_USER_IDS_PER_USER} userIDs.")
    return PrivacyUser(key, tuple(actions), tuple(_user_id(i) for i in ids))


def _company_contexts(raw: Any, org_id: str) -> None:
    if not isinstance(raw, list) or not raw:
        raise bad_request("companyContexts must list at least one context.")
    for context in raw:
        # Both required by the spec (PrivacyCompanyContextDetails), both strings.
        if (
            not isinstance(context, Mapping)
            or not isinstance(context.get("namespace"), str)
            or not isinstance(context.get("value"), str)
        ):
            raise bad_request("Each companyContext needs a namespace and a value, both strings.")
    # The spec's prose says imsOrgId (and once imsOrg), its example and the guides imsOrgID:
    # matched ignoring case.
    if not any(c["namespace"].lower() == "imsorgid" and c["value"] == org_id for c in raw):
        raise bad_request("companyContexts must hold an imsOrgID equal to x-gw-ims-org-id.")


def _regulation(raw: Any) -> str:
    """The current code of the regulation ``raw`` names (a retired short name is filed,
    and listed, under its successor)."""
    found = codes.find_regulation(raw) if isinstance(raw, str) else None
    if found is None:
        raise bad_request("regulation is missing or not supported.")
    return found.code


def _products(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("include must list at least one product.")
    products: list[str] = []
    for product in raw:
        if not isinstance(product, str):
            raise bad_request("include must list product codes, as strings.")
        canonical = PRODUCTS.get(product.lower())
        if canonical is None:
            raise bad_request(f"Unknown product {product[:64]!r}.")
        # The spec says uniqueItems. Codes match ignoring case, and a product may have
        # two spellings, so "analytics" and "Analytics", or "aepDataLake" and
        # "AdobeCloudPlatform", name one product twice: refused as well.
        if canonical in products:
            raise bad_request(f"include lists {canonical} more than once.")
        products.append(canonical)
    return tuple(products)


def _options(body: Mapping[str, Any]) -> None:
    expand = body.get("expandIds", False)
    # The spec's schema says the strings "true"/"false" (as this project's client sends),
    # its example a boolean: take both, nothing else. A type test, since 1 == True in Python.
    if not isinstance(expand, bool) and not (
        isinstance(expand, str) and expand in ("true", "false")
    ):
        raise bad_request("expandIds must be true or false.")
    _choice(body, "priority", ("normal", "low"))
    # analyticsDeleteMethod and mergePolicyId are not in the spec's schema; the
    # privacy-jobs guide documents them (api-notes.md), so the guide is followed.
    _choice(body, "analyticsDeleteMethod", ("anonymize", "purge"))
    _optional_string(body, "mergePolicyId")
    _optional_string(body, "region")  # in the spec's schema: a string


def parse_jobs(body: Any, org_id: str) -> NewJobs:
    """Check a ``POST /jobs`` body against the caller's organisation: every field's type
    before its value, so that no list or object reaches a lookup."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    _company_contexts(body.get("companyContexts"), org_id)
    users = body.get("users")
    if not isinstance(users, list) or not users:
        raise bad_request("users must list at least one user.")
    if len(users) > MAX_USERS_PER_JOB:
        raise bad_request(f"A request can hold at most {MAX_USERS_PER_JOB} users.")
    checked = tuple(_user(u) for u in users)
    products = _products(body.get("include"))
    # Not in the schema's ``required``, but the spec's requestBody description says the
    # payload "must include ... a valid regulation code", as the privacy-jobs guide does.
    regulation = _regulation(body.get("regulation"))
    _options(body)
    # Not in the request schema either; the response's schema says a requestId "provided
    # in the request payload" is used, else one is generated.
    request_id = _optional_string(body, "requestId")
    return NewJobs(
        users=checked, products=products, regulation=regulation, request_id=request_id or None
    )


@dataclass(frozen=True)
class JobQuery:
    regulation: str
    page: int
    size: int
    status: str | None
    from_ts: float
    to_ts: float


DAYS_BACK = 60  # the privacy-jobs guide: dates at most 60 days back
DAYS_AHEAD = 366  # the emulator's own bound: Adobe documents none, and no job is in the future
WINDOW_DAYS = 30  # the privacy-jobs guide: fromDate and toDate at most 30 days apart


def _date(params: Mapping[str, str], key: str, today: date) -> date | None:
    raw = params.get(key)
    if not raw:
        return None
    day = query_day(raw, key)
    # Differences, not sums: a date next to year 1 or 9999 never overflows here.
    if (today - day).days > DAYS_BACK:
        raise bad_request(f"{key} may be at most {DAYS_BACK} days ago.")
    if (day - today).days > DAYS_AHEAD:
        raise bad_request(f"{key} may be at most {DAYS_AHEAD} days ahead.")
    return day


def parse_job_query(params: Mapping[str, str], now: float) -> JobQuery:
    """``GET /jobs``: regulation required; paging and date window as in the privacy-jobs guide."""
    regulation = _regulation(params.get("regulation"))
    status = params.get("status") or None
    if status is not None and status not in JOB_STATUS_FILTERS:
        raise bad_request(f"status must be one of {', '.join(sorted(JOB_STATUS_FILTERS))}.")
    today = utc_day(now)
    # filterDate takes the same 60-day rule as fromDate (the guide's rule is for dates).
    day = _date(params, "filterDate", today)
    if day is not None:
        start = end = day
    else:
        end = _date(params, "toDate", today) or today
        start = _date(params, "fromDate", today) or end - timedelta(days=7)
        if start > end:
            raise bad_request("fromDate must not be after toDate.")
        if (end - start).days > WINDOW_DAYS:
            raise bad_request(f"fromDate and toDate may be at most {WINDOW_DAYS} days apart.")
        if (today - start).days > DAYS_BACK:  # toDate given, fromDate defaulted to a week before
            raise bad_request(f"The window may start at most {DAYS_BACK} days ago.")
    return JobQuery(
        regulation=regulation,
        # The guide pages from 0 with size 100 (max 1000); the spec says 1 and 25 (max 100).
        page=query_int(params, "page", 0, 0, None),
        size=query_int(params, "size", 100, 1, 1000),
        status=status,
        from_ts=datetime.combine(start, time.min, UTC).timestamp(),
        to_ts=datetime.combine(end, time.max, UTC).timestamp(),
    )


def parse_consent(body: Any) -> tuple[bool, int, int]:
    """Check a ``POST /consent`` body; return (opt-out, entity count, identity count)."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    for key in ("requestId", "transactionId", "orgId"):
        _optional_string(body, key)  # the spec: optional, strings
    opt_out = body.get("optOutOfSale")
    if not isinstance(opt_out, bool):
        raise bad_request("optOutOfSale must be true or false.")
    entities = body.get("entities")
    if not isinstance(entities, list) or not entities:
        raise bad_request("entities must list at least one namespace.")
    values = 0
    for entity in entities:
        # Note the spelling "nameSpace" (consent guide and spec).
        if not isinstance(entity, Mapping) or not isinstance(entity.get("nameSpace"), str):
            raise bad_request("Each entity needs a nameSpace.")
        ids = entity.get("values")
        if not isinstance(ids, list) or not ids or not all(isinstance(v, str) and v for v in ids):
            raise bad_request("Each entity needs a non-empty list of values.")
        if len(set(ids)) != len(ids):
            raise bad_request("An entity's values must be unique.")  # the spec: uniqueItems
        values += len(ids)
    return opt_out, len(entities), values
