"""Repository settings: ``reconciler.yaml`` at the root, overridden by the environment.

Without a ``reconciler.yaml`` every setting has its default (requests in
``requests/``, ledger in ``ledger/``). Secrets are never read from the file:
the age key that decrypts identities comes from the environment
(:class:`reconciler.secrets.crypto.Keyring`), the public keys to encrypt them for from
``encryption.recipients``.

``scope`` names the repository in the tags of what it creates at Adobe
(:mod:`reconciler.reconcile.tagging`), so that repositories sharing an
organisation never take each other's objects for their own. ``reconciler init``
writes one. A repository without one (started before scopes) gets one derived
from its root commit (:func:`derive_scope`), the same in every full clone;
``reconciler validate`` prints the line that stores it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pyrage import x25519

from reconciler.errors import SettingsError
from reconciler.git.history import first_parent_line
from reconciler.git.repo import find_repo, run
from reconciler.reconcile.tagging import UNSCOPED, Scope
from reconciler.repository import SETTINGS_FILE
from reconciler.schemas import check
from reconciler.secrets.crypto import NO_KEYS, CryptoError, Keyring, parse_recipients
from reconciler.yamlfile import Document, Mark, ParseError, load_document, parse_document

# apply.resendAfter's default: how long a create with an unknown outcome waits.
DEFAULT_GRACE = timedelta(hours=1)
_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d`` as a timedelta (the schema checks the form first)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise SettingsError(f"{text!r} is not a duration such as 90s, 15m, 1h or 2d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


ADOBE_IMS_URL = "https://ims-na1.adobelogin.com"
ADOBE_PLATFORM_URL = "https://platform.adobe.io"
# Adobe's own limits (api-notes: 100,000 identities per work order, 1,000 users per job).
ADOBE_MAX_IDENTITIES_PER_WORK_ORDER = 100_000
ADOBE_MAX_USERS_PER_JOB = 1_000
# How many hex digits of the root commit make a derived scope: two repositories of one
# organisation share one by chance about once in 4 billion pairs, and every tag stays short.
DERIVED_SCOPE_DIGITS = 8


@dataclass(frozen=True)
class Limits:
    max_identities_per_request: int = 10_000
    max_identities_per_run: int = 100_000
    # Budgets below Adobe's quotas (None: Adobe's own): what the plan allots, per quota.
    identities_per_day: int | None = None
    identities_per_month: int | None = None
    active_expirations: int | None = None


@dataclass(frozen=True)
class ClientSettings:
    max_concurrency: int = 4
    requests_per_second: float = 10.0
    timeout_seconds: float = 30.0
    max_retries: int = 5


@dataclass(frozen=True)
class AdobeSettings:
    org_id: str | None = None
    sandbox_name: str | None = None
    ims_url: str = ADOBE_IMS_URL
    platform_url: str = ADOBE_PLATFORM_URL
    scopes: tuple[str, ...] = ()
    # adobe.sandboxes: the sandboxes requests may name; empty: only sandbox_name.
    sandboxes: tuple[str, ...] = ()

    @property
    def allowed_sandboxes(self) -> tuple[str, ...]:
        """The sandboxes requests may target: ``adobe.sandboxes``, else the default one."""
        if self.sandboxes:
            return self.sandboxes
        return (self.sandbox_name,) if self.sandbox_name else ()


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about the repository it runs in."""

    root: Path
    requests_dir: str = "requests"
    ledger_dir: str = "ledger"
    limits: Limits = field(default_factory=Limits)
    client: ClientSettings = field(default_factory=ClientSettings)
    adobe: AdobeSettings = field(default_factory=AdobeSettings)
    allow_cleartext_identities: bool = True
    # policy.requireApproval: apply creates only what a pull request's reviewer approved.
    require_approval: bool = False
    source: Path | None = None
    recipients: tuple[str, ...] = ()
    age_recipients: tuple[x25519.Recipient, ...] = field(default=(), repr=False, compare=False)
    keyring: Keyring = NO_KEYS
    # The branch that holds the ledger (None: the ledger is in this work tree), and, once
    # reconciler.git.ledgerbranch.attach has checked it out, the work tree it is checked out in.
    ledger_branch: str | None = None
    ledger_root: Path | None = None
    # The branch pull requests merge into: the only one apply runs from (apply.branch).
    apply_branch: str = "main"
    # How long a create with an unknown outcome waits before it is sent again.
    resend_after: timedelta = DEFAULT_GRACE
    # Whether pending privacy jobs of one regulation, products and options share
    # submissions of up to 1,000 users (apply.batchPrivacyJobs).
    batch_privacy_jobs: bool = True
    # A request due within this many days is at risk (deadlines.atRiskDays).
    at_risk_days: int = 7

    # `scope:` as reconciler.yaml writes it; None: derived (see `scope`).
    declared_scope: str | None = None

    @cached_property
    def scope(self) -> Scope:
        """The scope of this repository's tags: ``scope:`` in reconciler.yaml, else the one
        derived from the root commit, else (no commit yet, or no git) none: the form of
        before scopes. A :class:`SettingsError` in a shallow clone without ``scope:``."""
        if self.declared_scope is not None:
            return Scope(self.declared_scope)
        derived = derive_scope(self.root)
        return Scope(derived) if derived is not None else UNSCOPED

    @property
    def requests_path(self) -> Path:
        return self.root / self.requests_dir

    @property
    def ledger_path(self) -> Path:
        return (self.ledger_root or self.root) / self.ledger_dir


def _inside(root: Path, rel: str, what: str, where: str) -> str:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise SettingsError(f"{where}: {what} {rel!r} points outside the repository")
    return rel


def load_settings(root: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``reconciler.yaml`` under ``root`` (if any) and apply environment overrides."""
    env = {} if env is None else env
    path = root / SETTINGS_FILE
    data: dict[str, Any] = {}
    doc: Document | None = None
    if path.is_file():
        try:
            doc = load_document(path, SETTINGS_FILE)
        except ParseError as e:
            raise SettingsError(str(e)) from None
        if doc.data is not None:
            errors = check("settings.schema.json", doc.data)
            if errors:
                first = errors[0]
                mark = doc.locate(first.path, key=first.at_key)
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                raise SettingsError(
                    f"{SETTINGS_FILE}:{mark.line}:{mark.column}: {first.message}{more}; "
                    "see schemas/settings.schema.json"
                )
            data = doc.data
    paths = data.get("paths", {})
    limits = data.get("limits", {})
    client = data.get("client", {})
    adobe = data.get("adobe", {})
    policy = data.get("policy", {})
    ledger_branch = data.get("ledger", {}).get("branch")
    recipients = tuple(data.get("encryption", {}).get("recipients", ()))
    age_recipients: list[x25519.Recipient] = []
    for i, text in enumerate(recipients):
        try:
            age_recipients.extend(parse_recipients([text]))
        except CryptoError:
            mark = doc.locate(("encryption", "recipients", i)) if doc else Mark(1, 1)
            raise SettingsError(
                f"{SETTINGS_FILE}:{mark.line}:{mark.column}: encryption.recipients[{i}] is not "
                "an age public key; list the public keys age-keygen prints (age1…)"
            ) from None
    where = f"{SETTINGS_FILE}"
    return Settings(
        root=root,
        requests_dir=_inside(root, paths.get("requests", "requests"), "paths.requests", where),
        ledger_dir=_inside(root, paths.get("ledger", "ledger"), "paths.ledger", where),
        limits=Limits(
            max_identities_per_request=limits.get("maxIdentitiesPerRequest", 10_000),
            max_identities_per_run=limits.get("maxIdentitiesPerRun", 100_000),
            identities_per_day=limits.get("identitiesPerDay"),
            identities_per_month=limits.get("identitiesPerMonth"),
            active_expirations=limits.get("activeExpirations"),
        ),
        client=ClientSettings(
            max_concurrency=client.get("maxConcurrency", 4),
            requests_per_second=float(client.get("requestsPerSecond", 10.0)),
            timeout_seconds=float(client.get("timeoutSeconds", 30.0)),
            max_retries=client.get("maxRetries", 5),
        ),
        adobe=AdobeSettings(
            org_id=env.get("ADOBE_ORG_ID") or adobe.get("orgId"),
            sandbox_name=env.get("ADOBE_SANDBOX_NAME") or adobe.get("sandboxName"),
            ims_url=env.get("ADOBE_IMS_URL") or adobe.get("imsUrl", ADOBE_IMS_URL),
            platform_url=env.get("ADOBE_PLATFORM_URL")
            or adobe.get("platformUrl", ADOBE_PLATFORM_URL),
            scopes=tuple(adobe.get("scopes", ())),
            sandboxes=tuple(adobe.get("sandboxes", ())),
        ),
        allow_cleartext_identities=policy.get("allowCleartextIdentities", True),
        require_approval=policy.get("requireApproval", False),
        source=path if path.is_file() else None,
        recipients=recipients,
        age_recipients=tuple(age_recipients),
        keyring=Keyring.from_env(env, data.get("encryption", {}).get("fingerprintKey", "")),
        ledger_branch=ledger_branch,
        apply_branch=data.get("apply", {}).get("branch", "main"),
        resend_after=parse_duration(data.get("apply", {}).get("resendAfter", "1h")),
        batch_privacy_jobs=data.get("apply", {}).get("batchPrivacyJobs", True),
        at_risk_days=data.get("deadlines", {}).get("atRiskDays", 7),
        declared_scope=data.get("scope"),
    )


def scope_line(scope: str) -> str:
    """The line of reconciler.yaml that stores ``scope``, quoted where YAML would read the
    plain value as something else than a string (``12345678``, ``null``, ``true``)."""
    try:
        plain = parse_document(SETTINGS_FILE, f"scope: {scope}\n").data
    except ParseError:
        plain = None
    return f"scope: {scope}" if plain == {"scope": scope} else f'scope: "{scope}"'


def derive_scope(root: Path) -> str | None:
    """The scope of a repository whose reconciler.yaml names none: the first hex digits of
    the root commit of HEAD's first-parent line, which every full clone shares and no merge
    changes. None outside git and before the first commit (nothing is stable yet).

    A shallow clone's oldest commit is not the root, and deriving from it would tag (and
    look for) everything under another scope: that is a :class:`SettingsError`.
    """
    repo = find_repo(root)
    if repo is None:
        return None
    _, out = run(repo, "rev-parse", "--is-shallow-repository", what="read whether it is shallow")
    if out.strip() == b"true":
        raise SettingsError(
            f"{SETTINGS_FILE} names no scope, and in a shallow clone the root commit it is "
            "derived from is unknown: fetch the whole history (git fetch --unshallow, or "
            "fetch-depth: 0 in the checkout step), or add the `scope:` line that "
            "`reconciler validate` prints in a full clone"
        )
    line = first_parent_line(repo)
    return line[0][:DERIVED_SCOPE_DIGITS] if line else None
