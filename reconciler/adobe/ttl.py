"""Data Hygiene dataset expirations (``/data/core/hygiene/ttl``): a dataset deleted at a time.

Adobe allows one expiration per dataset (api-notes.md), so after an
``OutcomeUnknownError`` from :meth:`DatasetExpirationApi.create_expiration` the place to
look is ``get_expiration(dataset_id)``. Only a pending expiration can be updated or
cancelled; the expiry must be at least 24 hours ahead, which Adobe checks against its own
clock (the client does not guess at it).

Every answer is checked against what was asked: the id answered is the id asked for, an
update shows its changes, a cancellation says ``cancelled``, and the list's pages add up to
its ``total_count`` or the call raises ``InvalidResponseError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any

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
from reconciler.adobe.transport import HYGIENE, Params, Transport, path_segment

MAX_PAGE_LIMIT = 100
# A listing starts over when total_count moves between its pages (expirations created or
# gone meanwhile); this many times, then the answer is not to be trusted.
MAX_LISTINGS = 3
STATUSES = frozenset(s.value for s in DatasetExpirationStatus) - {"unknown"}
PATH = f"{HYGIENE.base}/ttl"
# What an expiry given as text may look like (the spec: ISO 8601, a date or a date-time),
# ASCII digits only: fromisoformat alone also takes week dates and 20301231.
_EXPIRY_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
Expiry = date | datetime | str


class DatasetExpirationApi:
    """Dataset expirations. Use through ``AdobeClient.ttl``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

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
        parse = partial(_answer_for, dataset_id, "created dataset expiration")
        return self._transport.call(HYGIENE, "POST", "/ttl", parse, body=body)

    def get_expiration(self, ttl_or_dataset_id: str) -> DatasetExpiration:
        """``GET /ttl/{id}`` by expiration id or dataset id; ``NotFoundError`` if neither."""
        path = _path(ttl_or_dataset_id)
        parse = partial(_answer_for, ttl_or_dataset_id, "dataset expiration")
        return self._transport.call(HYGIENE, "GET", path, parse)

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
            unchanged = [
                name
                for name, asked, got in (
                    ("displayName", display_name, updated.display_name),
                    ("description", description, updated.description),
                )
                if asked is not None and asked != got
            ]
            if expiry is not None and not _same_instant(_instant(expiry), updated.expires_at):
                unchanged.append("expiry")
            if unchanged:
                raise InvalidResponseError(
                    f"PUT {PATH}/…: the answer does not show the change to {', '.join(unchanged)}"
                )
            return updated

        return self._transport.call(HYGIENE, "PUT", path, parse, body=body)

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
            return self._transport.call(HYGIENE, "DELETE", path, parse)
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
        limit: int = MAX_PAGE_LIMIT,
    ) -> Iterator[DatasetExpiration]:
        """``GET /ttl``, every page, each expiration once (the sandbox of the configuration).

        ``search`` matches author, display name, description and dataset name ignoring case,
        or an expiration id exactly; ``author`` takes ``LIKE``/``NOT LIKE`` patterns. Pages
        must add up to ``total_count``: a page answered for another, pages inconsistent with
        ``total_pages``, a short or empty page before the total is reached, or a repeated
        expiration raise ``InvalidResponseError``. A total that moves between pages starts
        the listing over, a few times at most.
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
        ):
            if value is not None:
                params[name] = value
        given: set[str] = set()
        for _ in range(MAX_LISTINGS):
            listing = _Listing(self._page_reader(params), limit, self._transport.config.max_pages)
            for expiration in listing:
                if expiration.ttl_id not in given:
                    given.add(expiration.ttl_id)
                    yield expiration
            if listing.complete:
                return
        raise InvalidResponseError(
            f"GET {PATH}: total_count changed between pages in {MAX_LISTINGS} listings in a row"
        )

    def list_expirations(
        self, dataset_id: str | None = None, search: str | None = None, **filters: Any
    ) -> list[DatasetExpiration]:
        """All of ``iter_expirations`` as a list (same filters)."""
        return list(self.iter_expirations(dataset_id, search, **filters))

    def _page_reader(self, params: Params) -> Callable[[int], DatasetExpirationPage]:
        def read(page: int) -> DatasetExpirationPage:
            return self._transport.call(
                HYGIENE,
                "GET",
                "/ttl",
                partial(
                    DatasetExpirationPage.from_api, where=f"dataset expiration list page {page}"
                ),
                params={**params, "page": page},
            )

        return read


class _Listing:
    """One pass over the pages, checking that they add up; ``complete`` once they did, false
    when the total moved (the caller lists again)."""

    def __init__(
        self, read: Callable[[int], DatasetExpirationPage], limit: int, max_pages: int
    ) -> None:
        self._read = read
        self._limit = limit
        self._max_pages = max_pages
        self.complete = False

    def _bad(self, page: int, problem: str) -> InvalidResponseError:
        return InvalidResponseError(f"GET {PATH}: page {page} {problem}")

    def __iter__(self) -> Iterator[DatasetExpiration]:
        first = self._read(0)
        total, pages = first.total_count, first.total_pages
        size = self._check_first(first)
        if total == 0:
            self.complete = True
            return
        expected_pages = math.ceil(total / size)
        if expected_pages > self._max_pages:
            raise self._bad(0, f"announces {expected_pages} pages, more than {self._max_pages}")
        seen: set[str] = set()
        result = first
        for page in range(expected_pages):
            if page:
                result = self._read(page)
                if (result.total_count, result.total_pages) != (total, pages):
                    return  # the list changed while it was read
            if result.current_page is not None and result.current_page != page:
                raise self._bad(page, f"was answered as page {result.current_page}")
            expected = min(size, total - page * size)
            if len(result.results) != expected:
                raise self._bad(
                    page,
                    f"holds {len(result.results)} results where total_count {total} at "
                    f"{size} a page means {expected}",
                )
            ids = {e.ttl_id for e in result.results}
            if len(ids) != expected or ids & seen:
                raise self._bad(page, "repeats an expiration; the server does not page")
            seen |= ids
            yield from result.results
        self.complete = True

    def _check_first(self, first: DatasetExpirationPage) -> int:
        """The server's page size, from page 0; the totals must agree with it."""
        total, count = first.total_count, len(first.results)
        if count > self._limit:
            raise self._bad(0, f"holds {count} results, more than the limit {self._limit}")
        if total == 0:
            if count or first.total_pages not in (None, 0, 1):
                raise self._bad(0, "contradicts its total_count of 0")
            return self._limit
        if count == 0:
            raise self._bad(0, f"is empty though total_count is {total}")
        # A server may page by fewer than asked: page 0 then shows its page size.
        size = count if count < min(self._limit, total) else self._limit
        pages = first.total_pages
        if pages is not None and pages != math.ceil(total / size):
            raise self._bad(0, f"says total_pages {pages} for total_count {total} at {size} a page")
        return size


def _answer_for(asked: str, where: str, data: object) -> DatasetExpiration:
    """The expiration in ``data``, which must be the one asked for (by either id)."""
    expiration = DatasetExpiration.from_api(data, where)
    if asked not in (expiration.ttl_id, expiration.dataset_id):
        raise InvalidResponseError(f"{where}: the answer is about another expiration")
    return expiration


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
