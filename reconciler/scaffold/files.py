"""Scaffolding of request files for ``reconciler new``: planning, splitting, writing.

Options and identities in, a plan of files out: each planned file has its
path, its YAML text and its counts. Nothing here prints. The options are
checked by :mod:`reconciler.scaffold.options`, a CSV of identities is read by
:mod:`reconciler.scaffold.csvids`, and each document's text comes from
:mod:`reconciler.scaffold.requestyaml`. :func:`plan_files` builds the documents,
splitting them to stay within Adobe's and the repository's limits, and checks
each one with the same code as ``reconciler validate``; :func:`check_targets`
refuses to overwrite files or reuse names; :func:`write_files` is the only
function that writes.

Exception tree::

    ReconcilerError
    ├── UsageError          a flag is missing, malformed or does not apply to the kind (exit 2)
    └── ScaffoldError       the request cannot be scaffolded as asked (exit 1)
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyrage import x25519

from reconciler.check.rules import (
    PLACEHOLDER_ECID,
    PLACEHOLDER_EMAIL,
    PLACEHOLDER_VALUE,
    check_request,
)
from reconciler.check.validation import YAML_SUFFIXES, display_path, document_findings
from reconciler.errors import ReconcilerError, UsageError
from reconciler.kinds import Kind, RequestKind
from reconciler.reconcile.ledger import atomic_write
from reconciler.scaffold.csvids import (
    CsvIdentities,
    CsvIdentity,
    CsvRow,
    unique_identities,
    unique_users,
)
from reconciler.scaffold.options import Options, check_options
from reconciler.scaffold.requestyaml import build_document, header_comment, identity_value, render
from reconciler.settings import (
    Settings,
)
from reconciler.yamlfile import MAX_BYTES, parse_document

DEFAULT_NAMESPACE = "email"
DEFAULT_FOLDERS = {kind: kind.folder for kind in Kind}
# Placeholders can never match a person, and validation refuses them
# (rules.placeholder_identities), so an unedited template cannot be applied.
PLACEHOLDERS = {"email": PLACEHOLDER_EMAIL, "ecid": PLACEHOLDER_ECID}
PLACEHOLDER = PLACEHOLDER_VALUE
TEMPLATE_FINDINGS = {"cleartext-identity", "placeholder-identity"}
# Encrypted values are long (about 450 characters for one recipient): files holding them are
# also split by size, to stay under the loader's limit with room for what surrounds values.
MAX_ENCRYPTED_FILE_BYTES = MAX_BYTES - 512 * 1024
_LINE_BYTES = 64  # indentation, keys and quotes around one value, at most


class ScaffoldError(ReconcilerError):
    """The request cannot be scaffolded as asked."""


@dataclass(frozen=True)
class PlannedFile:
    """One request file to write, and what it holds (counts and namespaces, never values)."""

    path: Path
    name: str
    text: str
    identities: int
    namespaces: tuple[tuple[str, int], ...]
    users: int = 0


@dataclass(frozen=True)
class Scaffold:
    """The files to write and what happened on the way."""

    files: tuple[PlannedFile, ...]
    placeholder: bool = False
    identities_read: int = 0
    duplicates: int = 0
    limits: str = ""
    recipients: int = 0  # the values are encrypted for this many recipients (0: in clear)


def _select(identities: CsvIdentities, namespace: str | None) -> list[CsvRow]:
    """The rows, keeping only identities of ``namespace`` when one is given."""
    if namespace is None:
        return list(identities.rows)
    wanted = namespace.lower()
    rows = [
        CsvRow(r.line, tuple(i for i in r.identities if i.namespace.lower() == wanted))
        for r in identities.rows
    ]
    rows = [r for r in rows if r.identities]
    if not rows:
        present = sorted({i.namespace for r in identities.rows for i in r.identities})
        raise ScaffoldError(
            f"{identities.source} has no identities in namespace {namespace!r}; "
            f"it has: {', '.join(present)}"
        )
    return rows


def _written(units: Sequence[CsvRow], recipients: Sequence[x25519.Recipient]) -> list[CsvRow]:
    """The units with each value as the file will hold it."""
    return [
        CsvRow(
            unit.line,
            tuple(CsvIdentity(i.namespace, identity_value(i, recipients)) for i in unit.identities),
        )
        for unit in units
    ]


def _self_check(settings: Settings, shown: str, text: str, template: bool) -> None:
    """Run the file through validate's own checks: a finding here is a bug in this module.

    A template's placeholder is in clear even where the policy forbids it: it is no
    one's identity, and the real values replacing it are encrypted afterwards."""
    document = parse_document(shown, text)
    request, findings = document_findings(document)
    if request is not None:
        findings = check_request(request, settings)
    if template:
        # The placeholder is meant to fail until a person replaces it.
        findings = [f for f in findings if f.rule not in TEMPLATE_FINDINGS]
    # The every-dataset opt-in is for a person to type, never written by the tool.
    findings = [f for f in findings if f.rule != "all-datasets-opt-in"]
    if findings:
        f = findings[0]
        raise RuntimeError(f"scaffolded {f.path}:{f.line} fails validation: {f.message}")


@dataclass(frozen=True)
class _Limits:
    """How much one request may hold."""

    identities: int
    users: int | None = None
    per_namespace: int | None = None
    size: int | None = None

    @classmethod
    def of(cls, kind: RequestKind, settings: Settings, max_file_bytes: int) -> _Limits:
        size = max_file_bytes if settings.age_recipients else None
        identities, users, per_namespace = kind.new_limits(
            settings.limits.max_identities_per_request
        )
        return cls(identities, users, per_namespace, size)

    def words(self) -> str:
        text = f"at most {self.identities:,} identities per request"
        if self.users is not None:
            text += f" and {self.users:,} users per job"
        if self.per_namespace is not None:
            text += f", {self.per_namespace:,} per namespace"
        if self.size is not None:
            text += f", files under {MAX_BYTES // (1024 * 1024)} MiB once encrypted"
        return text


def _split(source: str, units: Sequence[CsvRow], limits: _Limits) -> list[list[CsvRow]]:
    """Consecutive parts, in file order, each as large as the limits allow."""
    parts: list[list[CsvRow]] = []
    current: list[CsvRow] = []
    total = used = 0
    counts: Counter[str] = Counter()
    for unit in units:
        size = len(unit.identities)
        weight = sum(len(i.value) + _LINE_BYTES for i in unit.identities)
        if size > limits.identities:
            raise ScaffoldError(
                f"{source}:{unit.line}: this user has {size} identities, but a request holds "
                f"{limits.words()}; raise limits.maxIdentitiesPerRequest in reconciler.yaml"
            )
        added = Counter(i.namespace for i in unit.identities)
        full = (
            total + size > limits.identities
            or (limits.users is not None and len(current) >= limits.users)
            or (limits.size is not None and used + weight > limits.size)
            or (
                limits.per_namespace is not None
                and any(counts[ns] + n > limits.per_namespace for ns, n in added.items())
            )
        )
        if current and full:
            parts.append(current)
            current, total, used, counts = [], 0, 0, Counter()
        current.append(unit)
        total += size
        used += weight
        counts.update(added)
    if current:
        parts.append(current)
    return parts


def _units(
    settings: Settings, options: Options, identities: CsvIdentities
) -> tuple[list[CsvRow], int, int]:
    """The units to place in requests (identities, or users for a privacy job), the
    number of identities read and the number of duplicates dropped."""
    if not settings.allow_cleartext_identities and not settings.age_recipients:
        raise ScaffoldError(
            "this repository requires encrypted identities (policy.allowCleartextIdentities: "
            "false in reconciler.yaml), but lists no encryption.recipients to encrypt them "
            "for; add the public keys (age1…) there"
        )
    rows = _select(identities, options.namespace)
    read = sum(len(r.identities) for r in rows)
    if options.kind.new_per_user:
        units, dropped = unique_users(identities.source, rows)
    else:
        units, dropped = unique_identities(rows)
    problem = options.kind.new_units_problem(options, identities.source, units)
    if problem:
        raise ScaffoldError(problem)
    return units, read, dropped


def _folder(settings: Settings, options: Options) -> Path:
    folder = settings.requests_path / (options.folder or DEFAULT_FOLDERS[options.kind])
    if not folder.resolve().is_relative_to(settings.requests_path.resolve()):
        raise UsageError("--dir must be a folder inside the requests folder")
    return folder


def plan_files(
    settings: Settings,
    options: Options,
    identities: CsvIdentities | None = None,
    *,
    max_file_bytes: int = MAX_ENCRYPTED_FILE_BYTES,
) -> Scaffold:
    """The request files for ``options``: a template without ``identities``, or the
    identities split into as many requests as the limits require (and, encrypted,
    into files of at most ``max_file_bytes``)."""
    options = check_options(options)
    folder = _folder(settings, options)
    placeholder: str | None = None
    read = dropped = 0
    if identities is None:
        namespace = options.namespace or DEFAULT_NAMESPACE
        placeholder = PLACEHOLDERS.get(namespace.lower(), PLACEHOLDER)
        units = _written([CsvRow(0, (CsvIdentity(namespace, placeholder),))], ())
        source = "template"
    else:
        units, read, dropped = _units(settings, options, identities)
        units = _written(units, settings.age_recipients)
        source = identities.source
    limits = _Limits.of(options.kind, settings, max_file_bytes)
    parts = _split(source, units, limits)
    count = len(parts)
    names = [options.name] if count == 1 else [f"{options.name}-{i}" for i in range(1, count + 1)]
    if len(names[-1]) > 63:
        raise UsageError(
            f"--name is too long to number {count} requests: "
            f"use at most {63 - len(str(count)) - 1} characters"
        )
    schema = settings.root / "schemas" / "request.schema.json"
    files: list[PlannedFile] = []
    first_user = 1
    for number, (name, part) in enumerate(zip(names, parts, strict=True), start=1):
        suffix = f" (part {number} of {count})" if count > 1 else ""
        path = folder / f"{name}.yaml"
        document = build_document(options, name, part, first_user, suffix)
        relative = Path(os.path.relpath(schema, path.parent)).as_posix()
        header = header_comment(options, relative, number, count, placeholder is not None)
        text = render(document, header, placeholder)
        _self_check(settings, display_path(path, settings.root), text, placeholder is not None)
        namespaces = Counter(i.namespace for unit in part for i in unit.identities)
        files.append(
            PlannedFile(
                path=path,
                name=name,
                text=text,
                identities=sum(namespaces.values()),
                namespaces=tuple(namespaces.items()),
                users=len(part) if options.kind.new_per_user else 0,
            )
        )
        first_user += len(part)
    return Scaffold(
        files=tuple(files),
        placeholder=placeholder is not None,
        identities_read=read,
        duplicates=dropped,
        limits=limits.words() if count > 1 else "",
        recipients=len(settings.age_recipients) if identities is not None else 0,
    )


# -- files ---------------------------------------------------------------------------------


def _request_files(settings: Settings) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    if settings.requests_path.is_dir():
        for path in settings.requests_path.rglob("*"):
            if path.suffix in YAML_SUFFIXES and path.is_file():
                found.setdefault(path.stem, []).append(path)
    return found


def check_targets(
    settings: Settings, scaffold: Scaffold, base_name: str, force: bool
) -> tuple[Path, ...]:
    """Refuse to overwrite a file (unless ``force``) or to reuse a name anywhere in the
    repository or the ledger. Returns files of an earlier run that ``force`` leaves behind."""
    existing = _request_files(settings)
    replaced = False
    for planned in scaffold.files:
        shown = display_path(planned.path, settings.root)
        entry = settings.ledger_path / f"{planned.name}.json"
        if entry.exists():
            raise ScaffoldError(
                f"name {planned.name!r} was applied before "
                f"({display_path(entry, settings.root)}); names are never reused: "
                "pick another --name"
            )
        others = [p for p in existing.get(planned.name, ()) if p != planned.path]
        if others:
            raise ScaffoldError(
                f"name {planned.name!r} is already used by "
                f"{display_path(others[0], settings.root)}; names are unique in the "
                "repository: pick another --name"
            )
        if planned.path.is_dir() or (planned.path.exists() and not force):
            raise ScaffoldError(
                f"{shown} already exists; pick another --name, or pass --force to replace it"
            )
        replaced = replaced or planned.path.exists()
    if not replaced:
        return ()
    ours = re.compile(rf"{re.escape(base_name)}(-[0-9]+)?")
    planned_paths = {p.path for p in scaffold.files}
    return tuple(
        sorted(
            path
            for stem, paths in existing.items()
            if ours.fullmatch(stem)
            for path in paths
            if path not in planned_paths and path.parent in {p.path.parent for p in scaffold.files}
        )
    )


def write_files(files: Iterable[PlannedFile]) -> None:
    """Write each file atomically (temporary file, then rename)."""
    for planned in files:
        atomic_write(planned.path, planned.text)
