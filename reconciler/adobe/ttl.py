"""Data Hygiene dataset expirations (``/data/core/hygiene/ttl``): a dataset deleted at a time.

Adobe allows one expiration per dataset (api-notes.md), so after an
``OutcomeUnknownError`` from :meth:`DatasetExpirationApi.create_expiration` the place to
look is ``get_expiration(dataset_id)``. Only a pending expiration can be updated or
cancelled; the expiry must be at least 24 hours ahead, which Adobe checks against its own
clock (the client does not guess at it).

Every answer is checked against what was asked: the id answered is the id asked for, a
creation shows what was sent, an update shows its changes, a cancellation says
``cancelled``, and the list adds up to its ``total_count`` and ``total_pages`` or the call
raises ``InvalidResponseError`` (see ``paging``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any, TypeVar

from reconciler.adobe.errors import (
    ApiError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
)
from reconciler.adobe.fields import is_safe_id
from reconciler.adobe.models import (
    DatasetExpiration,
    DatasetExpirationPage,
    DatasetExpirationStatus,
    parse_instant,
)
from reconciler.adobe.paging import Listing, Page, Scope, Told
from reconciler.adobe.transport import HYGIENE, Params, Transport, check_sandbox, path_segment

MAX_PAGE_LIMIT = 100
STATUSES = frozenset(s.value for s in DatasetExpirationStatus) - {"unknown"}
PATH = f"{HYGIENE.base}/ttl"
# What an expiry given as text may look like (the spec: ISO 8601, a date or a date-time),
# ASCII digits only: fromisoformat alone also takes week dates and 20301231.
_EXPIRY_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
Expiry = date | datetime | str
T = TypeVar("T")


class DatasetExpirationApi:
    """Dataset expirations. Use through ``AdobeClient.ttl``.

    An expiration lives in the sandbox of its dataset: the calls go to the
    configuration's sandbox, or to another one through :meth:`in_sandbox`.
    """

    def __init__(self, transport: Transport, sandbox: str | None = None) -> None:
        self._transport = transport
        self._sandbox = None if sandbox is None else check_sandbox(sandbox)

    @property
    def sandbox(self) -> str:
        """The sandbox these calls go to (``x-sandbox-name``)."""
        return self._sandbox or self._transport.config.sandbox_name

    def in_sandbox(self, sandbox: str) -> DatasetExpirationApi:
        """The same calls in ``sandbox``, over the same transport."""
        return DatasetExpirationApi(self._transport, sandbox)

    def _call(self, method: str, path: str, parse: Callable[[object], T], **kw: Any) -> T:
        return self._transport.call(HYGIENE, method, path, parse, sandbox=self._sandbox, **kw)

    def create_expiration(
        self,
        dataset_id: str,
        expiry: Expiry,
        display_name: str,
        description: str = "",
    ) -> DatasetExpiration:
        """``POST /ttl``: delete the dataset at ``expiry``. Not idempotent.

        ``expiry``: a ``date`` (midnight UTC of that day), a ``datetime`` with a time zone,
        or ISO 8601 text as the spec takes it (``2030-12-31``, ``2030-12-31T10:00:00Z``; no
        zone means UTC), sent as written. May raise ``OutcomeUnknownError``: look with
        ``get_expiration(dataset_id)`` before sending it again.
        """
        _check_id(dataset_id, "dataset_id")
        body: dict[str, object] = {
            "datasetId": dataset_id,
            "expiry": _expiry_text(expiry),
            "displayName": _display_name(display_name),
            "description": _description(description),
        }

        def parse(data: object) -> DatasetExpiration:
            created = _answer_for(dataset_id, "created dataset expiration", data)
            # An answer about another creation (a gateway that mixed answers up) would be
            # recorded as this one's. Fields left out of the answer are not held against it.
            differ = _differences(created, expiry, display_name, description, absent_ok=True)
            if differ:
                raise InvalidResponseError(
                    f"POST {PATH}: the answer shows another {', '.join(differ)} than was sent"
                )
            return created

        return self._call("POST", "/ttl", parse, body=body)

    def get_expiration(self, ttl_or_dataset_id: str) -> DatasetExpiration:
        """``GET /ttl/{id}`` by expiration id or dataset id; ``NotFoundError`` if neither."""
        path = _path(ttl_or_dataset_id)
        parse = partial(_answer_for, ttl_or_dataset_id, "dataset expiration")
        return self._call("GET", path, parse)

    def update_expiration(
        self,
        ttl_id: str,
        expiry: Expiry | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> DatasetExpiration:
        """``PUT /ttl/{ttlId}``: only the expiry, display name and description can change,
        and only while the expiration is pending."""
        if expiry is None and display_name is None and description is None:
            raise InvalidArgumentError(
                "nothing to update: give expiry, display_name or description"
            )
        path = _path(ttl_id)
        body: dict[str, object] = {}
        if display_name is not None:
            body["displayName"] = _display_name(display_name)
        if description is not None:
            body["description"] = _description(description)
        if expiry is not None:
            body["expiry"] = _expiry_text(expiry)

        def parse(data: object) -> DatasetExpiration:
            updated = _answer_for(ttl_id, "updated dataset expiration", data)
            unchanged = _differences(updated, expiry, display_name, description, absent_ok=False)
            if unchanged:
                raise InvalidResponseError(
                    f"PUT {PATH}/…: the answer does not show the change to {', '.join(unchanged)}"
                )
            return updated

        return self._call("PUT", path, parse, body=body)

    def cancel_expiration(self, ttl_id: str) -> DatasetExpiration:
        """``DELETE /ttl/{id}``: cancel a pending expiration; returns it, ``cancelled``.

        DELETE is retried like a GET, so a retry may find the expiration cancelled by the
        attempt whose answer was lost: Adobe then refuses it (400 in the guide's example,
        404 in its note on cancelled ones), and the expiration is read back. One that is
        cancelled is returned; otherwise the refusal is raised.
        """
        path = _path(ttl_id)

        def parse(data: object) -> DatasetExpiration:
            cancelled = _answer_for(ttl_id, "cancelled dataset expiration", data)
            if cancelled.status is not DatasetExpirationStatus.CANCELLED:
                raise InvalidResponseError(
                    f"DELETE {PATH}/…: the answer says {cancelled.status.value}, not cancelled"
                )
            return cancelled

        try:
            return self._call("DELETE", path, parse)
        except ApiError as refused:
            if refused.status not in (400, 404):
                raise
            try:
                current = self.get_expiration(ttl_id)
            except NotFoundError:
                raise refused from None
            if current.status is DatasetExpirationStatus.CANCELLED:
                return current
            raise refused

    def iter_expirations(
        self,
        dataset_id: str | None = None,
        search: str | None = None,
        *,
        status: str | Iterable[str] | None = None,
        author: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        dataset_name: str | None = None,
        sandbox_name: str | None = None,
        limit: int = MAX_PAGE_LIMIT,
    ) -> Iterator[DatasetExpiration]:
        """``GET /ttl``, every page, each expiration once (of :attr:`sandbox`; of another
        with ``sandbox_name``, or of every sandbox with ``*``: the guide's parameter, which
        the spec lacks; each expiration says its ``sandboxName``).

        ``search`` matches author, display name, description and dataset name ignoring case,
        or an expiration id exactly; ``author`` takes ``LIKE``/``NOT LIKE`` patterns. Pages
        are read until an empty one; a page answered for another, one with more than
        ``limit`` results, or a repeated page raise ``InvalidResponseError`` at once. The
        expirations found must add up to every ``total_count`` and ``total_pages`` the pages
        gave, or the listing is read once more, and then raises ``InvalidResponseError``;
        nothing is yielded before that.
        """
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise InvalidArgumentError(f"limit must be within 1..{MAX_PAGE_LIMIT}")
        params: dict[str, str | int] = {"limit": limit}
        if dataset_id is not None:
            _check_id(dataset_id, "dataset_id")
            params["datasetId"] = dataset_id
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            if not statuses or not set(statuses) <= STATUSES:
                raise InvalidArgumentError(
                    f"status must be drawn from {', '.join(sorted(STATUSES))}"
                )
            params["status"] = ",".join(statuses)
        for name, value in (
            ("search", search),
            ("author", author),
            ("displayName", display_name),
            ("description", description),
            ("datasetName", dataset_name),
            ("sandboxName", sandbox_name),
        ):
            if value is not None:
                params[name] = value
        yield from Listing(
            self._page_reader(params),
            key=lambda expiration: expiration.ttl_id,
            endpoint=f"GET {PATH}",
            noun="expirations",
            limit=limit,
            max_pages=self._transport.config.max_pages,
        ).collect()

    def list_expirations(
        self, dataset_id: str | None = None, search: str | None = None, **filters: Any
    ) -> list[DatasetExpiration]:
        """All of ``iter_expirations`` as a list (same filters)."""
        return list(self.iter_expirations(dataset_id, search, **filters))

    def _page_reader(self, params: Params) -> Callable[[int], Page[DatasetExpiration]]:
        def read(page: int) -> Page[DatasetExpiration]:
            result = self._call(
                "GET",
                "/ttl",
                partial(
                    DatasetExpirationPage.from_api, where=f"dataset expiration list page {page}"
                ),
                params={**params, "page": page},
            )
            if result.current_page is not None and result.current_page != page:
                raise InvalidResponseError(
                    f"GET {PATH}: page {page} was answered as page {result.current_page}"
                )
            # The spec's DatasetExpirationListResponse: total_count is "the total number of
            # dataset expiration configuration records", total_pages "the total number of
            # pages available".
            told = [Told("total_count", result.total_count, Scope.LISTING)]
            if result.total_pages is not None:
                told.append(Told("total_pages", result.total_pages, Scope.PAGES))
            return Page(result.results, tuple(told))

        return read


def _answer_for(asked: str, where: str, data: object) -> DatasetExpiration:
    """The expiration in ``data``, which must be the one asked for (by either id)."""
    expiration = DatasetExpiration.from_api(data, where)
    if asked not in (expiration.ttl_id, expiration.dataset_id):
        raise InvalidResponseError(f"{where}: the answer is about another expiration")
    return expiration


def _differences(
    answer: DatasetExpiration,
    expiry: Expiry | None,
    display_name: str | None,
    description: str | None,
    *,
    absent_ok: bool,
) -> list[str]:
    """The fields asked for (not None) that ``answer`` does not show as asked."""
    differ = [
        name
        for name, asked, got in (
            ("displayName", display_name, answer.display_name),
            ("description", description, answer.description),
        )
        if asked is not None and asked != got and not (absent_ok and got is None)
    ]
    if expiry is not None and not _same_instant(_instant(expiry), answer.expires_at):
        differ.append("expiry")
    return differ


def _check_id(value: object, what: str) -> None:
    if not is_safe_id(value):
        raise InvalidArgumentError(f"{what} is not a well-formed id")


def _path(ident: str) -> str:
    _check_id(ident, "the expiration or dataset id")
    return "/ttl/" + path_segment(ident)


def _display_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError("display_name must be a non-empty string")
    return value


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError("description must be a string")
    return value


def _instant(expiry: Expiry) -> datetime:
    if isinstance(expiry, str):
        moment = parse_instant(expiry) if _EXPIRY_TEXT.fullmatch(expiry) else None
        if moment is None:
            raise InvalidArgumentError(
                "expiry must be an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)"
            )
        return moment
    if isinstance(expiry, datetime):
        if expiry.utcoffset() is None:
            raise InvalidArgumentError("expiry must carry a time zone (a naive time is ambiguous)")
        return expiry.astimezone(UTC)
    if isinstance(expiry, date):
        return datetime.combine(expiry, time.min, UTC)
    raise InvalidArgumentError("expiry must be a date, a datetime or ISO 8601 text")


def _expiry_text(expiry: Expiry) -> str:
    """The expiry as the spec's examples write it: ``2030-12-31`` or ``…T10:00:00Z``
    (text as given, once checked)."""
    moment = _instant(expiry)
    if isinstance(expiry, str):
        return expiry
    if not isinstance(expiry, datetime):
        return expiry.isoformat()
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _same_instant(asked: datetime, answered: datetime) -> bool:
    # The spec's examples show times to the second or to the millisecond: what either
    # rounding changes is no change.
    return abs((asked - answered).total_seconds()) < 1.0
