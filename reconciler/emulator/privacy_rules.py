"""Privacy Service request rules: the ``POST /jobs`` body, the list query, consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reconciler.emulator.config import MAX_USER_IDS_PER_USER, MAX_USERS_PER_JOB
from reconciler.emulator.gateway import bad_request

# The spec's enum plus the newest doc's spellings (privacy-jobs guide, 2025).
REGULATIONS: frozenset[str] = frozenset(
    "apa_aus ccpa cpa_co_usa cpra_ca_usa ctdpa_ct_usa dpdpa dpdpa_de_usa fdbr_fl_usa gdpr "
    "hipaa_usa icdpa_ia_usa lgpd_bra mcdpa_mn_usa mcdpa_mt_usa mhmda_wa_usa ndpa_ne_usa "
    "nhpa_nh_usa njdpa_nj_usa nzpa_nzl ocpa_or_usa pdpa_tha ql25 ql25_qc_can tdpsa_tx_usa "
    "tipa_tn_usa ucpa_ut_usa vcdpa_va_usa".split()
)
# Product codes from the Privacy Service appendix, matched case-insensitively.
PRODUCTS: dict[str, str] = {
    p.lower(): p
    for p in (
        "adCloud",
        "AdobeCloudPlatform",
        "analytics",
        "AudienceManager",
        "campaign",
        "CustomerJourneyAnalytics",
        "Identity",
        "journeyOrchestration",
        "marketo",
        "profileService",
        "target",
    )
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


def _user_id(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise bad_request("Each userID must be an object.")
    namespace, value = raw.get("namespace"), raw.get("value")
    if not isinstance(namespace, str) or not namespace or not isinstance(value, str) or not value:
        raise bad_request("Each userID needs a namespace and a value.")
    id_type = raw.get("type", "standard")
    if id_type not in ID_TYPES:
        raise bad_request(f"userID type must be one of {', '.join(sorted(ID_TYPES))}.")
    deleted = raw.get("isDeletedClientSide", False)
    if not isinstance(deleted, bool):
        raise bad_request("isDeletedClientSide must be true or false.")
    return {"namespace": namespace, "value": value, "type": id_type}


def _user(raw: Any) -> PrivacyUser:
    if not isinstance(raw, Mapping):
        raise bad_request("Each user must be an object.")
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise bad_request("Each user needs a key.")
    actions = raw.get("action")
    if (
        not isinstance(actions, list)
        or not actions
        or any(a not in ("access", "delete") for a in actions)
        or len(set(actions)) != len(actions)
    ):
        raise bad_request("Each user's action must list access and/or delete, once each.")
    ids = raw.get("userIDs")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_USER_IDS_PER_USER:
        raise bad_request(f"Each user needs 1 to {MAX_USER_IDS_PER_USER} userIDs.")
    return PrivacyUser(key, tuple(actions), tuple(_user_id(i) for i in ids))


def _options(body: Mapping[str, Any]) -> None:
    expand = body.get("expandIds", False)
    # The spec's schema says "true"/"false" strings, its example sends a boolean: take both.
    if expand not in (True, False, "true", "false"):
        raise bad_request("expandIds must be true or false.")
    if body.get("priority", "normal") not in ("normal", "low"):
        raise bad_request("priority must be normal or low.")
    if body.get("analyticsDeleteMethod", "anonymize") not in ("anonymize", "purge"):
        raise bad_request("analyticsDeleteMethod must be anonymize or purge.")


def parse_jobs(body: Any, org_id: str) -> NewJobs:
    """Check a ``POST /jobs`` body against the caller's organisation."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    contexts = body.get("companyContexts")
    if not isinstance(contexts, list) or not any(
        isinstance(c, Mapping)
        and str(c.get("namespace", "")).lower() == "imsorgid"
        and c.get("value") == org_id
        for c in contexts
    ):
        raise bad_request("companyContexts must hold an imsOrgID equal to x-gw-ims-org-id.")
    users = body.get("users")
    if not isinstance(users, list) or not users:
        raise bad_request("users must list at least one user.")
    if len(users) > MAX_USERS_PER_JOB:
        raise bad_request(f"A request can hold at most {MAX_USERS_PER_JOB} users.")
    include = body.get("include")
    if not isinstance(include, list) or not include:
        raise bad_request("include must list at least one product.")
    products = []
    for product in include:
        canonical = PRODUCTS.get(str(product).lower())
        if canonical is None:
            raise bad_request(f"Unknown product {product}.")
        products.append(canonical)
    regulation = body.get("regulation")
    if regulation not in REGULATIONS:
        raise bad_request("regulation is missing or not supported.")
    _options(body)
    request_id = body.get("requestId")
    return NewJobs(
        users=tuple(_user(u) for u in users),
        products=tuple(dict.fromkeys(products)),
        regulation=str(regulation),
        request_id=request_id if isinstance(request_id, str) and request_id else None,
    )


@dataclass(frozen=True)
class JobQuery:
    regulation: str
    page: int
    size: int
    status: str | None
    from_ts: float
    to_ts: float


def _date(raw: str, key: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise bad_request(f"{key} must be a date (YYYY-MM-DD).") from e


def _int(params: Mapping[str, str], key: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(key)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise bad_request(f"{key} must be an integer.") from e
    if value < low or (high is not None and value > high):
        raise bad_request(f"{key} is out of range.")
    return value


def parse_job_query(params: Mapping[str, str], now: float) -> JobQuery:
    """``GET /jobs``: regulation required; paging and date window as in the privacy-jobs guide."""
    regulation = params.get("regulation")
    if not regulation or regulation not in REGULATIONS:
        raise bad_request("regulation is missing or not supported.")
    status = params.get("status") or None
    if status is not None and status not in JOB_STATUS_FILTERS:
        raise bad_request(f"status must be one of {', '.join(sorted(JOB_STATUS_FILTERS))}.")
    today = datetime.fromtimestamp(now, UTC).date()
    if params.get("filterDate"):
        start = end = _date(params["filterDate"], "filterDate")
    else:
        end = _date(params["toDate"], "toDate") if params.get("toDate") else today
        start = (
            _date(params["fromDate"], "fromDate")
            if params.get("fromDate")
            else end - timedelta(days=7)
        )
        if start > end:
            raise bad_request("fromDate must not be after toDate.")
        if (end - start).days > 30:
            raise bad_request("fromDate and toDate may be at most 30 days apart.")
        if start < today - timedelta(days=60):
            raise bad_request("fromDate may be at most 60 days ago.")
    return JobQuery(
        regulation=regulation,
        # The guide pages from 0 with size 100 (max 1000); the spec says 1 and 25 (max 100).
        page=_int(params, "page", 0, 0, None),
        size=_int(params, "size", 100, 1, 1000),
        status=status,
        from_ts=datetime.combine(start, time.min, UTC).timestamp(),
        to_ts=datetime.combine(end, time.max, UTC).timestamp(),
    )


def parse_consent(body: Any) -> tuple[bool, int, int]:
    """Check a ``POST /consent`` body; return (opt-out, entity count, identity count)."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
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
        values += len(ids)
    return opt_out, len(entities), values
