"""`reconciler encrypt`, `decrypt`, `rekey` and `new --csv` with recipients: files rewritten in
place with comments and layout kept, nothing written on failure, no value in any output."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.check.validation import discover, load_requests
from reconciler.secrets import crypto
from reconciler.settings import load_settings
from tests.conftest import write
from tests.encryption_helpers import Key, configure, new_key

EMAILS = ["verborgen.een@example.com", "verborgen.twee@example.org"]
ECID = "44363657679975868102"
# Every way a value can be written: plain, quoted, in flow sequences, folded, with comments.
STYLES = f"""\
# A request with every style of scalar YAML allows for a value.
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: req-a   # the stable key
  allowAllDatasets: true
spec:
  datasetId: ALL
  displayName: Styles
  namespacesIdentities:
    - namespace: {{code: email}}
      ids:
        - {EMAILS[0]}   # first subject
        - '{EMAILS[1]}'
        - "zz.{EMAILS[0]}"
        - >-
          folded.{EMAILS[0]}
    - namespace: {{code: ECID}}
      ids: ["{ECID}", '1{ECID}']
    - namespace: {{code: Phone}}
      ids: ["+33612345678", 'yes', "1e3", 'phone-x']
"""
PRIVACY = f"""\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: req-b
spec:
  regulation: gdpr
  include: [analytics]
  users:
    - key: user-1
      action: [delete]
      userIDs:
        - {{namespace: email, value: {EMAILS[0]}, type: standard}}
        - namespace: ECID
          value: "{ECID}"
          type: standard
"""
SECRETS = [*EMAILS, ECID, "33612345678", "folded.verborgen"]


@pytest.fixture(scope="module")
def key() -> Key:
    return new_key()


def cli(run, repo: Path, *args: str):
    return run("-C", str(repo), *args)


def values(repo: Path, env: dict[str, str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Each request's identities as (namespace, value), after validate accepted every file."""
    settings = load_settings(repo, env)
    loaded = load_requests(discover([settings.requests_path]), settings)
    assert not loaded.findings, loaded.findings
    return {r.name: [(i.namespace, i.value) for i in r.identities()] for r in loaded.requests}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_encrypt_keeps_everything_but_the_values(run, repo: Path, key: Key) -> None:
    configure(repo, key, cleartext=True)
    a = write(repo, "requests/req-a.yaml", STYLES)
    write(repo, "requests/req-b.yaml", PRIVACY)
    clear = values(repo)
    result = cli(run, repo, "encrypt")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines.pop(2).startswith("created the ledger's fingerprint key ")
    assert lines == [
        "encrypted 10 value(s) in requests/req-a.yaml",
        "encrypted 2 value(s) in requests/req-b.yaml",
        "12 value(s) encrypted in 2 file(s) for 1 recipient(s)",
    ]
    text = a.read_text()
    assert_no_secret(text, (repo / "requests/req-b.yaml").read_text())
    before, after = STYLES.splitlines(), text.splitlines()
    assert after[:12] == before[:12] and after[-4] == before[-4]
    assert after[12].startswith("        - ENC[age:") and after[12].endswith("]   # first subject")
    assert after[-3].startswith('      ids: ["ENC[age:') and after[-3].count('"ENC[age:') == 2
    assert len(after) == len(before) - 1  # the folded scalar's two lines became one
    with_key = {crypto.KEY_ENV: key.secret}
    assert values(repo, with_key) == clear
    configure(repo, key)  # no cleartext allowed: still valid, with and without the key
    assert cli(run, repo, "validate").exit_code == 0
    again = cli(run, repo, "encrypt")  # the new reconciler.yaml gets a fingerprint key again
    assert again.output.endswith("\nnothing to encrypt: no value in clear in 2 file(s)\n")


def test_decrypt_shows_the_file_in_clear_and_changes_nothing(
    run, repo: Path, key: Key, monkeypatch
) -> None:
    configure(repo, key)
    path = write(repo, "requests/req-a.yaml", STYLES)
    assert cli(run, repo, "encrypt", "requests/req-a.yaml").exit_code == 0
    sealed = path.read_text()
    missing = cli(run, repo, "decrypt", "requests/req-a.yaml")
    assert missing.exit_code == 1 and "set RECONCILER_AGE_KEY" in missing.output
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    shown = cli(run, repo, "decrypt", "requests/req-a.yaml")
    assert shown.exit_code == 0
    assert path.read_text() == sealed
    lines = shown.output.splitlines()
    assert lines[12] == f"        - {EMAILS[0]}   # first subject"
    assert lines[-3] == f'      ids: ["{ECID}", "1{ECID}"]'
    assert lines[-1] == '      ids: ["+33612345678", "yes", "1e3", phone-x]'
    written = cli(run, repo, "decrypt", "--in-place", "requests/req-a.yaml")
    assert written.exit_code == 0
    assert "now holds identities in clear; encrypt it again" in written.output
    assert_no_secret(written.output)
    assert path.read_text() == shown.output
    monkeypatch.delenv("RECONCILER_AGE_KEY")
    assert "(cleartext-identity)" in cli(run, repo, "validate").output


def test_rekey_reencrypts_for_the_new_recipients(run, repo: Path, key: Key, monkeypatch) -> None:
    configure(repo, key)
    a = write(repo, "requests/req-a.yaml", STYLES)
    b = write(repo, "requests/req-b.yaml", PRIVACY)
    assert cli(run, repo, "encrypt").exit_code == 0
    clear = values(repo, {crypto.KEY_ENV: key.secret})
    old = {p: p.read_text() for p in (a, b)}
    first, second = new_key(), new_key()
    configure(repo, first, second)
    stale = cli(run, repo, "validate")
    assert stale.exit_code == 1 and "(encryption-recipients)" in stale.output
    refused = cli(run, repo, "rekey")
    assert refused.exit_code == 1 and "set RECONCILER_AGE_KEY" in refused.output
    monkeypatch.setenv("RECONCILER_AGE_KEY", first.secret)  # a key that cannot decrypt them
    wrong = cli(run, repo, "rekey")
    assert wrong.exit_code == 1
    assert "error: requests/req-a.yaml:13:11: encrypted value does not decrypt" in wrong.output
    assert {p: p.read_text() for p in (a, b)} == old  # nothing written
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    result = cli(run, repo, "rekey")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(
        "12 value(s) re-encrypted in 2 file(s) for 2 recipient(s)"
    )
    for path in (a, b):
        new, before = path.read_text().splitlines(), old[path].splitlines()
        assert len(new) == len(before)
        assert [x for x, y in zip(new, before, strict=True) if x != y]
        assert all(x == y for x, y in zip(new, before, strict=True) if "ENC[" not in y)
    for k in (first, second):
        assert values(repo, {crypto.KEY_ENV: k.secret}) == clear
    monkeypatch.delenv("RECONCILER_AGE_KEY")
    assert cli(run, repo, "validate").exit_code == 0


def test_encrypt_refuses_files_with_findings_and_writes_nothing(run, repo: Path, key: Key):
    configure(repo, key)
    good = write(repo, "requests/req-a.yaml", STYLES)
    bad = write(repo, "requests/req-b.yaml", PRIVACY.replace(EMAILS[0], "verborgen@@x"))
    result = cli(run, repo, "encrypt")
    assert result.exit_code == 1
    assert result.output.startswith(
        "error: requests/req-b.yaml:12:37: v***@x is not a well-formed email address "
        "(email-format); fix it before encrypting"
    )
    assert good.read_text() == STYLES and "verborgen@@x" in bad.read_text()
    write(repo, "reconciler.yaml", "client: {requestsPerSecond: 1000}\n")
    bad.unlink()
    none = cli(run, repo, "encrypt")
    assert none.exit_code == 1 and "lists no encryption.recipients" in none.output


def test_new_encrypts_a_csv_for_the_recipients(run, repo: Path, key: Key, tmp_path: Path) -> None:
    other = new_key()
    configure(repo, key, other)
    csv = write(tmp_path, "ids.csv", "email,ECID\n" + f"{EMAILS[0]},{ECID}\n{EMAILS[1]},\n")
    result = cli(
        run, repo, "new", "privacy-job", "--name", "priv-1", "--regulation", "gdpr",
        "--csv", str(csv),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "identities encrypted for 2 recipients" in result.output
    text = (repo / "requests/privacy-jobs/priv-1.yaml").read_text()
    assert text.count("value: ENC[age:") == 3
    assert_no_secret(text, result.output)
    assert cli(run, repo, "validate").exit_code == 0
    assert values(repo, {crypto.KEY_ENV: other.secret}) == {
        "priv-1": [("email", EMAILS[0]), ("ECID", ECID), ("email", EMAILS[1])]
    }


def test_new_splits_encrypted_files_by_size(repo: Path, key: Key) -> None:
    from reconciler.kinds import Kind
    from reconciler.scaffold import csvids
    from reconciler.scaffold import files as scaffold
    from reconciler.scaffold import options as newoptions

    configure(repo, key)
    ids = [f"subject.{n}@example.com" for n in range(300)]
    rows = csvids.read_csv("ids.csv", ("email\n" + "\n".join(ids) + "\n").encode())
    options = newoptions.Options(Kind.CONSENT_OPT_OUT, "c")
    settings = load_settings(repo)
    # A budget for about 100 encrypted values instead of the loader's 8 MiB.
    plan = scaffold.plan_files(settings, options, rows, max_file_bytes=60_000)
    assert 3 <= len(plan.files) <= 6
    assert all(len(f.text.encode()) < 60_000 for f in plan.files)
    assert "files under 8 MiB once encrypted" in plan.limits
    scaffold.write_files(plan.files)
    found = values(repo, {crypto.KEY_ENV: key.secret})
    assert sorted(v for vs in found.values() for _, v in vs) == sorted(ids)


def test_a_template_in_a_repository_without_cleartext(run, repo: Path, key: Key) -> None:
    configure(repo, key)
    result = cli(run, repo, "new", "consent-opt-out", "--name", "c")
    assert result.exit_code == 0, result.output
    assert "then: encrypt them with `reconciler encrypt`" in result.output
    check = cli(run, repo, "validate")
    assert check.exit_code == 1 and "(cleartext-identity)" in check.output
