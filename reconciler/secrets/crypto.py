"""Encrypted identity values: age (X25519) ciphertexts, one per value, through pyrage.

A value stored encrypted reads ``ENC[age:BASE64]``: the standard base64 (with
padding) of a binary age file encrypted to every recipient listed under
``encryption.recipients`` in ``reconciler.yaml``. Anyone holding one of the
private keys decrypts it by hand with the standard tool::

    echo 'BASE64' | base64 -d | age -d -i key.txt

age ciphertexts are randomized: encrypting the same value twice gives two
different texts, which is why fingerprints are computed on decrypted values.

The private key comes only from the environment: ``RECONCILER_AGE_KEY`` (one or
more ``AGE-SECRET-KEY-1…`` keys, one a line, ``#`` comments allowed, as
``age-keygen`` writes them) or ``RECONCILER_AGE_KEY_FILE`` (the path of such a
file). It is parsed when first needed and never shown. The same keys unlock the
repository's fingerprint key (``encryption.fingerprintKey`` in ``reconciler.yaml``,
see :mod:`reconciler.secrets.fingerprintkey`), which the keyring carries sealed and
decrypts once, when a fingerprint first needs it.

Without the key, :func:`inspect` checks what can be checked: the prefix, the
base64, the age header (version line, stanzas, MAC line), how many X25519
stanzas it has (one per recipient: X25519 stanzas do not name their
recipient, so *which* recipients cannot be told) and the length of the
plaintext.

Exception tree::

    ReconcilerError
    └── CryptoError             anything about encrypted values or keys
        ├── KeyMissingError     encrypted identities, and no key in the environment
        ├── KeyFormatError      the environment's key is not an age secret key
        ├── RecipientFormatError  a recipient is not an age public key (age1…)
        ├── CiphertextError     a value is not a well-formed ENC[age:…] ciphertext
        ├── DecryptionError     a value does not decrypt with the key (another key's)
        └── FingerprintKeyError the fingerprint key is missing, unreadable, or another one
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
from pyrage import x25519

from reconciler.errors import ReconcilerError
from reconciler.secrets.fingerprintkey import FingerprintKey

PREFIX = "ENC[age:"
SUFFIX = "]"
KEY_ENV = "RECONCILER_AGE_KEY"
KEY_FILE_ENV = "RECONCILER_AGE_KEY_FILE"
VERSION_LINE = b"age-encryption.org/v1"
# A decrypted value is at most 1,024 characters (the schema), so at most 4 bytes each.
MAX_PLAINTEXT_BYTES = 4 * 1024
# The schema's limit on an encrypted value: room for 32 recipients and age's grease.
MAX_CIPHERTEXT_CHARS = 16 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_B64_NOPAD = re.compile(rb"[A-Za-z0-9+/]*")
_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_SECRET_PREFIX = "AGE-SECRET-KEY-1"
_NONCE = 16
_TAG = 16
_CHUNK = 64 * 1024


class CryptoError(ReconcilerError):
    """Something about encrypted values or the keys to them."""


class KeyMissingError(CryptoError):
    """Identities are encrypted and the environment holds no key."""


class KeyFormatError(CryptoError):
    """The key in the environment is not an age secret key."""


class RecipientFormatError(CryptoError):
    """A configured recipient is not an age X25519 public key."""


class CiphertextError(CryptoError):
    """A value is not a well-formed ``ENC[age:…]`` ciphertext."""


class DecryptionError(CryptoError):
    """A value does not decrypt with the keys at hand."""


class FingerprintKeyError(CryptoError):
    """The fingerprint key a ledger fingerprint needs is missing, unreadable or another one."""


def is_encrypted(value: object) -> bool:
    """Whether a stored value is in the encrypted form (well-formed or not)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_recipients(texts: Sequence[str]) -> tuple[x25519.Recipient, ...]:
    """Public keys (``age1…``) as pyrage recipients; refuse anything else."""
    out = []
    for i, text in enumerate(texts):
        try:
            if not _RECIPIENT.fullmatch(text):
                raise pyrage.RecipientError(text)
            out.append(x25519.Recipient.from_str(text))
        except pyrage.RecipientError:
            raise RecipientFormatError(
                f"recipient {i + 1} is not an age X25519 public key (age1…)"
            ) from None
    return tuple(out)


def encrypt(value: str, recipients: Sequence[x25519.Recipient]) -> str:
    """``ENC[age:…]`` of ``value`` for every recipient."""
    if not recipients:
        raise CryptoError("no recipients to encrypt for: list them under encryption.recipients")
    try:
        ciphertext = pyrage.encrypt(value.encode("utf-8"), list(recipients))
    except pyrage.EncryptError as e:  # pragma: no cover - X25519 encryption does not fail
        raise CryptoError(f"encryption failed ({e.__class__.__name__})") from None
    return PREFIX + base64.b64encode(ciphertext).decode("ascii") + SUFFIX


def _binary(value: str) -> bytes:
    if not value.startswith(PREFIX) or not value.endswith(SUFFIX):
        raise CiphertextError("an encrypted value reads ENC[age:BASE64]")
    text = value[len(PREFIX) : -len(SUFFIX)]
    if not _BASE64.fullmatch(text):
        raise CiphertextError("the text inside ENC[age:…] is not standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise CiphertextError("the text inside ENC[age:…] is not complete base64") from None


@dataclass(frozen=True)
class Ciphertext:
    """What the header of an age ciphertext tells without the key."""

    x25519_stanzas: int
    other_stanzas: tuple[str, ...]
    plaintext_bytes: int


def _stanza_lines(lines: list[bytes], start: int) -> tuple[list[bytes], int]:
    """The arguments of the stanza at ``start`` and the index of the line after its body."""
    args = lines[start][3:].split(b" ")
    if not args or any(not a for a in args):
        raise CiphertextError("an age header stanza has an empty argument")
    i = start + 1
    while True:
        if i >= len(lines):
            raise CiphertextError("an age header stanza has no final body line")
        body = lines[i]
        if len(body) > 64 or not _B64_NOPAD.fullmatch(body):
            raise CiphertextError("an age header stanza body is not base64 lines of 64 columns")
        i += 1
        if len(body) < 64:
            return args, i


def inspect(value: str) -> Ciphertext:
    """Check an ``ENC[age:…]`` value's form without the key; raise :class:`CiphertextError`."""
    raw = _binary(value)
    end = raw.find(b"\n--- ")
    if end < 0 or not raw.startswith(VERSION_LINE + b"\n"):
        raise CiphertextError(
            "the value is not an age ciphertext (no age-encryption.org/v1 header)"
        )
    mac_end = raw.find(b"\n", end + 5)
    if mac_end < 0:
        raise CiphertextError("the age header's MAC line is cut short")
    mac = raw[end + 5 : mac_end]
    if len(mac) != 43 or not _B64_NOPAD.fullmatch(mac):
        raise CiphertextError("the age header's MAC is not 32 bytes of base64")
    header = raw[len(VERSION_LINE) + 1 : end]
    if not header.isascii():
        raise CiphertextError("the age header holds bytes that are not text")
    lines = header.split(b"\n")
    x25519_count = 0
    others: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(b"-> "):
            raise CiphertextError("the age header has a line outside any stanza")
        args, after = _stanza_lines(lines, i)
        kind = args[0].decode("ascii")
        if kind == "X25519":
            share, body = args[1:], b"".join(lines[i + 1 : after])
            if len(share) != 1 or len(share[0]) != 43 or len(body) != 43:
                raise CiphertextError("an X25519 stanza of the age header is malformed")
            x25519_count += 1
        else:
            others.append(kind)
        i = after
    if "scrypt" in others:
        raise CiphertextError("the value is encrypted with a passphrase, not to recipients")
    if not x25519_count:
        raise CiphertextError("the value is not encrypted to any age X25519 recipient")
    payload = len(raw) - (mac_end + 1) - _NONCE
    chunks = -(-payload // (_CHUNK + _TAG)) if payload > 0 else 0
    plaintext = payload - chunks * _TAG
    if chunks < 1 or plaintext < 0:
        raise CiphertextError("the age ciphertext's payload is cut short")
    return Ciphertext(x25519_count, tuple(others), plaintext)


@dataclass(frozen=True)
class Keyring:
    """The age private keys from the environment, parsed when first used, never shown;
    and the repository's fingerprint key as ``reconciler.yaml`` stores it (encrypted),
    decrypted with them when first used."""

    text: str = field(default="", repr=False)
    file: str = ""
    sealed_fingerprint_key: str = field(default="", repr=False)
    _parsed: list[tuple[x25519.Identity, ...]] = field(
        default_factory=list, repr=False, compare=False
    )
    _fingerprint: list[FingerprintKey] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], fingerprint_key: str = "") -> Keyring:
        """The keys in ``env``; ``fingerprint_key`` is ``encryption.fingerprintKey``."""
        return cls(env.get(KEY_ENV, "").strip(), env.get(KEY_FILE_ENV, "").strip(), fingerprint_key)

    @property
    def available(self) -> bool:
        """Whether the environment names a key at all (it may still be unreadable)."""
        return bool(self.text or self.file)

    @property
    def source(self) -> str:
        """Where the key comes from, for messages."""
        names = [n for n, v in ((KEY_ENV, self.text), (KEY_FILE_ENV, self.file)) if v]
        return " and ".join(names) or KEY_ENV

    def identities(self) -> tuple[x25519.Identity, ...]:
        """The keys; :class:`KeyMissingError` when none is set, :class:`KeyFormatError`
        when one cannot be read."""
        if self._parsed:
            return self._parsed[0]
        if not self.available:
            raise KeyMissingError(
                f"no age key: set {KEY_ENV} to the secret key (AGE-SECRET-KEY-1…) or "
                f"{KEY_FILE_ENV} to the path of a key file"
            )
        keys = _parse_keys(self.text, KEY_ENV) if self.text else ()
        if self.file:
            try:
                text = Path(self.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else "unreadable"
                raise KeyFormatError(
                    f"{KEY_FILE_ENV} names a file that cannot be read: {reason}"
                ) from None
            keys += _parse_keys(text, f"the file named by {KEY_FILE_ENV}")
        self._parsed.append(keys)
        return keys

    def decrypt(self, value: str) -> str:
        """The plaintext of an ``ENC[age:…]`` value."""
        raw = _binary(value)
        try:
            plaintext = pyrage.decrypt(raw, list(self.identities()))
        except pyrage.DecryptError:
            raise DecryptionError(
                f"does not decrypt with the key in {self.source}: it was encrypted for "
                "other recipients, or it is damaged"
            ) from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("decrypts to bytes that are not UTF-8 text") from None

    def fingerprint_key(self) -> FingerprintKey | None:
        """The repository's fingerprint key, decrypted once; None when it has none.

        :class:`KeyMissingError` without a key in the environment,
        :class:`FingerprintKeyError` when the value does not decrypt to a key."""
        if not self.sealed_fingerprint_key:
            return None
        if self._fingerprint:
            return self._fingerprint[0]
        self.identities()
        where = "encryption.fingerprintKey in reconciler.yaml"
        try:
            key = FingerprintKey.from_text(self.decrypt(self.sealed_fingerprint_key))
        except (CiphertextError, DecryptionError) as e:
            sep = " " if isinstance(e, DecryptionError) else ": "  # "does not decrypt with…"
            raise FingerprintKeyError(
                f"{where}{sep}{e}; re-encrypt it for the configured recipients (reconciler "
                "rekey, with a key that decrypts it)"
            ) from None
        if key is None:
            raise FingerprintKeyError(
                f"{where} does not decrypt to a fingerprint key (64 hex digits); restore it "
                "from git history (git log -p -- reconciler.yaml)"
            )
        self._fingerprint.append(key)
        return key


def _parse_keys(text: str, where: str) -> tuple[x25519.Identity, ...]:
    keys: list[x25519.Identity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for token in line.split():
            if not token.upper().startswith(_SECRET_PREFIX):
                raise KeyFormatError(
                    f"line {number} of {where} is not an age secret key (AGE-SECRET-KEY-1…)"
                )
            try:
                keys.append(x25519.Identity.from_str(token.upper()))
            except pyrage.IdentityError:
                raise KeyFormatError(
                    f"line {number} of {where} is not a valid age secret key (bad checksum?)"
                ) from None
    if not keys:
        raise KeyFormatError(f"{where} holds no age secret key (AGE-SECRET-KEY-1…)")
    return tuple(keys)


NO_KEYS = Keyring()
