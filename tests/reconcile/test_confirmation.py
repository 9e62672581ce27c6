"""`apply`'s confirmation at a real terminal (a pty): the totals restated at the prompt, and
the count typed, not one key, for a large plan or a delete from every dataset."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.campaigns.support import cli_command, cli_env
from tests.conftest import RECORD_DELETE, git, tagged_counts, write

EVERY_DATASET = RECORD_DELETE.replace(
    "  name: {name}\n", "  name: {name}\n  allowAllDatasets: true\n"
).replace("datasetId: c48b51623ec641a2949d339bad69cb15", "datasetId: ALL")


def at_a_terminal(repo: Path, answer: str, prompt: str) -> tuple[int, str]:
    """Run `reconciler apply` with a pty for its terminal; type ``answer`` once ``prompt``
    shows. Its exit code and everything it printed."""
    master, slave = pty.openpty()
    with subprocess.Popen(
        cli_command(repo, "apply"), stdin=slave, stdout=slave, stderr=slave, env=cli_env()
    ) as proc:
        os.close(slave)
        seen, answered = b"", False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the other end closed: the command ended
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and prompt.encode() in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        os.close(master)
        code = proc.wait(timeout=60)
    assert answered, seen.decode(errors="replace")
    return code, seen.decode(errors="replace").replace("\r\n", "\n")


def declare(repo: Path, template: str, *names: str) -> None:
    for name in names:
        write(repo, f"requests/{name}.yaml", template.format(name=name))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")


def test_a_small_plan_restates_its_totals_and_asks_yes_or_no(adobe, repo: Path) -> None:
    declare(repo, RECORD_DELETE, "req-a", "req-b")
    code, out = at_a_terminal(repo, "y", "Apply these changes at Adobe? [y/N]")
    assert code == 0, out
    assert (
        "This apply creates 2 request(s) at Adobe, submitting 4 identities. A deletion "
        "cannot be undone.\nApply these changes at Adobe? [y/N]"
    ) in out
    assert tagged_counts(adobe) == {"req-a": 1, "req-b": 1}


def test_a_delete_from_every_dataset_needs_the_count_typed(adobe, repo: Path) -> None:
    declare(repo, EVERY_DATASET, "req-all")
    prompt = "Type 1, the number of requests to create, to apply:"
    code, out = at_a_terminal(repo, "yes", prompt)
    assert code == 1, out
    assert "1 of them deleting from EVERY dataset of the sandbox" in out
    assert "not confirmed (1 was not typed); nothing was applied" in out
    assert tagged_counts(adobe) == {}
    code, out = at_a_terminal(repo, "1", prompt)
    assert code == 0, out
    assert tagged_counts(adobe) == {"req-all": 1}


def test_a_large_plan_needs_the_count_typed(adobe, repo: Path) -> None:
    names = [f"req-{n:02d}" for n in range(10)]
    declare(repo, RECORD_DELETE, *names)
    code, out = at_a_terminal(repo, "10", "Type 10, the number of requests to create, to apply:")
    assert code == 0, out
    assert "This apply creates 10 request(s) at Adobe, submitting 20 identities." in out
    assert tagged_counts(adobe) == dict.fromkeys(names, 1)
