"""One HTTP exchange with an untrusted server: a byte cap, a deadline, and careful decoding.

This is where ``httpx`` exceptions stop: each becomes an ``AttemptFailed`` whose kind
feeds the retry policy (``retry.py``) and whose error is one of ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from reconciler.adobe.errors import InvalidResponseError, TransportError
from reconciler.adobe.retry import AttemptFailed, FailureKind
from reconciler.adobe.sanitize import clean_error_code, clean_text


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: httpx.Headers
    body: bytes


def exchange(
    http: httpx.Client,
    request: httpx.Request,
    *,
    path: str,
    max_bytes: int,
    deadline: float,
    clock: Callable[[], float],
) -> RawResponse:
    """Send ``request`` and read the whole answer, or raise ``AttemptFailed``.

    ``deadline`` is absolute (in ``clock`` units) and covers reading the body, so a
    server that trickles bytes forever is cut off even though each read is quick.
    ``path`` names the call in errors; the URL's query is never shown.
    """
    method = request.method
    try:
        response = http.send(request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as e:
        where = _origin(request.url)
        raise _failed(
            FailureKind.CONNECT, method, path, f"could not connect to {where} ({_kind(e)})"
        ) from e
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as e:
        raise _failed(FailureKind.FATAL, method, path, f"request not sent ({_kind(e)})") from e
    except httpx.HTTPError as e:
        raise _failed(FailureKind.SEND, method, path, f"no answer ({_kind(e)})") from e
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise _invalid(method, path, f"answer too large ({declared} bytes > {max_bytes})")
        chunks: list[bytes] = []
        size = 0
        if clock() > deadline:
            raise _failed(FailureKind.SEND, method, path, "no complete answer before the deadline")
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _invalid(method, path, f"answer too large (over {max_bytes} bytes)")
            chunks.append(chunk)
            if clock() > deadline:
                raise _failed(
                    FailureKind.SEND, method, path, "no complete answer before the deadline"
                )
    except httpx.DecodingError as e:
        raise _invalid(method, path, "answer could not be decoded") from e
    except httpx.HTTPError as e:
        raise _failed(FailureKind.SEND, method, path, f"answer broken off ({_kind(e)})") from e
    finally:
        response.close()
    return RawResponse(status=response.status_code, headers=response.headers, body=b"".join(chunks))


def _origin(url: httpx.URL) -> str:
    """Where a request went, without its path or query: what a person checks first when
    nothing answers (a host and port from the settings, never a value)."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


def _kind(error: Exception) -> str:
    # The class name only: httpx messages can contain URLs with query strings.
    return type(error).__name__


def _failed(kind: FailureKind, method: str, path: str, reason: str) -> AttemptFailed:
    return AttemptFailed(kind, TransportError(method, path, reason))


def _invalid(method: str, path: str, reason: str) -> AttemptFailed:
    return AttemptFailed(FailureKind.INVALID, InvalidResponseError(f"{method} {path}: {reason}"))


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, any parameters."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


def parse_json(raw: RawResponse, *, method: str, path: str) -> object:
    """The JSON body of a success answer, or ``InvalidResponseError``."""
    if not is_json_type(raw.headers.get("content-type")):
        media = clean_text(raw.headers.get("content-type") or "none", limit=60)
        raise InvalidResponseError(f"{method} {path}: expected a JSON answer, got type {media}")
    if not raw.body.strip():
        raise InvalidResponseError(f"{method} {path}: expected a JSON answer, got an empty body")
    try:
        return json.loads(raw.body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and too-long integers.
        raise InvalidResponseError(f"{method} {path}: answer is not valid JSON") from e


@dataclass(frozen=True)
class ErrorDetails:
    error_code: str | None
    message: str | None


def parse_error_body(raw: RawResponse, *, redact: Iterable[str] = ()) -> ErrorDetails:
    """Adobe's ``error_code``/``message`` from an error answer, whatever shape it has.

    Shapes seen: ``{"error_code", "message"}`` (Data Hygiene, gateway),
    ``{"type", "status", "title", "detail"}`` (Platform), ``{"error", "error_description"}`` (IMS).
    Never raises: an unreadable body gives empty details.
    """
    try:
        data = json.loads(raw.body, parse_constant=_reject_constant) if raw.body.strip() else None
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return ErrorDetails(None, None)
    code = None
    for key in ("error_code", "errorCode", "code", "error"):
        code = clean_error_code(data.get(key))
        if code:
            break
    if code is None and isinstance(data.get("type"), str):
        # Platform problem types end in the code: .../errors/HYGN-3102-400
        code = clean_error_code(data["type"].rstrip("/").rsplit("/", 1)[-1])
    message = None
    for key in ("message", "errorMessage", "error_description", "detail", "title"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            message = clean_text(value, redact=redact)
            break
    return ErrorDetails(code, message or None)
