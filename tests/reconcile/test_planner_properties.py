"""Property: whatever happened between runs, each declared request exists at Adobe once.

Hypothesis draws a history of steps across record deletes, privacy jobs and consent
opt-outs: declare a request (or change its display name), apply, apply while the
answers to creates are lost (and, worse, while the network goes down right after the
first lost answer), lose ledger entries or the whole ledger, edit a work order by hand
at Adobe. After one more apply on a sound network, the emulator's own records are
compared with what was declared, not with what the planner thinks: one work order per
record delete, carrying its declared display name; one job per user, action and
product per privacy job; nothing for names never declared; and a further apply sends
no write at all.

Consent opt-outs leave Adobe nothing to tell them apart by (it answers 202 and keeps
counts), and are sent again when their outcome is unknown or their ledger entry is lost
(harmless: the same opt-out twice is the opt-out once), so for them the emulator is
only asked whether it received at least one per declared request.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.ledger import Ledger
from tests.conftest import (
    CONSENT,
    PRIVACY_JOB,
    RECORD_DELETE,
    WORK_ORDER_TAG,
    apply_plan,
    no_wait,
    plan_and_apply,
    plan_now,
    request_from,
    tagged_counts,
    tagged_jobs,
    writes,
)

RECORD_DELETES = ["wo-1", "wo-2"]
PRIVACY_JOBS = ["pj-1", "pj-2"]
CONSENTS = ["co-1", "co-2"]
NAMES = RECORD_DELETES + PRIVACY_JOBS + CONSENTS
TITLES = ["Alpha", "Beta"]

CREATES = frozenset(
    {"/data/core/hygiene/workorder", "/data/core/privacy/jobs", "/data/core/privacy/consent"}
)
# What the PRIVACY_JOB template asks for: one user, two actions, two products.
JOBS_OF_ONE_REQUEST = Counter(
    {
        ("user-1", action, product): 1
        for action in ("access", "delete")
        for product in ("analytics", "profileService")
    }
)


class Network(httpx.BaseTransport):
    """The way to the emulator, breaking as the step asks.

    ``lose-answers``: every create reaches Adobe and its answer is lost on the way back.
    ``lose-answers-then-down``: the same, and after the first lost answer no call gets
    through any more (refused before it is sent)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.mode: str | None = None
        self.down = False
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self.down:
                raise httpx.ConnectError("network unreachable", request=request)
        response = self.inner.handle_request(request)
        if self.mode is None or request.method != "POST" or request.url.path not in CREATES:
            return response
        response.read()
        response.close()
        with self._lock:
            self.down = self.mode == "lose-answers-then-down"
        raise httpx.ReadError("connection reset after the request was sent", request=request)

    def heal(self) -> None:
        with self._lock:
            self.mode, self.down = None, False

    def close(self) -> None:
        self.inner.close()


def declared_request(name: str, title: str):
    if name in RECORD_DELETES:
        return request_from(
            name, RECORD_DELETE.replace("displayName: Example", f"displayName: {title}")
        )
    return request_from(name, PRIVACY_JOB if name in PRIVACY_JOBS else CONSENT)


def check_history(emu, first, steps) -> None:
    emu.admin.reset()
    declared = dict(first)  # the model: name -> display name
    network = Network()
    config = AdobeConfig.from_env(
        emu.env(), sandbox_name="prod", requests_per_second=1000.0, max_concurrency=1
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        AdobeClient(config, transport=network, sleep=no_wait) as client,
    ):
        folder = Path(tmp) / "ledger"
        ledger = Ledger.load(folder)

        def requests():
            return [declared_request(n, t) for n, t in sorted(declared.items())]

        for step, arg in steps:
            if step == "declare":
                declared[arg[0]] = arg[1]
            elif step == "apply":
                plan = plan_now(emu, client, requests(), ledger)
                network.mode = arg  # breaks after the plan: the run's creates meet it
                apply_plan(emu, client, requests(), ledger, plan)
                network.heal()
            elif step == "lose-ledger":
                if arg is None:
                    shutil.rmtree(folder, ignore_errors=True)
                for name in arg or ():
                    ledger.path_of(name).unlink(missing_ok=True)
                ledger = Ledger.load(folder)
            elif step == "edit-at-adobe":
                for order in emu.admin.workorders():
                    match = WORK_ORDER_TAG.search(order["description"])
                    if match and match.group(1) == arg:
                        client.hygiene.update_work_order(
                            order["workorderId"], display_name="Edited by hand"
                        )

        # Later than any grace period: an opt-out whose answer was lost (Adobe keeps nothing
        # to find it by) is sent again then; everything else was found by its tag.
        later = datetime.now(UTC) + timedelta(hours=2)
        result = plan_and_apply(emu, client, requests(), ledger, later)
        assert result.success, result.failed
        assert result.pending == ()
        sent = len(writes(emu))
        again = plan_and_apply(emu, client, requests(), ledger, later)
        assert len(writes(emu)) == sent, "a converged repository sent writes again"
        assert again.outcomes == ()
        assert [n for n in declared if ledger.get(n) is None] == []

    orders = emu.admin.workorders()
    wanted = {n: t for n, t in declared.items() if n in RECORD_DELETES}
    assert tagged_counts(emu) == dict.fromkeys(wanted, 1)
    assert len(orders) == len(wanted)
    shown = {WORK_ORDER_TAG.search(o["description"]).group(1): o["displayName"] for o in orders}
    assert shown == wanted
    jobs = tagged_jobs(emu)
    assert jobs == {n: JOBS_OF_ONE_REQUEST for n in declared if n in PRIVACY_JOBS}
    assert len(emu.admin.jobs()) == sum(JOBS_OF_ONE_REQUEST.values()) * len(jobs)
    consents = sum(c["requests"] for c in emu.admin.consents())
    declared_consents = sum(1 for n in declared if n in CONSENTS)
    assert consents >= declared_consents
    if not declared_consents:
        assert consents == 0


step = st.one_of(
    st.tuples(st.just("declare"), st.tuples(st.sampled_from(NAMES), st.sampled_from(TITLES))),
    st.tuples(st.just("apply"), st.sampled_from([None, "lose-answers", "lose-answers-then-down"])),
    # Some entries, or (None) the whole ledger.
    st.tuples(st.just("lose-ledger"), st.none() | st.sets(st.sampled_from(NAMES), min_size=1)),
    st.tuples(st.just("edit-at-adobe"), st.sampled_from(RECORD_DELETES)),
)
histories = given(
    first=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(TITLES), min_size=1),
    steps=st.lists(step, min_size=1, max_size=8),
)
EVERY = dict.fromkeys(NAMES, "Alpha")
# Histories that must be tried on every run, whatever else is drawn.
answers_lost_then_ledger_lost = example(
    first=EVERY,
    steps=[
        ("apply", "lose-answers-then-down"),
        ("apply", "lose-answers"),
        ("lose-ledger", None),
        ("declare", ("wo-1", "Beta")),
    ],
)
applied_then_ledger_lost = example(
    first=EVERY,
    steps=[
        ("apply", None),
        ("edit-at-adobe", "wo-2"),
        ("lose-ledger", set(NAMES)),
        ("declare", ("wo-1", "Beta")),
        ("apply", "lose-answers"),
    ],
)
quick = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
thorough = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@quick
@histories
@answers_lost_then_ledger_lost
@applied_then_ledger_lost
def test_every_declared_request_is_at_adobe_once(_shared_adobe, first, steps) -> None:
    check_history(_shared_adobe, first, steps)


@pytest.mark.chaos
@thorough
@histories
def test_every_declared_request_is_at_adobe_once_thoroughly(_shared_adobe, first, steps) -> None:
    check_history(_shared_adobe, first, steps)
