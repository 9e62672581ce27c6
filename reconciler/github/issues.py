"""One GitHub issue per alert: opened, updated when its text changed, closed once the
alert is gone (see :mod:`reconciler.reconcile.alerts`).

The issues are found by their label and by the hidden marker in their body, so a title a
person edited does not lose track of them; an issue without the marker is never touched.
The token comes from the environment (``GITHUB_TOKEN``) and is never printed; errors name
the call and GitHub's status code only.

API: https://docs.github.com/en/rest/issues/issues (list repository issues with
``labels`` and ``state``, create an issue, update an issue).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.errors import ReconcilerError
from reconciler.reconcile.alerts import MARKER, Alert

API = "https://api.github.com"
LABEL = "reconciler-alert"
PER_PAGE = 100
MAX_PAGES = 50
TIMEOUT_SECONDS = 30.0
_MARKER = re.compile(rf"<!-- {re.escape(MARKER)}([a-z0-9][-a-z0-9]*) -->")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(ReconcilerError):
    """A call to GitHub's API failed (the token is never in the message)."""


@dataclass(frozen=True)
class Synced:
    opened: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (
            f"{len(self.opened)} opened, {len(self.updated)} updated, "
            f"{len(self.closed)} closed, {len(self.unchanged)} unchanged"
        )


def sync_issues(
    alerts: Sequence[Alert],
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
) -> Synced:
    """Make the repository's open alert issues match ``alerts``."""
    token = env.get("GITHUB_TOKEN", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not token:
        raise GitHubError("GITHUB_TOKEN is not set: the issues cannot be kept")
    if not _REPOSITORY.match(repository):
        raise GitHubError("GITHUB_REPOSITORY must name the repository as OWNER/NAME")
    base = env.get("GITHUB_API_URL") or API
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(
        base_url=f"{base}/repos/{repository}",
        headers=headers,
        timeout=TIMEOUT_SECONDS,
        transport=transport,
    ) as http:
        return _sync(http, alerts)


def _sync(http: httpx.Client, alerts: Sequence[Alert]) -> Synced:
    open_issues: dict[str, dict[str, Any]] = {}
    for issue in _open_issues(http):
        match = _MARKER.search(str(issue.get("body") or ""))
        if match and "pull_request" not in issue:
            open_issues.setdefault(match.group(1), issue)
    opened: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for alert in alerts:
        known: dict[str, Any] | None = open_issues.pop(alert.name, {}) or None
        if known is None:
            _call(
                http,
                "POST",
                "/issues",
                {"title": alert.title, "body": alert.body, "labels": [LABEL]},
            )
            opened.append(alert.name)
        elif known.get("title") != alert.title or known.get("body") != alert.body:
            number = _number(known)
            _call(http, "PATCH", f"/issues/{number}", {"title": alert.title, "body": alert.body})
            updated.append(alert.name)
        else:
            unchanged.append(alert.name)
    closed: list[str] = []
    for name, issue in sorted(open_issues.items()):
        _call(
            http,
            "PATCH",
            f"/issues/{_number(issue)}",
            {"state": "closed", "state_reason": "completed"},
        )
        closed.append(name)
    return Synced(tuple(opened), tuple(updated), tuple(closed), tuple(unchanged))


def _open_issues(http: httpx.Client) -> Iterator[dict[str, Any]]:
    for page in range(1, MAX_PAGES + 1):
        params = {"labels": LABEL, "state": "open", "per_page": PER_PAGE, "page": page}
        found = _call(http, "GET", "/issues", params=params)
        if not isinstance(found, list):
            raise GitHubError("GET /issues: GitHub's answer is not a list of issues")
        yield from (i for i in found if isinstance(i, dict))
        if len(found) < PER_PAGE:
            return
    raise GitHubError(f"GET /issues: more than {MAX_PAGES * PER_PAGE} open alert issues")


def _number(issue: Mapping[str, Any]) -> int:
    number = issue.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise GitHubError("GitHub's answer holds an issue without a valid number")
    return number


def _call(
    http: httpx.Client,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    try:
        answer = http.request(method, path, json=body, params=params)
    except httpx.HTTPError as e:
        raise GitHubError(f"{method} {path}: could not reach GitHub ({type(e).__name__})") from None
    if answer.status_code >= 400:
        raise GitHubError(
            f"{method} {path}: GitHub answered {answer.status_code}; the token needs "
            "`issues: write` on this repository"
        )
    try:
        return answer.json() if answer.content else None
    except ValueError:
        raise GitHubError(f"{method} {path}: GitHub's answer is not JSON") from None
