from __future__ import annotations

import pytest

from reconciler.adobe import DEFAULT_IMS_URL, DEFAULT_PLATFORM_URL, DEFAULT_SCOPES, AdobeConfig
from reconciler.errors import SettingsError

from .conftest import SECRET

ENV = {
    "ADOBE_CLIENT_ID": "id-1",
    "ADOBE_CLIENT_SECRET": SECRET,
    "ADOBE_ORG_ID": "ORG@AdobeOrg",
    "ADOBE_SANDBOX_NAME": "prod",
}


def test_from_env_uses_adobe_defaults() -> None:
    config = AdobeConfig.from_env(ENV)
    assert config.ims_url == DEFAULT_IMS_URL == "https://ims-na1.adobelogin.com"
    assert config.platform_url == DEFAULT_PLATFORM_URL == "https://platform.adobe.io"
    assert config.token_url == "https://ims-na1.adobelogin.com/ims/token/v3"
    assert config.scopes == DEFAULT_SCOPES
    assert config.max_concurrency == 4
    assert config.client_secret == SECRET


def test_pointing_at_an_emulator_is_one_setting() -> None:
    env = {
        **ENV,
        "ADOBE_IMS_URL": "http://127.0.0.1:8080",
        "ADOBE_PLATFORM_URL": "http://localhost:8080/",
    }
    config = AdobeConfig.from_env(env)
    assert config.token_url == "http://127.0.0.1:8080/ims/token/v3"
    assert config.platform_base == "http://localhost:8080"


def test_missing_variables_are_named_but_no_value_is_shown() -> None:
    env = {"ADOBE_CLIENT_SECRET": SECRET, "ADOBE_ORG_ID": "  "}
    with pytest.raises(SettingsError) as caught:
        AdobeConfig.from_env(env)
    text = str(caught.value)
    assert "ADOBE_CLIENT_ID" in text and "ADOBE_ORG_ID" in text and "ADOBE_SANDBOX_NAME" in text
    assert "ADOBE_CLIENT_SECRET" not in text
    assert SECRET not in text


def test_overrides_win_and_can_supply_a_missing_variable() -> None:
    env = {k: v for k, v in ENV.items() if k != "ADOBE_SANDBOX_NAME"}
    config = AdobeConfig.from_env(env, sandbox_name="dev", max_concurrency=2)
    assert config.sandbox_name == "dev"
    assert config.max_concurrency == 2


def test_unknown_override_is_refused() -> None:
    with pytest.raises(SettingsError, match="sandbox"):
        AdobeConfig.from_env(ENV, sandbox="dev")


def test_secret_never_in_repr() -> None:
    config = AdobeConfig.from_env(ENV)
    assert SECRET not in repr(config)
    assert "id-1" in repr(config)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"platform_url": "http://platform.example.com"}, id="plain-http-remote"),
        pytest.param({"ims_url": "ftp://ims"}, id="not-http"),
        pytest.param({"ims_url": "https://user:pw@ims"}, id="credentials-in-url"),
        pytest.param({"max_concurrency": 0}, id="no-concurrency"),
        pytest.param({"requests_per_second": 0}, id="no-rate"),
        pytest.param({"max_retries": -1}, id="negative-retries"),
        pytest.param({"org_id": "a\r\nb"}, id="header-injection"),
    ],
)
def test_invalid_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        AdobeConfig.from_env(ENV, **changes)


def test_plain_http_to_a_remote_host_needs_an_explicit_opt_in() -> None:
    config = AdobeConfig.from_env(
        ENV, platform_url="http://emulator:8080", allow_insecure_http=True
    )
    assert config.platform_base == "http://emulator:8080"
