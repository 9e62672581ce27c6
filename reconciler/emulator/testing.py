"""Helpers for test suites that run against the emulator over real HTTP.

Start one, point a client at it, and steer it::

    from reconciler.emulator.testing import running_emulator

    with running_emulator() as emu:              # :memory: database, free port
        settings = emu.env()                     # ADOBE_IMS_URL, ADOBE_PLATFORM_URL, ADOBE_*
        emu.admin.set_faults({"write": {"error_rate": 0.2}, "seed": 3})
        # or a gateway that lags and lies (see reconciler.emulator.faults):
        # {"read": {"search_lag_s": 30, "short_page_rate": 1},
        #  "write": {"commit_then_error_rate": 0.1, "commit_then_statuses": [429, 401]}}
        ...                                      # run the code under test
        emu.admin.advance(4 * 3600)              # work orders complete
        assert emu.admin.counters()["total"].get("error_503", 0) >= 0

As a pytest fixture::

    @pytest.fixture
    def emulator():
        with running_emulator() as emu:
            yield emu
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator.config import ClientConfig, EmulatorConfig
from reconciler.emulator.server import EmulatorServer


class EmulatorAdmin:
    """A thin client of the ``/_emulator/`` admin API (see ``reconciler.emulator.admin``)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        response = self.http.request(method, f"/_emulator{path}", json=body, params=params)
        response.raise_for_status()
        return response.json()

    def set_faults(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Replace the fault plan (``{}`` for none); returns the plan in force."""
        result: dict[str, Any] = self._call("PUT", "/faults", plan)
        return result

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def counters(self) -> dict[str, Any]:
        """``{"total": {kind: n}, "by_class": {"token"|"read"|"write": {kind: n}}}``."""
        result: dict[str, Any] = self._call("GET", "/counters")
        return result

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/requests")["requests"]
        return result

    def workorders(
        self, org_id: str | None = None, sandbox: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("orgId", org_id), ("sandbox", sandbox)) if v is not None}
        result: list[dict[str, Any]] = self._call("GET", "/workorders", **params)["workorders"]
        return result

    def expirations(
        self, org_id: str | None = None, sandbox: str | None = None
    ) -> list[dict[str, Any]]:
        """Every dataset expiration as ``GET /ttl`` renders it (sandboxName, imsOrg included)."""
        params = {k: v for k, v in (("orgId", org_id), ("sandbox", sandbox)) if v is not None}
        result: list[dict[str, Any]] = self._call("GET", "/expirations", **params)["expirations"]
        return result

    def jobs(self, org_id: str | None = None) -> list[dict[str, Any]]:
        params = {"orgId": org_id} if org_id is not None else {}
        result: list[dict[str, Any]] = self._call("GET", "/jobs", **params)["jobs"]
        return result

    def consents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/consents")["consents"]
        return result

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the emulator clock forward; statuses follow at the next read."""
        result: dict[str, Any] = self._call("POST", "/clock", {"advance_seconds": seconds})
        return result

    def clock(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/clock")
        return result

    def expire_tokens(self) -> int:
        return int(self._call("POST", "/tokens/expire")["expired"])

    def reset(self) -> None:
        self._call("POST", "/reset")


@dataclass
class RunningEmulator:
    """A started emulator: where it is, whom it accepts, and its admin API."""

    server: EmulatorServer
    admin: EmulatorAdmin

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def client(self) -> ClientConfig:
        """The first configured client (the default one unless a config says otherwise)."""
        return self.server.config.clients[0]

    def env(self, client: ClientConfig | None = None) -> dict[str, str]:
        """Environment variables that point the tool's client at this emulator."""
        chosen = client or self.client
        return {
            "ADOBE_IMS_URL": self.url,
            "ADOBE_PLATFORM_URL": self.url,
            "ADOBE_CLIENT_ID": chosen.client_id,
            "ADOBE_CLIENT_SECRET": chosen.client_secret,
            "ADOBE_ORG_ID": chosen.org_id,
        }

    def token(self, client: ClientConfig | None = None) -> str:
        """A fresh access token from the emulator's IMS."""
        chosen = client or self.client
        response = self.admin.http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": chosen.client_id,
                "client_secret": chosen.client_secret,
                "scope": "openid,AdobeID,read_organizations",
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def headers(
        self, sandbox: str | None = "prod", client: ClientConfig | None = None
    ) -> dict[str, str]:
        """The gateway headers for ``client``, with a fresh token."""
        chosen = client or self.client
        headers = {
            "Authorization": f"Bearer {self.token(chosen)}",
            "x-api-key": chosen.client_id,
            "x-gw-ims-org-id": chosen.org_id,
        }
        if sandbox is not None:
            headers["x-sandbox-name"] = sandbox
        return headers


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, db: str | Path = ":memory:", port: int = 0
) -> Iterator[RunningEmulator]:
    """Run an emulator in a background thread for the duration of the block."""
    with (
        EmulatorServer(config, db=db, port=port) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield RunningEmulator(server, EmulatorAdmin(http))
