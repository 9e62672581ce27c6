"""Deadlines of data subjects' requests: the table's periods on fixed days (month ends,
weekends, extensions, business days), the states, and `status` against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.adobe.codes import REGULATIONS
from reconciler.reconcile.deadlines import OPT_OUT, PERIODS, State, deadline
from tests.conftest import PRIVACY_JOB, RECORD_DELETE, git, write


def due(code: str, received: str, **extension: str) -> date | None:
    meta: dict[str, object] = {"receivedAt": received}
    if extension:
        meta["extension"] = {"reason": "complex", "notifiedAt": received, **extension}
    found = deadline(PERIODS[code], meta, date(2026, 1, 1), None)
    assert found is not None
    return found.due_by


@pytest.mark.parametrize(
    ("code", "received", "expected"),
    [
        # One month; 2026-02-28 is a Saturday: the next Monday.
        pytest.param("gdpr", "2026-01-31", date(2026, 3, 2), id="gdpr-month-end-weekend"),
        pytest.param("gdpr", "2026-03-10", date(2026, 4, 10), id="gdpr-friday"),
        pytest.param("gdpr", "2028-01-30", date(2028, 2, 29), id="gdpr-leap-year"),
        pytest.param("gdpr", "2026-11-15", date(2026, 12, 15), id="gdpr-tuesday"),
        pytest.param("ccpa", "2026-01-01", date(2026, 2, 15), id="ccpa-45-days"),
        pytest.param("cpra_ca_usa", "2026-12-20", date(2027, 2, 3), id="cpra-over-new-year"),
        pytest.param("vcdpa_va_usa", "2026-01-01", date(2026, 2, 15), id="virginia"),
        pytest.param("icdpa_ia_usa", "2026-01-01", date(2026, 4, 1), id="iowa-90-days"),
        pytest.param("lgpd_bra", "2026-01-01", date(2026, 1, 16), id="lgpd-15-days"),
        pytest.param("pipa_kor", "2026-01-01", date(2026, 1, 11), id="korea-10-days"),
        pytest.param("hipaa_usa", "2026-01-01", date(2026, 1, 31), id="hipaa-30-days"),
        # 20 working days from Tuesday 2026-12-01: four weeks, Saturdays and Sundays skipped.
        pytest.param("nzpa_nzl", "2026-12-01", date(2026, 12, 29), id="nz-working-days"),
    ],
)
def test_periods_on_fixed_days(code: str, received: str, expected: date) -> None:
    assert due(code, received) == expected


def test_an_extension_moves_the_due_date_within_the_maximum() -> None:
    assert due("gdpr", "2026-03-10", until="2026-06-10") == date(2026, 6, 10)
    assert PERIODS["gdpr"].latest(date(2026, 3, 10)) == date(2026, 6, 10)
    assert PERIODS["ccpa"].latest(date(2026, 1, 1)) == date(2026, 4, 1)
    assert PERIODS["fdbr_fl_usa"].latest(date(2026, 1, 1)) == date(2026, 3, 2)
    assert PERIODS["lgpd_bra"].latest(date(2026, 1, 1)) is None  # no extension provided for


def test_the_opt_out_of_sale_counts_business_days() -> None:
    # 15 business days from Tuesday 2026-12-01.
    found = deadline(OPT_OUT, {"receivedAt": "2026-12-01"}, date(2026, 12, 1), None)
    assert found is not None and found.due_by == date(2026, 12, 22)


@pytest.mark.parametrize(
    ("today", "done", "state", "left"),
    [
        pytest.param(date(2026, 2, 5), None, State.ON_TRACK, 10, id="on-track"),
        pytest.param(date(2026, 2, 8), None, State.AT_RISK, 7, id="at-risk-at-the-margin"),
        pytest.param(date(2026, 2, 15), None, State.AT_RISK, 0, id="due-today"),
        pytest.param(date(2026, 2, 16), None, State.OVERDUE, -1, id="overdue"),
        pytest.param(date(2026, 3, 1), date(2026, 2, 15), State.MET, None, id="met"),
        pytest.param(date(2026, 3, 1), date(2026, 2, 16), State.MISSED, None, id="missed"),
    ],
)
def test_states(today: date, done: date | None, state: State, left: int | None) -> None:
    found = deadline(PERIODS["ccpa"], {"receivedAt": "2026-01-01"}, today, done)
    assert found is not None
    assert (found.due_by, found.state, found.days_left) == (date(2026, 2, 15), state, left)


def test_unknown_periods_say_so_and_no_received_day_is_no_deadline() -> None:
    found = deadline(PERIODS["apa_aus"], {"receivedAt": "2026-01-01"}, date(2026, 1, 2), None)
    assert found is not None
    assert (found.due_by, found.state) == (None, State.UNKNOWN)
    assert "no set period" in str(found)
    assert deadline(PERIODS["gdpr"], {}, date(2026, 1, 2), None) is None
    assert deadline(PERIODS["gdpr"], {"receivedAt": "2026-02-30"}, date(2026, 1, 2), None) is None


def test_every_regulation_adobe_lists_is_in_the_table() -> None:
    assert sorted(PERIODS) == sorted(r.code for r in REGULATIONS)
    assert all(p.source for p in PERIODS.values())


# -- through `reconciler status` and `plan` ----------------------------------------------------


def received(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def declare_job(repo: Path, name: str, regulation: str, days_ago: int) -> None:
    text = PRIVACY_JOB.format(name=name).replace(
        f"  name: {name}\n", f"  name: {name}\n  receivedAt: {received(days_ago)}\n"
    )
    write(
        repo, f"requests/{name}.yaml", text.replace("regulation: gdpr", f"regulation: {regulation}")
    )


def test_status_shows_each_deadline_and_fails_on_what_is_asked(run, adobe, repo: Path) -> None:
    declare_job(repo, "dsr-calm", "ccpa", 1)  # due in 44 days
    declare_job(repo, "dsr-close", "ccpa", 40)  # due in 5 days: at risk
    declare_job(repo, "dsr-late", "ccpa", 50)  # due 5 days ago: overdue
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    applied = run("-C", str(repo), "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output

    plan = json.loads(run("-C", str(repo), "plan", "--format", "json").stdout)
    assert {a["name"]: a["deadline"]["state"] for a in plan["actions"]} == {
        "dsr-calm": "on-track",
        "dsr-close": "at-risk",
        "dsr-late": "overdue",
    }

    result = run("-C", str(repo), "status", "--format", "json")
    doc = json.loads(result.stdout)
    today = datetime.now(UTC).date()
    deadlines = {r["name"]: r["deadline"] for r in doc["requests"]}
    assert deadlines["dsr-close"] == {
        "receivedAt": received(40),
        "dueBy": (today + timedelta(days=5)).isoformat(),
        "daysLeft": 5,
        "state": "at-risk",
        "regulation": "CCPA",
        "extended": False,
    }
    assert deadlines["dsr-calm"]["state"] == "on-track"
    assert deadlines["dsr-late"]["daysLeft"] == -5
    # Nothing failed at Adobe: the deadlines alone fail only when asked.
    assert result.exit_code == 0, result.output
    overdue = run("-C", str(repo), "status", "--fail-on", "overdue")
    assert overdue.exit_code == 1
    assert (
        "deadline: dsr-late: due " in overdue.output and "5 day(s) late: overdue" in overdue.output
    )
    assert "dsr-close" not in overdue.output.split("deadline:", 1)[1]
    at_risk = run("-C", str(repo), "status", "--fail-on", "at-risk")
    assert at_risk.exit_code == 1
    assert "deadline: dsr-close: due " in at_risk.output


def test_an_extension_is_shown_and_a_met_deadline_does_not_fail(run, adobe, repo: Path) -> None:
    declare_job(repo, "dsr-ext", "gdpr", 40)
    path = repo / "requests/dsr-ext.yaml"
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    path.write_text(
        path.read_text().replace(
            "  receivedAt:",
            f"  extension:\n    until: {until}\n    reason: complex request\n"
            f"    notifiedAt: {received(20)}\n  receivedAt:",
        )
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    adobe.admin.advance(40 * 24 * 3600)  # the emulator completes the jobs
    result = run("-C", str(repo), "status", "--format", "json", "--fail-on", "at-risk")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["requests"]
    assert row["status"] == "complete"
    assert row["deadline"]["state"] == "met" and row["deadline"]["extended"] is True
    assert row["deadline"]["dueBy"] == until


def test_a_work_order_adobe_fails_makes_status_fail(run, adobe, repo: Path) -> None:
    # A dataset the emulator does not know: its work order fails once processed.
    text = RECORD_DELETE.format(name="req-x").replace(
        "c48b51623ec641a2949d339bad69cb15", "0123456789abcdef01234567"
    )
    write(repo, "requests/req-x.yaml", text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    adobe.admin.advance(10 * 24 * 3600)
    result = run("-C", str(repo), "status")
    assert result.exit_code == 1, result.output
    assert "failed: req-x: Adobe reports failed" in result.output
    assert "metadata.retryOf: req-x" in result.output
    # Final now, it is not refreshed again, and still fails the next status.
    again = run("-C", str(repo), "status")
    assert again.exit_code == 1 and "req-x" in again.output


def test_audit_shows_the_deadline_of_each_applied_request(run, adobe, repo: Path) -> None:
    declare_job(repo, "dsr-audit", "lgpd_bra", 3)  # 15 days: 12 left
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    doc = json.loads(run("-C", str(repo), "audit", "dsr-audit", "--format", "json").stdout)
    (row,) = doc["requests"]
    assert row["deadline"]["state"] == "on-track" and row["deadline"]["daysLeft"] == 12
    assert row["deadline"]["regulation"] == "LGPD"
    table = run("-C", str(repo), "audit", "dsr-audit").output
    assert f"  deadline: received {received(3)}, due " in table
    assert "12 day(s) left: on-track (LGPD)" in table


# -- the rules on the dates ---------------------------------------------------------------------


def with_metadata(name: str, lines: str, regulation: str = "gdpr") -> str:
    text = PRIVACY_JOB.format(name=name).replace(f"  name: {name}\n", f"  name: {name}\n{lines}")
    return text.replace("regulation: gdpr", f"regulation: {regulation}")


@pytest.mark.parametrize(
    ("lines", "regulation", "expected"),
    [
        pytest.param(
            "  receivedAt: 2026-02-30\n",
            "gdpr",
            "requests/r.yaml:5:15: error: metadata.receivedAt is not a day of the calendar: "
            "write YYYY-MM-DD (not-a-date)",
            id="not-a-day",
        ),
        pytest.param(
            "  receivedAt: 2999-01-01\n",
            "gdpr",
            "requests/r.yaml:5:15: error: metadata.receivedAt is 2999-01-01, after today: it is "
            "the day the data subject's request was received (received-in-the-future)",
            id="future",
        ),
        pytest.param(
            "  receivedAt: 2026-03-10\n  extension: {until: 2026-07-01, reason: complex,"
            " notifiedAt: 2026-03-20}\n",
            "gdpr",
            "requests/r.yaml:6:22: error: GDPR / UK GDPR allows extending by 2 months at most: "
            "to 2026-06-10 for a request received on 2026-03-10",
            id="too-long",
        ),
        pytest.param(
            "  receivedAt: 2026-03-10\n  extension: {until: 2026-04-01, reason: complex,"
            " notifiedAt: 2026-03-20}\n",
            "lgpd_bra",
            "requests/r.yaml:6:14: error: LGPD provides for no extension of its 15 days",
            id="none-allowed",
        ),
        pytest.param(
            "  receivedAt: 2026-03-10\n  extension: {until: 2026-05-10, reason: complex,"
            " notifiedAt: 2026-04-20}\n",
            "gdpr",
            "requests/r.yaml:6:63: warning: the data subject was told of the extension on "
            "2026-04-20, after the first period ended on 2026-04-10; GDPR / UK GDPR requires "
            "telling them within it (extension-notified-late)",
            id="told-late",
        ),
        pytest.param(
            "  extension: {until: 2026-05-10, reason: complex, notifiedAt: 2026-04-20}\n",
            "gdpr",
            "requests/r.yaml:5:14: error: metadata.extension extends a period that runs from "
            "metadata.receivedAt: add the day the request was received "
            "(extension-without-receipt)",
            id="no-receipt",
        ),
    ],
)
def test_dates_are_checked_where_they_are_written(
    run, repo: Path, lines: str, regulation: str, expected: str
) -> None:
    write(repo, "requests/r.yaml", with_metadata("r", lines, regulation))
    result = run("-C", str(repo), "validate")
    assert expected in result.output, result.output
    assert result.exit_code == (0 if ": warning: " in expected else 1)


def test_a_valid_extension_passes(run, repo: Path) -> None:
    lines = (
        "  receivedAt: 2026-03-10\n  extension: {until: 2026-06-10, reason: complex,"
        " notifiedAt: 2026-03-20}\n"
    )
    write(repo, "requests/r.yaml", with_metadata("r", lines))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
