"""The wrong person, token, org or sandbox never leads to a write at Adobe."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.applier import Applier
from reconciler.reconcile.ledger import Ledger
from tests.conftest import (
    PRIVACY_JOB,
    RECORD_DELETE,
    git,
    no_wait,
    plan_and_apply,
    plan_now,
    request_from,
    tagged_counts,
    tagged_jobs,
    write,
    writes,
)


@pytest.fixture
def one(repo: Path) -> Path:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    return repo


def test_expired_token_is_renewed_and_the_write_happens_once(adobe, tmp_path: Path) -> None:
    # A privacy job is created without a look first (the plan's listing was the look), so
    # the first call after the expiry is the create itself.
    requests = [request_from("req-b", PRIVACY_JOB)]
    ledger = Ledger.load(tmp_path / "ledger")
    config = AdobeConfig.from_env(adobe.env(), sandbox_name="prod")
    with AdobeClient(config, sleep=no_wait) as client:
        plan = plan_now(adobe, client, requests, ledger)  # fetches the token the run keeps
        adobe.admin.expire_tokens()
        applier = Applier(client, ledger, {"req-b": requests[0]}, sleep=no_wait)
        first = applier.apply(plan)
        # Refused for its token: Adobe may have taken it all the same (a gateway can say
        # 401 after the backend committed), so it is looked for, not sent again.
        assert [o.pending for o in first.outcomes] == [True]
        assert client.token_fetches == 2
        assert tagged_jobs(adobe) == {}
        later = datetime.now(UTC) + timedelta(hours=2)  # apply.resendAfter has passed
        again = plan_now(adobe, client, requests, ledger, later)
        assert [a.reason.startswith("sent again") for a in again.actions] == [True]
        assert Applier(client, ledger, {"req-b": requests[0]}, sleep=no_wait).apply(again).success
    posts = [
        r["status"]
        for r in adobe.admin.requests()
        if r["method"] == "POST" and r["path"] == "/data/core/privacy/jobs"
    ]
    assert posts == [401, 202]  # refused for the expired token; sent again after the grace
    assert sum(tagged_jobs(adobe)["req-b"].values()) == 4


CREATES = frozenset({"/data/core/hygiene/workorder", "/data/core/privacy/jobs"})


class RevokeAtEachCreate(httpx.BaseTransport):
    """The network to the emulator, where every token is revoked the moment a create has
    landed at Adobe, so the calls after it start with a dead token. With ``lose_answer``
    the first create of each API also loses its answer on the way back."""

    def __init__(self, emu, *, lose_answer: bool) -> None:
        self.inner = httpx.HTTPTransport()
        self.emu = emu
        self.lose_answer = lose_answer
        self.lost: set[str] = set()
        self.revocations = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if request.method != "POST" or path not in CREATES or response.status_code >= 300:
            return response
        response.read()
        with self._lock:
            self.emu.admin.expire_tokens()
            self.revocations += 1
            lose = self.lose_answer and path not in self.lost
            self.lost.add(path)
        if lose:
            response.close()
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


LANDED = {("/data/core/hygiene/workorder", 200), ("/data/core/privacy/jobs", 202)}


def landed(entry: dict) -> bool:
    return entry["method"] == "POST" and (entry["path"], entry["status"]) in LANDED


def landed_creates(emu) -> list[tuple[str, int]]:
    """The creates the emulator accepted, from its own log."""
    return sorted((r["path"], r["status"]) for r in emu.admin.requests() if landed(r))


def assert_created_once(emu) -> None:
    """Counted at Adobe: two work orders and one set of privacy jobs, one per request."""
    assert landed_creates(emu) == [
        ("/data/core/hygiene/workorder", 200),
        ("/data/core/hygiene/workorder", 200),
        ("/data/core/privacy/jobs", 202),
    ]
    assert tagged_counts(emu) == {"req-a": 1, "req-c": 1}
    jobs = tagged_jobs(emu)
    assert set(jobs) == {"req-b"}
    assert jobs["req-b"] == Counter(
        {
            ("user-1", action, product): 1
            for action in ("access", "delete")
            for product in ("analytics", "profileService")
        }
    )


@pytest.mark.parametrize("lose_answer", [False, True], ids=["answered", "answer-lost"])
def test_revoked_token_mid_run_never_writes_twice(adobe, tmp_path: Path, lose_answer) -> None:
    requests = [
        request_from("req-a", RECORD_DELETE),
        request_from("req-b", PRIVACY_JOB),
        request_from("req-c", RECORD_DELETE),
    ]
    ledger = Ledger.load(tmp_path / "ledger")
    network = RevokeAtEachCreate(adobe, lose_answer=lose_answer)
    # One call at a time, so that each create after the first starts with a revoked token.
    config = AdobeConfig.from_env(adobe.env(), sandbox_name="prod", max_concurrency=1)
    with AdobeClient(config, transport=network, sleep=no_wait) as client:
        result = plan_and_apply(adobe, client, requests, ledger)
        assert_created_once(adobe)
        assert result.success, result.failed
        assert all(ledger.get(r.name) is not None for r in requests)
        if lose_answer:  # found by their tags after the lost answers, on a new token
            assert {e.name for e in ledger if e.recovered} == {"req-a", "req-b"}
        # The revocations fell mid-run: the call after each create was refused for its
        # token (401), and sent once more with a new one (after a work order's create,
        # that call reads it back by id).
        log = [r for r in adobe.admin.requests() if not r["path"].startswith("/ims/")]
        after = [log[i + 1]["status"] for i, r in enumerate(log[:-1]) if landed(r)]
        assert after == [401, 401, 401]
        assert client.token_fetches == 4  # the first token and one after each 401
        # A second run, its token revoked too, finds everything recorded and creates nothing.
        adobe.admin.expire_tokens()
        assert plan_and_apply(adobe, client, requests, ledger).outcomes == ()
    assert_created_once(adobe)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param("ADOBE_ORG_ID", "OTHER000000000000000000@AdobeOrg", "403", id="wrong-org"),
        pytest.param("ADOBE_SANDBOX_NAME", "no-such-sandbox", "403027", id="wrong-sandbox"),
        pytest.param("ADOBE_CLIENT_SECRET", "wrong-secret-canary", "401", id="wrong-secret"),
        pytest.param("ADOBE_CLIENT_ID", "someone-else", "400", id="unknown-client"),
    ],
)
def test_wrong_identity_never_writes(
    run, adobe, one: Path, monkeypatch, variable, value, message
) -> None:
    monkeypatch.setenv(variable, value)
    result = run("-C", str(one), "apply", "--auto-approve")
    assert result.exit_code == 1
    assert message in result.output
    assert "wrong-secret-canary" not in result.output
    assert writes(adobe) == []
    assert adobe.admin.workorders() == []
