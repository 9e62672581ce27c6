"""Scaffolding of request files for ``reconciler new``.

Options and identities in, a plan of files out: each planned file has its
path, its YAML text and its counts. Nothing here prints. A CSV of identities
is read by :mod:`reconciler.csvids`; :func:`plan_files` builds the
documents, splitting them to stay within Adobe's and the repository's limits,
and checks each one with the same code as ``reconciler validate``;
:func:`check_targets` refuses to overwrite files or reuse names;
:func:`write_files` is the only function that writes.

Identity values enter a document only through :func:`identity_value`, which
encrypts them when ``reconciler.yaml`` lists ``encryption.recipients``.

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
from typing import Any

import yaml
from pyrage import x25519

from reconciler.crypto import encrypt
from reconciler.csvids import (
    NAMESPACE_RE,
    CsvIdentities,
    CsvIdentity,
    CsvRow,
    unique_identities,
    unique_users,
)
from reconciler.errors import ReconcilerError, UsageError
from reconciler.ledger import atomic_write
from reconciler.model import API_VERSION, Kind
from reconciler.rules import check_request
from reconciler.schemas import KIND_SCHEMAS, validator
from reconciler.settings import (
    ADOBE_MAX_IDENTITIES_PER_WORK_ORDER,
    ADOBE_MAX_USERS_PER_JOB,
    Settings,
)
from reconciler.validation import YAML_SUFFIXES, display_path, document_findings
from reconciler.yamlfile import MAX_BYTES, parse_document

try:  # libyaml's emitter when present: several times faster on big requests.
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

ALL_DATASETS = "ALL"
# Privacy Service products of Experience Platform: data lake, identity graph, profile store.
DEFAULT_INCLUDE = ("aepDataLake", "identity", "profileService")
DEFAULT_ACTIONS = ("delete",)
DEFAULT_NAMESPACE = "email"
DEFAULT_FOLDERS = {
    Kind.RECORD_DELETE: "record-deletes",
    Kind.PRIVACY_JOB: "privacy-jobs",
    Kind.CONSENT_OPT_OUT: "consent",
}
# Placeholders pass validation but can never match a person: `.invalid` is a
# reserved top-level domain (RFC 2606), and no ECID is all zeros.
PLACEHOLDERS = {"email": "replace-me@example.invalid", "ecid": "0" * 38}
PLACEHOLDER = "REPLACE-ME"
MAX_CONSENT_VALUES = 1_000  # values per namespace in one consent request (its schema)
# Encrypted values are long (about 450 characters for one recipient): files holding them are
# also split by size, to stay under the loader's limit with room for what surrounds values.
MAX_ENCRYPTED_FILE_BYTES = MAX_BYTES - 512 * 1024
_LINE_BYTES = 64  # indentation, keys and quotes around one value, at most
# Strings that some YAML reader (1.1 or 1.2) would take for a number, boolean or null.
_NUMBER_LIKE = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"
    r"|^[-+]?0([xX][0-9a-fA-F_]+|[oO][0-7_]+|[bB][01_]+)$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$|^[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$"
    r"|^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~)$"
)


class ScaffoldError(ReconcilerError):
    """The request cannot be scaffolded as asked."""


@dataclass(frozen=True)
class Options:
    """The request asked for on the command line; ``None`` means not given."""

    kind: Kind
    name: str
    dataset: str | None = None
    display_name: str | None = None
    description: str | None = None
    ticket: str | None = None
    regulation: str | None = None
    include: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    namespace: str | None = None
    folder: str | None = None


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


# -- options -------------------------------------------------------------------------------


def _spec_schema(kind: Kind) -> dict[str, Any]:
    schema: dict[str, Any] = validator(KIND_SCHEMAS[kind.value]).schema  # type: ignore[assignment]
    return schema


def regulations() -> tuple[str, ...]:
    """Adobe's regulation codes, as the privacy job schema lists them."""
    spec = _spec_schema(Kind.PRIVACY_JOB)["properties"]["spec"]
    return tuple(spec["properties"]["regulation"]["enum"])


def products() -> tuple[str, ...]:
    """Privacy Service product codes, as the privacy job schema lists them."""
    spec = _spec_schema(Kind.PRIVACY_JOB)["properties"]["spec"]
    return tuple(spec["properties"]["include"]["items"]["enum"])


def parse_kind(text: str) -> Kind:
    """``RecordDelete``, ``record-delete``, ``record_delete``, ``recorddelete`` … → a Kind."""
    wanted = re.sub(r"[-_\s]", "", text).lower()
    for kind in Kind:
        if kind.value.lower() == wanted:
            return kind
    kinds = ", ".join(k.value for k in Kind)
    raise UsageError(f"unknown kind {text!r}; use one of {kinds} (or kebab-case, record-delete)")


def _check_name(name: str) -> None:
    rule = _spec_schema(Kind.RECORD_DELETE)["properties"]["metadata"]["properties"]["name"]
    if not re.fullmatch(rule["pattern"], name) or len(name) > rule["maxLength"]:
        raise UsageError(f"--name {name!r} {rule['x-message']}")


def _only_for(kind: Kind, options: Options) -> None:
    given: dict[Kind, dict[str, str | tuple[str, ...] | None]] = {
        Kind.RECORD_DELETE: {
            "--dataset": options.dataset,
            "--display-name": options.display_name,
            "--description": options.description,
        },
        Kind.PRIVACY_JOB: {
            "--regulation": options.regulation,
            "--include": options.include,
            "--action": options.actions,
        },
    }
    for owner, flags in given.items():
        if owner is not kind:
            for flag, value in flags.items():
                if value:
                    raise UsageError(f"{flag} applies to {owner.value} requests only")


def _check_length(flag: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise UsageError(f"{flag} is longer than {limit} characters")


def check_options(options: Options) -> Options:
    """Refuse flags that are missing, malformed or meant for another kind; fill in defaults."""
    kind = options.kind
    _check_name(options.name)
    _only_for(kind, options)
    _check_length("--display-name", options.display_name, 256)
    _check_length("--description", options.description, 1024)
    _check_length("--ticket", options.ticket, 200)
    if options.ticket is not None and not options.ticket.isprintable():
        raise UsageError("--ticket must be one line of printable text")
    if options.display_name is not None and not options.display_name.strip():
        raise UsageError("--display-name must not be empty")
    if options.namespace is not None and not NAMESPACE_RE.match(options.namespace):
        raise UsageError("--namespace must be a namespace code of letters, digits, '_', '.', '-'")
    if options.folder is not None:
        folder = Path(options.folder)
        if folder.is_absolute() or ".." in folder.parts:
            raise UsageError("--dir must be a folder inside the requests folder, e.g. 2026/q4")
    dataset = options.dataset
    regulation = options.regulation
    include = tuple(dict.fromkeys(options.include))
    actions = tuple(dict.fromkeys(options.actions))
    if kind is Kind.RECORD_DELETE:
        if dataset is None:
            raise UsageError(
                "RecordDelete needs --dataset ID (the dataset to delete from) or --dataset ALL"
            )
        dataset = ALL_DATASETS if dataset.upper() == ALL_DATASETS else dataset
        if not re.fullmatch(r"ALL|[A-Za-z0-9]{1,64}", dataset):
            raise UsageError("--dataset must be a dataset id (letters and digits) or ALL")
    if kind is Kind.PRIVACY_JOB:
        codes = regulations()
        if regulation is None:
            raise UsageError("PrivacyJob needs --regulation, e.g. gdpr or ccpa")
        if regulation.lower() not in codes:
            raise UsageError(f"--regulation must be one of: {', '.join(codes)}")
        regulation = regulation.lower()
        known = products()
        unknown = [p for p in include if p not in known]
        if unknown:
            raise UsageError(f"--include {unknown[0]!r} is not a product code: {', '.join(known)}")
        lowered = [p.lower() for p in include]
        if len(set(lowered)) != len(lowered):
            raise UsageError("--include names a product twice (Adobe ignores case)")
        include = include or DEFAULT_INCLUDE
        actions = actions or DEFAULT_ACTIONS
    return Options(
        kind=kind,
        name=options.name,
        dataset=dataset,
        display_name=options.display_name,
        description=options.description,
        ticket=options.ticket,
        regulation=regulation,
        include=include,
        actions=actions,
        namespace=options.namespace,
        folder=options.folder,
    )


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


# -- documents -----------------------------------------------------------------------------


class _Quoted(str):
    """A string written in double quotes."""


class _Dumper(_SafeDumper):
    pass


def _represent_quoted(dumper: _Dumper, data: _Quoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(_Quoted, _represent_quoted)


def identity_value(identity: CsvIdentity, recipients: Sequence[x25519.Recipient] = ()) -> str:
    """The one place an identity value enters a request document.

    With ``recipients`` (``encryption.recipients`` in reconciler.yaml), the value
    is written encrypted for all of them (``ENC[age:…]``); otherwise in clear,
    double-quoted when a YAML reader could take it for a number
    (``443636576799758681021090721276``).
    """
    value = identity.value
    if recipients:
        return encrypt(value, recipients)
    return _Quoted(value) if _NUMBER_LIKE.match(value) else value


def _written(units: Sequence[CsvRow], recipients: Sequence[x25519.Recipient]) -> list[CsvRow]:
    """The units with each value as the file will hold it."""
    return [
        CsvRow(
            unit.line,
            tuple(CsvIdentity(i.namespace, identity_value(i, recipients)) for i in unit.identities),
        )
        for unit in units
    ]


def _grouped(units: Sequence[CsvRow]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for unit in units:
        for identity in unit.identities:
            groups.setdefault(identity.namespace, []).append(identity.value)
    return groups


def _spec(options: Options, units: Sequence[CsvRow], first_user: int, part: str) -> dict[str, Any]:
    if options.kind is Kind.RECORD_DELETE:
        display = options.display_name or options.ticket or options.name
        spec: dict[str, Any] = {
            "datasetId": options.dataset,
            "displayName": display[: 256 - len(part)] + part,
        }
        if options.description:
            spec["description"] = options.description
        spec["namespacesIdentities"] = [
            {"namespace": {"code": ns}, "ids": ids} for ns, ids in _grouped(units).items()
        ]
        return spec
    if options.kind is Kind.PRIVACY_JOB:
        users = [
            {
                "key": f"{options.name}-u{first_user + n}",
                "action": list(options.actions),
                "userIDs": [
                    {"namespace": i.namespace, "value": i.value, "type": "standard"}
                    for i in unit.identities
                ],
            }
            for n, unit in enumerate(units)
        ]
        return {"regulation": options.regulation, "include": list(options.include), "users": users}
    entities = [{"nameSpace": ns, "values": values} for ns, values in _grouped(units).items()]
    return {"optOutOfSale": True, "entities": entities}


def _header_comment(
    options: Options, schema: str, number: int, count: int, template: bool
) -> list[str]:
    """The comment above the document: the schema for editors, and what merging it does."""
    lines = [f"# yaml-language-server: $schema={schema}"]
    of = f": part {number} of {count}" if count > 1 else ""
    lines.append(f"# Written by `reconciler new`{of}.")
    if template:
        lines.append(
            "# TEMPLATE: replace the placeholder identity (marked below) with the real ones"
        )
        lines.append("# before opening a pull request.")
    if options.kind is Kind.RECORD_DELETE:
        where = (
            "EVERY dataset in the sandbox"
            if options.dataset == ALL_DATASETS
            else f"dataset {options.dataset}"
        )
        lines.append("# Once merged, the records of these identities are deleted from")
        lines.append(f"# {where}; this cannot be undone.")
        lines.append("# Optional: spec.targetServices (default: all of them).")
    elif options.kind is Kind.PRIVACY_JOB:
        lines.append(
            f"# Once merged, Privacy Service runs {' and '.join(options.actions)} jobs under "
            f"{options.regulation}"
        )
        lines.append("# for each user and each product in `include`.")
        lines.append("# userIDs are `type: standard`; use `custom` for a custom namespace.")
    else:
        lines.append("# Once merged, these identities are opted out of the sale of their data.")
    return lines


def _render(document: dict[str, Any], header: list[str], placeholder: str | None) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 20)
    marked = re.compile(rf'(- |value: )"?{re.escape(placeholder)}"?') if placeholder else None
    lines = body.splitlines()
    for i, line in enumerate(lines):
        # metadata comes first and starts with the name: this line can only be the flag.
        if line == "  allowAllDatasets: true":
            lines[i] = line + "  # deletes from every dataset: reviewer, confirm this is intended"
        elif marked is not None and marked.search(line):
            lines[i] = line + "  # PLACEHOLDER: replace"
    return "\n".join([*header, *lines]) + "\n"


def _self_check(settings: Settings, shown: str, text: str, template: bool) -> None:
    """Run the file through validate's own checks: a finding here is a bug in this module.

    A template's placeholder is in clear even where the policy forbids it: it is no
    one's identity, and the real values replacing it are encrypted afterwards."""
    document = parse_document(shown, text)
    request, findings = document_findings(document)
    if request is not None:
        findings = check_request(request, settings)
    if template:
        findings = [f for f in findings if f.rule != "cleartext-identity"]
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
    def of(cls, kind: Kind, settings: Settings, max_file_bytes: int) -> _Limits:
        per_request = settings.limits.max_identities_per_request
        size = max_file_bytes if settings.age_recipients else None
        if kind is Kind.RECORD_DELETE:
            return cls(min(per_request, ADOBE_MAX_IDENTITIES_PER_WORK_ORDER), size=size)
        if kind is Kind.PRIVACY_JOB:
            return cls(per_request, users=ADOBE_MAX_USERS_PER_JOB, size=size)
        return cls(per_request, per_namespace=MAX_CONSENT_VALUES, size=size)

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
    if options.kind is Kind.PRIVACY_JOB:
        units, dropped = unique_users(identities.source, rows)
    else:
        units, dropped = unique_identities(rows)
    if options.kind is Kind.RECORD_DELETE and options.dataset != ALL_DATASETS:
        namespaces = list(dict.fromkeys(u.identities[0].namespace for u in units))
        if len(namespaces) > 1:
            raise ScaffoldError(
                f"{identities.source} holds identities in {len(namespaces)} namespaces "
                f"({', '.join(namespaces)}), but a request for one dataset uses only that "
                "dataset's primary identity namespace: pick one with --namespace NS "
                "(one file per namespace), or delete from every dataset with --dataset ALL"
            )
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
        metadata: dict[str, Any] = {"name": name}
        if options.dataset == ALL_DATASETS:
            metadata["allowAllDatasets"] = True
        if options.ticket:
            metadata["ticket"] = options.ticket
        document = {
            "apiVersion": API_VERSION,
            "kind": options.kind.value,
            "metadata": metadata,
            "spec": _spec(options, part, first_user, suffix),
        }
        relative = Path(os.path.relpath(schema, path.parent)).as_posix()
        header = _header_comment(options, relative, number, count, placeholder is not None)
        text = _render(document, header, placeholder)
        _self_check(settings, display_path(path, settings.root), text, placeholder is not None)
        namespaces = Counter(i.namespace for unit in part for i in unit.identities)
        files.append(
            PlannedFile(
                path=path,
                name=name,
                text=text,
                identities=sum(namespaces.values()),
                namespaces=tuple(namespaces.items()),
                users=len(part) if options.kind is Kind.PRIVACY_JOB else 0,
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
