"""Reading a whole listing page by page, and believing it only when it adds up.

A listing is what the caller looks in before it creates anything ("is this request's
work order there already?"), so a listing that misses an item leads to a duplicate
deletion and one that is cut short hides one. Neither the page size nor the totals are
taken on their word:

- Pages are read until one holds no items. A short page is not the last one: a service
  may page by fewer than asked (the privacy-jobs guide and the spec give different page
  sizes and maxima, api-notes.md), and the ``next`` link is not trusted either (the
  workorder guide's example shows one on its last page). That costs one extra GET per
  listing.
- The number of distinct items is then compared with every figure a page gave about it
  (:class:`Told`): ``total``/``count`` of ``GET /workorder``, ``total_count``/
  ``total_pages`` of ``GET /ttl``, ``totalRecords`` of ``GET /jobs``. When one
  disagrees, the listing is read once more from the start (it may have changed while it
  was read); when that one disagrees too, :class:`InvalidResponseError` says the listing
  contradicts itself and nothing is returned.

A page that repeats only items already seen ends that reading, as a disagreement
does: a server paging by fewer than asked, or a gateway mixing page sizes, can show one
once, so the listing is read once more, and a second reading that repeats a page too
says the server does not page as asked. A page with more items than asked for, or pages
that never end, are refused at once: reading again would not change them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from reconciler.adobe.errors import InvalidResponseError

T = TypeVar("T")

log = logging.getLogger("reconciler.adobe")

# One listing, and one more when the first does not add up.
LISTINGS = 2


class Scope(Enum):
    """What a figure on a page counts."""

    LISTING = "listing"  # every item of the whole listing
    PAGE = "page"  # the items on the page that gives it
    LISTING_OR_PAGE = "listing or page"  # either: the sources disagree on what it means
    PAGES = "pages"  # the pages that hold items


@dataclass(frozen=True)
class Told:
    """One figure a page gives about the listing, under the field name Adobe uses."""

    field: str
    value: int
    scope: Scope


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page as read: its items and what it says of the listing."""

    items: tuple[T, ...]
    told: tuple[Told, ...] = ()


@dataclass(frozen=True)
class _Walk(Generic[T]):
    """One reading of the listing, first page to the empty one."""

    items: tuple[T, ...]
    pages: tuple[Page[T], ...]
    # Why the reading ended before an empty page (a page repeating earlier ones).
    problem: str | None = None

    @property
    def pages_with_items(self) -> int:
        return sum(1 for page in self.pages if page.items)


@dataclass(frozen=True)
class Listing(Generic[T]):
    """How to read one listing: ``read(n)`` answers page ``n`` (from 0), ``key`` names an
    item, ``endpoint`` (``GET /data/core/…``) and ``noun`` (plural) go into messages."""

    read: Callable[[int], Page[T]]
    key: Callable[[T], str]
    endpoint: str
    noun: str
    limit: int
    max_pages: int
    # Privacy Service pages from 0 per its guide but from 1 per its spec: a server that
    # reads page 0 as page 1 answers page 1 with the same items, which is then skipped.
    first_page_may_repeat: bool = False

    def collect(self) -> tuple[T, ...]:
        """Every item once, in the order received, from a listing that adds up."""
        problem = None
        for _ in range(LISTINGS):
            walk = self._walk()
            problem = walk.problem or self._contradiction(walk)
            if problem is None:
                return walk.items
            log.debug("%s: %s", self.endpoint, problem)
        raise InvalidResponseError(
            f"{self.endpoint}: Adobe's listing contradicts itself: {problem}, in"
            f" {LISTINGS} listings in a row; nothing was created because of it"
        )

    def _walk(self) -> _Walk[T]:
        seen: set[str] = set()
        items: list[T] = []
        pages: list[Page[T]] = []
        first_keys: tuple[str, ...] = ()
        for number in range(self.max_pages + 1):
            page = self.read(number)
            pages.append(page)
            if not page.items:
                return _Walk(tuple(items), tuple(pages))
            if number == self.max_pages:
                break
            if len(page.items) > self.limit:
                raise InvalidResponseError(
                    f"{self.endpoint}: page {number} holds {len(page.items)} {self.noun},"
                    f" more than the limit {self.limit}"
                )
            keys = tuple(self.key(item) for item in page.items)
            if number == 0:
                first_keys = keys
            elif seen.issuperset(keys):
                if self.first_page_may_repeat and number == 1 and keys == first_keys:
                    pages.pop()  # page 0 again, under its other number
                    continue
                problem = (
                    f"page {number} repeats earlier results (the server does not page as asked)"
                )
                return _Walk(tuple(items), tuple(pages), problem)
            # Counted by distinct keys: a page shifted by new arrivals may repeat a few,
            # which the totals then show.
            for item, key in zip(page.items, keys, strict=True):
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        raise InvalidResponseError(
            f"{self.endpoint}: paging did not end after {self.max_pages} pages"
        )

    def _contradiction(self, walk: _Walk[T]) -> str | None:
        """The first figure that disagrees with what ``walk`` found, described; else None."""
        listed = len(walk.items)
        for number, page in enumerate(walk.pages):
            on_page = len(page.items)
            for told in page.told:
                value, name = told.value, told.field
                if told.scope is Scope.LISTING and value != listed:
                    return f"page {number} told {name} {value}, {listed} {self.noun} were listed"
                if told.scope is Scope.PAGE and value != on_page:
                    return f"page {number} told {name} {value} for the {on_page} it held"
                if told.scope is Scope.LISTING_OR_PAGE and value not in (listed, on_page):
                    return (
                        f"page {number} told {name} {value}, {listed} {self.noun} were listed"
                        f" ({on_page} on that page)"
                    )
                if told.scope is Scope.PAGES and value not in self._page_counts(walk):
                    return (
                        f"page {number} told {name} {value}, {listed} {self.noun} were listed"
                        f" on {walk.pages_with_items} pages"
                    )
        return None

    def _page_counts(self, walk: _Walk[T]) -> set[int]:
        """The page counts that agree with ``walk``: the pages read, or the pages the items
        fill at the size asked (a server paging by fewer may count by the size asked);
        one page for none at all is also what some answers say."""
        read = walk.pages_with_items
        return {read, max(read, 1), math.ceil(len(walk.items) / self.limit)}
