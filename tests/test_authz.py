"""The wrong person, token, org or sandbox never leads to a write at Adobe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RECORD_DELETE, git, tagged_counts, write, writes


@pytest.fixture
def one(repo: Path) -> Path:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    return repo


def created(emu) -> list[dict]:
    return [
        r
        for r in emu.admin.requests()
        if r["method"] == "POST" and r["status"] == 200 and r["path"].endswith("/workorder")
    ]


def test_expired_token_is_renewed_and_the_write_happens_once(run, adobe, one: Path) -> None:
    # A plan fetches a token; expiring it before apply makes the first write answer 401.
    adobe.admin.expire_tokens()
    result = run("-C", str(one), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert tagged_counts(adobe) == {"req-a": 1}
    assert len(created(adobe)) == 1


def test_revoked_token_mid_run_never_writes_twice(run, adobe, one: Path, monkeypatch) -> None:
    assert run("-C", str(one), "plan").exit_code == 0
    adobe.admin.expire_tokens()
    assert run("-C", str(one), "apply", "--auto-approve").exit_code == 0
    adobe.admin.expire_tokens()
    assert run("-C", str(one), "apply", "--auto-approve").exit_code == 0
    assert len(created(adobe)) == 1


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param("ADOBE_ORG_ID", "OTHER000000000000000000@AdobeOrg", "403", id="wrong-org"),
        pytest.param("ADOBE_SANDBOX_NAME", "no-such-sandbox", "403027", id="wrong-sandbox"),
        pytest.param("ADOBE_CLIENT_SECRET", "wrong-secret-canary", "401", id="wrong-secret"),
        pytest.param("ADOBE_CLIENT_ID", "someone-else", "400", id="unknown-client"),
    ],
)
def test_wrong_identity_never_writes(
    run, adobe, one: Path, monkeypatch, variable, value, message
) -> None:
    monkeypatch.setenv(variable, value)
    result = run("-C", str(one), "apply", "--auto-approve")
    assert result.exit_code == 1
    assert message in result.output
    assert "wrong-secret-canary" not in result.output
    assert writes(adobe) == []
    assert adobe.admin.workorders() == []
