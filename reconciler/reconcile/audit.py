"""The audit trail of requests, from git history and the ledger.

For each request: who declared it and when, every later change to its file
(commit, author, which fields), the merge that brought it to the main line,
when it was applied and with what remote ids, later updates, and each status
recorded by ``status --commit``. Events hold field names, never values of
identities.

Event kinds, in the stable JSON and CSV: ``declared``, ``changed``,
``removed``, ``merged``, ``applied``, ``recovered``, ``imported``,
``updated``, ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import git

from reconciler.check.baserules import open_repo
from reconciler.check.validation import load_bytes
from reconciler.errors import GitError
from reconciler.git.ledgerbranch import ledger_repo
from reconciler.settings import Settings

SEP = "\x1f"
FORMAT = SEP.join(["%H", "%an", "%ae", "%aI", "%s"])


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


@dataclass(frozen=True)
class _Commit:
    sha: str
    author: str
    email: str
    date: str
    subject: str
    changes: tuple[tuple[str, str], ...]  # (status letter, path)


def _log(repo: git.Repo, pathspecs: Sequence[str]) -> list[_Commit]:
    """Commits touching ``pathspecs``, oldest first, with their name-status lines."""
    try:
        out = repo.git.log(
            "--reverse",
            f"--format={SEP}{FORMAT}",
            "--name-status",
            "--no-renames",
            "--",
            *pathspecs,
        )
    except git.GitCommandError:
        return []  # no commits yet
    commits = []
    for chunk in out.split(f"\n{SEP}") if out else []:
        chunk = chunk.lstrip(SEP)
        head, _, rest = chunk.partition("\n")
        sha, author, email, date, subject = head.split(SEP)
        changes = tuple(
            (parts[0][:1], parts[-1])
            for line in rest.splitlines()
            if line.strip() and len(parts := line.split("\t")) >= 2
        )
        commits.append(_Commit(sha, author, email, date, subject, changes))
    return commits


def _blob(repo: git.Repo, sha: str, path: str) -> bytes | None:
    try:
        data: bytes = repo.git.show(f"{sha}:{path}", stdout_as_string=False)
    except git.GitCommandError:
        return None
    return data


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


def _merge_into_line(repo: git.Repo, sha: str) -> str | None:
    """The first commit on HEAD's first-parent line that contains ``sha``."""
    line = repo.git.rev_list("--first-parent", "HEAD").split()
    line.reverse()
    target = repo.commit(sha)

    def contains(tip: str) -> bool:
        return repo.is_ancestor(target, repo.commit(tip))

    lo, hi = 0, len(line) - 1
    if not line or not contains(line[hi]):
        return None
    while lo < hi:  # containment is monotonic along the first-parent line
        mid = (lo + hi) // 2
        if contains(line[mid]):
            hi = mid
        else:
            lo = mid + 1
    return str(line[lo])


def _request_events(repo: git.Repo, rel_requests: str, name: str) -> tuple[list[Event], str, str]:
    specs = [f":(glob){rel_requests}/**/{name}.yaml", f":(glob){rel_requests}/**/{name}.yml"]
    events: list[Event] = []
    path, kind = "", ""
    declared: str | None = None  # the commit that added the file
    for c in _log(repo, specs):
        for status, p in c.changes:
            if PurePosixPath(p).stem != name:
                continue
            path = p
            if status == "A" and declared is None:
                declared = c.sha
                request = load_bytes(p, _blob(repo, c.sha, p) or b"")
                kind = request.kind.value if request else kind
                events.append(Event("declared", c.date, c.sha, c.author, c.email, c.subject))
            elif status == "D":
                events.append(Event("removed", c.date, c.sha, c.author, c.email, c.subject))
            else:
                what = _changed_fields(_blob(repo, f"{c.sha}^", p), _blob(repo, c.sha, p), p)
                events.append(
                    Event("changed", c.date, c.sha, c.author, c.email, f"{what}: {c.subject}")
                )
    seen: set[str] = set()
    for e in [e for e in events if e.event in ("declared", "changed") and e.commit]:
        assert e.commit is not None
        merge = _merge_into_line(repo, e.commit)
        if merge is None or merge in seen:
            continue
        seen.add(merge)
        commit = repo.commit(merge)
        branch = "HEAD" if repo.head.is_detached else repo.head.reference.name
        if merge == e.commit:
            detail = f"committed directly to {branch}"
        else:
            detail = f"merged into {branch}: {commit.summary!s}"
        events.append(
            Event(
                "merged",
                commit.authored_datetime.isoformat(),
                merge,
                str(commit.author.name),
                str(commit.author.email),
                detail,
            )
        )
    return events, path, kind


def _ledger_events(
    repo: git.Repo, rel_ledger: str, name: str
) -> tuple[list[Event], tuple[str, ...], str]:
    path = f"{rel_ledger}/{name}.json"
    events: list[Event] = []
    previous: dict[str, Any] | None = None
    remote_ids: tuple[str, ...] = ()
    kind = ""
    for c in _log(repo, [path]):
        raw = _blob(repo, c.sha, path)
        if raw is None:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        remote = doc.get("remote", {})
        ids = tuple([remote["workorderId"]] if remote.get("workorderId") else [])
        ids += tuple(j.get("jobId", "") for j in remote.get("jobs", ()))
        remote_ids = ids
        kind = doc.get("kind", kind)
        status = (doc.get("status") or {}).get("value")
        if previous is None:
            what = (
                "imported"
                if doc.get("imported")
                else ("recovered" if doc.get("recovered") else "applied")
            )
            listed = ", ".join(ids[:3]) + (f" (+{len(ids) - 3})" if len(ids) > 3 else "")
            detail = f"{listed or 'no remote id (consent)'}; submitted {doc.get('submittedAt')}"
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
    return events, remote_ids, kind


def audit_requests(settings: Settings, names: Iterable[str]) -> list[RequestAudit]:
    """The audit trail of each named request (all known requests when ``names`` is empty)."""
    repo = open_repo(settings)
    # The ledger's history is its branch's when it has one of its own (ledger.branch).
    led_repo = ledger_repo(settings)
    try:
        rel_requests = settings.requests_path.resolve().relative_to(repo.working_dir).as_posix()
        rel_ledger = settings.ledger_path.resolve().relative_to(led_repo.working_dir).as_posix()
    except ValueError:
        raise GitError("the requests and ledger folders must be inside the repository") from None
    wanted = list(names)
    if not wanted:
        known: set[str] = set()
        for folder, suffixes in ((settings.requests_path, ("*.yaml", "*.yml")),):
            for suffix in suffixes:
                known.update(p.stem for p in folder.rglob(suffix))
        known.update(p.stem for p in settings.ledger_path.glob("*.json"))
        wanted = sorted(known)
    order = {
        sha: i
        for i, sha in enumerate(repo.git.rev_list("--reverse", "--topo-order", "HEAD").split())
    }
    out = []
    for name in wanted:
        req_events, path, kind = _request_events(repo, rel_requests, name)
        led_events, remote_ids, ledger_kind = _ledger_events(led_repo, rel_ledger, name)
        if not req_events and not led_events:
            raise GitError(f"no history for request {name!r}: it was never committed")
        events = sorted(
            req_events + led_events, key=lambda e: (order.get(e.commit or "", len(order)), e.date)
        )
        out.append(RequestAudit(name, kind or ledger_kind, path, remote_ids, tuple(events)))
    return out
