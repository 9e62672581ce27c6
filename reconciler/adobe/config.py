"""Settings of the Adobe client: endpoints, credentials, limits."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import SettingsError

DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_PLATFORM_URL = "https://platform.adobe.io"
# The scopes Adobe's Experience Platform authentication guide gives an OAuth
# Server-to-Server credential (the Developer Console shows the same string).
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext"

IMS_TOKEN_PATH = "/ims/token/v3"
HYGIENE_BASE = "/data/core/hygiene"
PRIVACY_BASE = "/data/core/privacy"

# Environment variable -> field. Secrets come only from the environment.
ENV_REQUIRED = {
    "ADOBE_CLIENT_ID": "client_id",
    "ADOBE_CLIENT_SECRET": "client_secret",
    "ADOBE_ORG_ID": "org_id",
    "ADOBE_SANDBOX_NAME": "sandbox_name",
}
ENV_OPTIONAL = {
    "ADOBE_IMS_URL": "ims_url",
    "ADOBE_PLATFORM_URL": "platform_url",
    "ADOBE_SCOPES": "scopes",
}

_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class AdobeConfig:
    """Everything the client needs; ``client_secret`` never appears in ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    sandbox_name: str
    ims_url: str = DEFAULT_IMS_URL
    platform_url: str = DEFAULT_PLATFORM_URL
    scopes: str = DEFAULT_SCOPES
    timeout: float = 30.0
    """Seconds for each connect, write, read and pool wait."""
    attempt_deadline: float = 90.0
    """Seconds one attempt may take, body included (Adobe's gateway itself gives up at 60)."""
    call_deadline: float = 300.0
    """Seconds one call may take in total, retries and waits included."""
    max_concurrency: int = 4
    requests_per_second: float = 10.0
    max_retries: int = 5
    max_response_bytes: int = 16 * 1024 * 1024
    max_retry_after: float = 120.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_pages: int = 1000
    allow_insecure_http: bool = False
    """Allow ``http://`` to a host that is not loopback (it would send the secret in clear)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ENV_REQUIRED.values():
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{name} is empty")
            elif any(ch in value for ch in "\r\n\0"):
                problems.append(f"{name} contains a control character")
        for name in ("ims_url", "platform_url"):
            problem = _url_problem(getattr(self, name), self.allow_insecure_http)
            if problem:
                problems.append(f"{name} {problem}")
        for name in ("timeout", "attempt_deadline", "call_deadline", "requests_per_second"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be positive")
        for name in ("backoff_base", "backoff_max", "max_retry_after"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must not be negative")
        for name, low in (
            ("max_concurrency", 1),
            ("max_retries", 0),
            ("max_response_bytes", 1024),
            ("max_pages", 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"{name} must be an integer >= {low}")
        if problems:
            raise SettingsError("Adobe settings are invalid: " + "; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> AdobeConfig:
        """Build from environment variables; ``overrides`` win (e.g. from reconciler.yaml).

        Raises ``SettingsError`` naming the missing variables, never their values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise SettingsError(f"unknown Adobe settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        missing = []
        for var, name in ENV_REQUIRED.items():
            if name in overrides:
                continue
            value = env.get(var, "").strip()
            if value:
                values[name] = value
            else:
                missing.append(var)
        if missing:
            raise SettingsError(
                "missing environment variable(s) for the Adobe API: " + ", ".join(missing)
            )
        for var, name in ENV_OPTIONAL.items():
            value = env.get(var, "").strip()
            if value:
                values[name] = value
        values.update(overrides)
        return cls(**values)

    def with_changes(self, **changes: Any) -> AdobeConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @property
    def token_url(self) -> str:
        return self.ims_url.rstrip("/") + IMS_TOKEN_PATH

    @property
    def platform_base(self) -> str:
        return self.platform_url.rstrip("/")


def _url_problem(url: object, allow_insecure_http: bool) -> str | None:
    if not isinstance(url, str) or not url:
        return "is empty"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an http(s) URL with a host"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not carry credentials, a query or a fragment"
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        return "uses plain http to a host that is not loopback"
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
