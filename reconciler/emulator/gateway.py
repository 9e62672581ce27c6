"""Adobe's gateway rules: bearer token, API key, organisation and sandbox headers.

Error codes and messages are those of Experience Platform's troubleshooting
guide ("Request header errors"): ``403010`` token missing, ``401013`` token
invalid, ``403000`` API key required, ``403003`` API key invalid, ``400003``
missing header, ``403025`` profile not valid (token of another org).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.state import Emulator


@dataclass(frozen=True)
class Caller:
    """Who is calling, once the gateway has let the request through."""

    client_id: str
    org_id: str
    sandbox: str | None
    created_by: str


class Rejected(Exception):
    """A request refused with an HTTP response; raised inside handlers."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Rejected:
    """An Adobe-style error ``{"error_code", "message"}`` to raise."""
    return Rejected(JSONResponse({"error_code": code, "message": message}, status, headers))


def bad_request(message: str) -> Rejected:
    # Data Hygiene's documented 400 body (spec: ErrorResponse400).
    return error(400, "400001", message)


def clip(text: str, limit: int = 64) -> str:
    """``text`` cut to ``limit`` characters and an ellipsis: for client input echoed in
    messages, so a 100 kB path or id is not sent back."""
    return text if len(text) <= limit else f"{text[:limit]}…"


_ASCII_DIGITS = frozenset("0123456789")


def query_int(params: Mapping[str, str], key: str, default: int, low: int, high: int | None) -> int:
    """A query parameter as an integer the way Adobe's gateway reads one: ASCII digits only
    (no sign, spaces, underscores or other scripts' digits, all of which Python's ``int``
    accepts), within ``low``..``high``; ``default`` when absent or empty."""
    raw = params.get(key)
    if not raw:
        return default
    if len(raw) > 12 or not set(raw) <= _ASCII_DIGITS:
        raise bad_request(f"{key} must be an integer.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{key} must be {bound}.")
    return value


# Strict YYYY-MM-DD in ASCII digits: date.fromisoformat also takes 20261101 and 2026-W45-1,
# and a regex's \d would take other scripts' digits.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_day(raw: str) -> bool:
    """Whether ``raw`` has the shape of a YYYY-MM-DD date."""
    return _DAY.fullmatch(raw) is not None


def query_day(raw: str, key: str) -> date:
    """A query parameter as a YYYY-MM-DD date, or a 400 naming ``key``."""
    try:
        if is_day(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise bad_request(f"{key} must be a date (YYYY-MM-DD).")


def created_by(client_id: str, name: str) -> str:
    """Adobe's ``createdBy`` shape for a technical account: ``name <email> id@techacct``."""
    tech = hashlib.sha256(client_id.encode()).hexdigest()[:24].upper()
    email = f"{client_id}@techacct.adobe.com"
    return f"{name or client_id} <{email}> {tech}@techacct.adobe.com"


def authenticate(emulator: Emulator, request: Request, *, sandbox_required: bool) -> Caller:
    """Apply the gateway's header rules or raise :class:`Rejected`."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise error(403, "403010", "Oauth token is missing.")
    scheme, _, token = authorization.partition(" ")
    record = emulator.store.get_token(token.strip()) if scheme.lower() == "bearer" else None
    client = emulator.config.client(record.client_id) if record else None
    if record is None or client is None or record.expires_at <= time.time():
        raise error(401, "401013", "Oauth token is not valid")
    api_key = request.headers.get("x-api-key")
    if not api_key:
        raise error(403, "403000", "Api Key is required")
    if api_key != record.client_id:
        raise error(403, "403003", "Api Key is invalid")
    org_id = request.headers.get("x-gw-ims-org-id")
    if not org_id:
        raise error(400, "400003", "Missing header")
    if org_id != record.org_id:
        raise error(403, "403025", "Profile is not valid")
    sandbox = request.headers.get("x-sandbox-name") or None
    if sandbox_required and sandbox is None:
        raise error(400, "400003", "Missing header")
    if sandbox is not None and sandbox_required and sandbox not in client.sandboxes:
        # Adobe documents no code for an unknown sandbox; this one is the emulator's own.
        raise error(403, "403027", f"Sandbox {sandbox[:64]!r} is not valid for this organisation")
    return Caller(record.client_id, org_id, sandbox, created_by(client.client_id, client.name))


# Adobe's bodies nest four levels deep (a work order's namespacesIdentities[].namespace.code,
# a privacy job's users[].userIDs[]); 32 leaves room and stays far below the ~1,000 levels
# at which Python's parser raises RecursionError.
MAX_JSON_DEPTH = 32
TOO_DEEP = f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep."
# A lone UTF-16 surrogate can only arrive as a \uD800-\uDFFF escape (the body itself must be
# UTF-8); the parser keeps it, then nothing can encode it (SQLite, the JSON response).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` levels deep; one level
    at a time, without recursion."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        if not level:
            return False
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            pending.extend(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def parse_json(body: bytes) -> Any:
    """``body`` parsed, or :class:`Rejected` (400) when it is not JSON, nests deeper than
    :data:`MAX_JSON_DEPTH` or holds a string no UTF-8 text can carry."""
    try:
        value = json.loads(body)
    except RecursionError as e:
        raise bad_request(TOO_DEEP) from e
    except ValueError as e:  # UnicodeDecodeError included
        raise bad_request("The request body is not valid JSON.") from e
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise bad_request(TOO_DEEP)
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        raise bad_request("The request body holds a lone UTF-16 surrogate (\\uD800-\\uDFFF).")
    return value


def json_body(request: Request, body: bytes) -> Any:
    """The request's JSON body; Platform refuses bodies not sent as application/json."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        # Shape from the troubleshooting guide, "Valid content type not specified".
        raise Rejected(
            JSONResponse(
                {
                    "type": "/placeholder/type/uri",
                    "status": 400,
                    "title": "BadRequestError",
                    "detail": "A valid content-type must be specified",
                },
                400,
            )
        )
    return parse_json(body)


Handler = Callable[[Emulator, Request, bytes], Response]


def endpoint(emulator: Emulator, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Adapt a blocking handler to Starlette: read the body, run it in the threadpool."""

    async def run(request: Request) -> Response:
        body = await request.body()
        try:
            return await run_in_threadpool(handler, emulator, request, body)
        except Rejected as rejected:
            return rejected.response
        except RecursionError:
            # Only a parser fed a deeply nested body recurses this far: the admin routes
            # parse their own bodies without parse_json's bound.
            return bad_request(TOO_DEEP).response

    return run
