"""``reconciler emulator`` as a process: serve, answer, stop; state kept across restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.emulator.conftest import HYGIENE, workorder_body

DEMO = {
    "ADOBE_CLIENT_ID": "cli-client",
    "ADOBE_CLIENT_SECRET": "cli-secret",
    "ADOBE_ORG_ID": "CLI0000000000000000000@AdobeOrg",
}


@contextmanager
def serving(db: Path) -> Iterator[str]:
    """Run the command on a free port; yield its URL; stop it with SIGTERM."""
    env = {**os.environ, **DEMO}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line + (process.stderr.read() if process.stderr else "")
        yield match.group(0)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err


def _headers(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        "/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO["ADOBE_CLIENT_ID"],
            "client_secret": DEMO["ADOBE_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": DEMO["ADOBE_CLIENT_ID"],
        "x-gw-ims-org-id": DEMO["ADOBE_ORG_ID"],
        "x-sandbox-name": "prod",
    }


def test_process_serves_and_keeps_state_across_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with serving(db) as url, httpx.Client(base_url=url) as http:
        order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=_headers(http))
        assert order.status_code == 200
        wid = order.json()["workorderId"]
    with serving(db) as url, httpx.Client(base_url=url) as http:
        again = http.get(f"{HYGIENE}/workorder/{wid}", headers=_headers(http))
        assert again.status_code == 200
        assert again.json()["description"] == workorder_body()["description"]


def test_help_shows_an_example_and_the_demo_credentials() -> None:
    result = CliRunner().invoke(cli, ["emulator", "--help"])
    assert result.exit_code == 0
    for text in ("Example:", "reconciler-demo", "demo-secret-not-for-production", "--drop-rate"):
        assert text in result.output


def test_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clients: nope\n")
    process = subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "--config", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 1
    assert process.stderr.startswith("error: emulator config")
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("flag", ["--error-rate=2", "--port=70000", "--speed=0"])
def test_bad_flags_are_usage_errors(flag: str) -> None:
    result = CliRunner().invoke(cli, ["emulator", flag])
    assert result.exit_code == 2
