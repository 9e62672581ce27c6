"""`status --watch` as a user runs it: the table after every poll, not only at the end."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.campaigns.support import cli_command, cli_env
from tests.conftest import PRIVACY_JOB, git, write


def test_watch_shows_the_table_after_each_poll(run, adobe, repo: Path) -> None:
    write(repo, "requests/dsr-1.yaml", PRIVACY_JOB.format(name="dsr-1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    watcher = subprocess.Popen(
        cli_command(repo, "status", "--watch", "--interval", "0.2", "--timeout", "60"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # a few polls while the jobs are still being processed
        adobe.admin.advance(40 * 24 * 3600)  # now the emulator completes them
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, out + err
    tables = out.count("REQUEST ")
    assert tables >= 2, out  # one per poll while waiting, and the final one
    assert "0 of 1 not final yet" not in out
    assert "1 of 1 not final yet; next poll in 0.2s" in out
    final = out.rsplit("REQUEST ", 1)[1]
    assert "dsr-1" in final and "complete" in final
