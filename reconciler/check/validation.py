"""Validation: load request files, check them against the schemas and the rules.

This is the pull-request check and also the gate in front of ``plan`` and
``apply``: nothing is sent to Adobe that did not pass it.

Encrypted identity values are decrypted here, in memory, when the key is in
the environment (``settings.keyring``): the rules then check the plaintext, a
value that does not decrypt is a finding (``decrypt-failed``), and the
requests handed on carry their plaintext. Without the key, they carry
ciphertexts and the rules check their form only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.check.findings import Finding, Report
from reconciler.check.rules import STANDARD_NAMESPACES, check_request, describe_character
from reconciler.kinds import Kind
from reconciler.model import API_VERSION, Request, build_request
from reconciler.schemas import check
from reconciler.secrets.crypto import CiphertextError, inspect
from reconciler.settings import Settings
from reconciler.yamlfile import Document, ParseError, check_text, parse_document, read_text

MAX_FINDINGS_PER_FILE = 50


class _Suffixes(tuple[str, ...]):
    """``.yaml`` and ``.yml``, in which ``suffix in YAML_SUFFIXES`` ignores case: a
    ``.YAML`` file is a request file too, never silently skipped."""

    def __contains__(self, suffix: object) -> bool:
        return isinstance(suffix, str) and tuple.__contains__(self, suffix.lower())


YAML_SUFFIXES = _Suffixes((".yaml", ".yml"))


def is_yaml_name(name: str) -> bool:
    """Whether a file name ends in ``.yaml`` or ``.yml``, in any case."""
    return os.path.splitext(name)[1] in YAML_SUFFIXES


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading files: the valid requests and every finding."""

    requests: tuple[Request, ...]
    findings: tuple[Finding, ...]
    files: int


def display_path(path: Path, root: Path) -> str:
    """A path as users and GitHub see it: relative to the repository, with slashes."""
    if path.is_absolute() and path.is_relative_to(root):
        return path.relative_to(root).as_posix()  # the common case, without touching the disk
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every YAML file named or under a named folder, sorted, without duplicates.

    Folders are walked without following links. A link with a YAML name, a link to a
    folder and a special file with a YAML name are listed too, for :func:`load_file`
    to refuse with a finding rather than skip in silence.
    """
    found: set[Path] = set()
    for path in paths:
        if not path.is_dir():
            found.add(path)
            continue
        folders = [path]
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(folder / entry.name)
                        elif is_yaml_name(entry.name) or (entry.is_symlink() and entry.is_dir()):
                            found.add(folder / entry.name)
            except OSError:
                continue  # a folder that cannot be listed, as rglob skipped it
    return sorted(found)


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _schema_hint(path: tuple[str | int, ...], value: Any, message: str) -> str:
    """What a schema message alone does not say about ``value`` (never the value itself):
    the invisible character that broke a pattern, the YAML type a string became."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped != value:
            end = "starts" if value[:1] != stripped[:1] else "ends"
            ch = value[0] if end == "starts" else value[-1]
            hint = f"; it {end} with whitespace, {describe_character(ch)}: remove it"
        else:
            ch = next((c for c in value if not c.isprintable()), "")
            if not ch:
                return ""
            hint = f"; it contains the invisible or control character {describe_character(ch)}"
            hint += ": remove it"
        if path and path[-1] in ("code", "namespace", "nameSpace"):
            spellings = STANDARD_NAMESPACES.get(
                "".join(c for c in stripped if c.isprintable()).lower()
            )
            if spellings:
                hint += f", and write {spellings[0]!r}"
        return hint
    if not message.endswith(" must be a string"):
        return ""
    if isinstance(value, bool):
        return (
            "; YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote the value"
        )
    if isinstance(value, (int, float)):
        return "; YAML reads unquoted digits as a number: quote the value"
    return ""


def document_findings(doc: Document) -> tuple[Request | None, list[Finding]]:
    """Check one parsed document: schema first, then the semantic rules' input."""
    data = doc.data

    def at(path: tuple[str | int, ...], rule: str, message: str, key: bool = False) -> Finding:
        mark = doc.locate(path, key=key)
        return Finding(doc.path, mark.line, mark.column, rule, message)

    if data is None:
        return None, [at((), "empty-file", "file is empty; write a request or delete the file")]
    if not isinstance(data, dict):
        return None, [at((), "schema", "a request file must be a mapping (apiVersion, kind, …)")]
    kind = data.get("kind")
    if data.get("apiVersion") != API_VERSION:
        field = ("apiVersion",) if "apiVersion" in data else ()
        return None, [at(field, "schema", f"apiVersion must be {API_VERSION!r}")]
    if not isinstance(kind, str) or kind not in Kind.names():
        kinds = ", ".join(k.value for k in Kind)
        field = ("kind",) if "kind" in data else ()
        return None, [at(field, "schema", f"kind must be one of: {kinds}")]
    errors = check(Kind(kind).schema, data)
    if errors:
        return None, [
            at(
                e.path,
                "schema",
                e.message
                + ("" if e.at_key else _schema_hint(e.path, _value_at(data, e.path), e.message)),
                key=e.at_key,
            )
            for e in errors
        ]
    return build_request(doc), []


def load_file(path: Path, root: Path) -> tuple[Request | None, list[Finding]]:
    """Load and schema-check one request file."""
    shown = display_path(path, root)
    try:
        doc = parse_document(shown, read_text(path, shown, root=root))
    except ParseError as e:
        return None, [Finding(e.path, e.mark.line, e.mark.column, e.rule, e.message)]
    return document_findings(doc)


def load_bytes(shown: str, raw: bytes) -> Request | None:
    """Parse and schema-check file content from elsewhere (a git blob); None if invalid."""
    try:
        doc = parse_document(shown, check_text(shown, raw))
    except ParseError:
        return None
    request, findings = document_findings(doc)
    return request if not findings else None


def decrypt_request(request: Request, settings: Settings) -> tuple[Request, list[Finding]]:
    """Decrypt ``request``'s encrypted values when the environment holds a key."""
    if not request.sealed or not settings.keyring.available:
        return request, []
    decrypted, failed = request.decrypt(settings.keyring)
    findings = []
    stored = {i.path: i.stored for i in request.identities()} if failed else {}
    for unreadable in failed:
        try:
            inspect(stored[unreadable.path])
        except CiphertextError:
            continue  # malformed: the ciphertext-form rule says how
        mark = request.where(*unreadable.path)
        findings.append(
            Finding(
                request.path,
                mark.line,
                mark.column,
                "decrypt-failed",
                f"encrypted value {unreadable.reason}; re-encrypt it for the configured "
                "recipients (reconciler rekey, with a key that decrypts it)",
            )
        )
    return decrypted, findings


def _duplicate_names(requests: Sequence[Request]) -> list[Finding]:
    first: dict[str, Request] = {}
    out: list[Finding] = []
    for request in requests:
        if request.name in first:
            mark = request.where("metadata", "name")
            out.append(
                Finding(
                    request.path,
                    mark.line,
                    mark.column,
                    "duplicate-name",
                    f"name {request.name!r} is already used by {first[request.name].path}; "
                    "names are unique in the repository",
                )
            )
        else:
            first[request.name] = request
    return out


def load_requests(files: Sequence[Path], settings: Settings) -> Loaded:
    """Load, schema-check and rule-check ``files``; keep only fully valid requests."""
    requests: list[Request] = []
    findings: list[Finding] = []
    for path in files:
        request, file_findings = load_file(path, settings.root)
        if request is not None:
            request, file_findings = decrypt_request(request, settings)
            file_findings += check_request(request, settings)
        if len(file_findings) > MAX_FINDINGS_PER_FILE:
            extra = len(file_findings) - MAX_FINDINGS_PER_FILE
            file_findings = file_findings[:MAX_FINDINGS_PER_FILE]
            last = file_findings[-1]
            file_findings.append(
                Finding(
                    last.path,
                    last.line,
                    last.column,
                    "too-many-findings",
                    f"{extra} more finding(s) in this file not shown",
                )
            )
        findings.extend(file_findings)
        if request is not None and not file_findings:
            requests.append(request)
    findings.extend(_duplicate_names(requests))
    for kind in Kind:
        findings.extend(kind.across(requests))
    bad = {f.path for f in findings}
    valid = tuple(r for r in requests if r.path not in bad)
    return Loaded(valid, tuple(findings), len(files))


def validate(settings: Settings, paths: Sequence[Path] = ()) -> Report:
    """The ``validate`` command's core: findings for ``paths`` (default: the requests folder).

    With ``--base``, :func:`reconciler.check.baserules.validate_against_base` adds the
    rules against a base revision.
    """
    targets = list(paths) or [settings.requests_path]
    loaded = load_requests(discover(targets), settings)
    return Report(tuple(sorted(set(loaded.findings))), loaded.files)
