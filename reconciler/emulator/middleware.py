"""The ASGI layer in front of the routes: trailing slashes, fault injection, request log.

Faults are decided before the handler runs, so an injected 5xx or 429 never
writes anything. A dropped response is the opposite: the handler commits,
then the client gets the headers and half a body before the connection
closes, which clients see as a broken connection (httpx raises
``RemoteProtocolError``), while the work order exists.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.faults import FaultDecision
from reconciler.emulator.state import Emulator

ADMIN_PREFIX = "/_emulator"
TOKEN_PATH = "/ims/token/v3"

_PLATFORM_ERRORS: dict[int, tuple[str, str]] = {
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
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        route = route_class(method, path)
        decision = self.emulator.faults.decide(route) if route else FaultDecision()
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status is not None and route is not None:
            await self._send_fault(send, route, decision)
            self.emulator.requests.add(method, path, decision.status, decision.kind)
            return
        status_seen: list[int] = []
        if decision.drop_after_commit and route is not None:
            dropped = await self._drop_after_commit(scope, receive, send, route, status_seen)
            fault = "drop_after_commit" if dropped else None
        else:

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_seen.append(message["status"])
                await send(message)

            await self.app(scope, receive, watch)
            fault = None
        if fault is None and decision.latency_s:
            fault = "latency"
        self.emulator.requests.add(method, path, status_seen[0] if status_seen else None, fault)

    async def _send_fault(self, send: Send, route: str, decision: FaultDecision) -> None:
        assert decision.status is not None
        body = _fault_body(route, decision.status)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if decision.retry_after is not None:
            headers.append((b"retry-after", str(decision.retry_after).encode()))
        await send({"type": "http.response.start", "status": decision.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _drop_after_commit(
        self, scope: Scope, receive: Receive, send: Send, route: str, status_seen: list[int]
    ) -> bool:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start: Message = next(m for m in messages if m["type"] == "http.response.start")
        status_seen.append(start["status"])
        if not 200 <= start["status"] < 300:
            for message in messages:  # nothing committed: answer normally
                await send(message)
            return False
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
        return True
