"""IMS and the gateway's header rules, with Adobe's error codes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.emulator.config import ClientConfig, load_config
from reconciler.emulator.errors import EmulatorConfigError
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, PRIVACY


def _token(http: httpx.Client, **form: str) -> httpx.Response:
    return http.post("/ims/token/v3", data=form)


def test_token_is_issued_with_expiry_in_seconds(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    c = emulator.client
    answer = _token(
        http,
        grant_type="client_credentials",
        client_id=c.client_id,
        client_secret=c.client_secret,
        scope="openid,AdobeID",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert body["access_token"].count(".") == 2


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", id="grant"),
        pytest.param({"client_id": "nobody"}, 400, "invalid_client", id="unknown-client"),
        pytest.param({"client_secret": "wrong"}, 401, "invalid_client", id="wrong-secret"),
    ],
)
def test_token_refusals(
    emulator: RunningEmulator, http: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    c = emulator.client
    base = {
        "grant_type": "client_credentials",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
    }
    answer = _token(http, **{**base, **form})
    assert (answer.status_code, answer.json()["error"]) == (status, error)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        pytest.param({"Authorization": None}, 403, "403010", id="token-missing"),
        pytest.param({"Authorization": "Bearer not-a-token"}, 401, "401013", id="token-invalid"),
        pytest.param({"x-api-key": None}, 403, "403000", id="key-missing"),
        pytest.param({"x-api-key": "someone-else"}, 403, "403003", id="key-invalid"),
        pytest.param({"x-gw-ims-org-id": None}, 400, "400003", id="org-missing"),
        pytest.param({"x-gw-ims-org-id": "OTHER@AdobeOrg"}, 403, "403025", id="org-wrong"),
        pytest.param({"x-sandbox-name": None}, 400, "400003", id="sandbox-missing"),
    ],
)
def test_gateway_refusals(
    http: httpx.Client,
    headers: dict[str, str],
    change: dict[str, str | None],
    status: int,
    code: str,
) -> None:
    sent = {k: v for k, v in {**headers, **change}.items() if v is not None}
    answer = http.get(f"{HYGIENE}/workorder", headers=sent)
    assert answer.status_code == status
    assert answer.json()["error_code"] == code
    assert answer.json()["message"]


def test_privacy_and_quota_need_no_sandbox(http: httpx.Client, headers: dict[str, str]) -> None:
    bare = {k: v for k, v in headers.items() if k != "x-sandbox-name"}
    assert http.get(f"{PRIVACY}/jobs?regulation=gdpr", headers=bare).status_code == 200
    assert http.get(f"{HYGIENE}/quota", headers=bare).status_code == 200


def test_expired_token_is_refused(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    assert http.get(f"{HYGIENE}/workorder", headers=headers).status_code == 200
    assert emulator.admin.expire_tokens() >= 1
    answer = http.get(f"{HYGIENE}/workorder", headers=headers)
    assert (answer.status_code, answer.json()["error_code"]) == (401, "401013")
    assert http.get(f"{HYGIENE}/workorder", headers=emulator.headers()).status_code == 200


def test_clients_from_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text(
        "clients:\n"
        "  - {client_id: a, client_secret: sa, org_id: ORGA@AdobeOrg, name: Team A}\n"
        "  - {client_id: b, client_secret: sb, org_id: ORGB@AdobeOrg}\n"
    )
    config = load_config(path)
    a, b = config.clients
    with running_emulator(config) as emu, httpx.Client(base_url=emu.url) as http:
        # b's token with a's API key: the key must be the token's client id.
        mixed = {**emu.headers(client=b), "x-api-key": "a"}
        assert http.get(f"{HYGIENE}/workorder", headers=mixed).json()["error_code"] == "403003"
        mine = http.get(f"{HYGIENE}/workorder", headers=emu.headers(client=a))
        assert mine.status_code == 200
        assert emu.env(b)["ADOBE_ORG_ID"] == "ORGB@AdobeOrg"


def test_default_client_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADOBE_CLIENT_ID", "env-client")
    monkeypatch.setenv("ADOBE_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("ADOBE_ORG_ID", "ENV@AdobeOrg")
    with running_emulator() as emu:
        assert emu.client == ClientConfig("env-client", "env-secret", "ENV@AdobeOrg", "")
        assert emu.token()


def test_demo_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ADOBE_CLIENT_ID", "ADOBE_CLIENT_SECRET", "ADOBE_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    with running_emulator() as emu:
        assert emu.client.client_id == "reconciler-demo"
        assert emu.client.client_secret == "demo-secret-not-for-production"
        assert emu.client.org_id == "DEMO0000000000000000000@AdobeOrg"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("clients: [{client_id: a}]\n", id="missing-fields"),
        pytest.param("bogus: 1\n", id="unknown-key"),
        pytest.param("faults: {error_rate: 2}\n", id="bad-rate"),
        pytest.param("speed: [\n", id="not-yaml"),
    ],
)
def test_bad_config_files_are_reported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(EmulatorConfigError):
        load_config(path)
