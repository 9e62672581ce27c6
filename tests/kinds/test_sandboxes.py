"""Two sandboxes of one organisation: the CLI, real git, one emulator over HTTP.

A repository whose requests name ``metadata.sandbox`` (``prod`` by default, ``dev``
named) creates, lists, updates, recovers, refreshes and audits each work order and
dataset expiration in its own sandbox. What the emulator holds per sandbox is read
through its admin API, and tags are decoded from their documented form, never by
the code under test.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.adobe import AdobeClient, AdobeConfig, InvalidArgumentError
from reconciler.reconcile.ledger import Ledger
from tests.conftest import PRIVACY_JOB, RECORD_DELETE, git, write, writes

SCOPE = "sbxteam1"
TAG = re.compile(r"(?:\A| )\[reconciler:(?:[a-z0-9]{4,16}/)?([a-z0-9][-a-z0-9]*)\]\Z")
SETTINGS = (
    f"scope: {SCOPE}\nclient:\n  requestsPerSecond: 1000\n"
    "adobe:\n  sandboxName: prod\n  sandboxes: [prod, dev]\n"
)
HYGIENE = "/data/core/hygiene"
EXPIRATION = """\
apiVersion: reconciler/v1
kind: DatasetExpiration
metadata:
  name: {name}
  sandbox: dev
spec:
  datasetId: 7eab61f3e5c34810a49a1ab3
  expiry: "2031-03-31"
  displayName: Retention
  description: Retention schedule.
"""


def record_delete(name: str, sandbox: str | None = None) -> str:
    """A record delete request; ``sandbox`` written under metadata when given."""
    text = RECORD_DELETE.format(name=name)
    if sandbox is not None:
        text = text.replace(f"  name: {name}\n", f"  name: {name}\n  sandbox: {sandbox}\n")
    return text


def start(tmp_path: Path, settings: str, *requests: tuple[str, str]) -> Path:
    """A repository with ``settings`` as reconciler.yaml and ``requests`` committed."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, "reconciler.yaml", settings)
    for name, text in requests:
        write(path, f"requests/{name}.yaml", text)
    commit(path)
    return path


def commit(repo: Path, message: str = "Requests") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def apply(run: Any, repo: Path) -> Any:
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return result


def tags(adobe: Any, sandbox: str) -> Counter[str]:
    """How many work orders of ``sandbox`` carry each request's tag."""
    found: Counter[str] = Counter()
    for order in adobe.admin.workorders(sandbox=sandbox):
        match = TAG.search(order.get("description") or "")
        if match:
            found[match.group(1)] += 1
    return found


def order_in(adobe: Any, sandbox: str, name: str) -> dict[str, Any]:
    (order,) = [
        o
        for o in adobe.admin.workorders(sandbox=sandbox)
        if (m := TAG.search(o.get("description") or "")) and m.group(1) == name
    ]
    return dict(order)


def entry(repo: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((repo / f"ledger/{name}.json").read_text())
    return doc


@pytest.fixture
def two_sandboxes(run: Any, adobe: Any, tmp_path: Path) -> Path:
    """A repository that applied ``in-prod`` (default sandbox) and ``in-dev`` (named)."""
    repo = start(
        tmp_path,
        SETTINGS,
        ("in-prod", record_delete("in-prod")),
        ("in-dev", record_delete("in-dev", "dev")),
    )
    apply(run, repo)
    return repo


def test_each_work_order_is_created_and_recorded_in_its_own_sandbox(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    assert tags(adobe, "prod") == {"in-prod": 1}
    assert tags(adobe, "dev") == {"in-dev": 1}
    org = adobe.client.org_id
    for name, sandbox in (("in-prod", "prod"), ("in-dev", "dev")):
        doc = entry(repo, name)
        assert (doc["sandbox"], doc["orgId"]) == (sandbox, org)
        assert doc["remote"] == {"workorderId": order_in(adobe, sandbox, name)["workorderId"]}

    # Listed again in each sandbox: nothing to do, nothing sent.
    before = len(writes(adobe))
    planned = run("-C", str(repo), "plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    actions = {a["name"]: a for a in json.loads(planned.output)["actions"]}
    assert {n: (a["action"], a["sandbox"]) for n, a in actions.items()} == {
        "in-prod": ("noop", "prod"),
        "in-dev": ("noop", "dev"),
    }
    assert "No changes" in apply(run, repo).output
    assert len(writes(adobe)) == before


def test_the_plan_groups_actions_by_sandbox(run: Any, adobe: Any, tmp_path: Path) -> None:
    repo = start(
        tmp_path,
        SETTINGS,
        ("a-prod", record_delete("a-prod")),
        ("b-dev", record_delete("b-dev", "dev")),
        ("c-job", PRIVACY_JOB.format(name="c-job")),
    )
    text = run("-C", str(repo), "plan").output
    prod, dev, org = (
        text.index("In sandbox prod:"),
        text.index("In sandbox dev:"),
        text.index("In organisation-wide (Privacy Service):"),
    )
    assert dev < text.index("b-dev") < prod < text.index("a-prod") < org < text.index("c-job")
    markdown = run("-C", str(repo), "plan", "--format", "markdown").output
    assert "**In sandbox dev**" in markdown and "**In sandbox prod**" in markdown
    planned = json.loads(run("-C", str(repo), "plan", "--format", "json").output)
    assert {a["name"]: a["sandbox"] for a in planned["actions"]} == {
        "a-prod": "prod",
        "b-dev": "dev",
        "c-job": None,
    }


def test_an_update_goes_to_the_work_orders_sandbox(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    path = repo / "requests/in-dev.yaml"
    path.write_text(path.read_text().replace("displayName: Example", "displayName: Renamed"))
    commit(repo, "Rename the dev request")
    planned = run("-C", str(repo), "plan")
    assert "~ update" in planned.output and "in-dev" in planned.output, planned.output
    done = apply(run, repo)
    assert "1 updated" in done.output, done.output
    assert order_in(adobe, "dev", "in-dev")["displayName"] == "Renamed"
    assert order_in(adobe, "prod", "in-prod")["displayName"] == "Example"
    assert entry(repo, "in-dev")["displayName"] == "Renamed"
    assert "No changes" in apply(run, repo).output


def test_a_lost_answer_is_recovered_in_the_requests_sandbox(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    repo = start(
        tmp_path,
        SETTINGS,
        ("lost-dev", record_delete("lost-dev", "dev")),
        ("also-prod", record_delete("also-prod")),
    )
    # A work order of the same tag in prod (another clone's mistake), which the plan lists
    # too (for also-prod), must not be the one found: the request's is in dev.
    with httpx.Client(base_url=adobe.url) as http:
        body = {
            "action": "delete_identity",
            "datasetId": "c48b51623ec641a2949d339bad69cb15",
            "displayName": "Example",
            "description": f"Example description. [reconciler:{SCOPE}/lost-dev]",
            "identities": [{"namespace": {"code": "email"}, "id": "z@example.com"}],
        }
        made = http.post(f"{HYGIENE}/workorder", json=body, headers=adobe.headers("prod"))
        assert made.status_code in (200, 201), made.text
    decoy = made.json()["workorderId"]

    adobe.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 5})
    first = apply(run, repo)
    adobe.admin.set_faults({})
    assert adobe.admin.counters()["total"].get("drop_after_commit", 0) >= 1
    assert "found at Adobe and recorded" in first.output, first.output
    assert tags(adobe, "dev") == {"lost-dev": 1}
    assert tags(adobe, "prod") == {"lost-dev": 1, "also-prod": 1}  # the decoy, unchanged
    recorded = entry(repo, "lost-dev")
    assert recorded["sandbox"] == "dev"
    assert recorded["remote"]["workorderId"] == order_in(adobe, "dev", "lost-dev")["workorderId"]
    assert recorded["remote"]["workorderId"] != decoy
    assert "No changes" in apply(run, repo).output


def test_a_lost_ledger_adopts_from_the_requests_sandbox(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    ids = {n: entry(repo, n)["remote"]["workorderId"] for n in ("in-prod", "in-dev")}
    for path in (repo / "ledger").glob("*.json"):
        path.unlink()
    planned = run("-C", str(repo), "plan")
    assert planned.output.count("= adopt") == 2, planned.output
    apply(run, repo)
    assert {n: entry(repo, n)["remote"]["workorderId"] for n in ids} == ids
    assert {n: entry(repo, n)["sandbox"] for n in ids} == {"in-prod": "prod", "in-dev": "dev"}
    assert tags(adobe, "prod") == {"in-prod": 1} and tags(adobe, "dev") == {"in-dev": 1}


def test_status_and_audit_show_each_sandbox(run: Any, adobe: Any, two_sandboxes: Path) -> None:
    repo = two_sandboxes
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "reconciler apply: 2 created")
    adobe.admin.advance(3600)
    shown = run("-C", str(repo), "status", "--format", "json")
    assert shown.exit_code == 0, shown.output
    rows = {r["name"]: r for r in json.loads(shown.output)["requests"]}
    assert {n: r["sandbox"] for n, r in rows.items()} == {"in-prod": "prod", "in-dev": "dev"}
    assert {r["orgId"] for r in rows.values()} == {adobe.client.org_id}
    # Read by id in its own sandbox: found, and moved on from when it was created.
    assert all(r["status"] not in ("not-found", None) for r in rows.values()), rows
    table = run("-C", str(repo), "status").output
    assert re.search(r"in-dev\s+RecordDelete\s+dev\s+DI-", table), table

    audited = run("-C", str(repo), "audit", "--format", "json")
    assert audited.exit_code == 0, audited.output
    trails = {a["name"]: a for a in json.loads(audited.output)["requests"]}
    assert {n: a["sandbox"] for n, a in trails.items()} == {"in-prod": "prod", "in-dev": "dev"}
    applied = [e for e in trails["in-dev"]["events"] if e["event"] == "applied"]
    assert len(applied) == 1 and applied[0]["details"].endswith("; in sandbox dev")
    assert "sandbox: dev" in run("-C", str(repo), "audit", "in-dev").output


def test_an_expiration_is_created_and_cancelled_in_its_sandbox(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    repo = start(tmp_path, SETTINGS, ("dev-retention", EXPIRATION.format(name="dev-retention")))
    apply(run, repo)
    assert adobe.admin.expirations(sandbox="prod") == []
    (item,) = adobe.admin.expirations(sandbox="dev")
    assert entry(repo, "dev-retention")["sandbox"] == "dev"
    assert "No changes" in apply(run, repo).output

    path = repo / "requests/dev-retention.yaml"
    path.write_text(path.read_text() + "  cancelled: true\n")
    commit(repo, "Cancel the dev retention")
    assert "1 cancelled" in apply(run, repo).output
    assert [e["status"] for e in adobe.admin.expirations(sandbox="dev")] == ["cancelled"]
    assert entry(repo, "dev-retention")["status"]["value"] == "cancelled"
    assert item["ttlId"] == entry(repo, "dev-retention")["remote"]["ttlId"]


def test_a_sandbox_the_repository_may_not_target_is_a_finding(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    repo = start(
        tmp_path,
        SETTINGS,
        ("to-stage", record_delete("to-stage", "stage")),
        (
            "a-job",
            PRIVACY_JOB.format(name="a-job").replace(
                "  name: a-job\n", "  name: a-job\n  sandbox: dev\n"
            ),
        ),
    )
    checked = run("-C", str(repo), "validate")
    assert checked.exit_code == 1, checked.output
    assert "requests/to-stage.yaml:5:12" in checked.output, checked.output
    assert "sandbox-not-allowed" in checked.output
    assert "add 'stage' to adobe.sandboxes" in checked.output
    # Privacy Service is org-wide: a privacy job naming a sandbox is refused by its schema.
    assert "requests/a-job.yaml:5" in checked.output and "organisation-wide" in checked.output
    refused = run("-C", str(repo), "apply", "--auto-approve")
    assert refused.exit_code == 1 and "nothing was planned or sent" in refused.output
    assert adobe.admin.workorders() == []

    # Without adobe.sandboxes, only adobe.sandboxName may be targeted.
    write(repo, "reconciler.yaml", f"scope: {SCOPE}\nadobe:\n  sandboxName: prod\n")
    (repo / "requests/a-job.yaml").unlink()
    checked = run("-C", str(repo), "validate")
    assert checked.exit_code == 1
    assert "adobe.sandboxes: [prod, stage]" in checked.output, checked.output


def test_changing_the_sandbox_after_apply_is_a_finding_and_a_conflict(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    commit(repo, "reconciler apply: 2 created")
    path = repo / "requests/in-prod.yaml"
    path.write_text(record_delete("in-prod", "dev"))
    checked = run("-C", str(repo), "validate")
    assert checked.exit_code == 1, checked.output
    assert "requests/in-prod.yaml:5:12" in checked.output and "sandbox-changed" in checked.output
    assert "applied in sandbox prod" in checked.output
    based = run("-C", str(repo), "validate", "--base", "HEAD")
    assert based.exit_code == 1 and "sandbox-changed" in based.output
    planned = run("-C", str(repo), "plan")
    assert planned.exit_code == 1, planned.output
    assert "conflict" in planned.output and "sandbox changed after it was applied" in planned.output
    assert tags(adobe, "dev") == {"in-dev": 1}


def test_a_ledger_without_a_sandbox_means_the_default_one(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    # An entry as written before sandboxes were recorded.
    path = repo / "ledger/in-prod.json"
    old = {k: v for k, v in entry(repo, "in-prod").items() if k not in ("sandbox", "orgId")}
    path.write_text(json.dumps(old, indent=2) + "\n")
    commit(repo, "Ledger of before sandboxes")
    loaded = Ledger.load(repo / "ledger").get("in-prod")
    assert loaded is not None and loaded.sandbox is None and loaded.org_id is None

    assert "No changes" in apply(run, repo).output
    assert tags(adobe, "prod") == {"in-prod": 1}
    shown = json.loads(run("-C", str(repo), "status", "--all", "--format", "json").output)
    row = next(r for r in shown["requests"] if r["name"] == "in-prod")
    assert row["sandbox"] == "prod" and row["status"] != "not-found"
    # Rewritten by status as it was: still no sandbox field.
    assert "sandbox" not in entry(repo, "in-prod")
    # Naming the default explicitly is no change; naming another is.
    (repo / "requests/in-prod.yaml").write_text(record_delete("in-prod", "prod"))
    assert run("-C", str(repo), "validate").exit_code == 0
    (repo / "requests/in-prod.yaml").write_text(record_delete("in-prod", "dev"))
    assert "sandbox-changed" in run("-C", str(repo), "validate").output


@pytest.fixture
def client(adobe: Any) -> Any:
    with AdobeClient(AdobeConfig.from_env({**os.environ})) as made:
        yield made


def test_one_client_calls_each_sandbox_and_lists_all_with_a_star(
    adobe: Any, client: AdobeClient
) -> None:
    dev = client.hygiene.in_sandbox("dev")
    for hygiene, mail in ((client.hygiene, "p@example.com"), (dev, "d@example.com")):
        hygiene.create_work_order(
            dataset_id="c48b51623ec641a2949d339bad69cb15",
            display_name="Example",
            description=hygiene.sandbox,
            identities=[("email", mail)],
        )
    assert [o.description for o in client.hygiene.list_work_orders()] == ["prod"]
    assert [o.description for o in dev.list_work_orders()] == ["dev"]
    assert sorted(o.description or "" for o in dev.list_work_orders(sandbox_name="*")) == [
        "dev",
        "prod",
    ]
    (mine,) = dev.list_work_orders()
    assert dev.get_work_order(mine.workorder_id).description == "dev"
    with pytest.raises(Exception, match="404|not found"):
        client.hygiene.get_work_order(mine.workorder_id)

    client.ttl.in_sandbox("dev").create_expiration("7eab61f3e5c34810a49a1ab3", "2031-03-31", "Dev")
    client.ttl.create_expiration("3e9f815ae1194c65b2a4c5ea", "2031-03-31", "Prod")
    every = client.ttl.list_expirations(sandbox_name="*")
    assert sorted((e.sandbox_name, e.display_name) for e in every) == [
        ("dev", "Dev"),
        ("prod", "Prod"),
    ]
    assert [e.display_name for e in client.in_sandbox("dev").ttl.list_expirations()] == ["Dev"]
    assert client.in_sandbox("dev").config.sandbox_name == "dev"
    assert client.config.sandbox_name == "prod"
    # One connection pool and one token for every sandbox.
    assert client.token_fetches == 1
    for bad in ("*", "", "dev prod"):
        with pytest.raises(InvalidArgumentError):
            client.hygiene.in_sandbox(bad)


def test_allowing_another_sandbox_is_a_warning_in_review(
    run: Any, adobe: Any, two_sandboxes: Path
) -> None:
    repo = two_sandboxes
    commit(repo, "reconciler apply: 2 created")
    write(repo, "reconciler.yaml", SETTINGS.replace("[prod, dev]", "[prod, dev, stage]"))
    checked = run("-C", str(repo), "validate", "--base", "HEAD")
    assert checked.exit_code == 0, checked.output
    assert "adobe-sandboxes-changed" in checked.output
    assert "lets requests target stage" in checked.output
    # Narrowing the list allows nothing new.
    write(repo, "reconciler.yaml", SETTINGS.replace("[prod, dev]", "[prod, dev]"))
    assert (
        "adobe-sandboxes-changed" not in run("-C", str(repo), "validate", "--base", "HEAD").output
    )


def test_offline_without_a_default_the_plan_says_so(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADOBE_SANDBOX_NAME", raising=False)
    settings = f"scope: {SCOPE}\nadobe:\n  sandboxes: [prod, dev]\n"
    repo = start(
        tmp_path,
        settings,
        ("no-sandbox", record_delete("no-sandbox")),
        ("in-dev", record_delete("in-dev", "dev")),
    )
    planned = run("-C", str(repo), "plan", "--offline")
    assert planned.exit_code == 0, planned.output
    text = planned.output
    assert text.index("In sandbox dev:") < text.index("in-dev")
    heading = "In the default sandbox (adobe.sandboxName):"
    assert text.index("in-dev") < text.index(heading) < text.index("no-sandbox"), text
