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

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

import git
from gitdb.exc import BadName

from reconciler.check.findings import Finding
from reconciler.check.validation import YAML_SUFFIXES, load_bytes
from reconciler.errors import GitError
from reconciler.model import Request
from reconciler.settings import Settings


def open_repo(settings: Settings, needed_by: str = "") -> git.Repo:
    """The git repository containing the settings' root."""
    try:
        return git.Repo(settings.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        why = f"; {needed_by} needs one" if needed_by else ""
        raise GitError(f"{settings.root} is not inside a git repository{why}") from None


def requests_at(settings: Settings, ref: str) -> dict[str, Request]:
    """The valid requests under the requests folder at ``ref``, by name."""
    repo = open_repo(settings)
    try:
        commit = repo.commit(ref)
    except (BadName, ValueError, git.GitCommandError):
        raise GitError(f"unknown git revision {ref!r}; fetch it first (git fetch origin)") from None
    top = PurePosixPath(settings.requests_path.resolve().relative_to(repo.working_dir).as_posix())
    try:
        tree = commit.tree / top.as_posix()
    except KeyError:
        return {}
    found: dict[str, Request] = {}
    prefix = settings.root.resolve().relative_to(repo.working_dir).as_posix()
    for item in tree.traverse():
        if not isinstance(item, git.Blob) or PurePosixPath(item.path).suffix not in YAML_SUFFIXES:
            continue
        blob_path = str(item.path)
        shown = blob_path if prefix == "." else str(PurePosixPath(blob_path).relative_to(prefix))
        request = load_bytes(shown, item.data_stream.read())
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
                    "and loses the record of it: restore the file",
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
