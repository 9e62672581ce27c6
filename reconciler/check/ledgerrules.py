"""Rules on the ledger: a pull request must not write it, and a request must not repeat it.

The ledger is what the plan trusts: a request whose entry is there is not sent
again. So an entry a pull request edits or adds is a request silently never
sent, or sent as another one. :func:`ledger_changes` reports every change to
ledger files between the base and the work tree:

* ``ledger-edited`` (error): an entry changed or deleted;
* ``ledger-forged`` (error): an entry added, except one ``reconciler import`` wrote:
  marked ``imported`` and added with its request file, itself marked
  ``metadata.imported`` and new in the same change. That is ``ledger-imported``, a
  warning naming the work order, which the reviewer must confirm is theirs;
* ``ledger-in-tree`` (error): with ``ledger.branch`` set, ledger files added or
  changed in the requests' tree, where nothing should write them.

:func:`applied_twins` runs with or without ``--base``: a request not in the ledger
whose immutable fields equal those of an entry of another name (a renamed or
copied applied request) would be sent to Adobe a second time (``already-applied``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from reconciler.check.findings import Finding, Severity
from reconciler.check.retryrules import is_retry
from reconciler.kinds.base import declared_sandbox, recorded_sandbox, request_sandbox
from reconciler.model import Request
from reconciler.reconcile.intents import FOLDER as INTENTS
from reconciler.reconcile.ledger import SCHEMA, Entry, Ledger, LedgerError
from reconciler.schemas import check
from reconciler.secrets.crypto import CryptoError
from reconciler.yamlfile import Mark, ParseError, parse_document

SUFFIX = ".json"


def read_ledger(folder: Path, root: Path) -> tuple[dict[str, Entry], list[Finding]]:
    """The entries of the ledger folder on disk, read as :meth:`Ledger.load` reads them
    (and without tidying anything); each unreadable file is a finding instead of a stop."""
    ledger = Ledger(folder, root)
    findings = []
    for path in sorted(folder.glob("*" + SUFFIX)) if folder.is_dir() else ():
        try:
            ledger.entries_from(path)
        except LedgerError as e:
            shown = _from(root, path)
            findings.append(
                Finding(shown, 1, 1, "ledger-unreadable", str(e).removeprefix(f"{shown}: "))
            )
    return dict(ledger.entries), findings


def _from(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def entry_from(shown: str, raw: bytes) -> Entry | None:
    """A ledger entry from a file's bytes (a git blob); None when it is not a valid one."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if check(SCHEMA, doc):
        return None
    entry = Entry.from_json(doc)
    return entry if PurePosixPath(shown).stem == entry.name else None


def _first_difference(shown: str, old: bytes, new: bytes) -> tuple[Mark, list[str]]:
    """Where a changed ledger file first differs (its first changed key) and which of its
    top-level keys changed; line 1 when it cannot be read as a mapping."""
    try:
        before, after = json.loads(old.decode("utf-8")), json.loads(new.decode("utf-8"))
        doc = parse_document(shown, new.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ParseError):
        return Mark(1, 1), []
    if not isinstance(before, dict) or not isinstance(after, dict):
        return Mark(1, 1), []
    changed = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    first = next((k for k in after if k in changed), None)
    return (doc.locate((first,), key=True) if first else Mark(1, 1)), changed


def ledger_changes(
    before: Mapping[str, bytes],
    after: Mapping[str, bytes],
    base: str,
    imports: Mapping[str, Request],
    branch: str | None,
) -> Iterator[Finding]:
    """Findings for the ledger files that differ between ``before`` (the base) and
    ``after`` (the work tree), both by path as findings show it.

    ``imports`` are the requests marked ``metadata.imported`` that are new since the
    base, by name; ``branch`` is ``ledger.branch`` (then these files are in the
    requests' tree, where no ledger belongs).
    """
    for shown in sorted(set(before) | set(after)):
        old, new = before.get(shown), after.get(shown)
        if old == new:
            continue
        if branch is not None:
            if new is not None:
                yield Finding(
                    shown,
                    1,
                    1,
                    "ledger-in-tree",
                    f"ledger.branch is {branch!r}: the ledger lives on that branch, written "
                    f"by the apply job alone, and {shown} in this tree is no ledger file; "
                    f"a pull request must not add one: remove {shown}",
                )
            continue
        if new is None:
            yield Finding(
                shown,
                1,
                1,
                "ledger-edited",
                f"{shown} was deleted since {base}: ledger files are written by the apply job, "
                "and without its entry the request would be sent to Adobe again; a pull "
                f"request must not change them: restore {shown}",
            )
        elif old is not None:
            mark, keys = _first_difference(shown, old, new)
            what = f" ({', '.join(keys)})" if keys else ""
            yield Finding(
                shown,
                mark.line,
                mark.column,
                "ledger-edited",
                f"{shown} changed since {base}{what}: ledger files are written by the apply "
                "job, and the plan trusts them over Adobe; a pull request must not change "
                f"them: restore {shown}",
            )
        else:
            yield _added(shown, new, imports)


def _added(shown: str, raw: bytes, imports: Mapping[str, Request]) -> Finding:
    entry = entry_from(shown, raw)
    if entry is not None and entry.imported and entry.name in imports:
        ids = ", ".join(entry.remote_ids) or "no id"
        try:
            mark = parse_document(shown, raw.decode("utf-8")).locate(("remote",), key=True)
        except ParseError:
            mark = Mark(1, 1)
        return Finding(
            shown,
            mark.line,
            mark.column,
            "ledger-imported",
            f"{shown} adopts Adobe {entry.kind.noun} {ids} as request {entry.name!r} "
            "(reconciler import): before approving, confirm at Adobe that it is this "
            "organisation's and is to be managed from this repository",
            Severity.WARNING,
        )
    name = entry.name if entry is not None else PurePosixPath(shown).stem
    if PurePosixPath(shown).parent.name == INTENTS:
        return Finding(
            shown,
            1,
            1,
            "ledger-forged",
            f"{shown} is new: only the apply job writes intents, right before it sends a "
            f"create, and one written by hand holds request {name!r} back as "
            f"pending-verification (or has it sent again); a pull request must not add one: "
            f"remove {shown}",
        )
    return Finding(
        shown,
        1,
        1,
        "ledger-forged",
        f"{shown} is new: only the apply job records what Adobe accepted, and an entry "
        f"written by hand makes the plan take request {name!r} as applied, so it is never "
        f"sent; a pull request must not add one: remove {shown}",
    )


def applied_twins(requests: Iterable[Request], entries: Iterable[Entry]) -> Iterator[Finding]:
    """``already-applied`` for each request not in the ledger that declares what an entry of
    another name recorded: the same kind and immutable fields, identities included.

    Entries are indexed by (kind, identity count), so each request is hashed against the
    few entries it could equal, not the whole ledger. An entry without a count (written
    before the ledger had one) is a candidate for every count of its kind. Requests
    without identities (an expiration, an imported work order) are left out: nothing
    would be deleted twice, and two may rightly name one dataset. Requests still
    encrypted (no key here) cannot be hashed and are left to the apply job, which has
    the key and runs this rule too (its ``validate`` step).
    """
    index: dict[tuple[str, int], list[Entry]] = defaultdict(list)
    names: set[str] = set()
    for entry in entries:
        index[(entry.kind.value, entry.identity_count)].append(entry)
        names.add(entry.name)
    for request in requests:
        count = request.identity_count()
        if request.name in names or count == 0 or request.locked:
            continue
        kind = request.kind.value
        candidates = [*index.get((kind, count), ()), *index.get((kind, 0), ())]
        twin = next((e for e in candidates if _matches(e, request)), None)
        if twin is None or is_retry(request, twin):  # a failed one, submitted again
            continue
        mark = request.where("metadata", "name")
        ids = ", ".join(twin.remote_ids)
        applied = f"applied as {ids}" if ids else "recorded in the ledger as applied"
        yield Finding(
            request.path,
            mark.line,
            mark.column,
            "already-applied",
            f"this request declares the same {request.kind.noun} as request {twin.name!r}, "
            f"{applied}: applying it would send the same identities to Adobe again under a "
            f"new name; a request's name is permanent: keep {twin.name!r} ({twin.path}) and "
            "drop this file",
        )


def sandbox_changes(
    requests: Iterable[Request], entries: Mapping[str, Entry], default: str | None
) -> Iterator[Finding]:
    """``sandbox-changed`` for each applied request whose sandbox is not the one its entry
    records (an entry recording none was applied in ``default``, ``adobe.sandboxName``):
    the sandbox is part of what was deleted, and Adobe cannot move a work order. Left
    alone where either side cannot be resolved here (no default known)."""
    for request in requests:
        entry = entries.get(request.name)
        if entry is None or entry.kind is not request.kind:
            continue
        now = request_sandbox(request, default)
        then = recorded_sandbox(entry.kind, entry.sandbox, default)
        if now is None or then is None or now == then:
            continue
        declared = declared_sandbox(request) is not None
        mark = request.where(*(("metadata", "sandbox") if declared else ("metadata", "name")))
        restore = f"restore metadata.sandbox: {then}"
        if then == default:
            restore += f" (or remove it: {then} is the default)"
        yield Finding(
            request.path,
            mark.line,
            mark.column,
            "sandbox-changed",
            f"request {request.name!r} was applied in sandbox {then} (its ledger entry says so) "
            f"and now targets {now}; the sandbox cannot change once applied, since Adobe "
            f"cannot move a {request.kind.noun}: {restore}, and declare a new request (a new "
            f"file with a new name) for {now}",
        )


def _matches(entry: Entry, request: Request) -> bool:
    """Whether ``entry`` recorded ``request``'s immutable fields. A fingerprint that
    cannot be checked here (made with a key not at hand) is no match: the plan, which
    checks every fingerprint, refuses what it cannot check."""
    try:
        return entry.fingerprint.matches(request)
    except CryptoError:
        return False


def folder_files(folder: Path, root: Path) -> dict[str, bytes]:
    """Every ledger file under ``folder`` in the work tree, by path from ``root``."""
    if not folder.is_dir():
        return {}
    return {
        _from(root, path): path.read_bytes()
        for path in sorted(folder.rglob("*" + SUFFIX))
        if path.is_file()
    }


def merged(*sources: Mapping[str, Entry]) -> dict[str, Entry]:
    """Entries from several ledgers by name, the first source's winning."""
    out: dict[str, Entry] = {}
    for source in sources:
        for name, entry in source.items():
            out.setdefault(name, entry)
    return out
