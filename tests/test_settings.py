"""reconciler.yaml: defaults, overrides and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SettingsError
from reconciler.settings import load_settings
from tests.conftest import write


def test_defaults_without_a_settings_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.requests_path == tmp_path / "requests"
    assert settings.ledger_path == tmp_path / "ledger"
    assert settings.adobe.platform_url == "https://platform.adobe.io"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "adobe:\n  orgId: FILE@AdobeOrg\n  sandboxName: dev\n")
    settings = load_settings(tmp_path, {"ADOBE_ORG_ID": "ENV@AdobeOrg"})
    assert settings.adobe.org_id == "ENV@AdobeOrg"
    assert settings.adobe.sandbox_name == "dev"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("limits:\n  maxIdentitiesPerRequest: lots\n", ":2:28:", id="wrong-type"),
        pytest.param("client:\n  maxConcurrency: 0\n", ":2:19:", id="out-of-range"),
        pytest.param("secret: x\n", ":1:1:", id="unknown-key"),
        pytest.param("paths: [a\n", ":2:1:", id="broken-yaml"),
        pytest.param("paths:\n  ledger: ../elsewhere\n", "outside the repository", id="escape"),
    ],
)
def test_bad_settings_are_a_located_error(tmp_path: Path, text: str, where: str) -> None:
    write(tmp_path, "reconciler.yaml", text)
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    assert where in str(info.value)
    assert str(info.value).startswith("reconciler.yaml")
