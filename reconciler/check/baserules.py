"""Rules that compare the requests with a base revision (the pull request's target).

A request that exists at the base may have been applied already, and Adobe
cannot change a work order's identities or dataset afterwards: only
``displayName``, ``description`` and ``metadata`` other than ``name`` may
change. Removing or renaming a request cancels nothing at Adobe, so both are
errors that say what to do instead.

Encrypted identity values are compared decrypted when the key is in the
environment and decrypts both sides. Otherwise (the pull-request job has no
key, or the base was encrypted for keys since rotated) identity values are
left out of the comparison: namespaces, counts and every other immutable
field are still compared, so re-encrypting a file is not a change, and a
changed value inside a ciphertext is caught where the key is, by the plan's
fingerprint check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.check.findings import Finding, Report
from reconciler.check.validation import (
    YAML_SUFFIXES,
    discover,
    display_path,
    load_bytes,
    load_requests,
)
from reconciler.git.repo import blobs_at, open_repo, relative, require_commit
from reconciler.model import Request
from reconciler.settings import Settings


def requests_at(settings: Settings, ref: str) -> dict[str, Request]:
    """The valid requests under the requests folder at ``ref``, by name."""
    repo = open_repo(settings.root, "--base")
    commit = require_commit(repo, ref)
    prefix = relative(repo, settings.root)
    found: dict[str, Request] = {}
    for path, raw in blobs_at(repo, commit, relative(repo, settings.requests_path)):
        if PurePosixPath(path).suffix not in YAML_SUFFIXES:
            continue
        shown = path if prefix == "." else PurePosixPath(path).relative_to(prefix).as_posix()
        request = load_bytes(shown, raw)
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
    base: str,
    current: Iterable[Request],
    present_paths: Iterable[str] = (),
) -> Iterator[Finding]:
    """Findings for requests changed, renamed or removed since ``base``."""
    before = requests_at(settings, base)
    now = {r.name: r for r in current}
    present = set(present_paths)
    for name, old in sorted(before.items()):
        new = now.get(name)
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
                f"{'.'.join(field)} of request {name!r} changed since {base}, but it cannot "
                "change once declared; restore it and declare a new request (a new file "
                "with a new name) instead",
            )


def validate_against_base(settings: Settings, paths: Sequence[Path], base: str) -> Report:
    """``validate --base``: the findings of :func:`~reconciler.check.validation.validate`
    for ``paths`` (default: the requests folder), and those of :func:`check_against_base`
    for every request of the requests folder."""
    targets = list(paths) or [settings.requests_path]
    loaded = load_requests(discover(targets), settings)
    all_files = discover([settings.requests_path])
    everything = loaded if not paths else load_requests(all_files, settings)
    present = [display_path(p, settings.root) for p in all_files]
    findings = {*loaded.findings, *check_against_base(settings, base, everything.requests, present)}
    return Report(tuple(sorted(findings)), loaded.files)
