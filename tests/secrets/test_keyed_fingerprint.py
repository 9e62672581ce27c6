"""Keyed ledger fingerprints: with encrypted identities, the committed salt and digest test no
guessed identity without the fingerprint key, which reconciler.yaml holds encrypted to the
age recipients; rotating the age keys or the fingerprint key re-submits nothing, and a lost
key is a clear error rather than a conflict or a second work order.

The attacker and the documented algorithms are written out here with hashlib and pyrage,
independently of the code under test."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml
from pyrage import x25519

from reconciler.check.validation import decrypt_request, load_file
from reconciler.kinds import Kind
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger, LedgerError
from reconciler.reconcile.planner import inputs_digest
from reconciler.secrets import crypto
from reconciler.secrets.fingerprintkey import FingerprintKey
from reconciler.settings import load_settings
from tests.conftest import git, write, writes
from tests.encryption_helpers import Key, configure, new_key

TRUE_OLD = "oud.geheim.71c3@example.com"
TRUE_NEW = "nieuw.geheim.71c3@example.com"
CANDIDATES = [
    "jan.jansen@example.com",
    TRUE_OLD,
    "piet.pietersen@example.com",
    TRUE_NEW,
    "klaas.vaak@example.com",
]
DATASET = "c48b51623ec641a2949d339bad69cb15"
SALT = "00112233445566778899aabbccddeeff"


def record_delete(name: str, email: str) -> str:
    return f"""\
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: {name}
spec:
  datasetId: {DATASET}
  displayName: Keyed fingerprints
  description: Cleanup for {name}.
  identities:
    - namespace: {{code: email}}
      id: {email}
"""


# -- the documented algorithms and the attacker, without the code under test ----------------


def canonical(spec: dict[str, Any], email: str) -> bytes:
    """The immutable fields of a one-identity record delete, with ``email`` as its value."""
    immutable = {k: v for k, v in spec.items() if k not in ("displayName", "description")}
    immutable = json.loads(json.dumps(immutable))
    immutable["identities"][0]["id"] = email
    fields = {"kind": "RecordDelete", "spec": immutable}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def salted(data: bytes, salt: str) -> str:
    """blake2b-256: keyed by the salt alone."""
    return hashlib.blake2b(data, key=bytes.fromhex(salt), digest_size=32).hexdigest()


def keyed(data: bytes, salt: str, key: bytes) -> str:
    """keyed-blake2b-256: keyed by BLAKE2b(salt) under the fingerprint key."""
    entry_key = hashlib.blake2b(
        bytes.fromhex(salt), key=key, person=b"reconciler/fp/v1", digest_size=32
    ).digest()
    return hashlib.blake2b(data, key=entry_key, digest_size=32).hexdigest()


def key_id(key: bytes) -> str:
    return hashlib.blake2b(key=key, person=b"reconciler/keyid", digest_size=8).hexdigest()


def guesses_matching(repo: Path, name: str) -> list[str]:
    """What anyone who reads the repository, without any key, finds out: the candidates
    whose salted fingerprint equals the committed one."""
    entry = json.loads((repo / f"ledger/{name}.json").read_text())
    spec = yaml.safe_load((repo / f"requests/{name}.yaml").read_text())["spec"]
    fingerprint = entry["fingerprint"]
    return [
        guess
        for guess in CANDIDATES
        if salted(canonical(spec, guess), fingerprint["salt"]) == fingerprint["digest"]
    ]


def fingerprint_key_of(repo: Path, age: Key) -> bytes:
    """encryption.fingerprintKey decrypted with pyrage itself, as `age -d` would."""
    settings = yaml.safe_load((repo / "reconciler.yaml").read_text())
    value = settings["encryption"]["fingerprintKey"]
    raw = base64.b64decode(value.removeprefix("ENC[age:").removesuffix("]"))
    return bytes.fromhex(pyrage.decrypt(raw, [x25519.Identity.from_str(age.secret)]).decode())


def ledger_files(repo: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((repo / "ledger").glob("*.json"))}


@pytest.fixture
def cli(run, monkeypatch):
    """The CLI in a repository, with an age key in the environment for that call only."""

    def _cli(repo: Path, *args: str, key: Key | None = None, code: int = 0) -> str:
        if key is not None:
            monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
        try:
            result = run("-C", str(repo), *args)
        finally:
            monkeypatch.delenv("RECONCILER_AGE_KEY", raising=False)
        assert result.exit_code == code, result.output
        return result.output

    return _cli


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def age() -> Key:
    return new_key()


@pytest.fixture
def applied(cli, adobe, repo: Path, age: Key) -> Path:
    """A repository whose req-old was applied in clear (a salted entry) and encrypted
    later, and whose req-new was applied encrypted (a keyed entry)."""
    configure(repo, age, cleartext=True)
    write(repo, "requests/req-old.yaml", record_delete("req-old", TRUE_OLD))
    commit(repo, "req-old, in clear")
    assert "1 created" in cli(repo, "apply", "--auto-approve")
    write(repo, "requests/req-new.yaml", record_delete("req-new", TRUE_NEW))
    assert "2 value(s) encrypted in 2 file(s)" in cli(repo, "encrypt")
    commit(repo, "req-new; every identity encrypted; the fingerprint key")
    assert "1 created" in cli(repo, "apply", "--auto-approve", key=age)
    commit(repo, "ledger")
    return repo


# -- the oracle ------------------------------------------------------------------------------


def test_the_oracle_finds_a_salted_entry_and_not_a_keyed_one(
    cli, adobe, applied: Path, age: Key
) -> None:
    old = json.loads((applied / "ledger/req-old.json").read_text())["fingerprint"]
    new = json.loads((applied / "ledger/req-new.json").read_text())["fingerprint"]
    assert old["algorithm"] == "blake2b-256" and "keyId" not in old
    assert new["algorithm"] == "keyed-blake2b-256"
    assert TRUE_OLD not in (applied / "requests/req-old.yaml").read_text()

    # The salted entry gives its identity away; the keyed one gives nothing.
    assert guesses_matching(applied, "req-old") == [TRUE_OLD]
    assert guesses_matching(applied, "req-new") == []

    # It is a fingerprint of the true value all the same, for whoever holds the key.
    key = fingerprint_key_of(applied, age)
    assert new["keyId"] == key_id(key)
    spec = yaml.safe_load((applied / "requests/req-new.yaml").read_text())["spec"]
    matching = [
        g for g in CANDIDATES if keyed(canonical(spec, g), new["salt"], key) == new["digest"]
    ]
    assert matching == [TRUE_NEW]

    # Rotating the fingerprint key keys the salted entry too: the oracle is gone.
    sent = len(writes(adobe))
    out = cli(applied, "rekey", "--fingerprint-key", key=age)
    assert "fingerprinted 2 ledger entries again with it, each checked first, 1 of them made " in (
        out
    )
    assert guesses_matching(applied, "req-old") == []
    upgraded = json.loads((applied / "ledger/req-old.json").read_text())["fingerprint"]
    assert upgraded["algorithm"] == "keyed-blake2b-256"
    assert upgraded["keyId"] == key_id(fingerprint_key_of(applied, age)) != new["keyId"]
    commit(applied, "Rotate the fingerprint key")
    cli(applied, "plan", "--detailed-exitcode", key=age)
    assert "No changes" in cli(applied, "apply", "--auto-approve", key=age)
    assert len(writes(adobe)) == sent


def test_the_plan_file_tests_no_guess_either(cli, adobe, repo: Path, age: Key) -> None:
    """A plan file holds a salt and a digest over the requests: in clear, a guess can be
    checked against it (nothing to hide there); encrypted, it cannot."""

    def guesses(root: Path) -> list[str]:
        doc = json.loads((root / "plan.json").read_text())
        salt = bytes.fromhex(doc["inputs"]["salt"])
        ledger = Ledger.load(root / "ledger")
        found = []
        for guess in CANDIDATES:
            guessed = write(
                root / "guess", "requests/req-new.yaml", record_delete("req-new", guess)
            )
            request, findings = load_file(guessed, root / "guess")
            assert request is not None and not findings
            if inputs_digest([request], ledger, None, salt) == doc["inputs"]["digest"]:
                found.append(guess)
        return found

    configure(repo, age, cleartext=True)
    write(repo, "requests/req-new.yaml", record_delete("req-new", TRUE_NEW))
    cli(repo, "plan", "--offline", "--out", "plan.json")
    assert guesses(repo) == [TRUE_NEW]
    cli(repo, "encrypt")
    cli(repo, "plan", "--offline", "--out", "plan.json", key=age)
    assert guesses(repo) == []


def test_the_algorithms_give_these_values(repo: Path, age: Key) -> None:
    """Known answers: a fixed key and salt, the same digests in the code and in the spec."""
    secret = bytes(range(32))
    key = FingerprintKey(secret)
    assert key.key_id == key_id(secret) == "5aa12fd0c335644c"
    assert "0001" not in repr(key)
    configure(repo, age, cleartext=True)
    clear = write(repo, "requests/req-new.yaml", record_delete("req-new", TRUE_NEW))
    request, _ = load_file(clear, repo)
    assert request is not None
    spec = yaml.safe_load(clear.read_text())["spec"]
    data = canonical(spec, TRUE_NEW)
    expected_salted = "cfa41431c182dcbbadc9dc3fd852feb584a747c3c1b8c0d2bc700d6f985d42e9"
    expected_keyed = "7b4547ea1b5da78c8796ba118cccba345884956cd033ec17f4b8d754127b9634"
    assert Fingerprint.of(request, SALT) == Fingerprint(SALT, salted(data, SALT))
    assert salted(data, SALT) == expected_salted
    sealed = clear.read_text().replace(
        TRUE_NEW, crypto.encrypt(TRUE_NEW, crypto.parse_recipients([age.public]))
    )
    clear.write_text(sealed)
    settings = load_settings(repo, {crypto.KEY_ENV: age.secret})
    request, _ = load_file(clear, repo)
    assert request is not None
    request, findings = decrypt_request(request, settings)
    assert not findings and request.sealed and not request.locked
    made = Fingerprint.of(request, SALT, key=key)
    assert made == Fingerprint(SALT, keyed(data, SALT, secret), "5aa12fd0c335644c")
    assert made.digest == expected_keyed
    assert made.to_json() == {
        "algorithm": "keyed-blake2b-256",
        "keyId": "5aa12fd0c335644c",
        "salt": SALT,
        "digest": expected_keyed,
    }


# -- rotating the age keys and the fingerprint key -------------------------------------------


def test_rotating_the_age_keys_keeps_every_fingerprint(cli, adobe, applied: Path, age: Key) -> None:
    key = fingerprint_key_of(applied, age)
    entries = ledger_files(applied)
    sent = len(writes(adobe))
    new = new_key()
    settings = applied / "reconciler.yaml"
    settings.write_text(settings.read_text().replace(age.public, new.public))
    out = cli(applied, "rekey", key=age)
    assert f"re-encrypted the ledger's fingerprint key {key_id(key)} (encryption." in out
    assert "2 value(s) re-encrypted in 2 file(s) for 1 recipient(s)" in out
    assert fingerprint_key_of(applied, new) == key  # the same key, for the new recipient
    with pytest.raises(pyrage.DecryptError):
        fingerprint_key_of(applied, age)
    assert ledger_files(applied) == entries
    commit(applied, "Rotate the age key")
    cli(applied, "plan", "--detailed-exitcode", key=new)
    assert "No changes" in cli(applied, "apply", "--auto-approve", key=new)
    assert len(writes(adobe)) == sent
    assert ledger_files(applied) == entries


def test_rotating_the_fingerprint_key_keeps_every_fingerprint_matching(
    cli, adobe, applied: Path, age: Key
) -> None:
    before = {n: json.loads(t)["fingerprint"] for n, t in ledger_files(applied).items()}
    old_id = key_id(fingerprint_key_of(applied, age))
    sent = len(writes(adobe))
    out = cli(applied, "rekey", "--fingerprint-key", key=age)
    new_id = key_id(fingerprint_key_of(applied, age))
    assert new_id != old_id
    assert out.splitlines() == [
        f"new fingerprint key {new_id} (replacing {old_id}) in reconciler.yaml, encrypted for "
        "1 recipient(s)",
        "fingerprinted 2 ledger entries again with it, each checked first, 1 of them made "
        "before fingerprint keys",
        "commit reconciler.yaml and ledger/ together, in one commit: git add reconciler.yaml "
        "ledger && git commit",
    ]
    after = {n: json.loads(t)["fingerprint"] for n, t in ledger_files(applied).items()}
    for name in ("req-new.json", "req-old.json"):
        assert after[name]["keyId"] == new_id
        assert after[name]["salt"] != before[name]["salt"]
        assert after[name]["digest"] != before[name]["digest"]
    commit(applied, "Rotate the fingerprint key")
    cli(applied, "plan", "--offline", "--detailed-exitcode")  # the pull-request check
    cli(applied, "plan", "--detailed-exitcode", key=age)
    assert "No changes" in cli(applied, "apply", "--auto-approve", key=age)
    assert len(writes(adobe)) == sent


def test_a_changed_request_stops_the_rotation(cli, adobe, applied: Path, age: Key) -> None:
    path = applied / "requests/req-new.yaml"
    text = path.read_text()
    stored = yaml.safe_load(text)["spec"]["identities"][0]["id"]
    other = crypto.encrypt("iemand.anders@example.com", crypto.parse_recipients([age.public]))
    path.write_text(text.replace(stored, other))
    settings, entries = (applied / "reconciler.yaml").read_text(), ledger_files(applied)
    out = cli(applied, "rekey", "--fingerprint-key", key=age, code=1)
    assert out == (
        "error: req-new: the request does not match its ledger entry (an immutable field "
        "changed after it was applied: `reconciler plan` shows the conflict), and "
        "fingerprinting it again would hide that; restore the file first. Nothing was written\n"
    )
    assert (applied / "reconciler.yaml").read_text() == settings
    assert ledger_files(applied) == entries


# -- a lost key ------------------------------------------------------------------------------


def test_a_lost_fingerprint_key_is_a_clear_error_and_nothing_is_sent(
    cli, adobe, applied: Path, age: Key
) -> None:
    kept = key_id(fingerprint_key_of(applied, age))
    entries = ledger_files(applied)
    sent = len(writes(adobe))
    settings = applied / "reconciler.yaml"
    settings.write_text(re.sub(r"\n  fingerprintKey: .*", "", settings.read_text()))
    commit(applied, "Lose the fingerprint key")
    missing = (
        "error: requests/req-new.yaml: identities are encrypted, and reconciler.yaml has no "
        "encryption.fingerprintKey to fingerprint them with in the ledger (a fingerprint "
        "without it lets anyone who reads the repository test a guessed identity): if it was "
        "there before, restore it from git history (git log -p -- reconciler.yaml); if there "
        "never was one, run `reconciler encrypt` (no key needed) and commit reconciler.yaml. "
        "Nothing was sent\n"
    )
    assert cli(applied, "plan", key=age, code=1) == missing
    assert cli(applied, "apply", "--auto-approve", key=age, code=1) == missing
    assert cli(applied, "rekey", "--fingerprint-key", key=age, code=1) == (
        f"error: req-new: its ledger entry was fingerprinted with fingerprint key {kept}, and "
        "reconciler.yaml has no encryption.fingerprintKey: restore it from git history (git "
        "log -p -- reconciler.yaml); without it the entry cannot be checked, and nothing is "
        "sent\n"
    )

    # Another key in its place (encrypt makes one when there is none) is no better.
    out = cli(applied, "encrypt")
    other = key_id(fingerprint_key_of(applied, age))
    assert f"created the ledger's fingerprint key {other} " in out and other != kept
    commit(applied, "A new fingerprint key")
    assert cli(applied, "apply", "--auto-approve", key=age, code=1) == (
        f"error: req-new: its ledger entry was fingerprinted with fingerprint key {kept}, but "
        f"encryption.fingerprintKey in reconciler.yaml is key {other}: restore the key the "
        "ledger was made with (git log -p -- reconciler.yaml), or finish its rotation "
        "(reconciler rekey --fingerprint-key); nothing was compared\n"
    )
    assert len(writes(adobe)) == sent
    assert ledger_files(applied) == entries

    # Restored from git, it checks every entry again.
    git(applied, "checkout", "-q", "HEAD~2", "--", "reconciler.yaml")
    commit(applied, "Restore the fingerprint key")
    assert "No changes" in cli(applied, "apply", "--auto-approve", key=age)
    assert len(writes(adobe)) == sent


def test_encrypted_requests_are_not_applied_without_a_fingerprint_key(
    cli, adobe, repo: Path, age: Key, tmp_path: Path
) -> None:
    """`new --csv` encrypts as it writes; without a fingerprint key yet, apply stops
    before any call rather than commit a salted fingerprint of encrypted identities."""
    configure(repo, age)
    csv = write(tmp_path, "ids.csv", f"email\n{TRUE_NEW}\n")
    cli(repo, "new", "consent-opt-out", "--name", "ccpa-1", "--csv", str(csv))
    commit(repo, "ccpa-1")
    out = cli(repo, "apply", "--auto-approve", key=age, code=1)
    assert out == (
        "error: requests/consent/ccpa-1.yaml: identities are encrypted, and reconciler.yaml "
        "has no encryption.fingerprintKey to fingerprint them with in the ledger (a "
        "fingerprint without it lets anyone who reads the repository test a guessed "
        "identity): if it was there before, restore it from git history (git log -p -- "
        "reconciler.yaml); if there never was one, run `reconciler encrypt` (no key needed) "
        "and commit reconciler.yaml. Nothing was sent\n"
    )
    assert writes(adobe) == [] and not (repo / "ledger").exists()
    assert "created the ledger's fingerprint key " in cli(repo, "encrypt")
    commit(repo, "The fingerprint key")
    assert "1 created" in cli(repo, "apply", "--auto-approve", key=age)
    (entry,) = ledger_files(repo).values()
    assert json.loads(entry)["fingerprint"]["keyId"] == key_id(fingerprint_key_of(repo, age))


# -- the pull-request check, without any key -------------------------------------------------


def test_the_check_without_a_key(cli, adobe, applied: Path, age: Key) -> None:
    """Offline and keyless: an encrypted request is compared by kind and count (its entry
    is keyed), one in clear in full (its entry is salted: its values are in the file)."""
    actions = json.loads(cli(applied, "plan", "--offline", "--format", "json"))["actions"]
    unchecked = (
        "identities are encrypted and no key was given: compared with the ledger by kind and "
        "count only; the values are checked where the key is (apply)"
    )
    assert [(a["name"], a["action"], a["reason"]) for a in actions] == [
        ("req-new", "noop", unchecked),
        ("req-old", "noop", unchecked),
    ]
    # A third request, in clear (the policy allows it), applied in clear.
    write(applied, "requests/req-clear.yaml", record_delete("req-clear", "open@example.com"))
    commit(applied, "req-clear, in clear")
    assert "1 created" in cli(applied, "apply", "--auto-approve", key=age)
    clear = json.loads((applied / "ledger/req-clear.json").read_text())["fingerprint"]
    assert clear["algorithm"] == "blake2b-256"
    path = applied / "requests/req-clear.yaml"
    path.write_text(path.read_text().replace("open@example.com", "ander@example.com"))
    out = cli(applied, "plan", "--offline", code=1)
    assert "req-clear" in out and "conflict" in out


def test_an_encrypted_request_committed_in_clear_again_is_named(
    cli, adobe, applied: Path, age: Key
) -> None:
    cli(applied, "decrypt", "--in-place", "requests/req-new.yaml", key=age)
    expected = re.compile(
        r"error: requests/req-new\.yaml: its ledger entry was fingerprinted with fingerprint "
        r"key [0-9a-f]{16} while its identities were encrypted, and the file now holds them "
        r"in clear: encrypt them again \(reconciler encrypt requests/req-new\.yaml\); "
        r"nothing was compared\n"
    )
    assert expected.fullmatch(cli(applied, "plan", "--offline", code=1))
    assert expected.fullmatch(cli(applied, "plan", key=age, code=1))
    cli(applied, "encrypt", "requests/req-new.yaml")
    cli(applied, "plan", "--detailed-exitcode", key=age)


# -- where the key is written ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        pytest.param(
            "encryption:\n  recipients:\n    - {pub}   # the apply job\npolicy:\n"
            "  allowCleartextIdentities: true\n",
            "encryption:\n  recipients:\n    - {pub}   # the apply job\n  fingerprintKey: KEY\n"
            "policy:\n  allowCleartextIdentities: true\n",
            id="block",
        ),
        pytest.param(
            "encryption:\n  # public keys\n  recipients:\n  - {pub}\n\n# the end\n",
            "encryption:\n  # public keys\n  recipients:\n  - {pub}\n  fingerprintKey: KEY\n\n"
            "# the end\n",
            id="indentless-sequence-and-comments",
        ),
        pytest.param(
            "encryption:\n  recipients: [{pub}]\n",
            "encryption:\n  recipients: [{pub}]\n  fingerprintKey: KEY\n",
            id="flow-sequence",
        ),
        pytest.param(
            "encryption: {{recipients: [{pub}]}}  # one key\n",
            'encryption: {{recipients: [{pub}], fingerprintKey: "KEY"}}  # one key\n',
            id="flow-mapping",
        ),
    ],
)
def test_the_key_is_added_in_the_settings_layout(
    cli, repo: Path, age: Key, layout: str, expected: str
) -> None:
    write(repo, "reconciler.yaml", layout.format(pub=age.public))
    cli(repo, "encrypt")
    text = (repo / "reconciler.yaml").read_text()
    value = yaml.safe_load(text)["encryption"]["fingerprintKey"]
    assert text.replace(value, "KEY") == expected.format(pub=age.public)
    assert len(fingerprint_key_of(repo, age)) == 32
    again = cli(repo, "encrypt")
    assert (repo / "reconciler.yaml").read_text() == text and "fingerprint key" not in again


def test_rekey_needs_a_key_that_decrypts_the_fingerprint_key(cli, repo: Path, age: Key) -> None:
    other = new_key()
    configure(repo, age, other)
    recipients = crypto.parse_recipients([age.public, other.public])
    write(
        repo,
        "requests/req-new.yaml",
        record_delete("req-new", crypto.encrypt(TRUE_NEW, recipients)),
    )
    cli(repo, "encrypt")
    settings = repo / "reconciler.yaml"
    sealed_for_one = crypto.encrypt(FingerprintKey.generate().to_text(), recipients[:1])
    text = re.sub(r"fingerprintKey: .*", f"fingerprintKey: {sealed_for_one}", settings.read_text())
    settings.write_text(text)
    before = (repo / "requests/req-new.yaml").read_text()
    out = cli(repo, "rekey", key=other, code=1)
    assert out == (
        "error: encryption.fingerprintKey in reconciler.yaml does not decrypt with the key in "
        "RECONCILER_AGE_KEY: it was encrypted for other recipients, or it is damaged; "
        "re-encrypt it for the configured recipients (reconciler rekey, with a key that "
        "decrypts it)\n"
    )
    assert settings.read_text() == text
    assert (repo / "requests/req-new.yaml").read_text() == before
    assert "re-encrypted the ledger's fingerprint key" in cli(repo, "rekey", key=age)
    cli(repo, "rekey", key=other)  # now for both


# -- the ledger file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fingerprint", "message"),
    [
        pytest.param(
            {"algorithm": "keyed-blake2b-256", "salt": SALT, "digest": "0" * 64},
            "keyId",
            id="keyed-without-key-id",
        ),
        pytest.param(
            {"algorithm": "blake2b-256", "keyId": "0" * 16, "salt": SALT, "digest": "0" * 64},
            "fingerprint",
            id="salted-with-key-id",
        ),
        pytest.param(
            {"algorithm": "keyed-blake2b-256", "keyId": "KEY", "salt": SALT, "digest": "0" * 64},
            "keyId",
            id="key-id-not-hex",
        ),
    ],
)
def test_the_ledger_refuses_a_malformed_fingerprint(
    tmp_path: Path, fingerprint: dict[str, str], message: str
) -> None:
    doc = {
        "apiVersion": "reconciler/v1",
        "name": "req-a",
        "kind": "RecordDelete",
        "path": "requests/req-a.yaml",
        "fingerprint": fingerprint,
        "submittedAt": "2026-01-01T00:00:00Z",
        "remote": {"workorderId": "DI-1"},
    }
    write(tmp_path, "ledger/req-a.json", json.dumps(doc))
    with pytest.raises(LedgerError, match=message):
        Ledger.load(tmp_path / "ledger")


def test_a_keyed_entry_reads_back_as_written(tmp_path: Path) -> None:
    fingerprint = Fingerprint(SALT, "ab" * 32, "5aa12fd0c335644c")
    entry = Entry(
        "req-a",
        Kind("RecordDelete"),
        "requests/req-a.yaml",
        fingerprint,
        "2026-01-01T00:00:00Z",
        remote_id="DI-1",
    )
    ledger = Ledger(tmp_path / "ledger")
    ledger.put(entry)
    doc = json.loads((tmp_path / "ledger/req-a.json").read_text())
    assert doc["fingerprint"] == {
        "algorithm": "keyed-blake2b-256",
        "keyId": "5aa12fd0c335644c",
        "salt": SALT,
        "digest": "ab" * 32,
    }
    assert Ledger.load(tmp_path / "ledger").entries["req-a"].fingerprint == fingerprint


def test_a_keyed_fingerprint_and_a_request_in_clear(cli, repo: Path, age: Key) -> None:
    """Validation hands on requests in clear without the keyring: another request's keyed
    fingerprint does not match one (as a rule comparing it with every entry asks), and
    its own names what happened."""
    configure(repo, age, cleartext=True)
    write(repo, "requests/req-new.yaml", record_delete("req-new", TRUE_NEW))
    write(repo, "requests/req-twin.yaml", record_delete("req-twin", TRUE_NEW))
    cli(repo, "encrypt", "requests/req-new.yaml")
    settings = load_settings(repo, {crypto.KEY_ENV: age.secret})

    def loaded(name: str):
        request, _ = load_file(repo / f"requests/{name}.yaml", repo)
        assert request is not None
        return decrypt_request(request, settings)[0]

    sealed, twin = loaded("req-new"), loaded("req-twin")
    assert sealed.keyring is not None and twin.keyring is None
    made = Fingerprint.of(sealed, SALT)
    assert made.key_id == key_id(fingerprint_key_of(repo, age)) and made.name == "req-new"
    assert made.matches(sealed)
    assert not made.matches(twin)
    clear = write(repo, "requests/req-new.yaml", record_delete("req-new", TRUE_NEW))
    request, _ = load_file(clear, repo)
    assert request is not None
    with pytest.raises(crypto.FingerprintKeyError, match="the file now holds them in clear"):
        made.matches(request)
    # With the keyring (a rotation gives it to every request), both compare in full: the
    # twin declares the same identities and dataset, so it matches too.
    assert made.matches(request.decrypt(settings.keyring)[0])
    assert made.matches(twin.decrypt(settings.keyring)[0])
