"""`-vv` logs one line per HTTP call (method, path, status, time), not the HTTP libraries'
dozen, and never a token or an identity."""

from __future__ import annotations

import re
from pathlib import Path

from tests.campaigns.support import run_cli
from tests.conftest import RECORD_DELETE, git, write


def test_one_line_per_call(adobe, repo: Path) -> None:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    done = run_cli(repo, "-vv", "apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    calls = [ln for ln in lines if re.search(r" (GET|POST|PUT|DELETE) /\S* -> \d{3} \(", ln)]
    assert calls, done.stderr
    assert not [ln for ln in lines if " httpcore" in ln or " httpx:" in ln]
    assert "a@example.com" not in done.stderr and "Bearer" not in done.stderr
