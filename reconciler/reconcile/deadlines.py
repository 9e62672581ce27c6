"""When a data subject's request is due, and whether it is on track.

A request's deadline runs from ``metadata.receivedAt`` (the day the data subject's
request was received) for the period its regulation sets; ``metadata.extension`` moves
it to ``until`` when the regulation allows an extension that long. Its state:

* ``on-track``  not done, more than the margin (``deadlines.atRiskDays``, 7) left;
* ``at-risk``   not done, due within the margin;
* ``overdue``   not done, the due date passed;
* ``met``       done (Adobe reports it complete; a consent opt-out once sent) by the due date;
* ``missed``    done after it;
* ``unknown``   the regulation's period is not in the table: the table says so rather
                than guess.

The table (read 2026-12-02) cites each law. Periods in months end on the same day of
the month, the last day of a shorter month, and on the next Monday when that day is a
Saturday or Sunday (EU Regulation 1182/71 art. 3, which the EDPB applies to the GDPR's
"one month", Guidelines 01/2022 §157–160; the ICO says the same for the UK GDPR).
Business and working days skip Saturdays and Sundays only: public holidays differ by
place and are not known here, so such a date may come early, never late.

A regulation code is Adobe's (``spec.regulation``); UK GDPR requests are filed under
``gdpr``, whose periods are the same (UK GDPR art. 12(3)).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

AT_RISK_DAYS = 7


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    BUSINESS_DAYS = "business days"


@dataclass(frozen=True)
class Term:
    count: int
    unit: Unit

    def __str__(self) -> str:
        one = self.unit.value.removesuffix("s")
        return f"{self.count} {one if self.count == 1 else self.unit.value}"

    def after(self, start: date) -> date:
        """The last day of this term counted from ``start`` (the day of receipt)."""
        if self.unit is Unit.DAYS:
            return start + timedelta(days=self.count)
        if self.unit is Unit.BUSINESS_DAYS:
            day, left = start, self.count
            while left:
                day += timedelta(days=1)
                if day.weekday() < 5:
                    left -= 1
            return day
        month = start.month - 1 + self.count
        year, month = start.year + month // 12, month % 12 + 1
        end = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
        return end + timedelta(days=(7 - end.weekday()) % 7 if end.weekday() >= 5 else 0)


@dataclass(frozen=True)
class Period:
    """What a regulation gives to answer: ``period`` from receipt, extendable by at most
    ``extension`` (None: no extension is provided for)."""

    name: str
    period: Term | None
    extension: Term | None
    source: str

    def due(self, received: date) -> date | None:
        return self.period.after(received) if self.period else None

    def latest(self, received: date) -> date | None:
        """The latest date an extension may reach."""
        due = self.due(received)
        if due is None or self.extension is None:
            return None
        return self.extension.after(due)


def _days(n: int) -> Term:
    return Term(n, Unit.DAYS)


_US_STATE = "responds within 45 days of receipt, extendable once by 45 days with notice"
_GDPR = (
    "GDPR art. 12(3): within one month of receipt, extendable by two further months where "
    "necessary, informing the data subject within the first month; UK GDPR art. 12(3) the same"
)

# Adobe's regulation codes (reconciler/adobe/codes.py) → their periods.
PERIODS: Mapping[str, Period] = {
    "gdpr": Period("GDPR / UK GDPR", Term(1, Unit.MONTHS), Term(2, Unit.MONTHS), _GDPR),
    "ccpa": Period(
        "CCPA",
        _days(45),
        _days(45),
        "Cal. Civ. Code §1798.130(a)(2)(A): 45 days from receipt, extendable once by 45 "
        "days when reasonably necessary, with notice within the first 45",
    ),
    "cpra_ca_usa": Period(
        "CPRA",
        _days(45),
        _days(45),
        "Cal. Civ. Code §1798.130(a)(2)(A) as amended by the CPRA; 11 CCR §7021(b)",
    ),
    "lgpd_bra": Period(
        "LGPD",
        _days(15),
        None,
        "LGPD art. 19(II): a complete declaration within 15 days of the request; no extension",
    ),
    "vcdpa_va_usa": Period("VCDPA", _days(45), _days(45), f"Va. Code §59.1-577(B): {_US_STATE}"),
    "cpa_co_usa": Period("CPA", _days(45), _days(45), f"C.R.S. §6-1-1306(2): {_US_STATE}"),
    "ctdpa_ct_usa": Period(
        "CTDPA", _days(45), _days(45), f"Conn. Gen. Stat. §42-518(b): {_US_STATE}"
    ),
    "ucpa_ut_usa": Period("UCPA", _days(45), _days(45), f"Utah Code §13-61-203: {_US_STATE}"),
    "tdpsa_tx_usa": Period(
        "TDPSA", _days(45), _days(45), f"Tex. Bus. & Com. Code §541.052: {_US_STATE}"
    ),
    "ocpa_or_usa": Period("OCPA", _days(45), _days(45), f"ORS 646A.576(5): {_US_STATE}"),
    "mcdpa_mt_usa": Period("MCDPA (Montana)", _days(45), _days(45), f"MCA 30-14-2808: {_US_STATE}"),
    "mcdpa_mn_usa": Period(
        "MCDPA (Minnesota)", _days(45), _days(45), f"Minn. Stat. §325M.14: {_US_STATE}"
    ),
    "tipa_tn_usa": Period("TIPA", _days(45), _days(45), f"Tenn. Code §47-18-3303: {_US_STATE}"),
    "dpdpa_de_usa": Period(
        "DPDPA (Delaware)", _days(45), _days(45), f"6 Del. C. §12D-104(b): {_US_STATE}"
    ),
    "njdpa_nj_usa": Period("NJDPA", _days(45), _days(45), f"N.J.S.A. 56:8-166.10: {_US_STATE}"),
    "nhpa_nh_usa": Period("NHPA", _days(45), _days(45), f"RSA 507-H:4: {_US_STATE}"),
    "ndpa_ne_usa": Period("NDPA", _days(45), _days(45), f"Neb. Rev. Stat. §87-1108: {_US_STATE}"),
    "modpa_md_usa": Period("MODPA", _days(45), _days(45), f"Md. Com. Law §14-4606: {_US_STATE}"),
    "mhmda_wa_usa": Period("MHMDA", _days(45), _days(45), f"RCW 19.373.040(2): {_US_STATE}"),
    "icdpa_ia_usa": Period(
        "ICDPA",
        _days(90),
        _days(45),
        "Iowa Code §715D.3(2): within 90 days of receipt, extendable once by 45 days with notice",
    ),
    "fdbr_fl_usa": Period(
        "FDBR",
        _days(45),
        _days(15),
        "Fla. Stat. §501.706(2): within 45 days of receipt, extendable once by 15 days with notice",
    ),
    "hipaa_usa": Period(
        "HIPAA",
        _days(30),
        _days(30),
        "45 CFR §164.524(b)(2): access within 30 days, extendable once by 30 days with notice "
        "(HIPAA gives no right to erasure)",
    ),
    "pipa_kor": Period(
        "PIPA",
        _days(10),
        None,
        "PIPA Enforcement Decree arts. 41(4), 42(2): within 10 days of the request",
    ),
    "ql25_qc_can": Period(
        "Law 25 (Quebec)",
        _days(30),
        None,
        "Act respecting the protection of personal information in the private sector, s. 32: "
        "within 30 days of receipt",
    ),
    "pdpa_tha": Period(
        "PDPA (Thailand)",
        _days(30),
        None,
        "PDPA s. 30: access within 30 days of receipt; no period for erasure is set",
    ),
    "apa_aus": Period(
        "APA", None, None, "APP 12.4: 'within a reasonable period' (30 days for agencies only)"
    ),
    "nzpa_nzl": Period(
        "NZPA",
        Term(20, Unit.BUSINESS_DAYS),
        None,
        "Privacy Act 2020 s. 44: 20 working days; the extension of s. 48 has no set maximum",
    ),
}

# A ConsentOptOut is an opt-out of sale or sharing: CCPA's regulations set its period.
OPT_OUT = Period(
    "CCPA opt-out of sale",
    Term(15, Unit.BUSINESS_DAYS),
    None,
    "11 CCR §7026(f)(1): as soon as feasibly possible, no later than 15 business days from receipt",
)


class State(StrEnum):
    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Deadline:
    """One request's deadline on ``today``."""

    received_at: date
    due_by: date | None
    days_left: int | None
    state: State
    regulation: str
    extended: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "receivedAt": self.received_at.isoformat(),
            "dueBy": self.due_by.isoformat() if self.due_by else None,
            "daysLeft": self.days_left,
            "state": self.state.value,
            "regulation": self.regulation,
            "extended": self.extended,
        }

    def __str__(self) -> str:
        if self.due_by is None:
            return f"received {self.received_at}; {self.regulation}: no set period (unknown)"
        left = ""
        if self.state in (State.ON_TRACK, State.AT_RISK):
            left = f", {self.days_left} day(s) left"
        elif self.state is State.OVERDUE and self.days_left is not None:
            left = f", {-self.days_left} day(s) late"
        extended = " (extended)" if self.extended else ""
        return f"due {self.due_by}{extended}{left}: {self.state.value}"


def parse_day(value: object) -> date | None:
    """A ``YYYY-MM-DD`` day, or None when ``value`` is not one (the rules say why)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def deadline(
    period: Period,
    metadata: Mapping[str, Any],
    today: date,
    done_on: date | None,
    margin: int = AT_RISK_DAYS,
) -> Deadline | None:
    """The deadline of a request with ``metadata`` under ``period``, on ``today``;
    ``done_on`` is the day it was done (None: not yet). None without ``receivedAt``."""
    received = parse_day(metadata.get("receivedAt"))
    if received is None:
        return None
    due = period.due(received)
    extension = metadata.get("extension")
    until = parse_day(extension.get("until")) if isinstance(extension, Mapping) else None
    extended = until is not None and due is not None and until > due
    if extended:
        due = until
    if due is None:
        return Deadline(received, None, None, State.UNKNOWN, period.name)
    if done_on is not None:
        state = State.MET if done_on <= due else State.MISSED
        return Deadline(received, due, None, state, period.name, extended)
    left = (due - today).days
    if left < 0:
        state = State.OVERDUE
    elif left <= margin:
        state = State.AT_RISK
    else:
        state = State.ON_TRACK
    return Deadline(received, due, left, state, period.name, extended)
