"""Keys, settings and an independent age decryption for the encryption tests.

Keys are generated when the tests run; none is stored in the repository.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyrage import x25519

from tests.conftest import write


@dataclass(frozen=True)
class Key:
    secret: str  # AGE-SECRET-KEY-1…
    public: str  # age1…


def new_key() -> Key:
    identity = x25519.Identity.generate()
    return Key(str(identity), str(identity.to_public()))


def settings_text(*keys: Key, cleartext: bool = False) -> str:
    """A reconciler.yaml with the emulator-friendly rate, recipients and the policy."""
    lines = ["client:", "  requestsPerSecond: 1000"]
    if keys:
        lines += ["encryption:", "  recipients:", *(f"    - {k.public}" for k in keys)]
    lines += ["policy:", f"  allowCleartextIdentities: {'true' if cleartext else 'false'}"]
    lines += ["scope: testrepo"]
    return "\n".join(lines) + "\n"


def configure(root: Path, *keys: Key, cleartext: bool = False) -> None:
    write(root, "reconciler.yaml", settings_text(*keys, cleartext=cleartext))


def _b64(text: bytes) -> bytes:
    return base64.b64decode(text + b"=" * (-len(text) % 4))


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(SHA256(), 32, salt=salt, info=info).derive(ikm)


def age_decrypt_by_spec(raw: bytes, private: X25519PrivateKey) -> bytes:
    """Decrypt a single-chunk age file to one X25519 identity, following the age v1 spec
    (age-encryption.org/v1) with the `cryptography` primitives: independent of rage."""
    header, _, rest = raw.partition(b"\n--- ")
    mac, _, payload = rest.partition(b"\n")
    lines = header.split(b"\n")
    assert lines[0] == b"age-encryption.org/v1"
    public = private.public_key().public_bytes_raw()
    file_key = None
    i = 1
    while i < len(lines):
        args = lines[i][3:].split(b" ")
        body = b""
        i += 1
        while True:
            body += lines[i]
            i += 1
            if len(lines[i - 1]) < 64:
                break
        if args[0] == b"X25519" and file_key is None:
            share = _b64(args[1])
            shared = private.exchange(X25519PublicKey.from_public_bytes(share))
            wrap = _hkdf(shared, share + public, b"age-encryption.org/v1/X25519")
            try:
                file_key = ChaCha20Poly1305(wrap).decrypt(b"\0" * 12, _b64(body), None)
            except Exception:
                continue
    assert file_key is not None, "no stanza for this key"
    expected = hmac.new(_hkdf(file_key, b"", b"header"), header + b"\n---", sha256).digest()
    assert hmac.compare_digest(expected, _b64(mac)), "header MAC"
    nonce, chunk = payload[:16], payload[16:]
    key = _hkdf(file_key, nonce, b"payload")
    return ChaCha20Poly1305(key).decrypt(b"\0" * 11 + b"\x01", chunk, None)
