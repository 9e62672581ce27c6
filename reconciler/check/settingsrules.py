"""Rules on ``reconciler.yaml``: settings that decide where requests go and what is trusted.

A pull request that changes a request file shows the change in its diff; one that
changes a setting can move trust without touching any request: send the client
secret to another host, point the ledger at an empty folder (every request looks
new and is sent again), let identities in clear or bigger requests through. So
with ``--base`` every such change is a finding that says why it matters
(:func:`settings_changes`), located on its line of ``reconciler.yaml``:

* ``adobe.imsUrl``/``adobe.platformUrl``: a host outside Adobe's domains, this
  machine or plain http is an error (``endpoint-outside-adobe``); any other change
  a warning (``endpoint-changed``). Without ``--base`` an endpoint outside Adobe
  is a warning (:func:`endpoint_findings`): the apply workflow takes both from its
  environment, but a person applying from a clone reads them from the file.
* ``paths.requests``, ``paths.ledger``, ``ledger.branch``, ``apply.branch``: errors.
* ``limits.*`` raised, ``policy.allowCleartextIdentities`` turned on,
  ``policy.requireApproval`` turned off: errors.
  Lowering a limit or tightening the policy is fine and reported nowhere.
* ``encryption.recipients`` and ``adobe.orgId``/``adobe.sandboxName`` changed, and
  ``adobe.sandboxes`` letting requests target a sandbox they could not before:
  warnings naming what changed (public keys and names only).
* ``scope`` changed while the ledger has entries: an error (``scope-changed``,
  :func:`scope_changes`), since every object applied so far carries the old
  scope's tag and would no longer be found as the repository's own. Writing
  out the scope derived from the root commit is no change.

Without ``--base`` too, a ``reconciler.yaml`` that names no scope is a warning
(``scope-not-stored``, :func:`scope_findings`) that prints the line to add.

Both sides are compared with their defaults filled in, so writing out a default is
no change. Nothing here reads the environment: the file is what a pull request
can change.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from reconciler.check.findings import Finding, Severity
from reconciler.errors import SettingsError
from reconciler.settings import (
    ADOBE_IMS_URL,
    ADOBE_PLATFORM_URL,
    DERIVED_SCOPE_DIGITS,
    Limits,
    Settings,
    derive_scope,
    scope_line,
)
from reconciler.yamlfile import Document, Mark

ADOBE_DOMAINS = ("adobelogin.com", "adobe.io", "adobe.com")
ENDPOINTS = (("imsUrl", ADOBE_IMS_URL), ("platformUrl", ADOBE_PLATFORM_URL))
LIMITS = (
    ("maxIdentitiesPerRequest", Limits().max_identities_per_request),
    ("maxIdentitiesPerRun", Limits().max_identities_per_run),
)


def value_at(data: Any, *path: str) -> Any:
    """The value at ``path`` in a settings document, None where any part is missing
    (or the document is not shaped like settings: a base revision's file is not
    checked against the schema)."""
    node = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def endpoint_problem(url: str) -> str | None:
    """Why the apply job must not send Adobe credentials to ``url``; None for Adobe's."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return "it is not a URL"
    if not host:
        return "it names no host"
    if host == "localhost" or host.endswith(".localhost") or _is_loopback(host):
        return (
            f"its host {host} is this machine: requests would reach a local server (an "
            "emulator), not Adobe, and the ledger would record them as applied"
        )
    if not any(host == d or host.endswith("." + d) for d in ADOBE_DOMAINS):
        return (
            f"its host {host} is outside Adobe's domains ({', '.join(ADOBE_DOMAINS)}): "
            "the client secret and every request would be sent there"
        )
    if parts.scheme != "https":
        return f"it is {parts.scheme}, not https: the client secret would travel unencrypted"
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(data: Any, key: str, default: str) -> str:
    value = value_at(data, "adobe", key)
    return value if isinstance(value, str) else default


def _at(doc: Document | None, path: tuple[str, ...], shown: str) -> tuple[str, int, int]:
    mark = doc.locate(path, key=True) if doc is not None else Mark(1, 1)
    return shown, mark.line, mark.column


def endpoint_findings(doc: Document | None, shown: str) -> list[Finding]:
    """Warnings for endpoints in ``reconciler.yaml`` the apply job must not trust."""
    data = doc.data if doc is not None else None
    found = []
    for key, default in ENDPOINTS:
        problem = endpoint_problem(_endpoint(data, key, default))
        if problem is not None:
            found.append(
                Finding(
                    *_at(doc, ("adobe", key), shown),
                    "endpoint-outside-adobe",
                    f"adobe.{key} is not Adobe's: {problem}; leave it out (Adobe's is the "
                    f"default) and set ADOBE_{_env(key)} where you test instead",
                    Severity.WARNING,
                )
            )
    return found


def _env(key: str) -> str:
    return "IMS_URL" if key == "imsUrl" else "PLATFORM_URL"


def _folder(data: Any, key: str) -> str:
    value = value_at(data, "paths", key)
    return PurePosixPath(value if isinstance(value, str) else key).as_posix()


def _shown(value: object) -> str:
    return "none" if value is None else repr(value)


def settings_changes(
    before: Any, after: Document | None, shown: str, base: str
) -> Iterator[Finding]:
    """Findings for the changes to ``reconciler.yaml`` since ``base`` that move trust.

    ``before`` is the base's settings data (None without a file), ``after`` the
    document in the work tree (None without a file); ``shown`` is the file's path as
    findings name it.
    """
    now = after.data if after is not None else None

    def at(*path: str) -> tuple[str, int, int]:
        return _at(after, path, shown)

    for key, default in ENDPOINTS:
        old, new = _endpoint(before, key, default), _endpoint(now, key, default)
        if old == new:
            continue
        problem = endpoint_problem(new)
        if problem is not None:
            yield Finding(
                *at("adobe", key),
                "endpoint-outside-adobe",
                f"adobe.{key} changed since {base} and is not Adobe's: {problem}; restore it "
                f"(the apply workflow sets ADOBE_{_env(key)}; a person applying from a clone "
                "reads this file)",
            )
        else:
            yield Finding(
                *at("adobe", key),
                "endpoint-changed",
                f"adobe.{key} changed since {base}: whoever applies from a clone sends the "
                "client secret to this host; confirm it is Adobe's own before approving",
                Severity.WARNING,
            )
    for key, why in (
        (
            "requests",
            "the requests under the old folder would look removed and those under the new one new",
        ),
        (
            "ledger",
            "the ledger there looks empty, so every applied request would be sent "
            "again (consents re-sent, jobs re-created)",
        ),
    ):
        old_folder, new_folder = _folder(before, key), _folder(now, key)
        if old_folder != new_folder:
            yield Finding(
                *at("paths", key),
                "settings-paths",
                f"paths.{key} changed from {old_folder!r} to {new_folder!r} since {base}: "
                f"{why}; restore it (moving a folder is a maintainer's change of its own, "
                "files moved in the same commit)",
            )
    for section, key, why in (
        (
            "ledger",
            "branch",
            "the apply job would read the ledger from elsewhere, find it "
            "empty and send every applied request again",
        ),
        ("apply", "branch", "apply would take another branch for the reviewed state"),
    ):
        old_value, new_value = value_at(before, section, key), value_at(now, section, key)
        if section == "apply":
            old_value, new_value = old_value or "main", new_value or "main"
        if old_value != new_value:
            yield Finding(
                *at(section, key),
                f"{section}-branch-changed",
                f"{section}.{key} changed from {_shown(old_value)} to {_shown(new_value)} "
                f"since {base}: {why}; restore it",
            )
    for limit, cap in LIMITS:
        old_limit, new_limit = value_at(before, "limits", limit), value_at(now, "limits", limit)
        old_n = old_limit if isinstance(old_limit, int) else cap
        new_n = new_limit if isinstance(new_limit, int) else cap
        if new_n > old_n:
            yield Finding(
                *at("limits", limit),
                "limit-raised",
                f"limits.{limit} raised from {old_n} to {new_n} since {base}: bigger deletions "
                "would pass the check from now on; restore it, or have a maintainer merge "
                "the raise on its own",
            )
    old_clear = value_at(before, "policy", "allowCleartextIdentities") is not False
    new_clear = value_at(now, "policy", "allowCleartextIdentities") is not False
    if new_clear and not old_clear:
        yield Finding(
            *at("policy", "allowCleartextIdentities"),
            "policy-loosened",
            f"policy.allowCleartextIdentities turned on since {base}: identities in clear "
            "would pass the check and stay in git history for good; restore false",
        )
    if value_at(before, "policy", "requireApproval") is True and (
        value_at(now, "policy", "requireApproval") is not True
    ):
        yield Finding(
            *at("policy", "requireApproval"),
            "policy-loosened",
            f"policy.requireApproval turned off since {base}: apply would create requests "
            "nobody but their author approved, this one's included; restore true, or have "
            "a maintainer merge the change on its own",
        )
    yield from _recipients(before, now, at, base)
    yield from _sandboxes(before, now, at, base)
    for key in ("orgId", "sandboxName"):
        old_name, new_name = value_at(before, "adobe", key), value_at(now, "adobe", key)
        if old_name != new_name:
            yield Finding(
                *at("adobe", key),
                "adobe-target-changed",
                f"adobe.{key} changed from {_shown(old_name)} to {_shown(new_name)} since "
                f"{base}: where ADOBE_{'ORG_ID' if key == 'orgId' else 'SANDBOX_NAME'} is not "
                "set, requests would be applied there; confirm it",
                Severity.WARNING,
            )


def _sandboxes(
    before: Any, now: Any, at: Callable[..., tuple[str, int, int]], base: str
) -> Iterator[Finding]:
    """A warning when ``adobe.sandboxes`` lets requests target a sandbox they could not
    target at the base (a production sandbox, perhaps): names only, never identities."""

    def allowed(data: Any) -> set[str]:
        listed = value_at(data, "adobe", "sandboxes")
        if isinstance(listed, list):
            return {s for s in listed if isinstance(s, str)}
        default = value_at(data, "adobe", "sandboxName")
        return {default} if isinstance(default, str) else set()

    added = sorted(allowed(now) - allowed(before))
    if added and value_at(now, "adobe", "sandboxes") is not None:
        yield Finding(
            *at("adobe", "sandboxes"),
            "adobe-sandboxes-changed",
            f"adobe.sandboxes lets requests target {', '.join(added)} since {base}: requests "
            "naming it in metadata.sandbox would be applied there; confirm it",
            Severity.WARNING,
        )


def _recipients(
    before: Any, now: Any, at: Callable[..., tuple[str, int, int]], base: str
) -> Iterator[Finding]:
    def keys(data: Any) -> list[str]:
        value = value_at(data, "encryption", "recipients")
        return [k for k in value if isinstance(k, str)] if isinstance(value, list) else []

    old, new = keys(before), keys(now)
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    if not added and not removed:
        return
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    yield Finding(
        *at("encryption", "recipients"),
        "recipients-changed",
        f"encryption.recipients changed since {base} ({'; '.join(parts)}): whoever holds an "
        "added key can read every identity encrypted from now on; confirm each one is a "
        "person or job trusted with identities",
        Severity.WARNING,
    )


def scope_findings(settings: Settings, document: Document | None, shown: str) -> list[Finding]:
    """A warning when ``reconciler.yaml`` names no ``scope``: the scope is then derived
    from the root commit, which a shallow clone or a rewritten history does not have, so
    the message gives the exact line that stores it (a new one before the first commit).
    Nothing without a ``reconciler.yaml``: there is no file to add the line to, and
    ``reconciler init`` writes one with its scope."""
    if settings.declared_scope is not None or document is None:
        return []
    try:
        derived = derive_scope(settings.root)
    except SettingsError:  # a shallow clone: the line cannot be known here
        return [
            Finding(
                *_at(document, ("scope",), shown),
                "scope-not-stored",
                f"{shown} names no scope, and this shallow clone cannot derive it from the "
                "root commit: run `reconciler validate` in a full clone and add the line it "
                "prints",
                Severity.WARNING,
            )
        ]
    if derived is None:
        line = scope_line(secrets.token_hex(DERIVED_SCOPE_DIGITS // 2))
        why = (
            "the repository has no commit to derive one from, so what is applied now is "
            "tagged without a scope, and would be taken for its own by any repository of "
            "the organisation that has none"
        )
    else:
        line = scope_line(derived)
        why = (
            f"{derived} is derived from the root commit, the same in every full clone, but "
            "not in a shallow one nor after history is rewritten"
        )
    return [
        Finding(
            *_at(document, ("scope",), shown),
            "scope-not-stored",
            f"{shown} names no scope, which names this repository in the tags of what it "
            f"creates at Adobe: {why}; add the line `{line}` to {shown}",
            Severity.WARNING,
        )
    ]


def scope_changes(
    before: Any,
    settings: Settings,
    after: Document | None,
    shown: str,
    base: str,
    *,
    applied: bool,
) -> Iterator[Finding]:
    """An error when the scope differs from ``base``'s while the ledger has entries
    (``applied``). Each side's scope is its ``scope:``, else the one derived from the root
    commit (the same on both sides), so storing the derived one changes nothing."""
    old, new = value_at(before, "scope"), settings.declared_scope
    old = old if isinstance(old, str) else None
    if old == new or not applied:
        return
    derived = derive_scope(settings.root) or ""
    old_scope, new_scope = old or derived, new or derived
    if old_scope == new_scope:
        return
    restore = f"restore `{scope_line(old_scope)}`" if old_scope else "remove the scope line"
    yield Finding(
        *_at(after, ("scope",), shown),
        "scope-changed",
        f"scope changed from {old_scope or 'none'} to {new_scope or 'none'} since {base}, "
        "and the ledger has entries: every object applied so far carries the old scope in "
        "its tag, so this repository would no longer know them as its own (nor find them "
        f"again after a lost response); {restore}",
    )
