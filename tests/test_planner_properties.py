"""Property: whatever was declared before and whatever happened since, apply converges.

For any previous declared set (applied), any drift made at Adobe, any lost ledger
entries, and any new declared set (additions, removals, displayName/description
changes), applying the plan and planning again yields no changes, and every
request exists at Adobe exactly once.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.check.validation import document_findings
from reconciler.model import Request
from reconciler.reconcile.applier import Applier
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.planner import ActionType, plan_changes
from reconciler.reconcile.remote import fetch_remote_state
from reconciler.yamlfile import parse_document
from tests.conftest import CONSENT, RECORD_DELETE, tagged_counts

NAMES = ["r1", "r2", "r3", "r4", "c1", "c2"]
TITLES = ["Alpha", "Beta", "Gamma"]
TEXTS = ["one", "two", ""]


def make(name: str, title: str, text: str) -> Request:
    template = CONSENT if name.startswith("c") else RECORD_DELETE
    body = template.format(name=name).replace("displayName: Example", f"displayName: {title}")
    body = body.replace("description: Example description.", f"description: '{text}'")
    request, findings = document_findings(parse_document(f"requests/{name}.yaml", body))
    assert request is not None, findings
    return request


requests_st = st.dictionaries(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from(TITLES), st.sampled_from(TEXTS)),
    max_size=len(NAMES),
)


def converge(client: AdobeClient, declared: list[Request], ledger: Ledger) -> Any:
    remote = fetch_remote_state(client, declared, ledger, date.today())
    plan = plan_changes(declared, ledger, remote)
    Applier(client, ledger, {r.name: r for r in declared}).apply(plan)
    return plan


def check_convergence(emu, before, after, drift, lost) -> None:
    emu.admin.reset()
    env = {**emu.env(), "ADOBE_SANDBOX_NAME": "prod"}
    config = AdobeConfig.from_env(env, requests_per_second=1000.0)
    with tempfile.TemporaryDirectory() as tmp, AdobeClient(config) as client:
        ledger = Ledger.load(Path(tmp) / "ledger")
        converge(client, [make(n, *v) for n, v in sorted(before.items())], ledger)
        for order in emu.admin.workorders():  # drift made by hand in Adobe's UI
            name = order["description"].rsplit("[reconciler:", 1)[-1].rstrip("]")
            if name in drift:
                client.hygiene.update_work_order(order["workorderId"], display_name="Hand edit")
        for name in lost:  # ledger entries lost
            ledger.path_of(name).unlink(missing_ok=True)
        ledger = Ledger.load(Path(tmp) / "ledger")
        declared = [make(n, *v) for n, v in sorted(after.items())]
        converge(client, declared, ledger)
        again = plan_changes(
            declared, ledger, fetch_remote_state(client, declared, ledger, date.today())
        )
        assert not again.has_changes, [a for a in again.actions if a.is_change]
        assert not again.conflicts
        counts = tagged_counts(emu)
        assert all(n == 1 for n in counts.values()), counts
        for request in declared:
            if request.name.startswith("r"):
                assert counts.get(request.name) == 1
            assert ledger.get(request.name) is not None
        kinds = {a.type for a in again.actions}
        assert kinds <= {ActionType.NOOP, ActionType.ORPHAN}


scenario = given(
    before=requests_st,
    after=requests_st,
    drift=st.sets(st.sampled_from(NAMES)),
    lost=st.sets(st.sampled_from(NAMES)),
)
quick = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
thorough = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@quick
@scenario
def test_apply_then_plan_has_no_changes(_shared_adobe, before, after, drift, lost) -> None:
    check_convergence(_shared_adobe, before, after, drift, lost)


@pytest.mark.chaos
@thorough
@scenario
def test_apply_then_plan_has_no_changes_thoroughly(
    _shared_adobe, before, after, drift, lost
) -> None:
    check_convergence(_shared_adobe, before, after, drift, lost)
