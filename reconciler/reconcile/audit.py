"""The audit trail of requests, from git history and the ledger.

For each request: who declared it and when, every later change to its file
(commit, author, which fields), the merge that brought it to the main line,
when it was applied and with what remote ids, later updates, and each status
recorded by ``status --commit``. Events hold field names, never values of
identities.

Event kinds, in the stable JSON and CSV: ``declared``, ``changed``,
``removed``, ``merged``, ``applied``, ``recovered``, ``imported``,
``updated``, ``status``. An ``applied`` (``recovered``, ``imported``) event of a
Data Hygiene request says the sandbox it went to: the one its entry records, or
the default one (``adobe.sandboxName``) for an entry written before sandboxes were
recorded.

The history is read through :mod:`reconciler.git.history`, so paths are the
tree's own, whatever characters they hold. Before the first commit there is no
trail (see :func:`audit_requests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from reconciler.settings import Settings


@dataclass(frozen=True)
class Event:
    event: str
    date: str
    commit: str | None
    author: str | None
    email: str | None
    details: str = ""


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
        if merge == e.commit:
            detail = f"committed directly to {branch}"
        else:
            detail = f"merged into {branch}: {commit.subject}"
        events.append(Event("merged", commit.date, merge, commit.author, commit.email, detail))
    return events, path, kind


@dataclass(frozen=True)
class _Applied:
    """What the ledger's history says of one request."""

    events: list[Event]
    remote_ids: tuple[str, ...]
    kind: str
    sandbox: str | None
    org_id: str | None


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
        prev_status = ((previous or {}).get("status") or {}).get("value")
        if status and status != prev_status:
            observed = (doc.get("status") or {}).get("observedAt", "")
            events.append(
                Event("status", c.date, c.sha, c.author, c.email, f"{status} (observed {observed})")
            )
        previous = doc
    return _Applied(events, remote_ids, kind, sandbox, org_id)


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
        events = sorted(
            req_events + applied.events,
            key=lambda e: (order.get(e.commit or "", len(order)), e.date),
        )
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
