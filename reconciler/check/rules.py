"""Rules a JSON Schema cannot express, checked on schema-valid requests.

Each rule is a function ``(request, settings) -> Iterable[Finding]``; its id
is what users see at the end of a finding and may look up in the README.

Rules about identity values see them decrypted when the request was
(validation decrypts when the key is in the environment); values still
encrypted are checked for their form only (:func:`ciphertext_form`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath

from reconciler.check.findings import Finding, finding_at
from reconciler.model import Request
from reconciler.secrets.crypto import MAX_PLAINTEXT_BYTES, CiphertextError, inspect
from reconciler.secrets.masking import mask
from reconciler.settings import Settings

# Deliberately simple: one @, no spaces, a dot in the domain, RFC 5321 lengths.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
# Adobe's examples show ECIDs of 30 and 38 digits: digits only, at most 38.
ECID_RE = re.compile(r"^[0-9]{10,38}$")

# What `reconciler new` writes in a template where identities go: values that can never
# be a person (`.invalid` is reserved by RFC 2606, no ECID is all zeros), refused here so
# that an unedited template never reaches Adobe.
PLACEHOLDER_EMAIL = "replace-me@example.invalid"
PLACEHOLDER_ECID = "0" * 38
PLACEHOLDER_VALUE = "REPLACE-ME"

Rule = Callable[[Request, Settings], Iterable[Finding]]


_finding = finding_at


def name_matches_file(request: Request, settings: Settings) -> Iterator[Finding]:
    """The file is called ``<metadata.name>.yaml``, so names are unique by listing."""
    stem = PurePosixPath(request.path).name
    for suffix in (".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem != request.name:
        yield _finding(
            request,
            ("metadata", "name"),
            "name-matches-file",
            f"metadata.name {request.name!r} differs from the file name {stem!r}; "
            f"rename the file to {request.name}.yaml or change the name",
        )


def identity_formats(request: Request, settings: Settings) -> Iterator[Finding]:
    """Emails and ECIDs are well formed; a decrypted value is as long as the schema allows."""
    for identity in request.identities():
        if identity.encrypted:
            continue  # checked once decrypted, with the key
        if identity.sealed and not 1 <= len(identity.value) <= 1024:
            yield _finding(
                request,
                identity.path,
                "identity-length",
                f"the encrypted value decrypts to {len(identity.value):,} characters; "
                "identity values are 1 to 1,024 characters",
            )
            continue
        ns = identity.namespace.lower()
        if ns == "email" and not EMAIL_RE.match(identity.value):
            yield _finding(
                request,
                identity.path,
                "email-format",
                f"{mask(identity.value)} is not a well-formed email address",
            )
        elif ns == "ecid" and not ECID_RE.match(identity.value):
            yield _finding(
                request,
                identity.path,
                "ecid-format",
                f"{mask(identity.value)} is not a well-formed ECID (up to 38 digits)",
            )


def _is_placeholder(namespace: str, value: str) -> bool:
    if value.upper() == PLACEHOLDER_VALUE:
        return True
    if namespace == "email":
        return value.lower().rstrip(".").endswith(".invalid")
    return namespace == "ecid" and value != "" and set(value) == {"0"}


def placeholder_identities(request: Request, settings: Settings) -> Iterator[Finding]:
    """No placeholder from a template is left where an identity goes."""
    for identity in request.identities():
        if identity.encrypted:
            continue  # checked once decrypted, with the key
        if _is_placeholder(identity.namespace.lower(), identity.value):
            yield _finding(
                request,
                identity.path,
                "placeholder-identity",
                f"{mask(identity.value)} is a placeholder, not an identity: replace it with "
                "the identities of the request (or `reconciler new … --csv FILE` writes them)",
            )


def duplicate_identities(request: Request, settings: Settings) -> Iterator[Finding]:
    """No identity is named twice in one request (encrypted values: once decrypted)."""
    seen: dict[tuple[str, str], tuple[str | int, ...]] = {}
    for identity in request.identities():
        if identity.encrypted:
            continue  # ciphertexts differ even for equal values
        ns = identity.namespace.lower()
        value = identity.value.lower() if ns == "email" else identity.value
        key = (ns, value)
        if key in seen:
            line = request.where(*seen[key]).line
            yield _finding(
                request,
                identity.path,
                "duplicate-identity",
                f"{mask(identity.value)} is listed twice (first on line {line}); remove one",
            )
        else:
            seen[key] = identity.path


def cleartext_identities(request: Request, settings: Settings) -> Iterator[Finding]:
    """With ``policy.allowCleartextIdentities: false``, every value is stored encrypted."""
    if settings.allow_cleartext_identities:
        return
    for identity in request.identities():
        if not identity.sealed:
            yield _finding(
                request,
                identity.path,
                "cleartext-identity",
                "identity value in clear, but this repository requires encrypted identities "
                "(policy.allowCleartextIdentities: false in reconciler.yaml); encrypt it with "
                f"`reconciler encrypt {request.path}`",
            )


def ciphertext_form(request: Request, settings: Settings) -> Iterator[Finding]:
    """Encrypted values are age ciphertexts for as many X25519 recipients as configured.

    Without the key this is all that can be known of them: age's X25519 stanzas
    do not name their recipient, so a value encrypted to the right *number* of
    other keys passes here and fails to decrypt where the key is."""
    wanted = len(settings.recipients)
    mismatched: list[tuple[tuple[str | int, ...], int]] = []
    for identity in request.identities():
        if not identity.sealed:
            continue
        try:
            info = inspect(identity.stored)
        except CiphertextError as e:
            yield _finding(
                request,
                identity.path,
                "ciphertext-format",
                f"encrypted value is not a well-formed age ciphertext: {e}; "
                "encrypt values with `reconciler encrypt`",
            )
            continue
        if not 1 <= info.plaintext_bytes <= MAX_PLAINTEXT_BYTES:
            yield _finding(
                request,
                identity.path,
                "ciphertext-format",
                f"encrypted value holds {info.plaintext_bytes:,} bytes; identity values are "
                "1 to 1,024 characters",
            )
        if info.x25519_stanzas != wanted:
            mismatched.append((identity.path, info.x25519_stanzas))
    if mismatched:
        path, count = mismatched[0]
        more = f" (and {len(mismatched) - 1} more value(s))" if len(mismatched) > 1 else ""
        if not wanted:
            why = "reconciler.yaml lists no encryption.recipients: list the public keys"
        else:
            why = (
                f"reconciler.yaml lists {wanted}: re-encrypt for the current recipients "
                "with `reconciler rekey` (it needs the key)"
            )
        yield _finding(
            request,
            path,
            "encryption-recipients",
            f"value encrypted for {count} recipient(s){more}, but {why}",
        )


def identity_limits(request: Request, settings: Settings) -> Iterator[Finding]:
    """Within Adobe's per-request limit and the repository's own limit."""
    count = request.identity_count()
    anchor = ("spec",)
    adobe = request.kind.max_identities
    if adobe is not None and count > adobe:
        yield _finding(
            request,
            anchor,
            "identity-limit",
            f"{count:,} identities exceed Adobe's limit of {adobe:,} per "
            f"{request.kind.noun}; split the request (reconciler new --csv splits "
            "automatically)",
        )
        return
    limit = settings.limits.max_identities_per_request
    if count > limit:
        yield _finding(
            request,
            anchor,
            "repo-identity-limit",
            f"{count:,} identities exceed this repository's limit of {limit:,} per request "
            "(limits.maxIdentitiesPerRequest in reconciler.yaml); split the request",
        )


def kind_rules(request: Request, settings: Settings) -> Iterable[Finding]:
    """The rules of the request's own kind (see ``rules`` in :mod:`reconciler.kinds`)."""
    return request.kind.rules(request, settings)


# Characters that make text read differently from what it is (Trojan Source, CVE-2021-42574)
# or hide it: bidirectional controls, zero-width characters, other control characters.
_UNSAFE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def _texts(request: Request) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for key in ("displayName", "description"):
        if isinstance(request.spec.get(key), str):
            yield ("spec", key), request.spec[key]
    for key in ("ticket", "requestedBy"):
        if isinstance(request.metadata.get(key), str):
            yield ("metadata", key), request.metadata[key]
    for key, value in (request.metadata.get("labels") or {}).items():
        yield ("metadata", "labels", key), f"{key}{value}"


def safe_text(request: Request, settings: Settings) -> Iterator[Finding]:
    """Names and descriptions hold no control, bidirectional or invisible characters."""
    for path, text in _texts(request):
        match = _UNSAFE.search(text)
        if match:
            yield _finding(
                request,
                path,
                "unsafe-text",
                f"{'.'.join(str(p) for p in path)} contains the invisible or control character "
                f"U+{ord(match.group()):04X}, which can make text read differently from what "
                "it is; remove it",
            )


RULES: tuple[Rule, ...] = (
    name_matches_file,
    kind_rules,
    identity_formats,
    placeholder_identities,
    duplicate_identities,
    cleartext_identities,
    ciphertext_form,
    identity_limits,
    safe_text,
)


def check_request(request: Request, settings: Settings) -> list[Finding]:
    """Every rule's findings for one request."""
    return [finding for rule in RULES for finding in rule(request, settings)]
