"""Rules a JSON Schema cannot express, checked on schema-valid requests.

Each rule is a function ``(request, settings) -> Iterable[Finding]``; its id
is what users see at the end of a finding and may look up in the README.

Rules about identity values see them decrypted when the request was
(validation decrypts when the key is in the environment); values still
encrypted are checked for their form only (:func:`ciphertext_form`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from reconciler.check.deadlinerules import deadline_dates
from reconciler.check.findings import Finding, finding_at
from reconciler.kinds.base import declared_sandbox, request_sandbox
from reconciler.kinds.record_delete import ALL_DATASETS
from reconciler.model import Request
from reconciler.secrets.crypto import MAX_PLAINTEXT_BYTES, CiphertextError, inspect
from reconciler.secrets.masking import mask
from reconciler.settings import Settings

# Every pattern matches the whole value (\A…\Z): Python's `$` also matches before a final
# line break, so `^…$` would accept "a@example.com\n".
# Deliberately simple: one @, no spaces, a dot in the domain, RFC 5321 lengths, and none of
# the characters that only surround an address pasted from a mail program (<>, quotes, a
# comma…): RFC 5322 allows some of them quoted, but no address of a real person needs them.
_NOT_IN_EMAIL = r"@\s\"(),:;<>\[\\\]"
EMAIL_RE = re.compile(
    rf"\A[^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}.]+(\.[^{_NOT_IN_EMAIL}.]+)+\Z"
)
# Adobe's examples show ECIDs of 30 and 38 digits: digits only, at most 38.
ECID_RE = re.compile(r"\A[0-9]{10,38}\Z")

# What `reconciler new` writes in a template where identities go: values that can never
# be a person (`.invalid` is reserved by RFC 2606, no ECID is all zeros), refused here so
# that an unedited template never reaches Adobe.
PLACEHOLDER_EMAIL = "replace-me@example.invalid"
PLACEHOLDER_ECID = "0" * 38
PLACEHOLDER_VALUE = "REPLACE-ME"

# Adobe's standard identity namespaces as its sources spell them, the preferred first. The
# API references' examples write `email` (POST /workorder, /jobs and /consent) and the
# workorder reference names "email" and "phone"; the Privacy Service appendix's table of
# standard namespaces writes `Email` and `Phone`, and the other codes as below. No source
# says whether Adobe compares codes without case: a spelling none of them shows (`EMAIL`, a
# CSV header's, `Ecid`) may match no identity at all, so it is refused, naming the spelling.
_STANDARD_SPELLINGS = (
    ("email", "Email"),
    ("phone", "Phone"),
    ("ECID",),
    ("AdCloud",),
    ("CORE",),
    ("TNTID",),
    ("IDFA",),
    ("GAID",),
    ("WAID",),
)
STANDARD_NAMESPACES: Mapping[str, tuple[str, ...]] = {s[0].lower(): s for s in _STANDARD_SPELLINGS}

Rule = Callable[[Request, Settings], Iterable[Finding]]
Problem = tuple[str, str]  # (rule id, message)


_finding = finding_at

_YAML_SUFFIXES = (".yaml", ".yml")


def name_matches_file(request: Request, settings: Settings) -> Iterator[Finding]:
    """The file is called ``<metadata.name>.yaml``, so names are unique by listing."""
    stem = PurePosixPath(request.path).name
    for suffix in _YAML_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem != request.name:
        yield _finding(
            request,
            ("metadata", "name"),
            "name-matches-file",
            f"metadata.name {request.name!r} differs from the file name {stem!r}; "
            f"rename the file to {request.name}.yaml or change the name",
        )


_CHARACTER_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}


def describe_character(ch: str) -> str:
    """A character as a message may show it: its code point and name, never itself."""
    name = _CHARACTER_NAMES.get(ch) or unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def text_problem(value: str) -> Problem | None:
    """Why ``value`` is not an identity as Adobe should receive it (blank, whitespace around
    it, an invisible or control character in it), or None."""
    # isprintable() is false for every control, format (bidirectional, zero-width, BOM),
    # surrogate, private-use and unassigned character and every separator but the ASCII
    # space: one C-speed pass for the common, clean value.
    if value.isprintable() and value[:1] != " " and value[-1:] != " ":
        return None if value else ("identity-blank", "identity value is empty; write it")
    stripped = value.strip()
    if not stripped:
        return (
            "identity-blank",
            "identity value is only whitespace; write the identity or remove the entry",
        )
    if stripped != value:
        end = "starts" if value[0] != stripped[0] else "ends"
        ch = value[0] if end == "starts" else value[-1]
        hint = (
            " (a YAML block scalar `|` keeps its last line break: write the value on one line)"
            if ch == "\n" and end == "ends"
            else ""
        )
        return (
            "identity-whitespace",
            f"{mask(value)} {end} with whitespace, {describe_character(ch)}; remove it{hint}",
        )
    ch = next(c for c in value if not c.isprintable())
    return (
        "identity-invisible",
        f"{mask(value)} contains the invisible or control character {describe_character(ch)}, "
        "which Adobe would match as part of the identity; remove it",
    )


def email_problem(value: str) -> Problem | None:
    """Why ``value`` is not a well-formed email address, with a hint for what a mail program
    pastes around one (``mailto:``, a name, ``<…>``, a trailing comma); None when it is."""
    if EMAIL_RE.match(value):
        return None
    shown = mask(value)
    if value[:7].lower() == "mailto:":
        return "email-paste", f"{shown} starts with 'mailto:'; write the address alone"
    if any(c in value for c in '<>"'):
        return (
            "email-paste",
            f"{shown} holds a name, quotes or <…> around the address; write the address alone",
        )
    if value[-1:] in (",", ";", "."):
        return "email-paste", f"{shown} ends with {value[-1]!r}; remove it"
    if " " in value:
        return (
            "email-paste",
            f"{shown} holds a space; write the address alone, without a name or other text",
        )
    return "email-format", f"{shown} is not a well-formed email address"


def identity_problem(namespace: str, value: str) -> Problem | None:
    """Why a value in clear cannot be sent as an identity of ``namespace``, or None.

    `reconciler new --csv` asks the same, so that a value it writes is one validation
    accepts."""
    if not (value.isprintable() and value[:1] != " " and value[-1:] != " " and value):
        return text_problem(value)
    ns = namespace.lower()
    if ns == "email":
        return None if EMAIL_RE.match(value) else email_problem(value)
    if ns == "ecid" and not ECID_RE.match(value):
        return "ecid-format", f"{mask(value)} is not a well-formed ECID (up to 38 digits)"
    return None


def canonical_namespace(code: str) -> str | None:
    """The documented spelling of the standard namespace ``code`` writes in another case
    (``EMAIL`` → ``email``); None when ``code`` is documented or no standard namespace."""
    spellings = STANDARD_NAMESPACES.get(code.lower())
    if spellings is None or code in spellings:
        return None
    return spellings[0]


def _namespace_at(
    spec: Mapping[str, Any], path: tuple[str | int, ...]
) -> tuple[tuple[str | int, ...], Any]:
    """Where the namespace of the identity value at ``path`` is written (the nearest
    ``namespace``/``nameSpace`` above it), and the value's own ``type`` if it has one."""
    nodes: list[tuple[tuple[str | int, ...], Any]] = [(path[:1], spec)]
    node: Any = spec
    for i, part in enumerate(path[1:-1], start=2):
        node = node[part]
        nodes.append((path[:i], node))
    kind = node.get("type") if isinstance(node, dict) else None
    for prefix, container in reversed(nodes):
        if isinstance(container, dict):
            for key in ("namespace", "nameSpace"):
                if key in container:
                    code = isinstance(container[key], dict)
                    return ((*prefix, key, "code") if code else (*prefix, key)), kind
    return path, kind


def identity_formats(request: Request, settings: Settings) -> Iterator[Finding]:
    """Identity values are plain text and well formed (emails, ECIDs); a decrypted value is
    as long as the schema allows; standard namespaces are spelled as Adobe spells them."""
    reported: set[tuple[str | int, ...]] = set()
    misspelt: dict[str, str | None] = {}  # per namespace: its documented spelling, if not it
    for identity in request.identities():
        code = identity.namespace
        canonical = (
            misspelt[code]
            if code in misspelt
            else misspelt.setdefault(code, canonical_namespace(code))
        )
        if canonical is not None and identity.path[:-1] not in reported:
            reported.add(identity.path[:-1])  # a group's ids share one namespace
            where, kind = _namespace_at(request.spec, identity.path)
            # A PrivacyJob's custom or unregistered namespace is the organisation's own word.
            if where not in reported and kind in (None, "standard"):
                reported.add(where)
                yield _finding(
                    request,
                    where,
                    "namespace-case",
                    f"namespace {identity.namespace!r} is the standard namespace "
                    f"{canonical!r} in another case, which may match no identity at Adobe; "
                    f"write {canonical!r}",
                )
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
        problem = identity_problem(identity.namespace, identity.value)
        if problem is not None:
            yield _finding(request, identity.path, *problem)


def dataset_all(request: Request, settings: Settings) -> Iterator[Finding]:
    """Only ``ALL``, exactly so, means every dataset, and only for a RecordDelete."""
    dataset = request.spec.get("datasetId")
    if not isinstance(dataset, str) or dataset.upper() != ALL_DATASETS:
        return
    if not request.kind.all_datasets:
        message = (
            f"datasetId {dataset!r} names no dataset: a {request.kind.noun} acts on one "
            "dataset; write its id"
        )
    elif dataset != ALL_DATASETS:
        message = (
            f"datasetId {dataset!r} is not ALL: only ALL in capitals means every dataset "
            "(with metadata.allowAllDatasets: true); write ALL or name one dataset"
        )
    else:
        return
    yield _finding(request, ("spec", "datasetId"), "all-datasets-case", message)


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


def sandbox_allowed(request: Request, settings: Settings) -> Iterator[Finding]:
    """A Data Hygiene request targets a sandbox the repository may target: one of
    ``adobe.sandboxes``, or without that list the default one (``adobe.sandboxName``).
    A request with no sandbox to resolve (no default set here) is left to where the
    default is known: the apply job checks again before anything is sent."""
    default = settings.adobe.sandbox_name
    sandbox = request_sandbox(request, default)
    allowed = settings.adobe.allowed_sandboxes
    if sandbox is None or sandbox in allowed:
        return
    declared = declared_sandbox(request) is not None
    path = ("metadata", "sandbox") if declared else ("metadata", "name")
    if settings.adobe.sandboxes:
        listed = ", ".join(allowed)
        if declared:
            what = (
                f"sandbox {sandbox!r} is not one this repository may target (adobe.sandboxes "
                f"in reconciler.yaml lists {listed}): name one of those, or add {sandbox!r} "
                "to adobe.sandboxes (a change a maintainer reviews)"
            )
        else:
            what = (
                f"this request names no sandbox and goes to the default one, {sandbox!r} "
                f"(adobe.sandboxName or ADOBE_SANDBOX_NAME), which adobe.sandboxes ({listed}) "
                f"does not list: set metadata.sandbox to one of those, or add {sandbox!r} to "
                "adobe.sandboxes"
            )
    elif default:
        what = (
            f"sandbox {sandbox!r} is not this repository's sandbox ({default!r}, "
            f"adobe.sandboxName): to target several, list them in reconciler.yaml "
            f"(adobe.sandboxes: [{default}, {sandbox}]), or remove metadata.sandbox"
        )
    else:
        what = (
            f"sandbox {sandbox!r} is not listed in reconciler.yaml: list the sandboxes "
            f"requests may target in adobe.sandboxes (e.g. adobe.sandboxes: [{sandbox}])"
        )
    yield _finding(request, path, "sandbox-not-allowed", what)


RULES: tuple[Rule, ...] = (
    name_matches_file,
    sandbox_allowed,
    dataset_all,
    kind_rules,
    identity_formats,
    placeholder_identities,
    duplicate_identities,
    cleartext_identities,
    ciphertext_form,
    identity_limits,
    safe_text,
    deadline_dates,
)


def check_request(request: Request, settings: Settings) -> list[Finding]:
    """Every rule's findings for one request."""
    return [finding for rule in RULES for finding in rule(request, settings)]
