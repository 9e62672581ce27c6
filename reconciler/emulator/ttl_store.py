"""Dataset expirations (``/ttl``) in the emulator's SQLite database.

The table lives in the same database and behind the same lock as the rest of
:class:`~reconciler.emulator.store.Store`, which creates it and hands its
connection to :class:`ExpirationTable`. Nothing here computes a status: that is
``lifecycle.expiration_state``, from the emulator clock at read time.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

TTL_SCHEMA = """
CREATE TABLE IF NOT EXISTS dataset_expirations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ttl_id TEXT UNIQUE NOT NULL, org_id TEXT NOT NULL, sandbox TEXT NOT NULL,
    dataset_id TEXT NOT NULL, dataset_name TEXT NOT NULL, display_name TEXT NOT NULL,
    description TEXT NOT NULL, expiry REAL NOT NULL, created_at REAL NOT NULL,
    edited_at REAL, cancelled_at REAL, updated_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dataset_expirations_dataset
    ON dataset_expirations (org_id, sandbox, dataset_id);
CREATE TABLE IF NOT EXISTS dataset_expiration_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ttl_id TEXT NOT NULL, event TEXT NOT NULL,
    expiry REAL NOT NULL, changed_at REAL NOT NULL, changed_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dataset_expiration_events_ttl ON dataset_expiration_events (ttl_id);
"""
# Tables an admin reset empties.
TTL_TABLES = ("dataset_expirations", "dataset_expiration_events")
# The latest time the table holds, for ``Store.latest_time`` (NULL when empty).
LATEST_TIME_SQL = (
    "SELECT max(max(created_at), coalesce(max(edited_at), 0), coalesce(max(cancelled_at), 0))"
    " FROM dataset_expirations"
)

_COLUMNS = (
    "ttl_id, org_id, sandbox, dataset_id, dataset_name, display_name, description, expiry, "
    "created_at, edited_at, cancelled_at, updated_by"
)


@dataclass(frozen=True)
class ExpirationRecord:
    """A stored dataset expiration; ``expiry`` and the times are epoch seconds."""

    ttl_id: str
    org_id: str
    sandbox: str
    dataset_id: str
    dataset_name: str
    display_name: str
    description: str
    expiry: float
    created_at: float
    edited_at: float | None
    cancelled_at: float | None
    updated_by: str


@dataclass(frozen=True)
class ExpirationEvent:
    """One change to an expiration (``created``, ``updated``, ``cancelled``), for
    ``include=history``: the expiry after it, when, and by whom."""

    event: str
    expiry: float
    changed_at: float
    changed_by: str


def _record(row: sqlite3.Row) -> ExpirationRecord:
    return ExpirationRecord(**{key: row[key] for key in row.keys()})


class ExpirationTable:
    """The ``dataset_expirations`` table; ``lock`` is the store's (re-entrant) lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def add(self, record: ExpirationRecord) -> None:
        with self._lock:
            self._event(
                record.ttl_id, "created", record.expiry, record.created_at, record.updated_by
            )
            self._db.execute(
                f"INSERT INTO dataset_expirations ({_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (
                    record.ttl_id,
                    record.org_id,
                    record.sandbox,
                    record.dataset_id,
                    record.dataset_name,
                    record.display_name,
                    record.description,
                    record.expiry,
                    record.created_at,
                    record.edited_at,
                    record.cancelled_at,
                    record.updated_by,
                ),
            )

    def get(self, ttl_id: str) -> ExpirationRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM dataset_expirations WHERE ttl_id = ?", (ttl_id,)
            ).fetchone()
        return None if row is None else _record(row)

    def records(
        self,
        org_id: str | None = None,
        sandbox: str | None = None,
        dataset_id: str | None = None,
    ) -> list[ExpirationRecord]:
        """Expirations oldest first, optionally of one org, sandbox and dataset."""
        clauses: list[str] = []
        args: list[object] = []
        for column, value in (("org_id", org_id), ("sandbox", sandbox), ("dataset_id", dataset_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM dataset_expirations {where} ORDER BY seq", args
            ).fetchall()
        return [_record(row) for row in rows]

    def active_count(self, org_id: str, now: float, completed_after: float) -> int:
        """The org's expirations neither cancelled nor completed at ``now``: those whose
        expiry plus ``completed_after`` is still ahead (as ``lifecycle.expiration_state``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) AS n FROM dataset_expirations "
                "WHERE org_id = ? AND cancelled_at IS NULL AND expiry + ? > ?",
                (org_id, completed_after, now),
            ).fetchone()
        return int(row["n"])

    def update(
        self,
        ttl_id: str,
        *,
        display_name: str,
        description: str,
        expiry: float,
        edited_at: float,
        updated_by: str,
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE dataset_expirations SET display_name = ?, description = ?, expiry = ?, "
                "edited_at = ?, updated_by = ? WHERE ttl_id = ?",
                (display_name, description, expiry, edited_at, updated_by, ttl_id),
            )
            self._event(ttl_id, "updated", expiry, edited_at, updated_by)

    def cancel(self, ttl_id: str, *, cancelled_at: float, updated_by: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE dataset_expirations SET cancelled_at = ?, updated_by = ? WHERE ttl_id = ?",
                (cancelled_at, updated_by, ttl_id),
            )
            row = self._db.execute(
                "SELECT expiry FROM dataset_expirations WHERE ttl_id = ?", (ttl_id,)
            ).fetchone()
            if row is not None:
                self._event(ttl_id, "cancelled", row["expiry"], cancelled_at, updated_by)

    def events(self, ttl_id: str) -> list[ExpirationEvent]:
        """The expiration's changes, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event, expiry, changed_at, changed_by FROM dataset_expiration_events "
                "WHERE ttl_id = ? "
                "ORDER BY seq",
                (ttl_id,),
            ).fetchall()
        return [ExpirationEvent(**{key: row[key] for key in row.keys()}) for row in rows]

    def _event(self, ttl_id: str, event: str, expiry: float, at: float, by: str) -> None:
        self._db.execute(
            "INSERT INTO dataset_expiration_events "
            "(ttl_id, event, expiry, changed_at, changed_by) VALUES (?, ?, ?, ?, ?)",
            (ttl_id, event, expiry, at, by),
        )
