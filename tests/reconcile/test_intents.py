"""Write-ahead intents: a create whose outcome is unknown is never sent again blindly.

Against the emulator's gateway faults, over real HTTP, through the CLI in a real git
repository: the search lags longer than any lookup, a status code arrives after the
backend committed, an answer names another request's id. Each test counts what
exists at the emulator, so a duplicate or a request left out fails it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import (
    CONSENT,
    PRIVACY_JOB,
    RECORD_DELETE,
    WORK_ORDER_TAG,
    git,
    tagged_counts,
    write,
    writes,
)

LAG_S = 600  # longer than any lookup an apply makes, shorter than the test's clock jumps


def declare(repo: Path, *names: str, template: str = RECORD_DELETE) -> None:
    for name in names:
        write(repo, f"requests/{name}.yaml", template.format(name=name))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")


def apply(run, repo: Path, *args: str):
    return run("-C", str(repo), "apply", "--auto-approve", *args)


def posts(adobe, path: str) -> int:
    return sum(1 for method, p in writes(adobe) if method == "POST" and p == path)


def intent(repo: Path, name: str) -> dict | None:
    path = repo / "ledger" / "intents" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def age_intent(repo: Path, name: str, hours: float) -> None:
    """Move an intent's send times ``hours`` into the past, as waiting that long would."""
    path = repo / "ledger" / "intents" / f"{name}.json"
    doc = json.loads(path.read_text())
    then = datetime.now(UTC) - timedelta(hours=hours)
    doc["firstSentAt"] = doc["lastSentAt"] = then.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path.write_text(json.dumps(doc))


def test_lagging_search_and_a_lost_answer_never_duplicate(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {
            "write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [503]},
            "read": {"search_lag_s": LAG_S},
            "seed": 3,
        }
    )
    first = apply(run, repo)
    assert first.exit_code == 0, first.output
    assert "pending verification" in first.output
    assert tagged_counts(adobe) == {"req-a": 1}
    recorded = intent(repo, "req-a")
    assert recorded is not None and recorded["attempts"] == 1
    assert recorded["outcome"] == "HTTP 503 after sending"
    assert not (repo / "ledger/req-a.json").exists()

    # Runs within the grace period look, do not find, and send nothing.
    for _ in range(3):
        again = apply(run, repo)
        assert again.exit_code == 0, again.output
        assert "pending-verification" in again.output
        assert "Not sent again before" in again.output
    assert posts(adobe, "/data/core/hygiene/workorder") == 1
    assert tagged_counts(adobe) == {"req-a": 1}

    # Once the listing shows it, it is recorded, and the intent is done with.
    adobe.admin.set_faults({})
    adobe.admin.advance(LAG_S + 1)
    found = apply(run, repo)
    assert found.exit_code == 0, found.output
    assert "1 found at Adobe and recorded" in found.output
    entry = json.loads((repo / "ledger/req-a.json").read_text())
    assert entry["remote"]["workorderId"] == adobe.admin.workorders()[0]["workorderId"]
    assert intent(repo, "req-a") is None
    assert tagged_counts(adobe) == {"req-a": 1}


def test_a_lagging_search_index_is_not_the_only_look(run, adobe, repo: Path) -> None:
    # Only the search lags (the listing without it does not): the lookups after the
    # lost answer list the days since the intent without search and find it at once.
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {
            "write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [503]},
            "read": {"search_index_lag_s": LAG_S},
        }
    )
    first = apply(run, repo)
    counters = adobe.admin.counters()["total"]
    adobe.admin.set_faults({})
    assert first.exit_code == 0, first.output
    assert "1 found at Adobe and recorded" in first.output
    assert "pending" not in first.output
    assert counters.get("search_lag", 0) >= 1  # the search did hide it
    assert posts(adobe, "/data/core/hygiene/workorder") == 1
    assert tagged_counts(adobe) == {"req-a": 1}
    entry = json.loads((repo / "ledger/req-a.json").read_text())
    assert entry["remote"]["workorderId"] == adobe.admin.workorders()[0]["workorderId"]
    assert intent(repo, "req-a") is None


def test_a_status_code_is_never_taken_for_not_processed(run, adobe, repo: Path) -> None:
    names = [f"req-{status}" for status in (429, 401, 500, 502)]
    declare(repo, *names)
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [429, 401, 500, 502]}}
    )
    result = apply(run, repo)
    adobe.admin.set_faults({})
    assert result.exit_code == 0, result.output
    assert "4 found at Adobe and recorded" in result.output
    # One POST per request: the create was looked for after each status, never re-sent.
    assert posts(adobe, "/data/core/hygiene/workorder") == 4
    assert tagged_counts(adobe) == dict.fromkeys(names, 1)
    counters = adobe.admin.counters()["total"]
    assert sum(counters.get(f"commit_then_{s}", 0) for s in (429, 401, 500, 502)) == 4
    assert not (repo / "ledger" / "intents").exists() or not any(
        (repo / "ledger" / "intents").iterdir()
    )


def test_an_answer_naming_another_requests_id_is_not_believed(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    assert apply(run, repo).exit_code == 0
    declare(repo, "req-b")
    adobe.admin.set_faults({"write": {"reused_id_rate": 1.0}})
    result = apply(run, repo)
    adobe.admin.set_faults({})
    assert result.exit_code == 0, result.output
    assert adobe.admin.counters()["total"]["reused_id"] == 1
    # The name at the end of the tag, whatever the repository's scope before it.
    stored = {
        WORK_ORDER_TAG.search(o["description"]).group(1): o["workorderId"]
        for o in adobe.admin.workorders()
    }
    a = json.loads((repo / "ledger/req-a.json").read_text())["remote"]["workorderId"]
    b = json.loads((repo / "ledger/req-b.json").read_text())["remote"]["workorderId"]
    assert a == stored["req-a"]
    assert b == stored["req-b"]
    assert a != b
    assert apply(run, repo).output.count("No changes") == 1


def test_a_reused_id_is_caught_without_the_ledger(run, adobe, repo: Path) -> None:
    """The other request's entry is lost: reading the answered id back shows its tag."""
    declare(repo, "req-a")
    assert apply(run, repo).exit_code == 0
    (repo / "ledger/req-a.json").unlink()
    declare(repo, "req-b")
    adobe.admin.set_faults({"write": {"reused_id_rate": 1.0}})
    result = apply(run, repo)
    adobe.admin.set_faults({})
    assert result.exit_code == 0, result.output
    assert adobe.admin.counters()["total"]["reused_id"] == 1
    b = json.loads((repo / "ledger/req-b.json").read_text())["remote"]["workorderId"]
    a = json.loads((repo / "ledger/req-a.json").read_text())["remote"]["workorderId"]
    assert a != b
    assert tagged_counts(adobe) == {"req-a": 1, "req-b": 1}


def test_resending_is_a_visible_decision(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0}, "read": {"search_lag_s": LAG_S}}
    )
    assert "pending verification" in apply(run, repo).output
    adobe.admin.set_faults({})
    adobe.admin.reset()  # as if it never reached Adobe: nothing carries the tag
    held = apply(run, repo)
    assert "pending-verification" in held.output
    assert posts(adobe, "/data/core/hygiene/workorder") == 0

    early = apply(run, repo, "--resend", "req-a")
    assert early.exit_code == 0, early.output
    assert "sent again as asked (--resend)" in early.output
    assert posts(adobe, "/data/core/hygiene/workorder") == 1
    assert tagged_counts(adobe) == {"req-a": 1}
    assert intent(repo, "req-a") is None


def test_after_the_grace_period_the_plan_says_it_sends_again(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0}, "read": {"search_lag_s": LAG_S}}
    )
    apply(run, repo)
    adobe.admin.set_faults({})
    adobe.admin.reset()
    age_intent(repo, "req-a", hours=2)  # past the default grace period of an hour
    plan = run("-C", str(repo), "plan")
    assert "+ create" in plan.output
    assert "sent again: sent once" in plan.output
    assert "1 hour later (apply.resendAfter)" in plan.output
    result = apply(run, repo)
    assert result.exit_code == 0, result.output
    assert tagged_counts(adobe) == {"req-a": 1}
    assert intent(repo, "req-a") is None


def test_resend_names_only_a_pending_request(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    result = apply(run, repo, "--resend", "req-a")
    assert result.exit_code == 1
    assert "--resend req-a: no create of 'req-a' with an unknown outcome" in result.output
    assert writes(adobe) == []


def test_consent_with_an_unknown_outcome_waits_out_the_grace(run, adobe, repo: Path) -> None:
    write(
        repo, "reconciler.yaml", "client:\n  requestsPerSecond: 1000\napply:\n  resendAfter: 2h\n"
    )
    declare(repo, "opt-a", template=CONSENT)
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0, "commit_then_statuses": [500]}}
    )
    first = apply(run, repo)
    adobe.admin.set_faults({})
    assert "pending verification" in first.output
    assert "Adobe keeps no" in first.output
    assert sum(c["requests"] for c in adobe.admin.consents()) == 1
    assert "pending-verification" in apply(run, repo).output
    assert sum(c["requests"] for c in adobe.admin.consents()) == 1
    age_intent(repo, "opt-a", hours=1)
    assert "pending-verification" in apply(run, repo).output  # 1 h of the 2 h configured
    age_intent(repo, "opt-a", hours=3)
    resent = apply(run, repo)
    assert "2 hours later (apply.resendAfter)" in resent.output
    assert sum(c["requests"] for c in adobe.admin.consents()) == 2
    assert (repo / "ledger/opt-a.json").exists()
    assert intent(repo, "opt-a") is None


def test_intents_are_committed_before_anything_is_sent(run, adobe, repo: Path) -> None:
    declare(repo, "req-a", "req-b")
    result = apply(run, repo, "--commit")
    assert result.exit_code == 0, result.output
    subjects = git(repo, "log", "--format=%s", "-3").splitlines()
    assert subjects[1].startswith("reconciler apply: about to create 2 request(s)")
    listed = git(repo, "show", "--name-status", "--format=", "HEAD~1").split()
    assert listed == ["A", "ledger/intents/req-a.json", "A", "ledger/intents/req-b.json"]
    final = git(repo, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert "D\tledger/intents/req-a.json" in final
    assert "A\tledger/req-a.json" in final
    assert git(repo, "ls-files", "ledger/intents").strip() == ""
    text = git(repo, "show", "HEAD~1:ledger/intents/req-a.json")
    assert "a@example.com" not in text


@pytest.mark.parametrize("field", ["attempts", "tag"])
def test_a_malformed_intent_stops_with_its_file_named(run, adobe, repo: Path, field: str) -> None:
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0}, "read": {"search_lag_s": LAG_S}}
    )
    apply(run, repo)
    adobe.admin.set_faults({})
    path = repo / "ledger/intents/req-a.json"
    doc = json.loads(path.read_text())
    doc[field] = 0 if field == "attempts" else ""
    path.write_text(json.dumps(doc))
    result = run("-C", str(repo), "plan")
    assert result.exit_code == 1
    assert "ledger/intents/req-a.json" in result.output
    assert "Traceback" not in result.output


def test_a_search_that_misses_a_known_work_order_is_not_trusted(run, adobe, repo: Path) -> None:
    declare(repo, "req-a", "req-b")
    assert apply(run, repo).exit_code == 0
    # The two work orders are seconds old: a lagging listing hides them, by id they are there.
    adobe.admin.set_faults({"read": {"search_lag_s": LAG_S}})
    plan = run("-C", str(repo), "plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    doc = json.loads(plan.stdout)
    assert doc["notes"] == [
        "Adobe's search for tagged work orders left out 2 that carry their tag (req-a, req-b): "
        "it was not trusted, and every work order was listed without it for this plan"
    ]
    assert {a["name"]: a["action"] for a in doc["actions"]} == {"req-a": "noop", "req-b": "noop"}
    text = run("-C", str(repo), "plan")
    adobe.admin.set_faults({})
    assert "note: Adobe's search for tagged work orders left out 2" in text.output


def test_a_lost_entry_is_restored_from_the_ledgers_history(run, adobe, repo: Path) -> None:
    """Adobe lists privacy jobs 60 days back and keeps nothing of an opt-out: a lost
    entry of either is found in git's history before anything is sent again."""
    declare(repo, "job-a", template=PRIVACY_JOB)
    declare(repo, "opt-a", template=CONSENT)
    assert apply(run, repo, "--commit").exit_code == 0
    recorded = json.loads((repo / "ledger/job-a.json").read_text())
    git(repo, "rm", "-q", "ledger/job-a.json", "ledger/opt-a.json")
    git(repo, "commit", "-qm", "lose two ledger entries")
    adobe.admin.reset()  # nothing listed at Adobe any more, as 60 days later
    plan = run("-C", str(repo), "plan")
    assert plan.output.count("restored from there, not re-created") == 2, plan.output
    result = apply(run, repo, "--commit")
    assert result.exit_code == 0, result.output
    assert "restored from the ledger's history" in result.output
    assert writes(adobe) == []
    restored = json.loads((repo / "ledger/job-a.json").read_text())
    assert restored["remote"] == recorded["remote"]
    assert restored["recovered"] is True
    assert (repo / "ledger/opt-a.json").exists()


def test_history_of_another_request_of_the_name_is_a_conflict(run, adobe, repo: Path) -> None:
    declare(repo, "job-a", template=PRIVACY_JOB)
    assert apply(run, repo, "--commit").exit_code == 0
    git(repo, "rm", "-q", "ledger/job-a.json")
    path = repo / "requests/job-a.yaml"
    path.write_text(path.read_text().replace("c@example.com", "other@example.com"))
    git(repo, "commit", "-qam", "reuse the name for another request")
    adobe.admin.reset()
    plan = run("-C", str(repo), "plan")
    assert "names are never reused; name this request anew" in plan.output
    assert apply(run, repo).exit_code == 1
    assert writes(adobe) == []


def test_status_names_what_is_pending_and_fails_once_it_is_overdue(run, adobe, repo: Path) -> None:
    declare(repo, "req-a")
    adobe.admin.set_faults(
        {"write": {"commit_then_error_rate": 1.0}, "read": {"search_lag_s": LAG_S}}
    )
    apply(run, repo)
    adobe.admin.set_faults({})
    waiting = run("-C", str(repo), "status")
    assert waiting.exit_code == 0, waiting.output
    assert "pending verification: req-a: sent once" in waiting.stderr
    age_intent(repo, "req-a", hours=2)
    overdue = run("-C", str(repo), "status")
    assert overdue.exit_code == 1
    assert "(past apply.resendAfter: run reconciler apply)" in overdue.stderr
