"""Alerts for requests that need a person, and their GitHub issues kept one per request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.github.issues import GitHubError, sync_issues
from reconciler.reconcile.alerts import Alert
from tests.conftest import PRIVACY_JOB, git, write
from tests.ledger_helpers import record_applied

ENV = {"GITHUB_TOKEN": "ghs-canary-token-123", "GITHUB_REPOSITORY": "acme/privacy-requests"}


def job_request(repo: Path, name: str, received: str | None = None, retry_of: str = "") -> None:
    extra = (f"  receivedAt: {received}\n" if received else "") + (
        f"  retryOf: {retry_of}\n" if retry_of else ""
    )
    text = PRIVACY_JOB.format(name=name).replace(f"  name: {name}\n", f"  name: {name}\n{extra}")
    write(repo, f"requests/{name}.yaml", text)


def applied(repo: Path, name: str, status: str, codes: list[dict[str, str]] | None = None) -> None:
    record_applied(
        repo,
        name,
        f"requests/{name}.yaml",
        kind="PrivacyJob",
        remote={"jobs": [{"jobId": f"job-{name}", "userKey": f"{name}:user-1"}]},
        status={"value": status, "observedAt": "2026-11-02T00:00:00Z", "products": []}
        | ({"codes": codes} if codes else {}),
    )


def test_alerts_name_failed_and_late_requests_only(run, repo: Path) -> None:
    long_ago = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    job_request(repo, "dsr-failed")
    applied(repo, "dsr-failed", "error", [{"name": "profileService", "code": "1000-400"}])
    job_request(repo, "dsr-late", received=long_ago)
    applied(repo, "dsr-late", "processing")
    job_request(repo, "dsr-old-failure")
    applied(repo, "dsr-old-failure", "error")
    job_request(repo, "dsr-retry", retry_of="dsr-old-failure")
    job_request(repo, "dsr-fine", received=datetime.now(UTC).date().isoformat())
    applied(repo, "dsr-fine", "processing")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "requests and ledger")

    result = run("-C", str(repo), "alerts", "--format", "json")
    assert result.exit_code == 1, result.output
    found = {a["name"]: a for a in json.loads(result.stdout)["alerts"]}
    assert sorted(found) == ["dsr-failed", "dsr-late"]
    assert found["dsr-failed"]["title"] == "reconciler: dsr-failed error at Adobe"
    assert "- profileService: 1000-400 Formatting error: " in found["dsr-failed"]["body"]
    assert "metadata.retryOf: dsr-failed" in found["dsr-failed"]["body"]
    assert found["dsr-late"]["title"].startswith("reconciler: dsr-late is overdue (due ")
    assert found["dsr-late"]["body"].endswith("<!-- reconciler-alert:dsr-late -->\n")
    assert "c@example.com" not in result.output  # the requests' identity
    # Failures only: the late one is not an alert then.
    failures = run("-C", str(repo), "alerts", "--fail-on", "failed")
    assert failures.output.splitlines() == ["dsr-failed error at Adobe"]


class FakeGitHub:
    """GitHub's issues API for one repository, in memory (routes on method and path)."""

    def __init__(self, issues: list[dict[str, Any]] | None = None, status: int = 200) -> None:
        self.issues = issues or []
        self.status = status
        self.calls: list[tuple[str, str]] = []
        self.tokens: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        self.tokens.add(request.headers.get("authorization", ""))
        if self.status != 200:
            return httpx.Response(self.status, json={"message": "Resource not accessible"})
        base = "/repos/acme/privacy-requests/issues"
        if request.method == "GET" and request.url.path == base:
            page = int(request.url.params["page"])
            label = request.url.params["labels"]
            shown = [i for i in self.issues if i["state"] == "open" and label in i["labels"]]
            return httpx.Response(200, json=shown[(page - 1) * 100 : page * 100])
        if request.method == "POST" and request.url.path == base:
            body = json.loads(request.content)
            issue = {"number": len(self.issues) + 1, "state": "open", **body}
            self.issues.append(issue)
            return httpx.Response(201, json=issue)
        if request.method == "PATCH" and request.url.path.startswith(base + "/"):
            number = int(request.url.path.rsplit("/", 1)[1])
            (issue,) = [i for i in self.issues if i["number"] == number]
            issue.update(json.loads(request.content))
            return httpx.Response(200, json=issue)
        return httpx.Response(404, json={"message": "Not Found"})


def alert(name: str, title: str = "") -> Alert:
    return Alert(
        name,
        title or f"reconciler: {name} error at Adobe",
        f"x\n<!-- reconciler-alert:{name} -->\n",
    )


def test_one_issue_per_alert_opened_updated_and_closed() -> None:
    someone_elses = {
        "number": 1,
        "state": "open",
        "title": "t",
        "body": "b",
        "labels": ["reconciler-alert"],
    }
    github = FakeGitHub([someone_elses])
    transport = httpx.MockTransport(github)

    first = sync_issues([alert("dsr-a"), alert("dsr-b")], ENV, transport)
    assert (first.opened, first.updated, first.closed) == (("dsr-a", "dsr-b"), (), ())
    assert [i["labels"] for i in github.issues[1:]] == [["reconciler-alert"]] * 2

    again = sync_issues([alert("dsr-a"), alert("dsr-b")], ENV, transport)
    assert again.unchanged == ("dsr-a", "dsr-b") and not again.opened

    later = sync_issues([alert("dsr-a", "reconciler: dsr-a is overdue")], ENV, transport)
    assert (later.updated, later.closed) == (("dsr-a",), ("dsr-b",))
    states = {i["number"]: (i["state"], i["title"]) for i in github.issues}
    assert states == {
        1: ("open", "t"),  # no marker: never touched
        2: ("open", "reconciler: dsr-a is overdue"),
        3: ("closed", "reconciler: dsr-b error at Adobe"),
    }
    assert github.tokens == {"Bearer ghs-canary-token-123"}


@pytest.mark.parametrize(
    ("env", "status", "message"),
    [
        pytest.param({}, 200, "GITHUB_TOKEN is not set", id="no-token"),
        pytest.param({**ENV, "GITHUB_REPOSITORY": "not a repo"}, 200, "OWNER/NAME", id="bad-repo"),
        pytest.param(ENV, 403, "GitHub answered 403; the token needs `issues: write`", id="403"),
    ],
)
def test_what_goes_wrong_is_one_line_without_the_token(
    env: dict[str, str], status: int, message: str
) -> None:
    with pytest.raises(GitHubError) as caught:
        sync_issues([alert("dsr-a")], env, httpx.MockTransport(FakeGitHub(status=status)))
    assert message in str(caught.value)
    assert "ghs-canary-token-123" not in str(caught.value)
