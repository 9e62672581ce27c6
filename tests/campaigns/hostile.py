"""A hostile gateway: forwards to the emulator, but answers chosen calls badly.

Served by uvicorn on a free loopback port in a thread, so the CLI reaches it over real
HTTP like it reaches Adobe. A rule names a method and path and how to answer:

* ``not-json``: 200, ``Content-Type: application/json``, an HTML page as the body;
* ``wrong-type``: 200 with the real JSON body but ``Content-Type: text/html``;
* ``truncated``: 200 promising more bytes than it sends, then the connection closes;
* ``slow``: 200, then one space every 50 ms (for at most ``SLOW_LIMIT_S``).

With ``forward=True`` the call reaches the emulator first (the object is created and the
answer is spoilt on its way back); with ``forward=False`` it never does.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.concurrency import run_in_threadpool

SLOW_CHUNK_S = 0.05
SLOW_LIMIT_S = 5.0
HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_HOP_BY_HOP = {b"host", b"content-length", b"transfer-encoding", b"connection"}


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    answer: str  # not-json | wrong-type | truncated | slow
    forward: bool


class HostileGateway:
    """Use as a context manager; ``url`` is the base for ``ADOBE_PLATFORM_URL``."""

    def __init__(self, upstream: str, rules: tuple[Rule, ...] = ()) -> None:
        self.upstream = upstream
        self.rules = {(r.method, r.path): r for r in rules}
        self.spoilt: list[tuple[str, str, str]] = []
        self._http = httpx.Client(base_url=upstream, timeout=30)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url = ""

    def __enter__(self) -> HostileGateway:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            interface="asgi3",  # a bound method: uvicorn would guess ASGI 2
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "did not start"
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._thread is not None and self._socket
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        self._http.close()

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        method, path = scope["method"], scope["path"]
        rule = self.rules.get((method, path))
        if rule is not None:
            self.spoilt.append((method, path, rule.answer))
        status, headers, content = 200, [(b"content-type", b"application/json")], b"{}"
        if rule is None or rule.forward:
            upstream = await run_in_threadpool(self._forward, scope, body)
            status, content = upstream.status_code, upstream.content
            headers = [(k, v) for k, v in upstream.headers.raw if k.lower() not in _HOP_BY_HOP]
        if rule is None:
            await _answer(send, status, headers, content)
        elif rule.answer == "not-json":
            await _answer(send, 200, [(b"content-type", b"application/json")], HTML)
        elif rule.answer == "wrong-type":
            await _answer(send, 200, [(b"content-type", b"text/html")], content)
        elif rule.answer == "truncated":
            full = str(len(content) + 64).encode()
            start = [(b"content-type", b"application/json"), (b"content-length", full)]
            await send({"type": "http.response.start", "status": 200, "headers": start})
            await send(
                {
                    "type": "http.response.body",
                    "body": content[: len(content) // 2],
                    "more_body": True,
                }
            )
            # Returning now, short of the promised length, makes uvicorn close the connection.
        else:
            await _trickle(receive, send)

    def _forward(self, scope: dict[str, Any], body: bytes) -> httpx.Response:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        return self._http.request(
            scope["method"],
            scope["path"],
            params=scope["query_string"].decode("latin-1"),
            headers=headers,
            content=body,
        )


async def _answer(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _trickle(receive: Any, send: Any) -> None:
    """A 200 whose body never ends: a space every ``SLOW_CHUNK_S`` until the client leaves."""
    left = asyncio.Event()

    async def watch() -> None:
        # The request body was read whole: the next message is the client leaving.
        if (await receive())["type"] == "http.disconnect":
            left.set()

    watcher = asyncio.ensure_future(watch())
    start = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": start})
    try:
        for _ in range(int(SLOW_LIMIT_S / SLOW_CHUNK_S)):
            if left.is_set():
                return
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(SLOW_CHUNK_S)
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
