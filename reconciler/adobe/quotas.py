"""Adobe's Data Hygiene quotas: their names, what frees them, and when.

Sources (read 2026-12-02; collected in api-notes.md): the workorder guide's "Quotas and
processing timelines" and the Data Lifecycle best-practices page. Record deletes may
remove up to 1,000,000 identifiers a day, only within a monthly cap by entitlement
(2,000,000, or 15,000,000 with a Shield add-on, often lower), which resets on the first
day of each calendar month with no carry-over; the daily quota resets at 00:00 GMT (the
Data Hygiene spec's ``GET /quota``). ``datasetExpirationQuota`` counts the expirations
active at once, so one frees when an expiration executes or is cancelled.

The sources disagree on whether a quota is enforced: the guide says quotas "are not
enforced by system guardrails but may be monitored and reviewed", the processing-timelines
page that going over "prevents new requests from being accepted". The plan follows the
stricter: nothing is sent that would go over, and a create Adobe refuses for its quota
anyway is a deferral, not a failure.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class Period(StrEnum):
    """What frees a quota."""

    DAY = "day"  # 00:00 GMT each day
    MONTH = "month"  # the first day of each calendar month
    ACTIVE = "active"  # an active object finishing (an expiration executing)


DAILY_IDENTITIES = "dailyConsumerDeleteIdentitiesQuota"
MONTHLY_IDENTITIES = "monthlyConsumerDeleteIdentitiesQuota"
ACTIVE_EXPIRATIONS = "datasetExpirationQuota"

# The quotas a request can consume, with what frees each and its name in messages.
PERIODS: dict[str, Period] = {
    DAILY_IDENTITIES: Period.DAY,
    MONTHLY_IDENTITIES: Period.MONTH,
    ACTIVE_EXPIRATIONS: Period.ACTIVE,
}
LABELS: dict[str, str] = {
    DAILY_IDENTITIES: "identities today",
    MONTHLY_IDENTITIES: "identities this month",
    ACTIVE_EXPIRATIONS: "active dataset expirations",
}
# The documented limits without a Shield add-on: what an offline estimate assumes when
# reconciler.yaml sets no lower budget. Adobe documents no figure for expirations.
DOCUMENTED: dict[str, int] = {DAILY_IDENTITIES: 1_000_000, MONTHLY_IDENTITIES: 2_000_000}


def next_reset(period: Period, today: date) -> date | None:
    """The first day on which a quota of ``period`` is free again (GMT); None when it is
    freed by an object finishing, not by a date."""
    if period is Period.DAY:
        return today + timedelta(days=1)
    if period is Period.MONTH:
        return (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return None


def counted_in(period: Period, submitted: date, today: date) -> bool:
    """Whether something submitted on ``submitted`` still counts against a quota of
    ``period`` on ``today`` (active objects are judged by their status instead)."""
    if period is Period.DAY:
        return submitted == today
    if period is Period.MONTH:
        return (submitted.year, submitted.month) == (today.year, today.month)
    return True
