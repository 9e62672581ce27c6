"""Rules on the dates a deadline is computed from: ``metadata.receivedAt`` and
``metadata.extension`` (see :mod:`reconciler.reconcile.deadlines`).

Only for kinds that answer a data subject (``deadline_period`` is not None); on the
others the kind warns that the fields mean nothing there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from reconciler.check.findings import Finding, Severity, finding_at
from reconciler.model import Request
from reconciler.reconcile.deadlines import parse_day
from reconciler.settings import Settings

# A day ahead of UTC today is still today somewhere.
TOMORROW = timedelta(days=1)


def _day(request: Request, path: tuple[str, ...], value: Any) -> tuple[date | None, Finding | None]:
    day = parse_day(value)
    if day is None and value is not None:
        where = ".".join(path)
        return None, finding_at(
            request, path, "not-a-date", f"{where} is not a day of the calendar: write YYYY-MM-DD"
        )
    return day, None


def deadline_dates(request: Request, settings: Settings) -> Iterator[Finding]:
    """receivedAt a real day, not in the future; an extension the regulation allows,
    told to the data subject within the first period."""
    period = request.kind.deadline_period(request.spec)
    if period is None:
        return
    meta = request.metadata
    received, problem = _day(request, ("metadata", "receivedAt"), meta.get("receivedAt"))
    if problem:
        yield problem
    today = datetime.now(UTC).date()
    if received is not None and received > today + TOMORROW:
        yield finding_at(
            request,
            ("metadata", "receivedAt"),
            "received-in-the-future",
            f"metadata.receivedAt is {received}, after today: it is the day the data subject's "
            "request was received",
        )
    extension = meta.get("extension")
    if not isinstance(extension, Mapping):
        return
    yield from _extension(request, period, received, extension, problem is not None)


def _extension(
    request: Request, period: Any, received: date | None, extension: Mapping[str, Any], bad: bool
) -> Iterator[Finding]:
    at = ("metadata", "extension")
    until, problem = _day(request, (*at, "until"), extension.get("until"))
    if problem:
        yield problem
    told, problem = _day(request, (*at, "notifiedAt"), extension.get("notifiedAt"))
    if problem:
        yield problem
    if received is None:
        if not bad:
            yield finding_at(
                request,
                at,
                "extension-without-receipt",
                "metadata.extension extends a period that runs from metadata.receivedAt: add "
                "the day the request was received",
            )
        return
    due = period.due(received)
    if due is None:  # no set period: nothing to check an extension against
        return
    if period.extension is None:
        yield finding_at(
            request,
            at,
            "extension-not-allowed",
            f"{period.name} provides for no extension of its {period.period} ({period.source}); "
            f"the request is due by {due}",
        )
        return
    latest = period.latest(received)
    if until is not None and latest is not None and until > latest:
        yield finding_at(
            request,
            (*at, "until"),
            "extension-too-long",
            f"{period.name} allows extending by {period.extension} at most: to {latest} "
            f"for a request received on {received} ({period.source})",
        )
    elif until is not None and until <= due:
        yield finding_at(
            request,
            (*at, "until"),
            "extension-too-short",
            f"metadata.extension.until is {until}, not after the first due date {due}: it "
            "extends nothing; remove the extension or correct the date",
            Severity.WARNING,
        )
    if told is not None and told < received:
        yield finding_at(
            request,
            (*at, "notifiedAt"),
            "notified-before-receipt",
            f"metadata.extension.notifiedAt is {told}, before the request was received "
            f"({received})",
        )
    elif told is not None and told > due:
        yield finding_at(
            request,
            (*at, "notifiedAt"),
            "extension-notified-late",
            f"the data subject was told of the extension on {told}, after the first period "
            f"ended on {due}; {period.name} requires telling them within it",
            Severity.WARNING,
        )
