"""Encrypting, decrypting and re-encrypting the identity values of request files in place.

Only the scalars that hold identity values are replaced, at the positions the
YAML parser reports for them, so comments, order, layout and every other
byte of the file stay as written (re-dumping the YAML would lose comments).
Each new text is parsed again and must be the same document with only those
values changed; anything else is a bug, and nothing is written.

Nothing here prints; :func:`write` is the only function that writes, and it
writes each file atomically. The commands read every file and prepare every
new text before writing any, so a failure (a value that does not decrypt, a
file with findings) leaves every file as it was.

Exception tree::

    ReconcilerError
    └── SealingError        a file cannot be rewritten as asked (findings, no recipients)
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pyrage import x25519
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from reconciler.check.findings import Finding
from reconciler.check.rules import check_request
from reconciler.check.validation import decrypt_request, discover, display_path, document_findings
from reconciler.errors import ReconcilerError
from reconciler.model import Request
from reconciler.reconcile.ledger import atomic_write
from reconciler.secrets.crypto import encrypt
from reconciler.settings import Settings
from reconciler.yamlfile import ParseError, PathKey, check_text, parse_document, read_text

try:  # the same parser as the loader, so positions agree
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Findings that encrypting a file fixes or that concern the recipients, not the file.
_ENCRYPTION_RULES = {"cleartext-identity", "encryption-recipients"}
# A plaintext value is written back without quotes only when it is this simple, has a
# letter, and no YAML reader (1.1 or 1.2) could take it for anything but a string.
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_@.+=-]*")
_YAML12_NUMBER = re.compile(r"[-+]?[0-9][0-9_.]*[eE][-+]?[0-9]+|0[xXoObB][0-9a-fA-F_]+")
_STR = "tag:yaml.org,2002:str"
_resolver = Resolver()


class SealingError(ReconcilerError):
    """A request file cannot be encrypted, decrypted or re-encrypted as asked."""


@dataclass(frozen=True)
class Rewrite:
    """One file's new text and how many identity values changed in it."""

    path: Path
    shown: str
    text: str
    values: int


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    flow: bool


def _spans(text: str) -> dict[PathKey, _Span]:
    """Where each scalar value is in ``text`` (character offsets), by its path."""
    spans: dict[PathKey, _Span] = {}
    # Each frame: [is_mapping, path, pending key or next index, flow style]
    stack: list[list[Any]] = []
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.ScalarEvent)):
            path: PathKey | None = None
            if stack:
                frame = stack[-1]
                if frame[0] and frame[2] is None:  # a mapping key
                    frame[2] = str(ev.value) if isinstance(ev, yaml.ScalarEvent) else "?"
                    continue
                path = (*frame[1], frame[2])
                frame[2] = None if frame[0] else frame[2] + 1
            path = path if path is not None else ()
            if isinstance(ev, yaml.ScalarEvent):
                flow = bool(stack) and stack[-1][3]
                start, end = ev.start_mark, ev.end_mark
                assert start is not None and end is not None  # the parser always sets them
                spans[path] = _Span(start.index, end.index, flow)
            else:
                is_map = isinstance(ev, yaml.MappingStartEvent)
                stack.append([is_map, path, None if is_map else 0, bool(ev.flow_style)])
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
    return spans


def scalar_text(value: str, flow: bool) -> str:
    """``value`` as a YAML scalar that reads back as the same string."""
    if value.startswith("ENC[") and not flow:
        return value  # base64 and brackets: a plain scalar outside flow collections
    plain = (
        _PLAIN.fullmatch(value)
        and any(ch.isalpha() for ch in value)
        and not _YAML12_NUMBER.fullmatch(value)
        and _resolver.resolve(ScalarNode, value, (True, False)) == _STR  # type: ignore[no-untyped-call]
    )
    return value if plain else json.dumps(value, ensure_ascii=False)


def replace_values(shown: str, text: str, values: Mapping[PathKey, str]) -> str:
    """``text`` with the scalars at ``values``' paths replaced; checked by parsing again."""
    if not values:
        return text
    spans = _spans(text)
    out: list[str] = []
    last = 0
    for path in sorted(values, key=lambda p: spans[p].start):
        span = spans[path]
        new = scalar_text(values[path], span.flow)
        if text[span.end - 1 : span.end] == "\n":  # block scalars end with their line
            new += "\n"
        out += [text[last : span.start], new]
        last = span.end
    out.append(text[last:])
    result = "".join(out)
    before = parse_document(shown, text).data
    expected = copy.deepcopy(before)
    for path, value in values.items():
        node: Any = expected
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    try:
        after = parse_document(shown, check_text(shown, result.encode("utf-8"))).data
    except ParseError as e:
        raise SealingError(f"{e}; nothing was written") from None
    if after != expected:  # pragma: no cover - a bug in the span arithmetic
        raise RuntimeError(f"rewriting {shown} would change more than its identity values")
    return result


def _rewrite(path: Path, request: Request, text: str, values: Mapping[PathKey, str]) -> Rewrite:
    return Rewrite(path, request.path, replace_values(request.path, text, values), len(values))


def _load(path: Path, settings: Settings) -> tuple[Request, str]:
    shown = display_path(path, settings.root)
    try:
        text = read_text(path, shown)
        request, findings = document_findings(parse_document(shown, text))
    except ParseError as e:
        raise SealingError(f"{e}; fix the file first; nothing was written") from None
    if request is None:
        raise SealingError(f"{_line(findings[0])}; fix the file first; nothing was written")
    return request, text


def _line(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.column}: {f.message} ({f.rule})"


def files_of(settings: Settings, paths: Sequence[Path]) -> list[Path]:
    """The request files named, or under the folders named (default: every request file)."""
    return discover(list(paths) or [settings.requests_path])


def _recipients(settings: Settings) -> tuple[x25519.Recipient, ...]:
    if not settings.age_recipients:
        raise SealingError(
            "reconciler.yaml lists no encryption.recipients: add the public keys (age1…) "
            "to encrypt for"
        )
    return settings.age_recipients


def plan_encrypt(settings: Settings, files: Iterable[Path]) -> list[Rewrite]:
    """New texts with every identity value in clear encrypted for the recipients.

    A file with findings is refused (nothing is written): once encrypted, a bad
    value is visible only to a check that has the key."""
    recipients = _recipients(settings)
    out = []
    for path in files:
        request, text = _load(path, settings)
        findings = [f for f in check_request(request, settings) if f.rule not in _ENCRYPTION_RULES]
        if findings:
            raise SealingError(
                f"{_line(findings[0])}; fix it before encrypting (a check without the key "
                "cannot see inside encrypted values); nothing was written"
            )
        values = {
            i.path: encrypt(i.value, recipients) for i in request.identities() if not i.sealed
        }
        out.append(
            Rewrite(path, request.path, replace_values(request.path, text, values), len(values))
        )
    return out


def _decrypted(path: Path, settings: Settings) -> tuple[Request, str]:
    request, text = _load(path, settings)
    if not request.sealed:
        return request, text
    settings.keyring.identities()  # a missing or unreadable key: its own error
    request, findings = decrypt_request(request, settings)
    bad = [f for f in findings if f.rule == "decrypt-failed"]
    if bad or request.locked:
        where = _line(bad[0]) if bad else f"{request.path}: an encrypted value is malformed"
        raise SealingError(f"{where}; nothing was written")
    return request, text


def plan_rekey(settings: Settings, files: Iterable[Path]) -> list[Rewrite]:
    """New texts with every encrypted value decrypted and encrypted again for the current
    recipients. Values in clear are left as they are (``encrypt`` does those)."""
    recipients = _recipients(settings)
    out = []
    for path in files:
        request, text = _decrypted(path, settings)
        values = {i.path: encrypt(i.value, recipients) for i in request.identities() if i.sealed}
        out.append(
            Rewrite(path, request.path, replace_values(request.path, text, values), len(values))
        )
    return out


def decrypt_file(settings: Settings, path: Path) -> Rewrite:
    """The file's text with its encrypted values in clear: to show, or to write when asked."""
    request, text = _decrypted(path, settings)
    values = {i.path: i.value for i in request.identities() if i.sealed}
    return _rewrite(path, request, text, values)


def write(rewrites: Iterable[Rewrite]) -> None:
    """Write each changed file atomically (temporary file, then rename)."""
    for rewrite in rewrites:
        if rewrite.values:
            atomic_write(rewrite.path, rewrite.text)
