"""Privacy Service jobs and consent (``/data/core/privacy``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from reconciler.adobe.errors import InvalidArgumentError, InvalidResponseError
from reconciler.adobe.fields import is_safe_id
from reconciler.adobe.models import PrivacyJob, PrivacyJobPage, PrivacyJobsCreated
from reconciler.adobe.paging import Listing, Page, Scope, Told
from reconciler.adobe.transport import PRIVACY, Transport, path_segment

MAX_USERS_PER_JOB = 1000
MAX_IDS_PER_USER = 9
# Page size: the spec allows up to 100 (default 25), the docs up to 1000 (default 100).
PAGE_SIZE = 100
# GET /jobs date filters (docs): at most 60 days back, a window of at most 30 days.
MAX_DAYS_BACK = 60
MAX_WINDOW_DAYS = 29  # toDate - fromDate: 30 calendar days counted inclusively
ACTIONS = frozenset({"access", "delete"})
ID_TYPES = frozenset(
    {"standard", "custom", "integrationCode", "namespaceId", "unregistered", "analytics", "target"}
)
PRIORITIES = frozenset({"normal", "low"})
DELETE_METHODS = frozenset({"anonymize", "purge"})
JOB_STATUSES = frozenset({"complete", "processing", "submitted", "error"})
_REGULATION = re.compile(r"[a-z][a-z0-9_]{1,39}")


@dataclass(frozen=True)
class UserId:
    """One identity of a data subject (a ``userIDs`` item). The value never shows in ``repr``."""

    namespace: str
    value: str = field(repr=False)
    type: str = "standard"
    is_deleted_client_side: bool | None = None

    def to_api(self) -> dict[str, object]:
        data: dict[str, object] = {
            "namespace": self.namespace,
            "value": self.value,
            "type": self.type,
        }
        if self.is_deleted_client_side is not None:
            data["isDeletedClientSide"] = self.is_deleted_client_side
        return data


@dataclass(frozen=True)
class PrivacyUser:
    """One data subject of a privacy job: ``key`` (our tag), actions, and 1–9 identities."""

    key: str
    actions: tuple[str, ...]
    user_ids: tuple[UserId, ...] = field(repr=False)

    @classmethod
    def from_spec(cls, data: Mapping[str, object]) -> PrivacyUser:
        """From the API's own shape (``key``, ``action``, ``userIDs``), as request files hold it."""
        key = data.get("key")
        actions = data.get("action")
        ids = data.get("userIDs")
        if not isinstance(key, str):
            raise InvalidArgumentError("a privacy user needs a string key")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise InvalidArgumentError("a privacy user's action must be a list of strings")
        if not isinstance(ids, list):
            raise InvalidArgumentError("a privacy user's userIDs must be a list")
        user_ids = []
        for item in ids:
            if not isinstance(item, Mapping):
                raise InvalidArgumentError("each userIDs item must be a mapping")
            namespace, value = item.get("namespace"), item.get("value")
            id_type = item.get("type", "standard")
            deleted = item.get("isDeletedClientSide")
            if not isinstance(namespace, str) or not isinstance(value, str):
                raise InvalidArgumentError("userIDs items need string namespace and value")
            if not isinstance(id_type, str) or not (deleted is None or isinstance(deleted, bool)):
                raise InvalidArgumentError(
                    "userIDs type must be a string, isDeletedClientSide a bool"
                )
            user_ids.append(UserId(namespace, value, id_type, deleted))
        return cls(key=key, actions=tuple(actions), user_ids=tuple(user_ids))

    def to_api(self) -> dict[str, object]:
        return {
            "key": self.key,
            "action": list(self.actions),
            "userIDs": [user_id.to_api() for user_id in self.user_ids],
        }


class PrivacyApi:
    """Privacy jobs and opt-outs of sale. Use through ``AdobeClient.privacy``."""

    def __init__(self, transport: Transport, *, today: Callable[[], date]) -> None:
        self._transport = transport
        self._today = today

    def create_privacy_job(
        self,
        *,
        regulation: str,
        users: Sequence[PrivacyUser | Mapping[str, object]],
        include: Sequence[str],
        expand_ids: bool = False,
        priority: str | None = None,
        analytics_delete_method: str | None = None,
        merge_policy_id: str | None = None,
        partial_answer: bool = False,
    ) -> PrivacyJobsCreated:
        """``POST /jobs``: one job per user, action and product. Not idempotent.

        ``companyContexts`` comes from the configured org. May raise ``OutcomeUnknownError``:
        look for the users' ``key`` in ``list_privacy_jobs`` before sending again.

        An answer without a job for some user that was sent is ``OutcomeUnknownError``,
        unless ``partial_answer``: then it is returned, for a caller that sent the users of
        several requests and takes each user it has no job for as an outcome unknown.
        """
        checked = [u if isinstance(u, PrivacyUser) else PrivacyUser.from_spec(u) for u in users]
        _check_users(checked)
        if not _REGULATION.fullmatch(regulation):
            raise InvalidArgumentError("regulation must be a code such as gdpr or cpra_ca_usa")
        if isinstance(include, str) or not include:
            raise InvalidArgumentError("include must list at least one product code")
        if not all(isinstance(p, str) and p.strip() for p in include):
            raise InvalidArgumentError("include must hold product codes")
        if len(set(include)) != len(include):
            raise InvalidArgumentError("include lists a product twice")
        body: dict[str, object] = {
            # The namespace as Adobe's examples spell it; the value must match x-gw-ims-org-id.
            "companyContexts": [{"namespace": "imsOrgID", "value": self._transport.config.org_id}],
            "users": [user.to_api() for user in checked],
            "include": list(include),
            "regulation": regulation,
        }
        if expand_ids:
            # The spec's schema types expandIds as the string "true"/"false" (its example uses a
            # boolean). Sent only when true, as the schema's string; false is the default.
            body["expandIds"] = "true"
        if priority is not None:
            if priority not in PRIORITIES:
                raise InvalidArgumentError("priority must be normal or low")
            body["priority"] = priority
        if analytics_delete_method is not None:
            if analytics_delete_method not in DELETE_METHODS:
                raise InvalidArgumentError("analytics_delete_method must be anonymize or purge")
            body["analyticsDeleteMethod"] = analytics_delete_method
        if merge_policy_id is not None:
            body["mergePolicyId"] = merge_policy_id
        redact = [uid.value for user in checked for uid in user.user_ids]
        parse = partial(_parse_created, frozenset(user.key for user in checked), partial_answer)
        return self._transport.call(PRIVACY, "POST", "/jobs", parse, body=body, redact=redact)

    def get_privacy_job(self, job_id: str) -> PrivacyJob:
        """``GET /jobs/{id}``; ``NotFoundError`` if unknown (job data is kept 30 days)."""
        if not is_safe_id(job_id):
            raise InvalidArgumentError("not a well-formed privacy job id")
        path = "/jobs/" + path_segment(job_id)
        return self._transport.call(PRIVACY, "GET", path, PrivacyJob.from_api)

    def iter_privacy_jobs(
        self,
        regulation: str,
        *,
        status: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> Iterator[PrivacyJob]:
        """``GET /jobs?regulation=…``, every page, each job once.

        Without dates Adobe lists the last 7 days. With dates, the window must lie within
        the last 60 days; a window longer than 30 days is split into several listings.
        Each listing is read until an empty page and must agree with its ``totalRecords``
        (read once more if not, then ``InvalidResponseError``: see ``paging``); no job is
        yielded before its window's listing added up.
        """
        if not _REGULATION.fullmatch(regulation):
            raise InvalidArgumentError("regulation must be a code such as gdpr or cpra_ca_usa")
        if status is not None and status not in JOB_STATUSES:
            raise InvalidArgumentError("status must be complete, processing, submitted or error")
        base: dict[str, str | int] = {"regulation": regulation, "size": PAGE_SIZE}
        if status is not None:
            base["status"] = status
        seen: set[str] = set()
        for window in self._windows(from_date, to_date):
            for job in self._pages({**base, **window}):
                # Windows overlap by a day, in case toDate is exclusive: report each job once.
                if job.job_id not in seen:
                    seen.add(job.job_id)
                    yield job

    def list_privacy_jobs(
        self,
        regulation: str,
        *,
        status: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> list[PrivacyJob]:
        """All of ``iter_privacy_jobs`` as a list."""
        return list(
            self.iter_privacy_jobs(regulation, status=status, from_date=from_date, to_date=to_date)
        )

    def submit_consent(
        self, entities: Mapping[str, Sequence[str]], *, opt_out_of_sale: bool = True
    ) -> None:
        """``POST /consent``. Adobe answers 202 with no body: there is no id to look up later."""
        if not entities:
            raise InvalidArgumentError("consent needs at least one entity")
        body_entities = []
        redact: list[str] = []
        for namespace, values in entities.items():
            if not isinstance(namespace, str) or not namespace.strip():
                raise InvalidArgumentError("consent namespaces must be non-empty strings")
            if isinstance(values, str) or not values:
                raise InvalidArgumentError("each consent namespace needs a list of values")
            if not all(isinstance(v, str) and v.strip() for v in values):
                raise InvalidArgumentError("consent values must be non-empty strings")
            unique = list(dict.fromkeys(values))  # the spec says uniqueItems
            redact.extend(unique)
            # ``nameSpace`` with a capital S, as the spec and docs spell it for /consent.
            body_entities.append({"nameSpace": namespace, "values": unique})
        body = {"optOutOfSale": bool(opt_out_of_sale), "entities": body_entities}
        self._transport.call(
            PRIVACY, "POST", "/consent", _ignore, body=body, expect_json=False, redact=redact
        )

    def _windows(self, from_date: date | None, to_date: date | None) -> list[dict[str, str]]:
        if from_date is None and to_date is None:
            return [{}]
        if from_date is None or to_date is None:
            raise InvalidArgumentError("give both from_date and to_date, or neither")
        if from_date > to_date:
            raise InvalidArgumentError("from_date is after to_date")
        today = self._today()
        if from_date < today - timedelta(days=MAX_DAYS_BACK):
            raise InvalidArgumentError(
                f"Adobe lists privacy jobs at most {MAX_DAYS_BACK} days back"
            )
        windows = []
        start = from_date
        while True:
            end = min(start + timedelta(days=MAX_WINDOW_DAYS), to_date)
            windows.append({"fromDate": start.isoformat(), "toDate": end.isoformat()})
            if end >= to_date:
                return windows
            start = end

    def _pages(self, params: Mapping[str, str | int]) -> tuple[PrivacyJob, ...]:
        def read(page: int) -> Page[PrivacyJob]:
            result = self._transport.call(
                PRIVACY,
                "GET",
                "/jobs",
                partial(PrivacyJobPage.from_api, where=f"privacy job list page {page}"),
                params={**params, "page": page},
            )
            # The spec describes totalRecords as "the number of jobs returned in the response"
            # (this page); the guide pages by it as the count of every match: either agrees.
            total = result.total_records
            told = () if total is None else (Told("totalRecords", total, Scope.LISTING_OR_PAGE),)
            return Page(result.jobs, told)

        return Listing(
            read,
            key=lambda job: job.job_id,
            endpoint=f"GET {PRIVACY.base}/jobs",
            noun="privacy jobs",
            limit=PAGE_SIZE,
            max_pages=self._transport.config.max_pages,
            # Pages count from 0 per the privacy-jobs guide; the spec gives page a default of 1.
            first_page_may_repeat=True,
        ).collect()


def _parse_created(keys: frozenset[str], partial_answer: bool, data: object) -> PrivacyJobsCreated:
    """The answer to ``POST /jobs``, which must be about the users sent: an answer for
    someone else's request would have the caller record jobs that are not its own (read
    after a POST, so the caller sees ``OutcomeUnknownError``). With ``partial_answer``, an
    answer may leave users out (the caller knows they are unknown)."""
    created = PrivacyJobsCreated.from_api(data)
    where = "POST /data/core/privacy/jobs"
    if not created.jobs:
        raise InvalidResponseError(f"{where}: the answer lists no jobs")
    if len({job.job_id for job in created.jobs}) != len(created.jobs):
        raise InvalidResponseError(f"{where}: the answer lists a job id twice")
    answered = {job.user_key for job in created.jobs}
    if not answered - {None} <= keys:
        raise InvalidResponseError(f"{where}: the answer names a user key that was not sent")
    if not partial_answer and None not in answered and answered != keys:
        raise InvalidResponseError(f"{where}: the answer has no job for a user that was sent")
    return created


def _ignore(data: object) -> None:
    """/consent answers 202 without a body: nothing to read."""


def _check_users(users: Sequence[PrivacyUser]) -> None:
    if not users:
        raise InvalidArgumentError("a privacy job needs at least one user")
    if len(users) > MAX_USERS_PER_JOB:
        raise InvalidArgumentError(f"{len(users)} users exceed Adobe's {MAX_USERS_PER_JOB} per job")
    keys = [user.key for user in users]
    if len(set(keys)) != len(keys):
        raise InvalidArgumentError("two users share a key")
    for number, user in enumerate(users, 1):
        where = f"user {number}"
        if not user.key.strip():
            raise InvalidArgumentError(f"{where}: key is empty")
        if not user.actions or not set(user.actions) <= ACTIONS:
            raise InvalidArgumentError(f"{where}: action must be access and/or delete")
        if len(set(user.actions)) != len(user.actions):
            raise InvalidArgumentError(f"{where}: an action is listed twice")
        if not 1 <= len(user.user_ids) <= MAX_IDS_PER_USER:
            raise InvalidArgumentError(f"{where}: needs 1 to {MAX_IDS_PER_USER} userIDs")
        for uid in user.user_ids:
            if not uid.namespace.strip() or not uid.value.strip():
                raise InvalidArgumentError(f"{where}: userIDs need a namespace and a value")
            if uid.type not in ID_TYPES:
                raise InvalidArgumentError(
                    f"{where}: userIDs type must be one of {sorted(ID_TYPES)}"
                )
