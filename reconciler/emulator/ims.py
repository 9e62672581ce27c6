"""IMS: ``POST /ims/token/v3``, OAuth server-to-server (client credentials).

Answers ``{"access_token", "token_type": "bearer", "expires_in"}`` with
``expires_in`` in seconds. Errors use OAuth 2's ``{"error",
"error_description"}`` shape (RFC 6749 section 5.2), as IMS does. Token
lifetime runs on real time, not the emulator clock, so advancing the clock
to see work orders complete does not log clients out; tests expire tokens
through ``POST /_emulator/tokens/expire``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.state import Emulator
from reconciler.emulator.store import TokenRecord


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_token(client_id: str, org_id: str, expires_at: float) -> str:
    # JWT-shaped like IMS's tokens, but opaque to the emulator: it looks tokens up.
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "x5u": "emulator"}).encode())
    claims = {
        "type": "access_token",
        "client_id": client_id,
        "org": org_id,
        "expires_at": int(expires_at * 1000),
        "jti": secrets.token_hex(8),
    }
    payload = _b64(json.dumps(claims).encode())
    return f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status)


def issue_token(emulator: Emulator, request: Request, body: bytes) -> Response:
    """Handle ``POST /ims/token/v3`` (form-encoded; query parameters also accepted)."""
    params = {k: v[0] for k, v in parse_qs(request.url.query).items()}
    params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    if params.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id = params.get("client_id", "")
    if not client_id:
        return _oauth_error(400, "invalid_request", "missing client_id parameter")
    client = emulator.config.client(client_id)
    if client is None:
        return _oauth_error(400, "invalid_client", "invalid client_id parameter")
    if not secrets.compare_digest(params.get("client_secret", ""), client.client_secret):
        return _oauth_error(401, "invalid_client", "invalid client_secret parameter")
    ttl = emulator.config.token_ttl_seconds
    expires_at = time.time() + ttl
    token = _new_token(client.client_id, client.org_id, expires_at)
    emulator.store.add_token(TokenRecord(token, client.client_id, client.org_id, expires_at))
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl})
