"""Rules that compare the requests with what came before them: the ledger (what Adobe
accepted) and, with ``--base``, a base revision (the pull request's target).

A request in the ledger was submitted, and Adobe cannot change a work order's
identities or dataset afterwards: only ``displayName``, ``description`` and
``metadata`` other than ``name`` may change. Removing or renaming it cancels
nothing at Adobe, so both are errors that say what to do instead. A request at
the base with no ledger entry was never accepted (Adobe refused it, or no apply
ran yet): it may still change or go, and a warning says so.

The base is where the branch left the named revision (their merge-base), not the
revision's tip: requests merged and ledger commits made there since are no
change of the pull request's. Which requests were applied is read from the
ledger of the base's tip and of the work tree together (or from the ledger
branch), so neither a pull request that drops an entry nor one that branched
before an apply can make an applied request look new.

Encrypted identity values are compared decrypted when the key is in the
environment and decrypts both sides. Otherwise (the pull-request job has no
key, or the base was encrypted for keys since rotated) identity values are
left out of the comparison: namespaces, counts and every other immutable
field are still compared, so re-encrypting a file is not a change, and a
changed value inside a ciphertext is caught where the key is, by the plan's
fingerprint check.

Besides the requests, ``--base`` reports every change to the ledger files
(:mod:`reconciler.check.ledgerrules`) and every change to ``reconciler.yaml``
that moves trust (:mod:`reconciler.check.settingsrules`), unless only the
requests are asked for (the apply job, whose own ledger commits follow its base).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.check.findings import Finding, Report, Severity
from reconciler.check.ledgerrules import (
    SUFFIX,
    applied_twins,
    entry_from,
    folder_files,
    ledger_changes,
    merged,
    read_ledger,
    sandbox_changes,
)
from reconciler.check.retryrules import retry_findings
from reconciler.check.settingsrules import (
    endpoint_findings,
    scope_changes,
    scope_findings,
    settings_changes,
    value_at,
)
from reconciler.check.validation import (
    YAML_SUFFIXES,
    Loaded,
    discover,
    display_path,
    load_bytes,
    load_requests,
)
from reconciler.git.ledgerbranch import attach
from reconciler.git.repo import (
    Repository,
    blobs_at,
    has_commits,
    open_repo,
    relative,
    require_commit,
    run,
    show,
)
from reconciler.model import Request
from reconciler.reconcile.ledger import Entry
from reconciler.repository import SETTINGS_FILE
from reconciler.settings import Settings
from reconciler.yamlfile import Document, ParseError, check_text, load_document, parse_document


@dataclass(frozen=True)
class Base:
    """The revision a pull request is compared with, in its repository."""

    repo: Repository
    ref: str  # as the user named it
    tip: str  # the commit it names
    fork: str  # where HEAD left it: their merge-base, or ``tip`` when they share none
    prefix: str  # the settings' root from the top of the work tree ("." for the top)

    def path(self, rel: str) -> str:
        """``rel`` (from the settings' root) from the top of the work tree."""
        return rel if self.prefix == "." else f"{self.prefix}/{rel}"

    def shown(self, path: str) -> str:
        """A path from the top as findings show it: from the settings' root."""
        if self.prefix == ".":
            return path
        return PurePosixPath(path).relative_to(self.prefix).as_posix()

    def settings_data(self) -> Any:
        """``reconciler.yaml`` at the fork point as data (None without one, or unreadable:
        every setting then compares with its default)."""
        raw = show(self.repo, self.fork, self.path(SETTINGS_FILE))
        if raw is None:
            return None
        try:
            return parse_document(SETTINGS_FILE, check_text(SETTINGS_FILE, raw)).data
        except ParseError:
            return None


def resolve_base(settings: Settings, ref: str) -> Base:
    """The commit ``ref`` names and where HEAD branched from it."""
    repo = open_repo(settings.root, "--base")
    tip = require_commit(repo, ref)
    fork = tip
    if has_commits(repo):
        status, out = run(
            repo,
            "merge-base",
            tip,
            "HEAD",
            what=f"find where HEAD branched from {ref}",
            ok=(0, 1),
        )
        fork = out.decode().strip() if status == 0 and out.strip() else tip
    return Base(repo, ref, tip, fork, relative(repo, settings.root))


def requests_at(settings: Settings, base: Base, folder: str) -> dict[str, Request]:
    """The valid requests under ``folder`` (from the settings' root) at the fork point,
    by name."""
    found: dict[str, Request] = {}
    for path, raw in blobs_at(base.repo, base.fork, base.path(folder)):
        if PurePosixPath(path).suffix not in YAML_SUFFIXES:
            continue
        request = load_bytes(base.shown(path), raw)
        if request is not None:
            if request.sealed and settings.keyring.available:
                request, _ = request.decrypt(settings.keyring)  # what fails stays encrypted
            found.setdefault(request.name, request)
    return found


def _comparable(old: Request, new: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides' immutable fields, identity values masked unless both are readable."""
    masked = old.locked or new.locked
    return old.immutable_fields(masked=masked), new.immutable_fields(masked=masked)


def _changed_fields(old: Request, new: Request) -> list[tuple[str, ...]]:
    if old.kind is not new.kind:
        return [("kind",)]
    before, after = _comparable(old, new)
    a, b = before["spec"], after["spec"]
    return [("spec", k) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _same(old: Request, new: Request) -> bool:
    before, after = _comparable(old, new)
    return before == after


def check_against_base(
    settings: Settings,
    base: Base,
    current: Iterable[Request],
    present_paths: Iterable[str] = (),
    applied: Container[str] = (),
    before: Mapping[str, Request] | None = None,
) -> Iterator[Finding]:
    """Findings for requests changed, renamed or removed since ``base``: errors for
    those in ``applied`` (the names the ledger holds), warnings for the others."""
    if before is None:
        before = requests_at(settings, base, settings.requests_dir)
    now = {r.name: r for r in current}
    present = set(present_paths)
    for name, old in sorted(before.items()):
        new = now.get(name)
        if name not in applied:
            yield from _unapplied(old, new, base.ref, old.path in present)
            continue
        if new is None:
            if old.path in present:
                continue  # still there but invalid now: its own findings say why
            twin = next(
                (r for r in now.values() if r.name not in before and _same(old, r)),
                None,
            )
            if twin is not None:
                mark = twin.where("metadata", "name")
                yield Finding(
                    twin.path,
                    mark.line,
                    mark.column,
                    "request-renamed",
                    f"this is request {name!r} renamed; a request's name is permanent once "
                    f"declared: restore {old.path} and drop this file",
                )
            else:
                yield Finding(
                    old.path,
                    1,
                    1,
                    "request-removed",
                    f"request {name!r} was removed; removing a file cancels nothing at Adobe "
                    "and loses the record of it: restore the file"
                    + (
                        f", and set spec.cancelled: true in it to cancel the {old.kind.noun}"
                        if old.kind.cancellable
                        else ""
                    ),
                )
            continue
        for field in _changed_fields(old, new):
            mark = new.where(*field, key=True)
            yield Finding(
                new.path,
                mark.line,
                mark.column,
                "immutable-field",
                f"{'.'.join(field)} of request {name!r} changed since {base.ref}, but it "
                "cannot change once declared; restore it and declare a new request (a new "
                "file with a new name) instead",
            )


def _unapplied(old: Request, new: Request | None, ref: str, present: bool) -> Iterator[Finding]:
    """One warning for a request Adobe never accepted that changed or went since the base."""
    why = "it has no ledger entry: Adobe never accepted it, so nothing was submitted"
    if new is None:
        if not present:
            yield Finding(
                old.path,
                1,
                1,
                "request-not-applied",
                f"request {old.name!r} was removed; allowed, as {why}",
                Severity.WARNING,
            )
        return
    fields = _changed_fields(old, new)
    if fields:
        mark = new.where(*fields[0], key=True)
        changed = ", ".join(".".join(f) for f in fields)
        yield Finding(
            new.path,
            mark.line,
            mark.column,
            "request-not-applied",
            f"{changed} of request {old.name!r} changed since {ref}; allowed, as {why} (if "
            "an apply is running now, check again once it is done)",
            Severity.WARNING,
        )


def _settings_document(settings: Settings) -> Document | None:
    if settings.source is None:
        return None
    try:
        return load_document(settings.source, SETTINGS_FILE)
    except ParseError:  # load_settings read it a moment ago; gone meanwhile
        return None


def _ledger_folders(settings: Settings, before: Any) -> list[str]:
    """The ledger folder (from the settings' root) of both sides, once each."""
    old = value_at(before, "paths", "ledger")
    folders = [PurePosixPath(settings.ledger_dir).as_posix()]
    old_folder = PurePosixPath(old if isinstance(old, str) else "ledger").as_posix()
    return folders if old_folder in folders else [*folders, old_folder]


def _files_at(base: Base, commit: str, folders: Sequence[str]) -> dict[str, bytes]:
    return {
        base.shown(path): raw
        for folder in folders
        for path, raw in blobs_at(base.repo, commit, base.path(folder))
        if path.endswith(SUFFIX)
    }


def _ledgers(
    settings: Settings, base: Base | None, folders: Sequence[str]
) -> tuple[dict[str, Entry], list[Finding]]:
    """What the ledger holds, and its unreadable files: the ledger branch's when
    ``ledger.branch`` is set, else the work tree's, and the base tip's with ``base``."""
    shown_root = settings.ledger_root or settings.root
    entries, unreadable = read_ledger(settings.ledger_path, shown_root)
    if base is None or settings.ledger_branch is not None:
        return entries, unreadable
    at_tip = {}
    for shown, raw in _files_at(base, base.tip, folders).items():
        entry = entry_from(shown, raw)
        if entry is not None:
            at_tip[entry.name] = entry
    return merged(at_tip, entries), unreadable


def _load(settings: Settings, paths: Sequence[Path]) -> tuple[Loaded, Loaded, list[str]]:
    """The requests of ``paths`` (default: the requests folder), those of the whole
    requests folder, and the paths of all its files."""
    targets = list(paths) or [settings.requests_path]
    loaded = load_requests(discover(targets), settings)
    all_files = discover([settings.requests_path])
    everything = loaded if not paths else load_requests(all_files, settings)
    return loaded, everything, [display_path(p, settings.root) for p in all_files]


def _report(checked: Loaded, findings: Iterable[Finding], others: Iterable[Finding]) -> Report:
    """The report of ``checked`` and its ``findings``, with the findings on other files
    (``reconciler.yaml``, ledger files), those files counted as checked.

    An error and a warning of the same rule on the same line is the error alone: an
    endpoint outside Adobe that the pull request set is that, not also a warning.
    """
    every = {*findings, *others}
    errors = {(f.path, f.line, f.rule) for f in every if f.severity is Severity.ERROR}
    kept = [
        f for f in every if f.severity is Severity.ERROR or (f.path, f.line, f.rule) not in errors
    ]
    files = checked.files + len({f.path for f in others})
    return Report(tuple(sorted(kept)), files)


def validate_with_ledger(settings: Settings, paths: Sequence[Path] = ()) -> Report:
    """``validate``: the findings of :func:`~reconciler.check.validation.validate` for
    ``paths`` (default: the requests folder), requests that repeat an applied one
    (``already-applied``), unreadable ledger files, and endpoints in ``reconciler.yaml``
    outside Adobe."""
    settings = attach(settings, required=False)
    targets = list(paths) or [settings.requests_path]
    loaded = load_requests(discover(targets), settings)
    entries, unreadable = _ledgers(settings, None, ())
    twins = [*applied_twins(loaded.requests, entries.values())]
    twins += retry_findings(loaded.requests, entries)
    twins += sandbox_changes(loaded.requests, entries, settings.adobe.sandbox_name)
    document = _settings_document(settings)
    endpoints = endpoint_findings(document, SETTINGS_FILE)
    scope = scope_findings(settings, document, SETTINGS_FILE)
    return _report(loaded, [*loaded.findings, *twins], [*unreadable, *endpoints, *scope])


def validate_against_base(
    settings: Settings, paths: Sequence[Path], ref: str, *, requests_only: bool = False
) -> Report:
    """``validate --base``: what :func:`validate_with_ledger` reports, and the findings of
    :func:`check_against_base` for every request of the requests folder; unless
    ``requests_only``, also every change to the ledger files and every change to
    ``reconciler.yaml`` that moves trust since ``ref``."""
    settings = attach(settings)
    base = resolve_base(settings, ref)
    before_settings = base.settings_data()
    folders = _ledger_folders(settings, before_settings)
    loaded, everything, present = _load(settings, paths)
    entries, unreadable = _ledgers(settings, base, folders)
    old_requests = value_at(before_settings, "paths", "requests")
    before = requests_at(
        settings, base, old_requests if isinstance(old_requests, str) else "requests"
    )
    rules = list(check_against_base(settings, base, everything.requests, present, entries, before))
    renamed = {(f.path, f.line) for f in rules if f.rule == "request-renamed"}
    twins = [  # a rename of an applied request is said better by request-renamed
        f
        for f in applied_twins(loaded.requests, entries.values())
        if (f.path, f.line) not in renamed
    ]
    twins += retry_findings(loaded.requests, entries)
    moved = sandbox_changes(everything.requests, entries, settings.adobe.sandbox_name)
    document = _settings_document(settings)
    others = [
        *unreadable,
        *endpoint_findings(document, SETTINGS_FILE),
        *scope_findings(settings, document, SETTINGS_FILE),
    ]
    if not requests_only:
        others += settings_changes(before_settings, document, SETTINGS_FILE, ref)
        others += scope_changes(
            before_settings, settings, document, SETTINGS_FILE, ref, applied=bool(entries)
        )
        imports = {
            r.name: r
            for r in everything.requests
            if r.metadata.get("imported") is True and r.name not in before
        }
        now = {
            shown: raw
            for folder in folders
            for shown, raw in folder_files(settings.root / folder, settings.root).items()
        }
        then = _files_at(base, base.fork, folders)
        others += ledger_changes(then, now, ref, imports, settings.ledger_branch)
    return _report(loaded, [*loaded.findings, *rules, *twins, *moved], others)
