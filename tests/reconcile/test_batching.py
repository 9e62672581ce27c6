"""Batched privacy jobs against the emulator over real HTTP: pending creates of one
regulation, products and options share a POST /jobs of up to 1,000 users, and each
request keeps its own intent, ledger entry and recovery.

What was sent is read from the emulator (its request log, the jobs it stores with the
``requestId`` of the submission that made them), decoded without the code under test.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.applier import Applier
from reconciler.reconcile.ledger import Ledger
from tests.conftest import (
    JOB_USER_KEY,
    RECORD_DELETE,
    emulator_today,
    git,
    no_wait,
    plan_now,
    request_from,
    tagged_counts,
    tagged_jobs,
    write,
)

JOBS_PATH = "/data/core/privacy/jobs"


def privacy_job(
    name: str,
    users: int = 1,
    regulation: str = "gdpr",
    include: str = "[analytics, profileService]",
    extra: str = "",
) -> str:
    """A PrivacyJob request file with ``users`` delete users, one email each."""
    lines = [
        "apiVersion: reconciler/v1",
        "kind: PrivacyJob",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  regulation: {regulation}",
        f"  include: {include}",
        *([f"  {extra}"] if extra else []),
        "  users:",
    ]
    for n in range(users):
        lines += [
            f"    - key: u{n}",
            "      action: [delete]",
            "      userIDs:",
            f"        - {{namespace: email, value: {name}.{n}@example.com, type: standard}}",
        ]
    return "\n".join(lines) + "\n"


def declared(name: str, text: str):
    return request_from(name, text.replace("{", "{{").replace("}", "}}"))


def job_posts(emu) -> int:
    """How many POST /jobs reached the emulator (its request log)."""
    return sum(1 for r in emu.admin.requests() if (r["method"], r["path"]) == ("POST", JOBS_PATH))


def submissions(emu) -> dict[str, set[str]]:
    """The request names whose users each stored submission (``requestId``) holds."""
    held: dict[str, set[str]] = defaultdict(set)
    for job in emu.admin.jobs():
        held[job["requestId"]].add(JOB_USER_KEY.match(job["userKey"]).group(1))
    return dict(held)


def duplicates(emu) -> list[tuple[str, tuple[str, str, str]]]:
    """Every (request, (user, action, product)) the emulator holds more than one job of."""
    return [
        (name, job)
        for name, counts in tagged_jobs(emu).items()
        for job, n in counts.items()
        if n > 1
    ]


class DropAnswers(httpx.BaseTransport):
    """The network between the client and the emulator, losing the answers to the
    POST /jobs whose numbers (1-based) are in ``lost``: the emulator stores the jobs,
    the client sees a broken connection."""

    def __init__(self, lost: set[int]) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = lost
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if (request.method, request.url.path) == ("POST", JOBS_PATH):
            self.posts += 1
            if self.posts in self.lost:
                response.read()
                response.close()
                raise httpx.RemoteProtocolError("connection closed mid-answer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class RefuseBatches(httpx.BaseTransport):
    """A gateway that refuses (400, nothing stored) every POST /jobs of more than one
    request's users, and passes everything else to the emulator."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) == ("POST", JOBS_PATH):
            users = json.loads(request.read())["users"]
            if len({JOB_USER_KEY.match(u["key"]).group(1) for u in users}) > 1:
                self.refused += 1
                return httpx.Response(
                    400, json={"error_code": "400001", "message": "One user is not valid."}
                )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def client_for(emu, transport: httpx.BaseTransport | None = None, concurrency: int = 4):
    config = AdobeConfig.from_env(
        emu.env(), sandbox_name="prod", requests_per_second=1000.0, max_concurrency=concurrency
    )
    return AdobeClient(config, transport=transport, sleep=no_wait)


def apply_plan(emu, client, requests, ledger, plan, *, batch: bool = True):
    """Apply ``plan`` as ``reconciler apply`` does (batched unless ``batch`` is off)."""
    today = emulator_today(emu)
    applier = Applier(
        client,
        ledger,
        {r.name: r for r in requests},
        today=lambda: today,
        sleep=no_wait,
        batch=batch,
    )
    return applier.apply(plan)


def apply_all(emu, client, requests, ledger, *, batch: bool = True):
    """One ``reconciler apply``: read Adobe, plan, apply."""
    plan = plan_now(emu, client, requests, ledger)
    return apply_plan(emu, client, requests, ledger, plan, batch=batch)


def own_jobs(ledger: Ledger, name: str) -> list[tuple[str, str]]:
    """The (request name, user key) each job of ``name``'s ledger entry carries."""
    return [JOB_USER_KEY.match(j.user_key).groups() for j in ledger.get(name).jobs]


def test_a_thousand_requests_of_one_regulation_are_one_post(adobe, tmp_path: Path) -> None:
    requests = [declared(f"job-{i:04d}", privacy_job(f"job-{i:04d}")) for i in range(1000)]
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
    assert result.success, result.failed[:3]
    assert [o.message for o in result.outcomes[:1]] == ["created 2 privacy job(s)"]
    assert job_posts(adobe) == 1
    (held,) = submissions(adobe).values()
    assert held == {r.name for r in requests}
    # Each request its own entry, holding its own user's two jobs (one per product), each
    # sent once.
    reloaded = Ledger.load(tmp_path / "ledger")
    assert len(list(reloaded)) == 1000 and not reloaded.intents
    for request in requests:
        assert own_jobs(reloaded, request.name) == [(request.name, "u0")] * 2
    assert duplicates(adobe) == []
    assert sum(len(c) for c in tagged_jobs(adobe).values()) == 2000
    text = (tmp_path / "ledger" / "job-0007.json").read_text()
    assert "@example.com" not in text


def test_regulations_products_and_options_are_separate_submissions(adobe, tmp_path: Path) -> None:
    groups = {
        "gdpr-a": dict(regulation="gdpr"),
        "ccpa-a": dict(regulation="ccpa"),
        "gdpr-b": dict(regulation="gdpr", include="[analytics]"),
        "gdpr-low": dict(regulation="gdpr", extra="priority: low"),
        # The same products in another order: Adobe reads include as a set.
        "gdpr-a-again": dict(regulation="gdpr", include="[profileService, analytics]"),
    }
    requests = [
        declared(f"{group}-{n}", privacy_job(f"{group}-{n}", **options))
        for group, options in groups.items()
        for n in range(3)
    ]
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
    assert result.success, result.failed
    assert job_posts(adobe) == 4
    held = sorted(sorted(names) for names in submissions(adobe).values())
    assert held == sorted(
        [
            [f"{g}-{n}" for g in ("gdpr-a", "gdpr-a-again") for n in range(3)],
            [f"ccpa-a-{n}" for n in range(3)],
            [f"gdpr-b-{n}" for n in range(3)],
            [f"gdpr-low-{n}" for n in range(3)],
        ]
    )
    regulations = defaultdict(set)
    for job in adobe.admin.jobs():
        regulations[JOB_USER_KEY.match(job["userKey"]).group(1)].add(job["regulation"])
    assert all(regulations[f"ccpa-a-{n}"] == {"ccpa"} for n in range(3))
    assert len(list(ledger)) == 15 and duplicates(adobe) == []


@pytest.mark.parametrize(
    ("sizes", "posts"),
    [
        pytest.param((600, 500), 2, id="600+500-two"),
        pytest.param((600, 400), 1, id="600+400-one-full"),
        pytest.param((400, 700, 300), 2, id="400+700+300-first-fit"),
    ],
)
def test_a_request_never_straddles_two_submissions(adobe, tmp_path: Path, sizes, posts) -> None:
    requests = [
        declared(f"big-{n}", privacy_job(f"big-{n}", users=size)) for n, size in enumerate(sizes)
    ]
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
    assert result.success, result.failed
    assert job_posts(adobe) == posts
    held = submissions(adobe)
    assert len(held) == posts
    for request, size in zip(requests, sizes, strict=True):
        # All of a request's users in one submission, and each user's two jobs recorded.
        assert sum(request.name in names for names in held.values()) == 1
        jobs = own_jobs(ledger, request.name)
        assert len(jobs) == 2 * size
        assert set(jobs) == {(request.name, f"u{n}") for n in range(size)}
    assert duplicates(adobe) == []


def test_a_dropped_answer_to_a_batch_is_recovered_per_request(adobe, tmp_path: Path) -> None:
    # Two submissions (one per regulation), the answer to each dropped after the commit.
    requests = [
        declared(f"lost-{i:02d}", privacy_job(f"lost-{i:02d}", regulation=("gdpr", "ccpa")[i % 2]))
        for i in range(40)
    ]
    adobe.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
        adobe.admin.set_faults({})
        assert adobe.admin.counters()["total"] == {"drop_after_commit": 2}
        assert result.success and not result.pending
        assert {o.message for o in result.outcomes} == {
            "found at Adobe and recorded 2 privacy job(s)"
        }
        assert all(o.recovered for o in result.outcomes)
        assert job_posts(adobe) == 2
        for request in requests:
            entry = ledger.get(request.name)
            assert entry.recovered and own_jobs(ledger, request.name) == [(request.name, "u0")] * 2
        assert not ledger.intents and duplicates(adobe) == []
        # The next run has nothing to do and sends nothing.
        again = apply_all(adobe, client, requests, ledger)
    assert again.outcomes == () and job_posts(adobe) == 2


def test_a_lost_answer_in_the_middle_of_batches_sends_nothing_twice(adobe, tmp_path: Path) -> None:
    # Five requests of 400 users: three submissions (800, 800, 400 users), sent one after
    # the other; the answer to the second is lost after the emulator stored its jobs.
    requests = [declared(f"mid-{n}", privacy_job(f"mid-{n}", users=400)) for n in range(5)]
    network = DropAnswers(lost={2})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe, network, concurrency=1) as client:
        result = apply_all(adobe, client, requests, ledger)
    assert result.success and not result.pending
    assert network.posts == 3 and job_posts(adobe) == 3
    recovered = {o.action.name for o in result.outcomes if o.recovered}
    assert recovered == {"mid-2", "mid-3"}
    assert {o.action.name for o in result.outcomes if not o.recovered} == {
        "mid-0",
        "mid-1",
        "mid-4",
    }
    for request in requests:
        assert len(own_jobs(ledger, request.name)) == 800
        assert ledger.get(request.name).recovered is (request.name in recovered)
    assert duplicates(adobe) == [] and not ledger.intents


def test_a_partial_answer_records_only_the_requests_it_answers(adobe, tmp_path: Path) -> None:
    # The emulator stores every job but answers those of the first half of the users.
    requests = [declared(f"half-{i}", privacy_job(f"half-{i}", users=2)) for i in range(6)]
    adobe.admin.set_faults({"write": {"partial_answer_rate": 1.0}})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
    adobe.admin.set_faults({})
    assert adobe.admin.counters()["total"] == {"partial_answer": 1}
    assert result.success and not result.pending
    outcomes = {o.action.name: o for o in result.outcomes}
    # Six users answered: half-0 to half-2 whole. The rest were looked for by their tags.
    assert {n for n, o in outcomes.items() if not o.recovered} == {"half-0", "half-1", "half-2"}
    assert {n for n, o in outcomes.items() if o.recovered} == {"half-3", "half-4", "half-5"}
    for request in requests:
        jobs = own_jobs(ledger, request.name)
        assert sorted(jobs) == sorted([(request.name, "u0"), (request.name, "u1")] * 2)
    assert job_posts(adobe) == 1 and duplicates(adobe) == []


def test_a_partial_answer_splitting_a_request_does_not_record_it_from_the_answer(
    adobe, tmp_path: Path
) -> None:
    # Three users of one request and one of another: the answer holds the first two users
    # only, a part of the first request. Neither is recorded from it; both are found.
    requests = [
        declared("split-a", privacy_job("split-a", users=3)),
        declared("split-b", privacy_job("split-b", users=1)),
    ]
    adobe.admin.set_faults({"write": {"partial_answer_rate": 1.0}})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
    adobe.admin.set_faults({})
    assert result.success and all(o.recovered for o in result.outcomes)
    assert len(own_jobs(ledger, "split-a")) == 6 and len(own_jobs(ledger, "split-b")) == 2
    assert job_posts(adobe) == 1 and duplicates(adobe) == []


def test_a_batch_never_stored_leaves_each_request_pending(adobe, tmp_path: Path) -> None:
    # A 503 before the handler: nothing stored, the outcome unknown to the client.
    requests = [declared(f"gone-{i}", privacy_job(f"gone-{i}")) for i in range(5)]
    adobe.admin.set_faults({"write": {"error_rate": 1.0}, "seed": 3})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger)
        adobe.admin.set_faults({})
        assert job_posts(adobe) == 1 and adobe.admin.jobs() == []
        assert len(result.pending) == 5 and result.success
        assert all(
            "pending verification: sent, outcome unknown" in o.message for o in result.pending
        )
        # Each request has its own intent saying so, and no entry.
        assert sorted(ledger.intents) == [r.name for r in requests]
        assert all(ledger.intent(r.name).outcome for r in requests)
        assert len(list(ledger)) == 0
        # The next plan shows each one pending, and nothing is sent again in its grace period.
        plan = plan_now(adobe, client, requests, ledger)
    assert {a.type.value for a in plan.actions} == {"pending-verification"}
    assert job_posts(adobe) == 1


def test_a_refused_batch_is_sent_again_one_request_at_a_time(adobe, tmp_path: Path) -> None:
    requests = [declared(f"alone-{i}", privacy_job(f"alone-{i}")) for i in range(4)]
    network = RefuseBatches()
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe, network) as client:
        result = apply_all(adobe, client, requests, ledger)
    assert result.success and not any(o.recovered for o in result.outcomes)
    assert network.refused == 1
    assert job_posts(adobe) == 4
    assert sorted(sorted(n) for n in submissions(adobe).values()) == [[r.name] for r in requests]
    assert duplicates(adobe) == [] and not ledger.intents


def test_batches_run_alongside_other_creates(adobe, tmp_path: Path) -> None:
    requests = [declared(f"pj-{i}", privacy_job(f"pj-{i}")) for i in range(10)]
    requests += [request_from(f"rd-{i}", RECORD_DELETE) for i in range(3)]
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        plan = plan_now(adobe, client, requests, ledger)
        result = apply_plan(adobe, client, requests, ledger, plan)
    assert result.success
    # One outcome per action, in the plan's order; each request its own entry.
    assert [o.action for o in result.outcomes] == [a for a in plan.actions if a.is_change]
    assert len(result.outcomes) == 13
    assert job_posts(adobe) == 1
    assert tagged_counts(adobe) == {f"rd-{i}": 1 for i in range(3)}
    assert sorted(e.name for e in ledger) == sorted(r.name for r in requests)


def test_batching_off_is_one_post_per_request(adobe, tmp_path: Path) -> None:
    requests = [declared(f"one-{i}", privacy_job(f"one-{i}")) for i in range(5)]
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger, batch=False)
    assert result.success
    assert job_posts(adobe) == 5
    assert sorted(sorted(n) for n in submissions(adobe).values()) == [[r.name] for r in requests]


@pytest.mark.parametrize(
    ("setting", "posts"),
    [
        pytest.param("", 1, id="default-on"),
        pytest.param("apply:\n  batchPrivacyJobs: true\n", 1, id="on"),
        pytest.param("apply:\n  batchPrivacyJobs: false\n", 6, id="off"),
    ],
)
def test_apply_batch_setting(run, adobe, repo: Path, setting: str, posts: int) -> None:
    settings = repo / "reconciler.yaml"
    settings.write_text(settings.read_text() + setting)
    for i in range(6):
        write(repo, f"requests/cli-{i}.yaml", privacy_job(f"cli-{i}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "6 created" in result.output
    assert job_posts(adobe) == posts
    assert len(list((repo / "ledger").glob("cli-*.json"))) == 6
    assert Counter(len(n) for n in submissions(adobe).values()) == {6 // posts: posts}


def test_batch_setting_must_be_a_boolean(run, adobe, repo: Path) -> None:
    (repo / "reconciler.yaml").write_text("apply:\n  batchPrivacyJobs: sometimes\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "settings")
    result = run("-C", str(repo), "plan")
    assert result.exit_code == 1
    assert "batchPrivacyJobs" in result.output


def test_a_partial_answer_to_one_request_alone_is_not_believed(adobe, tmp_path: Path) -> None:
    # Batching off: the answer leaves out one of the request's two users. The client takes
    # it for an unknown outcome, and the request is found whole by its tag.
    requests = [declared("solo", privacy_job("solo", users=2))]
    adobe.admin.set_faults({"write": {"partial_answer_rate": 1.0}})
    ledger = Ledger.load(tmp_path / "ledger")
    with client_for(adobe) as client:
        result = apply_all(adobe, client, requests, ledger, batch=False)
    adobe.admin.set_faults({})
    assert adobe.admin.counters()["total"] == {"partial_answer": 1}
    (outcome,) = result.outcomes
    assert outcome.ok and outcome.recovered
    assert sorted(own_jobs(ledger, "solo")) == sorted([("solo", "u0"), ("solo", "u1")] * 2)
    assert job_posts(adobe) == 1 and duplicates(adobe) == []
