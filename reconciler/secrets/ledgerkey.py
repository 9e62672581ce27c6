"""The fingerprint key in ``reconciler.yaml``: made when first needed, re-encrypted with the
identities, and replaced together with every ledger fingerprint.

``encryption.fingerprintKey`` holds the key (:mod:`reconciler.secrets.fingerprintkey`)
encrypted to ``encryption.recipients``, like an identity value:

* ``reconciler encrypt`` adds one when there is none (:func:`key_for_encrypt`): no
  secret is needed to encrypt a new key to the public keys;
* ``reconciler rekey`` decrypts it and encrypts it again for the current recipients
  (:func:`key_for_rekey`): the key itself, and so every fingerprint, stays the same;
* ``reconciler rekey --fingerprint-key`` replaces it (:func:`plan_rotation`): every
  ledger entry is checked with the key it was made with, then fingerprinted again with
  the new one, so that no request reads as changed and nothing is submitted again.

``reconciler.yaml`` is rewritten as request files are (:mod:`reconciler.secrets.sealing`):
only the value changes, or one line is added under ``encryption``, and the new text
must parse to the same settings with only that value changed. Nothing here prints;
the commands prepare every text before writing any.

Exception tree::

    ReconcilerError
    └── SealingError          a file cannot be rewritten as asked
        └── RotationError     a ledger entry does not match its request: not re-fingerprinted
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.model import Request
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger, atomic_write
from reconciler.repository import SETTINGS_FILE
from reconciler.secrets.crypto import encrypt
from reconciler.secrets.fingerprintkey import FingerprintKey
from reconciler.secrets.sealing import Rewrite, SealingError, replace_values, scalar_text
from reconciler.settings import Settings
from reconciler.yamlfile import ParseError, PathKey, check_text, parse_document, read_text

try:  # the same parser as the loader, so positions agree
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

FIELD: PathKey = ("encryption", "fingerprintKey")


class RotationError(SealingError):
    """A ledger entry does not match its request: re-fingerprinting it would hide that."""


@dataclass(frozen=True)
class KeyChange:
    """``reconciler.yaml`` with the fingerprint key (re-)encrypted for the recipients."""

    rewrite: Rewrite
    key_id: str
    created: bool


@dataclass(frozen=True)
class Rotation:
    """A new fingerprint key and the ledger entries fingerprinted with it."""

    key_id: str
    previous: str | None
    settings: Rewrite
    entries: tuple[Entry, ...]
    upgraded: int  # entries made before fingerprint keys (blake2b-256), now keyed
    left: tuple[str, ...]  # keyed entries of removed request files: nothing to fingerprint


def key_for_encrypt(settings: Settings) -> KeyChange | None:
    """A new fingerprint key in ``reconciler.yaml`` when it has none (and recipients)."""
    if not settings.age_recipients or settings.keyring.sealed_fingerprint_key:
        return None
    key = FingerprintKey.generate()
    return KeyChange(with_key(settings, key), key.key_id, created=True)


def key_for_rekey(settings: Settings) -> KeyChange:
    """The fingerprint key encrypted again for the current recipients (a new one when
    ``reconciler.yaml`` has none). Needs a key that decrypts it."""
    key = settings.keyring.fingerprint_key()
    created = key is None
    key = key or FingerprintKey.generate()
    return KeyChange(with_key(settings, key), key.key_id, created)


def with_key(settings: Settings, key: FingerprintKey) -> Rewrite:
    """``reconciler.yaml``'s text with ``key`` encrypted for the recipients as
    ``encryption.fingerprintKey``, replacing the value there or adding it."""
    if not settings.age_recipients:
        raise SealingError(
            f"{SETTINGS_FILE} lists no encryption.recipients to encrypt the fingerprint key for"
        )
    path = settings.source or settings.root / SETTINGS_FILE
    try:
        text = read_text(path, SETTINGS_FILE)
    except ParseError as e:
        raise SealingError(f"{e}; nothing was written") from None
    value = encrypt(key.to_text(), settings.age_recipients)
    current = parse_document(SETTINGS_FILE, text).data
    if isinstance(current, dict) and "fingerprintKey" in (current.get("encryption") or {}):
        return Rewrite(path, SETTINGS_FILE, replace_values(SETTINGS_FILE, text, {FIELD: value}), 1)
    return Rewrite(path, SETTINGS_FILE, _added(text, current, value), 1)


def _value_of(node: MappingNode, key: str) -> Node | None:
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)


def _last_line_end(text: str, node: Node) -> int:
    """Where the line holding the end of ``node``'s last value ends (block style)."""
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end = node.end_mark.index
    if end and text[end - 1] == "\n":  # a block scalar ends with its line
        return end - 1
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline


def _added(text: str, current: Any, value: str) -> str:
    """``text`` with ``fingerprintKey: value`` added as the last key of ``encryption``."""
    root = yaml.compose(text, Loader=_Loader)
    encryption = _value_of(root, "encryption") if isinstance(root, MappingNode) else None
    if not isinstance(encryption, MappingNode) or not encryption.value:
        raise SealingError(f"{SETTINGS_FILE} has no encryption mapping to add the key to")
    if encryption.flow_style:
        close = encryption.end_mark.index - 1  # the closing brace
        new = f"{text[:close]}, fingerprintKey: {scalar_text(value, True)}{text[close:]}"
    else:
        at = _last_line_end(text, encryption)
        indent = " " * encryption.value[0][0].start_mark.column
        new = f"{text[:at]}\n{indent}fingerprintKey: {scalar_text(value, False)}{text[at:]}"
    expected = copy.deepcopy(current)
    expected["encryption"]["fingerprintKey"] = value
    try:
        after = parse_document(SETTINGS_FILE, check_text(SETTINGS_FILE, new.encode())).data
    except ParseError:
        after = None
    if after != expected:
        raise SealingError(
            f"cannot add encryption.fingerprintKey to {SETTINGS_FILE} in its layout; add "
            f"this line under encryption: by hand, then run the command again: "
            f"fingerprintKey: {value}"
        )
    return new


def plan_rotation(settings: Settings, requests: Sequence[Request], ledger: Ledger) -> Rotation:
    """A new fingerprint key and every ledger entry fingerprinted with it.

    Each entry whose request is declared is first checked with the key it was made
    with (or its salt, for an entry made before fingerprint keys): one that does not
    match is a change to an immutable field that re-fingerprinting would hide, and then
    nothing is rotated. Entries of requests in clear keep (or get back) a fingerprint
    keyed by their salt alone. Entries of removed request files stay as they are."""
    keyring = settings.keyring
    keyring.identities()  # checking the entries needs the age key: its own error
    previous = keyring.fingerprint_key()
    key = FingerprintKey.generate()
    by_name = {r.name: r for r in requests}
    entries: list[Entry] = []
    refused: list[str] = []
    left: list[str] = []
    upgraded = 0
    for entry in ledger:
        request = by_name.get(entry.name)
        if request is None:
            if entry.fingerprint.key_id is not None:
                left.append(entry.name)
            continue
        request, _ = request.decrypt(keyring)  # carries the keyring, also when in clear
        request.require_decrypted()
        if entry.kind is not request.kind or not entry.fingerprint.matches(request):
            refused.append(entry.name)
            continue
        if not request.sealed:
            if entry.fingerprint.key_id is not None:  # encrypted once, in clear now
                entries.append(replace(entry, fingerprint=Fingerprint.of(request)))
            continue
        upgraded += entry.fingerprint.key_id is None
        entries.append(replace(entry, fingerprint=Fingerprint.of(request, key=key)))
    if refused:
        raise RotationError(
            f"{', '.join(refused)}: the request does not match its ledger entry (an "
            "immutable field changed after it was applied: `reconciler plan` shows the "
            "conflict), and fingerprinting it again would hide that; restore the file "
            "first. Nothing was written"
        )
    return Rotation(
        key.key_id,
        previous.key_id if previous is not None else None,
        with_key(settings, key),
        tuple(entries),
        upgraded,
        tuple(left),
    )


def write_rotation(rotation: Rotation, ledger: Ledger) -> None:
    """Write the entries (each atomically), then ``reconciler.yaml``. Interrupted before
    the settings are written, the entries already written name a key that is lost, and
    plan refuses them by name: restore the ledger folder from git (``git checkout --
    ledger``) and rotate again."""
    for entry in rotation.entries:
        ledger.put(entry)
    write_settings(rotation.settings)


def write_settings(rewrite: Rewrite) -> None:
    atomic_write(rewrite.path, rewrite.text)


__all__ = [
    "FIELD",
    "KeyChange",
    "Rotation",
    "RotationError",
    "key_for_encrypt",
    "key_for_rekey",
    "plan_rotation",
    "with_key",
    "write_rotation",
    "write_settings",
]
