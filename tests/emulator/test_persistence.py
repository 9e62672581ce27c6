"""State in SQLite: a restarted emulator knows what was created; concurrent writes are safe."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from reconciler.emulator.store import Store, WorkOrderFilter
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with running_emulator(db=db) as emu, httpx.Client(base_url=emu.url) as http:
        headers = emu.headers()
        order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
        job = http.post(f"{PRIVACY}/jobs", json=job_body(emu.client.org_id), headers=headers).json()
        http.put(
            f"{HYGIENE}/workorder/{order['workorderId']}",
            json={"description": "edited"},
            headers=headers,
        )
        emu.admin.advance(3600)
        before = http.get(f"{HYGIENE}/workorder/{order['workorderId']}", headers=headers).json()
    with running_emulator(db=db) as emu, httpx.Client(base_url=emu.url) as http:
        # The token issued before the restart is still good, as IMS tokens are.
        after = http.get(f"{HYGIENE}/workorder/{order['workorderId']}", headers=headers)
        assert after.status_code == 200
        again = after.json()
        assert again["description"] == "edited"
        assert again["createdAt"] == before["createdAt"]
        assert again["status"] in ("ingested", "completed")  # the clock did not run backwards
        job_id = job["jobs"][0]["jobId"]
        assert http.get(f"{PRIVACY}/jobs/{job_id}", headers=headers).status_code == 200
        assert [w["identityCount"] for w in emu.admin.workorders()] == [3]


def test_concurrent_creates(emulator: RunningEmulator, http: httpx.Client) -> None:
    headers = emulator.headers()

    def create(i: int) -> httpx.Response:
        body = workorder_body(description=f"concurrent-{i}")
        return http.post(f"{HYGIENE}/workorder", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(40)))
    assert {a.status_code for a in answers} == {200}
    ids = {a.json()["workorderId"] for a in answers}
    assert len(ids) == 40
    stored = emulator.admin.workorders()
    assert sorted(w["description"] for w in stored) == sorted(f"concurrent-{i}" for i in range(40))
    quota = http.get(f"{HYGIENE}/quota", headers=headers).json()["quotas"]
    assert {q["name"]: q["consumed"] for q in quota}["dailyConsumerDeleteIdentitiesQuota"] == 120


def test_database_without_created_iso_is_migrated(tmp_path: Path) -> None:
    """A database written before ``created_iso`` existed gains it, filled from created_at."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE workorders (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " workorder_id TEXT UNIQUE NOT NULL, org_id TEXT NOT NULL, sandbox TEXT NOT NULL,"
        " bundle_id TEXT NOT NULL, dataset_id TEXT NOT NULL, dataset_name TEXT,"
        " dataset_known INTEGER NOT NULL, display_name TEXT NOT NULL,"
        " description TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,"
        " edited_at REAL, identity_count INTEGER NOT NULL, target_services TEXT NOT NULL);"
    )
    for n, created_at in enumerate((2_000_000_000.0004, 2_000_000_000.0006, 1_000_000_000.0)):
        old.execute(
            "INSERT INTO workorders (workorder_id, org_id, sandbox, bundle_id, dataset_id,"
            " dataset_known, display_name, description, created_by, created_at,"
            " identity_count, target_services) VALUES (?, 'o', 'prod', 'b', 'd', 1, 'n', '',"
            " 'me', ?, 1, '[]')",
            (f"DI-{n}", created_at),
        )
    old.commit()
    old.close()
    store = Store(path)
    try:
        total, records = store.page_workorders(
            WorkOrderFilter("o", "prod"), "createdAt", True, 0, 9
        )
    finally:
        store.close()
    # The first two share a millisecond: the newer by creation order comes first.
    assert (total, [r.workorder_id for r in records]) == (3, ["DI-1", "DI-0", "DI-2"])
