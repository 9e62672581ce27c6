"""`status --watch` as a user runs it: the table after every poll, not only at the end."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from tests.campaigns.support import cli_command, cli_env
from tests.conftest import PRIVACY_JOB, git, write


def test_watch_shows_the_table_after_each_poll(run, adobe, repo: Path) -> None:
    write(repo, "requests/dsr-1.yaml", PRIVACY_JOB.format(name="dsr-1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    command = cli_command(repo, "status", "--watch", "--interval", "0.2", "--timeout", "60")
    lines: list[str] = []
    with subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as watcher:
        assert watcher.stdout is not None and watcher.stderr is not None
        stdout = watcher.stdout
        reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")))
        reader.start()
        try:
            # Wait for a poll that shows the jobs still being processed (however slow the
            # machine), then let the emulator complete them.
            deadline = time.monotonic() + 60
            while not any("not final yet" in line for line in lines):
                assert watcher.poll() is None and time.monotonic() < deadline, "".join(lines)
                time.sleep(0.05)
            adobe.admin.advance(40 * 24 * 3600)
            watcher.wait(timeout=60)
        finally:
            watcher.kill()
            reader.join(timeout=10)
        out, err = "".join(lines), watcher.stderr.read()
    assert watcher.returncode == 0, out + err
    tables = out.count("REQUEST ")
    assert tables >= 2, out  # one per poll while waiting, and the final one
    assert "0 of 1 not final yet" not in out
    assert "1 of 1 not final yet; next poll in 0.2s" in out
    final = out.rsplit("REQUEST ", 1)[1]
    assert "dsr-1" in final and "complete" in final
