"""Commit messages count what they commit, whatever wrote it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RECORD_DELETE, git, write


def declare(repo: Path, *names: str) -> None:
    for name in names:
        write(repo, f"requests/{name}.yaml", RECORD_DELETE.format(name=name))
    git(repo, "add", "requests", "reconciler.yaml")  # never the ledger: the tool commits it
    git(repo, "commit", "-qm", "declare")


def test_a_commit_says_how_many_ledger_files_it_holds(run, adobe, repo: Path) -> None:
    declare(repo, "req-a", "req-b")
    # An apply without --commit (or one interrupted before committing) leaves two entries.
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    declare(repo, "req-c")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    # The intents' commit, made before anything is sent, takes the earlier entries too,
    # and says so; the result's commit holds the new entry (and the intent it retires).
    subject, body = git(repo, "log", "-1", "--format=%s%n%b", "HEAD~1").split("\n", 1)
    assert subject == "reconciler apply: about to create 1 request(s) [skip ci]"
    assert body.strip() == "Ledger files in this commit: 2 entries added, 1 intent file(s)."
    subject, body = git(repo, "log", "-1", "--format=%s%n%b").split("\n", 1)
    assert subject == "reconciler apply: 1 created [skip ci]"
    assert body.strip().endswith("\nLedger files in this commit: 1 entry added, 1 intent file(s).")
    # Nothing applied now, but an earlier run's entry is still to commit: the subject says so.
    declare(repo, "req-d")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    subject, body = git(repo, "log", "-1", "--format=%s%n%b").split("\n", 1)
    assert subject == "reconciler apply: what an earlier run wrote [skip ci]"
    assert body.strip() == "Ledger files in this commit: 1 entry added."


def test_an_interrupted_apply_says_how_far_it_got_and_what_to_run(run, adobe, repo: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.campaigns.support import cli_command, cli_env

    names = [f"req-{n:02d}" for n in range(12)]
    declare(repo, *names)
    write(repo, "reconciler.yaml", "scope: testrepo\nclient:\n  maxConcurrency: 1\n")
    git(repo, "commit", "-qam", "one call at a time")
    adobe.admin.set_faults({"latency_ms": 150})  # slow enough to stop it halfway
    with subprocess.Popen(
        cli_command(repo, "apply", "--auto-approve", "--commit"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run started in the background ignores SIGINT, and its children would too:
        # the command gets the disposition a terminal gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        deadline = time.monotonic() + 90
        while not any((repo / "ledger").glob("req-*.json")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    adobe.admin.set_faults({})
    assert proc.returncode == 130, out + err
    assert "interrupted after " in err and " of 12 action(s) (" in err
    assert "not committed: run `reconciler apply --commit` again" in err
    # As it says: the next run commits what it wrote, sends nothing twice, and shows the
    # creates it cannot account for as pending.
    again = run("-C", str(repo), "apply", "--auto-approve", "--commit")
    assert again.exit_code == 0, again.output
    from tests.conftest import tagged_counts

    sent = tagged_counts(adobe)
    assert set(sent.values()) == {1}
    waiting = [n for n in names if n not in sent]
    assert waiting  # interrupted halfway: some were never sent
    for name in waiting:
        assert f"? pending-verification RecordDelete      {name}" in again.output, again.output
    assert "Ledger committed: " in again.output
    assert not git(repo, "status", "--porcelain", "--", "ledger")
