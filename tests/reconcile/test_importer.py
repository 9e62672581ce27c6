"""``reconciler import`` and scopes: the CLI, a real git repository, the emulator over HTTP.

A work order tagged with our scope or without one (before scopes) is named after its
tag and managed from then on; one tagged with another repository's scope is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from tests.conftest import git, write, writes

SCOPE = "team1a2b"


@pytest.fixture
def scoped(repo: Path) -> Path:
    """The ``repo`` fixture with a scope, committed."""
    write(repo, "reconciler.yaml", f"scope: {SCOPE}\nclient:\n  requestsPerSecond: 1000\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Settings")
    return repo


def work_order(description: str) -> str:
    with AdobeClient(AdobeConfig.from_env({**os.environ})) as client:
        order = client.hygiene.create_work_order(
            dataset_id="c48b51623ec641a2949d339bad69cb15",
            display_name="Made elsewhere",
            description=description,
            identities=[("email", "someone@example.com")],
        )
    return order.workorder_id


@pytest.mark.parametrize(
    "description",
    [
        pytest.param("Cleanup. [reconciler:jira-7]", id="before-scopes"),
        pytest.param(f"Cleanup. [reconciler:{SCOPE}/jira-7]", id="our-scope"),
    ],
)
def test_a_work_order_with_our_tag_is_named_after_it_and_kept_as_is(
    run: Any, adobe: Any, scoped: Path, description: str
) -> None:
    workorder_id = work_order(description)
    result = run("-C", str(scoped), "import", workorder_id)
    assert result.exit_code == 0, result.output
    assert f"imported {workorder_id} as jira-7: requests/imported/jira-7.yaml" in result.output
    entry = json.loads((scoped / "ledger/jira-7.json").read_text())
    assert entry["remote"]["workorderId"] == workorder_id
    assert entry["description"] == "Cleanup."
    git(scoped, "add", "-A")
    git(scoped, "commit", "-qm", "Import jira-7")
    # Its tag is ours already, in whichever form: nothing to update.
    plan = run("-C", str(scoped), "plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    before = len(writes(adobe))
    assert run("-C", str(scoped), "apply", "--auto-approve").exit_code == 0
    assert len(writes(adobe)) == before
    (order,) = [o for o in adobe.admin.workorders() if o["workorderId"] == workorder_id]
    assert order["description"] == description


def test_a_work_order_of_another_scope_is_refused(run: Any, adobe: Any, scoped: Path) -> None:
    workorder_id = work_order("Cleanup. [reconciler:other999/jira-7]")
    result = run("-C", str(scoped), "import", workorder_id)
    assert result.exit_code == 1
    assert "another repository (scope other999)" in result.output
    assert not (scoped / "requests/imported").exists()
    assert not (scoped / "ledger").exists()


def test_an_untagged_work_order_gets_our_scoped_tag_on_the_next_apply(
    run: Any, adobe: Any, scoped: Path
) -> None:
    workorder_id = work_order("by hand")
    assert run("-C", str(scoped), "import", workorder_id).exit_code == 0
    (path,) = (scoped / "requests/imported").glob("*.yaml")
    git(scoped, "add", "-A")
    git(scoped, "commit", "-qm", "Import")
    assert run("-C", str(scoped), "apply", "--auto-approve").exit_code == 0
    (order,) = [o for o in adobe.admin.workorders() if o["workorderId"] == workorder_id]
    assert order["description"] == f"by hand [reconciler:{SCOPE}/{path.stem}]"
    assert run("-C", str(scoped), "plan", "--detailed-exitcode").exit_code == 0
