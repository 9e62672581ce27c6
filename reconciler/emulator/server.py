"""Serving the emulator with uvicorn: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from reconciler.emulator.app import build_app
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.errors import EmulatorError
from reconciler.emulator.state import Emulator
from reconciler.emulator.store import Store

_DROPPED = "ASGI callable returned without completing response."


class _DroppedResponseFilter(logging.Filter):
    """Silence uvicorn's complaint about the responses the emulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROPPED


_filter_installed = False


def _install_log_filter() -> None:
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("uvicorn.error").addFilter(_DroppedResponseFilter())
        _filter_installed = True


class EmulatorServer:
    """The emulator on ``http://host:port``; ``port=0`` picks a free port.

    Use as a context manager (``with EmulatorServer() as server: server.url``)
    or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        db: str | Path = ":memory:",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = (config or EmulatorConfig()).with_default_client()
        self.db = str(db)
        self.host = host
        self.port = port
        self.emulator: Emulator | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._store: Store | None = None

    @property
    def url(self) -> str:
        """Base URL for IMS and both APIs (``ADOBE_IMS_URL`` and ``ADOBE_PLATFORM_URL``)."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Serve in a background thread; return once connections are accepted."""
        if self._thread is not None:
            raise EmulatorError("the emulator is already running")
        _install_log_filter()
        try:
            self._store = Store(self.db)
        except Exception as e:  # sqlite3.Error and OSError alike: report the path
            raise EmulatorError(f"cannot open emulator database {self.db}: {e}") from e
        self.emulator = Emulator.create(self.config, self._store)
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so,
        # and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            self._store.close()
            raise EmulatorError(f"cannot listen on {self.host}:{self.port}: {e.strerror}") from e
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.emulator),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise EmulatorError("the emulator did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and close the database; safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self._store is not None:
            self._store.close()
        self._server = self._thread = self._socket = self._store = None

    def wait(self) -> None:
        """Block until the server stops (^C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
