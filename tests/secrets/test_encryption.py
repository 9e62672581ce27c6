"""Encrypted identity values: the format, keys, interoperability with age, validation with
and without the key, the cleartext policy, and what plan and apply do with them."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from age.file import Encryptor
from age.keys.agekey import AgePrivateKey

from reconciler.check.validation import decrypt_request, load_file
from reconciler.model import Request
from reconciler.secrets import crypto
from reconciler.settings import load_settings
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, git, write, writes
from tests.encryption_helpers import Key, age_decrypt_by_spec, configure, new_key

EMAIL = "geheim.persoon.9c2d@example.com"


@pytest.fixture(scope="module")
def key() -> Key:
    return new_key()


@pytest.fixture(scope="module")
def other() -> Key:
    return new_key()


def seal(value: str, *keys: Key) -> str:
    return crypto.encrypt(value, crypto.parse_recipients([k.public for k in keys]))


def keyring(*keys: Key) -> crypto.Keyring:
    return crypto.Keyring.from_env({crypto.KEY_ENV: "\n".join(k.secret for k in keys)})


def sealed_delete(name: str, *values: str) -> str:
    """A record delete whose identities are the given (encrypted) values."""
    ids = "".join(f"    - namespace: {{code: email}}\n      id: {v}\n" for v in values)
    head = RECORD_DELETE.format(name=name).split("  identities:\n")[0]
    return head + "  identities:\n" + ids


# -- the format and the keys -----------------------------------------------------------------


def test_a_value_is_one_line_of_base64_of_an_age_file(key: Key) -> None:
    value = seal(EMAIL, key)
    assert value.startswith("ENC[age:") and value.endswith("]") and "\n" not in value
    raw = base64.b64decode(value[len("ENC[age:") : -1], validate=True)
    assert raw.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert keyring(key).decrypt(value) == EMAIL
    assert seal(EMAIL, key) != value  # randomized: a new ciphertext every time
    info = crypto.inspect(seal(EMAIL, key, new_key()))
    assert info.x25519_stanzas == 2 and info.plaintext_bytes == len(EMAIL)


def test_the_age_spec_decrypts_what_we_encrypt() -> None:
    """Our ciphertext, decrypted by the age v1 spec with the `cryptography` primitives and a
    key read by pyage's own bech32: nothing of rage is involved on this side."""
    private = AgePrivateKey.generate()
    recipient = crypto.parse_recipients([private.public_key().public_string()])
    value = crypto.encrypt(EMAIL, recipient)
    raw = base64.b64decode(value[len("ENC[age:") : -1])
    assert age_decrypt_by_spec(raw, private._key) == EMAIL.encode()


def test_we_decrypt_what_pyage_encrypts() -> None:
    private = AgePrivateKey.generate()
    out = io.BytesIO()
    with Encryptor([private.public_key()], out) as stream:
        stream.write(EMAIL.encode())
    value = "ENC[age:" + base64.b64encode(out.getvalue()).decode() + "]"
    assert crypto.inspect(value).x25519_stanzas == 1
    ring = crypto.Keyring.from_env({crypto.KEY_ENV: private.private_string()})
    assert ring.decrypt(value) == EMAIL


def test_the_age_command_decrypts_a_value_as_the_readme_shows(key: Key, tmp_path: Path) -> None:
    if shutil.which("age") is None:
        pytest.skip("the age command-line tool is not installed here (it is not on CI machines)")
    value = seal(EMAIL, key)
    write(tmp_path, "key.txt", key.secret + "\n")
    base64_text = value[len("ENC[age:") : -1]
    proc = subprocess.run(
        f"echo '{base64_text}' | base64 -d | age -d -i key.txt",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == EMAIL


def test_keys_from_the_environment(key: Key, other: Key, tmp_path: Path) -> None:
    keygen = f"# created: 2026-11-22T10:00:00Z\n# public key: {key.public}\n{key.secret}\n"
    both = crypto.Keyring.from_env({crypto.KEY_ENV: keygen + other.secret.lower() + "\n"})
    assert len(both.identities()) == 2
    assert both.decrypt(seal(EMAIL, other)) == EMAIL
    write(tmp_path, "key.txt", keygen)
    from_file = crypto.Keyring.from_env({crypto.KEY_FILE_ENV: str(tmp_path / "key.txt")})
    assert from_file.decrypt(seal(EMAIL, key)) == EMAIL
    assert "AGE-SECRET" not in repr(from_file) and key.secret not in repr(both)


@pytest.mark.parametrize(
    ("env", "error", "message"),
    [
        pytest.param({}, crypto.KeyMissingError, "set RECONCILER_AGE_KEY", id="missing"),
        pytest.param(
            {crypto.KEY_ENV: "AGE-SECRET-KEY-1QQQ"},
            crypto.KeyFormatError,
            "line 1 of RECONCILER_AGE_KEY is not a valid age secret key",
            id="bad-checksum",
        ),
        pytest.param(
            {crypto.KEY_ENV: "# only a comment\nsecret-in-the-wrong-place"},
            crypto.KeyFormatError,
            "line 2 of RECONCILER_AGE_KEY is not an age secret key",
            id="not-a-key",
        ),
        pytest.param(
            {crypto.KEY_FILE_ENV: "/nonexistent/key.txt"},
            crypto.KeyFormatError,
            "RECONCILER_AGE_KEY_FILE names a file that cannot be read",
            id="no-file",
        ),
    ],
)
def test_unusable_keys_are_clear_errors(env, error, message) -> None:
    with pytest.raises(error) as caught:
        crypto.Keyring.from_env(env).identities()
    assert message in str(caught.value)
    assert "secret-in-the-wrong-place" not in str(caught.value)


def test_a_wrong_key_does_not_decrypt(key: Key, other: Key) -> None:
    with pytest.raises(crypto.DecryptionError, match="encrypted for other recipients"):
        keyring(other).decrypt(seal(EMAIL, key))


def _cut_payload(value: str) -> str:
    raw = base64.b64decode(value[len("ENC[age:") : -1])
    end = raw.index(b"\n", raw.index(b"\n--- ") + 1)
    return "ENC[age:" + base64.b64encode(raw[: end + 20]).decode() + "]"


def _stanzas(value: str, replace: bytes, by: bytes) -> str:
    raw = base64.b64decode(value[len("ENC[age:") : -1]).replace(replace, by, 1)
    return "ENC[age:" + base64.b64encode(raw).decode() + "]"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda v: v[:-1], "reads ENC[age:BASE64]", id="no-bracket"),
        pytest.param(lambda v: v.replace("ENC[age:", "ENC[age:#"), "not standard", id="base64"),
        pytest.param(lambda v: v[:-4] + "]", "complete base64", id="cut-base64"),
        pytest.param(lambda v: _cut_payload(v), "payload is cut short", id="cut-payload"),
        pytest.param(
            lambda v: "ENC[age:" + base64.b64encode(b"hello world").decode() + "]",
            "no age-encryption.org/v1 header",
            id="not-age",
        ),
        pytest.param(
            lambda v: _stanzas(v, b"-> X25519 ", b"-> X25519 A"), "X25519 stanza", id="stanza"
        ),
        # The stanza `age -p` writes (a real one takes a second of scrypt to make).
        pytest.param(
            lambda v: _stanzas(v, b"-> X25519 ", b"-> scrypt "), "passphrase", id="passphrase"
        ),
    ],
)
def test_malformed_ciphertexts_are_told_apart_without_the_key(key: Key, make, reason) -> None:
    with pytest.raises(crypto.CiphertextError, match=reason.replace("[", r"\[")):
        crypto.inspect(make(seal(EMAIL, key)))


def test_the_longest_value_for_32_recipients_fits_the_schema(run, repo: Path) -> None:
    keys = [new_key() for _ in range(32)]
    configure(repo, *keys)
    longest = "😀" * 1024  # 1,024 characters of 4 bytes each
    value = seal(longest, *keys)
    assert len(value) < crypto.MAX_CIPHERTEXT_CHARS
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", value))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 0, result.output


# -- validate with and without the key -------------------------------------------------------


def test_a_bad_email_inside_a_ciphertext_is_found_only_with_the_key(
    run, repo: Path, key: Key, monkeypatch
) -> None:
    configure(repo, key)
    bad = "geheim.persoon@@example.com"
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(bad, key), seal(EMAIL, key)))
    without = run("-C", str(repo), "validate")
    assert without.exit_code == 0, without.output
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    found = run("-C", str(repo), "validate")
    assert found.exit_code == 1
    assert "req-a.yaml:11:11: error: g***@example.com is not a well-formed email" in found.output
    assert "geheim" not in found.output


def test_duplicates_inside_ciphertexts_are_found_with_the_key(
    run, repo: Path, key: Key, monkeypatch
) -> None:
    configure(repo, key)
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key), seal(EMAIL, key)))
    assert run("-C", str(repo), "validate").exit_code == 0
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    assert "(duplicate-identity)" in run("-C", str(repo), "validate").output


def test_a_malformed_ciphertext_is_found_without_the_key(run, repo: Path, key: Key) -> None:
    configure(repo, key)
    broken = _cut_payload(seal(EMAIL, key))
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key), "ENC[age:x]"))
    write(repo, "requests/req-b.yaml", sealed_delete("req-b", broken))
    write(repo, "requests/req-c.yaml", sealed_delete("req-c", "ENC[age:!!]"))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("requests/req-a.yaml:13:11: error: encrypted value is not a well")
    assert "complete base64" in lines[0] and lines[0].endswith("(ciphertext-format)")
    assert lines[1].startswith("requests/req-b.yaml:11:11: error: encrypted value is not")
    assert lines[2].startswith("requests/req-c.yaml:11:11: error: spec.identities[0].id must ")
    assert lines[2].endswith("(schema)")


def test_values_for_other_recipients_are_found_with_and_without_the_key(
    run, repo: Path, key: Key, other: Key, monkeypatch
) -> None:
    configure(repo, key)
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key, other)))
    write(repo, "requests/req-b.yaml", sealed_delete("req-b", seal(EMAIL, other)))
    without = run("-C", str(repo), "validate")
    # Two recipients where one is configured: visible in the header's stanzas.
    assert without.exit_code == 1
    assert without.output.splitlines()[0] == (
        "requests/req-a.yaml:11:11: error: value encrypted for 2 recipient(s), but "
        "reconciler.yaml lists 1: re-encrypt for the current recipients with `reconciler rekey` "
        "(it needs the key) (encryption-recipients)"
    )
    # One other recipient: the same shape as the right one; only the key tells them apart.
    assert "req-b" not in without.output
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    found = run("-C", str(repo), "validate")
    expected = "requests/req-b.yaml:11:11: error: encrypted value does not decrypt with the key"
    assert expected in found.output
    assert found.output.count("(decrypt-failed)") == 1


def test_an_unreadable_key_stops_validate_with_one_line(run, repo: Path, key: Key, monkeypatch):
    configure(repo, key)
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key)))
    monkeypatch.setenv("RECONCILER_AGE_KEY", "AGE-SECRET-KEY-1NOTAKEY")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output == (
        "error: line 1 of RECONCILER_AGE_KEY is not a valid age secret key (bad checksum?)\n"
    )


def test_encrypted_values_without_recipients_in_the_settings(run, repo: Path, key: Key) -> None:
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key)))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert "reconciler.yaml lists no encryption.recipients" in result.output


def test_a_recipient_that_is_not_a_public_key_is_a_settings_error(run, repo: Path) -> None:
    bad = "age1" + "q" * 58  # the right shape, a wrong checksum
    write(repo, "reconciler.yaml", f"encryption:\n  recipients:\n    - {bad}\n")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.startswith("error: reconciler.yaml:3:7: encryption.recipients[0] is not")


# -- the policy ------------------------------------------------------------------------------


def test_cleartext_identities_are_errors_when_the_policy_says_so(run, repo: Path, key: Key) -> None:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/req-b.yaml", PRIVACY_JOB.format(name="req-b"))
    write(repo, "requests/req-c.yaml", CONSENT.format(name="req-c"))
    write(repo, "requests/req-d.yaml", sealed_delete("req-d", seal(EMAIL, key)))
    configure(repo, key, cleartext=True)
    assert run("-C", str(repo), "validate").exit_code == 0
    configure(repo, key)
    result = run("-C", str(repo), "validate", "--format", "json")
    findings = json.loads(result.output)["findings"]
    assert [(f["path"], f["line"], f["rule"]) for f in findings] == [
        ("requests/req-a.yaml", 11, "cleartext-identity"),
        ("requests/req-a.yaml", 13, "cleartext-identity"),
        ("requests/req-b.yaml", 13, "cleartext-identity"),
        ("requests/req-c.yaml", 9, "cleartext-identity"),
    ]
    assert "reconciler encrypt requests/req-a.yaml" in findings[0]["message"]
    assert "example.com" not in result.output


# -- plan, apply and the base revision ------------------------------------------------------


def test_fingerprints_are_over_decrypted_values(repo: Path, key: Key, other: Key) -> None:
    configure(repo, key, other, cleartext=True)
    clear = write(repo, "requests/a/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    text = clear.read_text()
    sealed = text.replace("a@example.com", seal("a@example.com", key, other)).replace(
        "b@example.com", seal("b@example.com", key, other)
    )
    write(repo, "requests/b/req-a.yaml", sealed)
    write(repo, "requests/c/req-a.yaml", sealed_delete("req-a", seal("a@example.com", key, other)))

    def load(folder: str, env: dict[str, str]) -> Request:
        settings = load_settings(repo, env)
        request, findings = load_file(repo / f"requests/{folder}/req-a.yaml", repo)
        assert request is not None and not findings
        request, findings = decrypt_request(request, settings)
        assert not findings
        return request

    with_key = {crypto.KEY_ENV: other.secret}
    plain, once, fewer = (load(folder, with_key) for folder in "abc")
    assert not once.locked and once.sealed and not plain.sealed
    salt = b"0" * 16
    assert plain.fingerprint(salt) == once.fingerprint(salt)
    assert fewer.fingerprint(salt) != plain.fingerprint(salt)
    assert plain.plain_spec() == once.plain_spec()
    assert once.spec != once.plain_spec()  # the file's values stay as stored
    locked = load("b", {})
    assert locked.locked
    with pytest.raises(crypto.KeyMissingError, match=r"req-a.yaml:11:11: identities are encr"):
        locked.fingerprint(salt)


def _applied_repo(run, repo: Path, key: Key, monkeypatch) -> Path:
    """A repository with one encrypted record delete applied (with the key) and committed."""
    configure(repo, key)
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    assert run("-C", str(repo), "encrypt").exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    applied = run("-C", str(repo), "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    monkeypatch.delenv("RECONCILER_AGE_KEY")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "applied")
    return repo


def test_the_offline_plan_without_the_key_says_what_it_could_not_check(
    run, adobe, repo: Path, key: Key, monkeypatch
) -> None:
    _applied_repo(run, repo, key, monkeypatch)
    plan = run("-C", str(repo), "plan", "--offline", "--format", "json", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    (action,) = json.loads(plan.output)["actions"]
    assert (
        action["action"] == "noop"
        and "compared with the ledger by kind and count" in (action["reason"])
    )
    # One identity fewer is a conflict even without the key: the ledger has the count.
    path = repo / "requests/req-a.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))
    conflict = run("-C", str(repo), "plan", "--offline")
    assert conflict.exit_code == 1 and "conflict" in conflict.output


def test_a_changed_value_inside_a_ciphertext(run, adobe, repo: Path, key: Key, monkeypatch) -> None:
    """Without the key, the base comparison and the offline plan cannot see it; with the key,
    validate --base and the plan both report it, and apply refuses it."""
    _applied_repo(run, repo, key, monkeypatch)
    path = repo / "requests/req-a.yaml"
    text = path.read_text()
    old = text.splitlines()[-1].split("id: ")[1]
    path.write_text(text.replace(old, seal("c@example.com", key)))
    assert run("-C", str(repo), "validate", "--base", "HEAD").exit_code == 0
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    check = run("-C", str(repo), "validate", "--base", "HEAD")
    assert check.exit_code == 1 and "(immutable-field)" in check.output
    git(repo, "commit", "-qam", "change a value")
    before = len(writes(adobe))
    refused = run("-C", str(repo), "apply", "--auto-approve")
    assert refused.exit_code == 1
    assert "conflict(s), each needing a person: req-a: " in refused.output
    assert len(writes(adobe)) == before


def test_apply_without_the_key_or_with_a_wrong_one_sends_nothing(
    run, adobe, repo: Path, key: Key, other: Key, monkeypatch
) -> None:
    configure(repo, key)
    write(repo, "requests/req-a.yaml", sealed_delete("req-a", seal(EMAIL, key)))
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    assert run("-C", str(repo), "encrypt").exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    missing = run("-C", str(repo), "apply", "--auto-approve")
    assert missing.exit_code == 1
    assert "error: requests/req-a.yaml:11:11: identities are encrypted and no key" in (
        missing.output
    )
    assert run("-C", str(repo), "plan").exit_code == 1
    assert adobe.admin.requests() == []  # the missing key stopped both before any call
    monkeypatch.setenv("RECONCILER_AGE_KEY", other.secret)
    wrong = run("-C", str(repo), "apply", "--auto-approve")
    assert wrong.exit_code == 1
    assert "nothing was planned or sent" in wrong.output and "(decrypt-failed)" in wrong.output
    assert writes(adobe) == []
    assert not (repo / "ledger").exists()
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    applied = run("-C", str(repo), "apply", "--auto-approve")
    assert applied.exit_code == 0 and "2 created" in applied.output
