"""The ledger's fingerprint key: the secret that keys the fingerprints of encrypted requests.

A ledger entry's fingerprint is a hash of the request's immutable fields with the
identities in clear. Salted only (algorithm ``blake2b-256``), the salt and the
digest committed next to each other let anyone who reads the repository test a
guessed identity without the age key: hash the guess with the salt, compare. So
the fingerprint of a request whose identities are encrypted is keyed with a
random 32-byte secret that only holders of an age key can read (algorithm
``keyed-blake2b-256``):

* per-entry key = BLAKE2b-256(salt, key=K, person="reconciler/fp/v1");
* digest = BLAKE2b-256(canonical JSON of the immutable fields, key=per-entry key),
  the legacy computation with the salt replaced by a key only K's holder derives.

An entry records the *key id*, the first 16 hex digits of BLAKE2b(key=K,
person="reconciler/keyid"), never K: it tells which key made the entry, and a
hash of 256 random bits tells nothing about them.

K lives in ``reconciler.yaml`` as ``encryption.fingerprintKey``: its 64 hex digits,
encrypted like an identity value (``ENC[age:…]``) to ``encryption.recipients``
(:meth:`reconciler.secrets.crypto.Keyring.fingerprint_key` decrypts it). This
module is the key alone, with no I/O.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

ALGORITHM = "keyed-blake2b-256"
LEGACY_ALGORITHM = "blake2b-256"
KEY_BYTES = 32
KEY_ID_CHARS = 16
_ENTRY_PERSON = b"reconciler/fp/v1"
_KEY_ID_PERSON = b"reconciler/keyid"
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FingerprintKey:
    """A fingerprint key in memory. Never shown: its repr and messages name its id only."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a fingerprint key is {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> FingerprintKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> FingerprintKey | None:
        """The key written as 64 lowercase hex digits (what is encrypted); None otherwise."""
        text = text.strip()
        return cls(bytes.fromhex(text)) if _HEX_KEY.fullmatch(text) else None

    def to_text(self) -> str:
        return self.secret.hex()

    @property
    def key_id(self) -> str:
        digest = hashlib.blake2b(key=self.secret, person=_KEY_ID_PERSON, digest_size=8)
        return digest.hexdigest()[:KEY_ID_CHARS]

    def entry_key(self, salt: bytes) -> bytes:
        """The key of one entry's fingerprint, derived from its salt."""
        return hashlib.blake2b(salt, key=self.secret, person=_ENTRY_PERSON, digest_size=32).digest()
