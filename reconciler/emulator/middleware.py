"""The ASGI layer in front of the routes: trailing slashes, body size, fault injection,
request log.

Every body is read here, at most :data:`MAX_BODY_BYTES` of it, before routing: a larger
one is answered 413 without reading the rest (at once when ``Content-Length`` says so,
else as soon as the count passes the bound), and a client that goes away before its body
is complete is logged at debug level, not as a traceback from deep inside a handler.

Faults are decided before the handler runs, so an injected 5xx or 429 never
writes anything. A dropped response is the opposite: the handler commits,
then the client gets the headers and half a body before the connection
closes, which clients see as a broken connection (httpx raises
``RemoteProtocolError``), while the work order exists. A commit-then-error is
the same lie told in words: the handler commits, then the client gets a 429
(with ``Retry-After``), a 401 (the gateway's invalid-token answer) or a 5xx in
the shape of one that wrote nothing. Either happens only to a write the handler
accepted (2xx); a refused one is answered as it is.

Faults that act on what a handler answers (search lag, lying totals, short
pages, reused ids) travel to it in the scope (``faults.request_faults``); the
ones it applied are counted and logged with the rest. Admin calls get none.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.faults import SCOPE_KEY, FaultDecision, RequestFaults
from reconciler.emulator.gateway import clip
from reconciler.emulator.state import Emulator

ADMIN_PREFIX = "/_emulator"
TOKEN_PATH = "/ims/token/v3"

# Adobe documents no body limit; this one is the emulator's. The largest body Adobe's
# limits allow is a work order of 100,000 identities. Measured with json.dumps: 5.8 MB in
# the grouped namespacesIdentities form with 52-character addresses, 9.8 MB in the
# verbose identities form, 13.6 MB indented by two spaces, and 33.5 MB indented in the
# verbose form with every id 254 characters long (the longest address SMTP allows).
# 64 MiB is twice that worst case.
MAX_BODY_BYTES = 64 * 1024 * 1024

log = logging.getLogger(__name__)

_PLATFORM_ERRORS: dict[int, tuple[str, str]] = {
    # The gateway's answer to an invalid or expired token (gateway.authenticate).
    401: ("401013", "Oauth token is not valid"),
    429: ("429050", "Too many requests"),
    500: ("500001", "Internal server error."),
    502: ("502000", "Bad Gateway"),
    503: ("503000", "Service Unavailable"),
}
_IMS_ERRORS: dict[int, tuple[str, str]] = {
    429: ("too_many_requests", "Too many requests"),
    500: ("server_error", "Internal server error"),
    502: ("server_error", "Bad gateway"),
    503: ("temporarily_unavailable", "IMS is unavailable"),
}


def route_class(method: str, path: str) -> str | None:
    """``token``, ``read`` or ``write`` for API routes; None for admin and unknown paths."""
    if path == TOKEN_PATH:
        return "token"
    if path.startswith("/data/"):
        return "read" if method in ("GET", "HEAD") else "write"
    return None


def _fault_body(route: str, status: int) -> bytes:
    if route == "token":
        code, description = _IMS_ERRORS[status]
        return json.dumps({"error": code, "error_description": description}).encode()
    code, message = _PLATFORM_ERRORS[status]
    return json.dumps({"error_code": code, "message": message}).encode()


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when absent (chunked). uvicorn has refused malformed ones."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class GatewayMiddleware:
    """Wraps the Starlette app; see the module docstring."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # The gateway serves /workorder/ like /workorder (aepp sends both forms).
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        method: str = scope["method"]
        replay = await self._read_body(scope, receive, send)
        if replay is None:
            return
        receive = replay
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        route = route_class(method, path)
        decision = self.emulator.faults.decide(route) if route else FaultDecision()
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status is not None and route is not None:
            await self._send_error(send, route, decision.status, decision.retry_after)
            self.emulator.requests.add(method, path, decision.status, decision.kind)
            return
        faults = RequestFaults(decision, route or "read")
        if route is not None:
            scope = {**scope, SCOPE_KEY: faults}
        status_seen: list[int] = []
        fault: str | None = None
        if route is not None and (
            decision.drop_after_commit or decision.commit_then_status is not None
        ):
            fault = await self._after_commit(scope, receive, send, route, decision, status_seen)
        else:

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_seen.append(message["status"])
                await send(message)

            await self.app(scope, receive, watch)
        if fault is None and faults.happened:
            fault = ",".join(faults.happened)
        if fault is None and decision.latency_s:
            fault = "latency"
        self.emulator.requests.add(method, path, status_seen[0] if status_seen else None, fault)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """A ``receive`` that replays the whole body, read here; None when the request was
        answered already (413) or the client went away before its body was complete."""
        method, path = scope["method"], scope["path"]
        declared = _content_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await self._refuse_too_large(send, method, path)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                log.debug("client went away after %d bytes of %s %s", size, method, clip(path))
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await self._refuse_too_large(send, method, path)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # waits for the client to go away, as uvicorn does
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _refuse_too_large(self, send: Send, method: str, path: str) -> None:
        body = json.dumps(
            {
                "error_code": "413000",
                "message": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # The rest of the body is never read: the connection cannot carry another request.
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.emulator.requests.add(method, path, 413, None)

    async def _send_error(
        self, send: Send, route: str, status: int, retry_after: int | None
    ) -> None:
        body = _fault_body(route, status)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _after_commit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: str,
        decision: FaultDecision,
        status_seen: list[int],
    ) -> str | None:
        """Run the handler, then drop or replace its answer when it committed (2xx);
        the fault that happened, or None when the answer went out as it was."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start: Message = next(m for m in messages if m["type"] == "http.response.start")
        if not 200 <= start["status"] < 300:
            status_seen.append(start["status"])
            for message in messages:  # nothing committed: answer normally
                await send(message)
            return None
        status = decision.commit_then_status
        if status is not None:
            kind = f"commit_then_{status}"
            self.emulator.faults.count(kind, route)
            status_seen.append(status)
            await self._send_error(send, route, status, decision.retry_after)
            return kind
        status_seen.append(start["status"])
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        self.emulator.faults.count("drop_after_commit", route)
        # An empty body (202 from /consent) would end the message: promise one byte then.
        length = str(max(len(body), 1)).encode()
        headers = [
            (k, length if k.lower() == b"content-length" else v) for k, v in start["headers"]
        ]
        if not any(k.lower() == b"content-length" for k, _ in headers):
            headers.append((b"content-length", length))
        await send({**start, "headers": headers})
        # Half the promised body, then return without finishing: uvicorn closes the socket.
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        return "drop_after_commit"
