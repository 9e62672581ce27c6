"""Files that are not what they seem: links out of the repository, FIFOs, sockets, folders
through links, other spellings of .yaml, a %YAML directive. Each is refused with one
located finding before anything is read, and never blocks."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from reconciler.check.validation import YAML_SUFFIXES, is_yaml_name
from tests.conftest import CONSENT, RECORD_DELETE, write

CANARY = "canary.outside@example.com"


def outside_request(tmp_path: Path, name: str = "req-a") -> Path:
    """A valid request outside the repository, holding an identity that must never show."""
    return write(tmp_path, f"outside/{name}.yaml", CONSENT.format(name=name).replace("d@", "x@"))


def run_unblocked(run, fifos: list[Path], *args: str):
    """Run the CLI; should it block on a FIFO, unblock it and fail rather than hang."""
    done: dict[str, object] = {}
    worker = threading.Thread(target=lambda: done.setdefault("result", run(*args)), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        for fifo in fifos:  # give the blocked reader a writer, then end of file
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(20)
        pytest.fail("the command opened a FIFO and waited on it")
    return done["result"]


# -- special files ---------------------------------------------------------------------------


def test_a_fifo_in_the_requests_folder_is_refused_without_blocking(run, repo: Path) -> None:
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    fifo = repo / "requests/req-a.yaml"
    os.mkfifo(fifo)
    result = run_unblocked(run, [fifo], "-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "requests/req-a.yaml:1:1: error: this is a named pipe (FIFO), not a regular file; it "
        "was not opened: replace it by a request file or remove it (not-a-regular-file)",
        "1 error(s) in 1 of 2 file(s)",
    ]


def test_a_fifo_named_on_the_command_line_is_refused_without_blocking(run, repo: Path) -> None:
    fifo = repo / "requests/named.yaml"
    os.mkfifo(fifo)
    result = run_unblocked(run, [fifo], "-C", str(repo), "validate", "requests/named.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "requests/named.yaml:1:1: error: this is a named pipe (FIFO), not a regular file; it "
        "was not opened: replace it by a request file or remove it (not-a-regular-file)"
    )


def test_a_fifo_with_another_name_is_not_a_request_file(run, repo: Path) -> None:
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    fifo = repo / "requests/notes.txt"
    os.mkfifo(fifo)
    result = run_unblocked(run, [fifo], "-C", str(repo), "validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["1 file(s) valid"]


def test_a_socket_is_refused(run, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "requests")  # a relative name: socket paths are short
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("req-a.yaml")
        result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "requests/req-a.yaml:1:1: error: this is a socket, not a regular file; it was not "
        "opened: replace it by a request file or remove it (not-a-regular-file)"
    )


# -- links -----------------------------------------------------------------------------------

LINK_OUT = (
    "error: this is a symbolic link (or lies in a linked folder) that resolves outside the "
    "repository; it was not read: put the request file itself in the repository "
    "(outside-repository)"
)


def test_a_link_to_a_file_outside_the_repository_is_never_read(
    run, repo: Path, tmp_path: Path
) -> None:
    (repo / "requests/req-a.yaml").symlink_to(outside_request(tmp_path))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    # Read, the target would be a valid request: one finding says it was not.
    assert result.output.splitlines() == [
        f"requests/req-a.yaml:1:1: {LINK_OUT}",
        "1 error(s) in 1 of 1 file(s)",
    ]
    assert "canary" not in result.output


def test_a_link_to_a_fifo_outside_the_repository_does_not_block(
    run, repo: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "outside.fifo"
    os.mkfifo(fifo)
    (repo / "requests/req-a.yaml").symlink_to(fifo)
    result = run_unblocked(run, [fifo], "-C", str(repo), "validate")
    assert result.output.splitlines()[0] == f"requests/req-a.yaml:1:1: {LINK_OUT}"


def test_a_link_to_a_device_is_refused(run, repo: Path) -> None:
    (repo / "requests/req-a.yaml").symlink_to("/dev/zero")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"requests/req-a.yaml:1:1: {LINK_OUT}"


def test_a_linked_folder_outside_the_repository_is_refused_and_not_walked(
    run, repo: Path, tmp_path: Path
) -> None:
    outside_request(tmp_path)
    (repo / "requests/elsewhere").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"requests/elsewhere:1:1: {LINK_OUT}",
        "1 error(s) in 1 of 1 file(s)",
    ]
    assert "canary" not in result.output


def test_a_file_in_a_linked_folder_named_on_the_command_line(
    run, repo: Path, tmp_path: Path
) -> None:
    outside_request(tmp_path)
    (repo / "requests/elsewhere").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = run("-C", str(repo), "validate", "requests/elsewhere/req-a.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"requests/elsewhere/req-a.yaml:1:1: {LINK_OUT}"
    assert "canary" not in result.output


def test_a_linked_requests_folder_outside_the_repository(run, repo: Path, tmp_path: Path) -> None:
    outside_request(tmp_path)
    (repo / "requests").rmdir()
    (repo / "requests").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert "points outside the repository" in result.output
    assert "canary" not in result.output


def test_a_file_outside_the_repository_named_on_the_command_line(
    run, repo: Path, tmp_path: Path
) -> None:
    path = outside_request(tmp_path)
    result = run("-C", str(repo), "validate", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path.as_posix()}:1:1: error: this file is outside the repository; request files are "
        "read only from the repository: move it into the requests folder (outside-repository)",
        "1 error(s) in 1 of 1 file(s)",
    ]
    assert "canary" not in result.output


def test_links_inside_the_repository(run, repo: Path) -> None:
    # A link to a file in the repository is read; a link to a folder is not followed.
    write(repo, "shared/req-a.yaml", CONSENT.format(name="req-a"))
    write(repo, "shared/more/req-b.yaml", CONSENT.format(name="req-b"))
    (repo / "requests/req-a.yaml").symlink_to("../shared/req-a.yaml")
    (repo / "requests/more").symlink_to("../shared/more", target_is_directory=True)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "requests/more:1:1: error: this is a symbolic link to a folder; links to folders are "
        "not followed, so no request in it would be checked or applied: move the files into "
        "the requests folder (not-a-regular-file)",
        "1 error(s) in 1 of 2 file(s)",
    ]
    (repo / "requests/more").unlink()
    assert run("-C", str(repo), "validate").output.splitlines() == ["1 file(s) valid"]


def test_a_dangling_link_is_unreadable(run, repo: Path) -> None:
    (repo / "requests/req-a.yaml").symlink_to("gone.yaml")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "requests/req-a.yaml:1:1: error: No such file or directory (file-unreadable)"
    )


# -- .yaml in any case -----------------------------------------------------------------------


def test_yaml_names_in_any_case_are_request_files(run, repo: Path) -> None:
    write(repo, "requests/req-a.YAML", CONSENT.format(name="req-a"))
    write(repo, "requests/sub/req-b.Yml", CONSENT.format(name="req-b"))
    bad = RECORD_DELETE.format(name="req-c").replace("b@example.com", "secret.c@@x")
    write(repo, "requests/req-c.yAmL", bad)
    write(repo, "requests/notes.yaml.txt", "not: a request\n")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "requests/req-c.yAmL:13:11: error: s***@x is not a well-formed email address "
        "(email-format)",
        "1 error(s) in 1 of 3 file(s)",
    ]


def test_yaml_suffixes_ignore_case() -> None:
    assert ".YAML" in YAML_SUFFIXES and ".Yml" in YAML_SUFFIXES and ".yaml" in YAML_SUFFIXES
    assert ".json" not in YAML_SUFFIXES and ".yaml.txt" not in YAML_SUFFIXES
    assert tuple(YAML_SUFFIXES) == (".yaml", ".yml")
    assert is_yaml_name("a.YmL") and not is_yaml_name("yaml")


# -- %YAML -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "expected"),
    [
        pytest.param(
            "%YAML 1.2",
            "requests/req-a.yaml:2:1: error: %YAML 1.2 is not supported: request files are read "
            "as YAML 1.1, where yes, no, on and off are booleans; remove the directive (and "
            "quote any value that must stay text) (yaml-version)",
            id="1.2",
        ),
        pytest.param(
            "%YAML 1.3",
            "requests/req-a.yaml:2:1: error: the %YAML directive names a version other than "
            "1.1, the one request files are read as; remove the directive (yaml-version)",
            id="1.3",
        ),
    ],
)
def test_a_yaml_directive_for_another_version_is_refused(
    run, repo: Path, directive: str, expected: str
) -> None:
    # In YAML 1.2 `off` is text; read as YAML 1.1 it is false: an opt-in of sale.
    text = (
        "# opt-out\n"
        + directive
        + "\n---\n"
        + CONSENT.format(name="req-a").replace("optOutOfSale: true", "optOutOfSale: off")
    )
    result = validate_text(run, repo, text)
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected, "1 error(s) in 1 of 1 file(s)"]


def test_a_yaml_1_1_directive_is_read(run, repo: Path) -> None:
    result = validate_text(run, repo, "%YAML 1.1\n---\n" + CONSENT.format(name="req-a"))
    assert result.exit_code == 0, result.output


def validate_text(run, repo: Path, text: str):
    write(repo, "requests/req-a.yaml", text)
    return run("-C", str(repo), "validate")
