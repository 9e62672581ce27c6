"""The audit trail of requests, from git history and the ledger.

For each request: who declared it and when, every later change to its file
(commit, author, which fields), the merge that brought it to the main line,
when it was applied and with what remote ids, later updates, and each status
recorded by ``status --commit``. Events hold field names, never values of
identities.

Event kinds, in the stable JSON and CSV: ``declared``, ``changed``,
``removed``, ``merged``, ``approved``, ``applied``, ``recovered``, ``imported``,
``updated``, ``status``. An ``applied`` (``recovered``, ``imported``) event of a
Data Hygiene request says the sandbox it went to: the one its entry records, or
the default one (``adobe.sandboxName``) for an entry written before sandboxes were
recorded.

``merged`` is who made the merge commit (after a squash merge on GitHub, the pull
request's author) and names the pull request its subject gives, as GitHub writes it
(:func:`reconciler.reconcile.approvals.pull_request_of`). ``approved`` is one event per
approving review the ledger entry records (``apply --approvals``): the reviewer's login,
when, and which pull request; it is evidence of review, apart from who merged.

The history is read through :mod:`reconciler.git.history`, so paths are the
tree's own, whatever characters they hold. Before the first commit there is no
trail (see :func:`audit_requests`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from reconciler.check.validation import load_bytes
from reconciler.errors import GitError
from reconciler.git.history import (
    anywhere_under,
    commit_info,
    first_containing,
    first_parent_line,
    log_changes,
    topo_order,
)
from reconciler.git.ledgerbranch import ledger_repo
from reconciler.git.repo import Repository, current_branch, has_commits, open_repo, relative, show
from reconciler.kinds import Kind
from reconciler.kinds.base import recorded_sandbox
from reconciler.reconcile.approvals import Approval, pull_request_of
from reconciler.settings import Settings


@dataclass(frozen=True)
class Event:
    event: str
    date: str
    commit: str | None
    author: str | None
    email: str | None
    details: str = ""
    # The pull request a merged or approved event is about (None: none is known).
    pull_request: int | None = None


@dataclass(frozen=True)
class RequestAudit:
    name: str
    kind: str
    path: str
    remote_ids: tuple[str, ...]
    events: tuple[Event, ...] = field(default_factory=tuple)
    # Where it was applied: the Data Hygiene sandbox (the default one for an entry that
    # records none) and the organisation, when the ledger says.
    sandbox: str | None = None
    org_id: str | None = None


def _changed_fields(old: bytes | None, new: bytes | None, path: str) -> str:
    a = load_bytes(path, old) if old is not None else None
    b = load_bytes(path, new) if new is not None else None
    if a is None or b is None:
        return "file changed (not a valid request on one side)"
    changed = []
    for section, x, y in (("metadata", a.metadata, b.metadata), ("spec", a.spec, b.spec)):
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                changed.append(f"{section}.{key}")
    return ", ".join(changed) or "formatting only"


def _request_events(
    repo: Repository, rel_requests: str, name: str, line: Sequence[str]
) -> tuple[list[Event], str, str]:
    specs = anywhere_under(rel_requests, [f"{name}.yaml", f"{name}.yml"])
    events: list[Event] = []
    path, kind = "", ""
    declared: str | None = None  # the commit that added the file
    for c in log_changes(repo, specs):
        for status, p in c.changes:
            if PurePosixPath(p).stem != name:
                continue
            path = p
            if status == "A" and declared is None:
                declared = c.sha
                request = load_bytes(p, show(repo, c.sha, p) or b"")
                kind = request.kind.value if request else kind
                events.append(Event("declared", c.date, c.sha, c.author, c.email, c.subject))
            elif status == "D":
                events.append(Event("removed", c.date, c.sha, c.author, c.email, c.subject))
            else:
                what = _changed_fields(show(repo, f"{c.sha}^", p), show(repo, c.sha, p), p)
                events.append(
                    Event("changed", c.date, c.sha, c.author, c.email, f"{what}: {c.subject}")
                )
    seen: set[str] = set()
    branch = current_branch(repo) or "HEAD"
    for e in [e for e in events if e.event in ("declared", "changed") and e.commit]:
        assert e.commit is not None
        merge = first_containing(repo, e.commit, line)
        if merge is None or merge in seen:
            continue
        seen.add(merge)
        commit = commit_info(repo, merge)
        if merge == e.commit:  # also a squash merge: its pull request's one commit here
            detail = f"committed directly to {branch}"
        else:
            detail = f"merged into {branch}: {commit.subject}"
        number = pull_request_of(commit.subject)
        if number is not None and merge == e.commit:
            detail = f"merged into {branch} (squashed): {commit.subject}"
        events.append(
            Event("merged", commit.date, merge, commit.author, commit.email, detail, number)
        )
    return events, path, kind


def _approval_events(approval: Approval) -> list[Event]:
    """One ``approved`` event per approving review the ledger recorded, at the merge
    commit (so that it sorts beside ``merged``) and the review's time."""
    merged_by = f", merged by {approval.merged_by}" if approval.merged_by else ""
    return [
        Event(
            "approved",
            review.submitted_at or approval.merged_at or "",
            approval.merge_commit,
            review.reviewer,
            None,
            f"pull request #{approval.pull_request} by {approval.author}{merged_by}"
            + (f"; reviewed commit {review.commit[:10]}" if review.commit else "")
            + (f"; {approval.url}" if approval.url else ""),
            approval.pull_request,
        )
        for review in approval.reviews
    ]


def _approval_of(doc: dict[str, Any]) -> Approval | None:
    try:
        return Approval.from_json(doc["approval"]) if doc.get("approval") else None
    except (KeyError, TypeError, AttributeError):
        return None  # an old revision not shaped like an entry: nothing to show


@dataclass(frozen=True)
class _Applied:
    """What the ledger's history says of one request."""

    events: list[Event]
    remote_ids: tuple[str, ...]
    kind: str
    sandbox: str | None
    org_id: str | None
    approvals: list[Approval]


def _sandbox_of(doc: Mapping[str, Any], default: str | None) -> str | None:
    """The sandbox an entry says it was applied in (``default`` when it records none);
    None for organisation-wide kinds."""
    kind, recorded = doc.get("kind"), doc.get("sandbox")
    if not isinstance(kind, str) or kind not in Kind.names():
        return recorded if isinstance(recorded, str) else None
    return recorded_sandbox(Kind(kind), recorded if isinstance(recorded, str) else None, default)


def _ledger_events(repo: Repository, rel_ledger: str, name: str, default: str | None) -> _Applied:
    path = f"{rel_ledger}/{name}.json" if rel_ledger != "." else f"{name}.json"
    events: list[Event] = []
    approvals: list[Approval] = []
    previous: dict[str, Any] | None = None
    remote_ids: tuple[str, ...] = ()
    kind = ""
    sandbox: str | None = None
    org_id: str | None = None
    for c in log_changes(repo, [f":(literal){path}"]):
        raw = show(repo, c.sha, path)
        if raw is None:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        remote = doc.get("remote", {})
        ids = tuple(remote[key] for key in ("workorderId", "ttlId") if remote.get(key))
        ids += tuple(j.get("jobId", "") for j in remote.get("jobs", ()))
        remote_ids = ids
        kind = doc.get("kind", kind)
        sandbox = _sandbox_of(doc, default)
        org_id = doc.get("orgId")
        status = (doc.get("status") or {}).get("value")
        if previous is None:
            what = (
                "imported"
                if doc.get("imported")
                else ("recovered" if doc.get("recovered") else "applied")
            )
            listed = ", ".join(ids[:3]) + (f" (+{len(ids) - 3})" if len(ids) > 3 else "")
            where = f"; in sandbox {sandbox}" if sandbox else ""
            detail = f"{listed or 'no remote id (consent)'}; submitted {doc.get('submittedAt')}"
            detail += where
            events.append(Event(what, c.date, c.sha, c.author, c.email, detail))
        else:
            for key in ("displayName", "description"):
                if previous.get(key) != doc.get(key):
                    events.append(Event("updated", c.date, c.sha, c.author, c.email, key))
        approval = _approval_of(doc)
        if approval is not None and approval not in approvals:
            approvals.append(approval)
            events.extend(_approval_events(approval))
        prev_status = ((previous or {}).get("status") or {}).get("value")
        if status and status != prev_status:
            observed = (doc.get("status") or {}).get("observedAt", "")
            events.append(
                Event("status", c.date, c.sha, c.author, c.email, f"{status} (observed {observed})")
            )
        previous = doc
    return _Applied(events, remote_ids, kind, sandbox, org_id, approvals)


def _with_merger(events: list[Event], approvals: Iterable[Approval]) -> list[Event]:
    """The merged events, each naming who merged its pull request on GitHub when the
    ledger's approval of that pull request says so (the commit's author may not be)."""
    mergers = {a.pull_request: a.merged_by for a in approvals if a.merged_by}
    return [
        replace(e, details=f"{e.details} (merged by {mergers[e.pull_request]})")
        if e.event == "merged" and e.pull_request in mergers
        else e
        for e in events
    ]


def _before_merge(
    events: list[Event], approved: Event, when: Callable[[Event], tuple[int, str]]
) -> list[Event]:
    """``events`` with ``approved`` just before the merge of its pull request (a review
    comes before the merge, and after the squash commit's ``declared``, which is the merge
    itself); in time order when no merge of it is shown."""
    at = next(
        (
            i
            for i, e in enumerate(events)
            if e.event == "merged"
            and (e.commit == approved.commit or e.pull_request == approved.pull_request)
        ),
        None,
    )
    if at is None:
        return sorted([*events, approved], key=when)
    return [*events[:at], approved, *events[at:]]


def has_history(settings: Settings) -> bool:
    """Whether the repository has a commit yet (an audit trail can start)."""
    return has_commits(open_repo(settings.root, "audit"))


def audit_requests(settings: Settings, names: Iterable[str]) -> list[RequestAudit]:
    """The audit trail of each named request (all known requests when ``names`` is empty).

    Before the first commit there is no history: no names give an empty trail, and a
    named request is a :class:`GitError` (it was never committed), as ``git log`` refuses.
    """
    repo = open_repo(settings.root, "audit")
    wanted = list(names)
    if not has_commits(repo):
        if wanted:
            raise GitError(
                f"no history for request {wanted[0]!r}: this repository has no commits yet"
            )
        return []
    # The ledger's history is its branch's when it has one of its own (ledger.branch).
    led_repo = ledger_repo(settings)
    rel_requests = relative(repo, settings.requests_path)
    rel_ledger = relative(led_repo, settings.ledger_path)
    if not wanted:
        known: set[str] = set()
        for suffix in ("*.yaml", "*.yml"):
            known.update(p.stem for p in settings.requests_path.rglob(suffix))
        known.update(p.stem for p in settings.ledger_path.glob("*.json"))
        wanted = sorted(known)
    order = {sha: i for i, sha in enumerate(topo_order(repo))}
    line = first_parent_line(repo)
    out = []
    for name in wanted:
        req_events, path, kind = _request_events(repo, rel_requests, name, line)
        applied = _ledger_events(led_repo, rel_ledger, name, settings.adobe.sandbox_name)
        if not req_events and not applied.events:
            raise GitError(f"no history for request {name!r}: it was never committed")
        req_events = _with_merger(req_events, applied.approvals)

        def when(e: Event) -> tuple[int, str]:
            return order.get(e.commit or "", len(order)), e.date

        approved = [e for e in applied.events if e.event == "approved"]
        events = sorted(req_events + [e for e in applied.events if e not in approved], key=when)
        for e in approved:
            events = _before_merge(events, e, when)
        out.append(
            RequestAudit(
                name,
                kind or applied.kind,
                path,
                applied.remote_ids,
                tuple(events),
                applied.sandbox,
                applied.org_id,
            )
        )
    return out
