"""The emulator's state in SQLite: tokens, work orders (with identities), and the tables of
privacy jobs and consents (``job_store``, reached as ``Store.jobs``) and of dataset
expirations (``ttl_store``, reached as ``Store.expirations``).

One connection shared by all threads behind a re-entrant lock: requests are
serialised at the database, which is plenty for an emulator and makes
read-check-write sequences (quotas) atomic via :meth:`Store.locked`.
Identities are read back for one thing only, an access job's content (the data
subject's own ids); everything else sees counts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reconciler.emulator.clock import iso, utc_day
from reconciler.emulator.job_store import JobTable
from reconciler.emulator.textmatch import author_matches, contains_folded
from reconciler.emulator.ttl_store import (
    LATEST_TIME_SQL,
    TTL_SCHEMA,
    TTL_TABLES,
    ExpirationTable,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, org_id TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS workorders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workorder_id TEXT UNIQUE NOT NULL, org_id TEXT NOT NULL, sandbox TEXT NOT NULL,
    bundle_id TEXT NOT NULL, dataset_id TEXT NOT NULL, dataset_name TEXT,
    dataset_known INTEGER NOT NULL, display_name TEXT NOT NULL, description TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL, edited_at REAL,
    identity_count INTEGER NOT NULL, target_services TEXT NOT NULL,
    created_iso TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS workorders_org ON workorders (org_id, sandbox);
CREATE TABLE IF NOT EXISTS workorder_identities (
    workorder_id TEXT NOT NULL, namespace TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS privacy_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT UNIQUE NOT NULL, request_id TEXT NOT NULL, org_id TEXT NOT NULL,
    user_key TEXT NOT NULL, action TEXT NOT NULL, product TEXT NOT NULL,
    regulation TEXT NOT NULL, submitted_by TEXT NOT NULL, created_at REAL NOT NULL,
    user_ids TEXT NOT NULL, products TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS privacy_jobs_org ON privacy_jobs (org_id, regulation);
CREATE TABLE IF NOT EXISTS consents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, created_at REAL NOT NULL,
    opt_out INTEGER NOT NULL, entity_count INTEGER NOT NULL, value_count INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class TokenRecord:
    token: str
    client_id: str
    org_id: str
    expires_at: float


@dataclass(frozen=True)
class WorkOrderRecord:
    """A stored work order, without its identities."""

    workorder_id: str
    org_id: str
    sandbox: str
    bundle_id: str
    dataset_id: str
    dataset_name: str | None
    dataset_known: bool
    display_name: str
    description: str
    created_by: str
    created_at: float
    edited_at: float | None
    identity_count: int
    target_services: tuple[str, ...]


_WO_COLUMNS = (
    "workorder_id, org_id, sandbox, bundle_id, dataset_id, dataset_name, dataset_known, "
    "display_name, description, created_by, created_at, edited_at, identity_count, "
    "target_services"
)


def _workorder(row: sqlite3.Row) -> WorkOrderRecord:
    return WorkOrderRecord(
        workorder_id=row["workorder_id"],
        org_id=row["org_id"],
        sandbox=row["sandbox"],
        bundle_id=row["bundle_id"],
        dataset_id=row["dataset_id"],
        dataset_name=row["dataset_name"],
        dataset_known=bool(row["dataset_known"]),
        display_name=row["display_name"],
        description=row["description"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        identity_count=row["identity_count"],
        target_services=tuple(json.loads(row["target_services"])),
    )


@dataclass(frozen=True)
class WorkOrderFilter:
    """Which work orders a page is drawn from (``GET /workorder``'s stored-field filters).

    ``search``: the id is it, or author, name, description or dataset name contains it,
    ignoring case; ``author``: as :func:`author_matches`; ``display_name``/``description``:
    contained, ignoring case; ``created_from``..``created_to``: creation time, both ends
    included; ``day``: created or last edited (else created) on that GMT day.
    """

    org_id: str | None = None
    sandbox: str | None = None
    search: str | None = None
    workorder_id: str | None = None
    author: str | None = None
    display_name: str | None = None
    description: str | None = None
    created_from: float | None = None
    created_to: float | None = None
    day: date | None = None


# Sort keys a page can be ordered by in SQLite, by the rendered field they equal: each
# column compares as that field does in Python (UTF-8 bytes sort as code points;
# ``created_iso`` is ``iso(created_at)``, the rendered ``createdAt``). ``action`` is the
# same for every work order, so only the tie-break (creation order) remains.
WORKORDER_SORT_KEYS: dict[str, str | None] = {
    "displayName": "display_name",
    "description": "description",
    "workorderId": "workorder_id",
    "createdBy": "created_by",
    "createdAt": "created_iso",
    "operationCount": "identity_count",
    "action": None,
}


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def _iso_day(epoch: float) -> str:
    return utc_day(epoch).isoformat()


def _workorder_clauses(where: WorkOrderFilter) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    for column, value in (
        ("org_id", where.org_id),
        ("sandbox", where.sandbox),
        ("workorder_id", where.workorder_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if where.search is not None:
        clauses.append(
            "(workorder_id = ? OR contains_folded(?, created_by, display_name, description, "
            "coalesce(dataset_name, '')))"
        )
        args.extend((where.search, where.search))
    if where.author is not None:
        clauses.append("author_matches(?, created_by)")
        args.append(where.author)
    for column, needle in (
        ("display_name", where.display_name),
        ("description", where.description),
    ):
        if needle is not None:
            clauses.append(f"contains_folded(?, {column})")
            args.append(needle)
    if where.created_from is not None:
        clauses.append("created_at >= ?")
        args.append(where.created_from)
    if where.created_to is not None:
        clauses.append("created_at <= ?")
        args.append(where.created_to)
    if where.day is not None:
        # Edited (else created) time, as ``max(created, edited or 0)`` in the handler.
        clauses.append(
            "(iso_day(created_at) = ? OR iso_day(max(created_at, coalesce(edited_at, 0.0))) = ?)"
        )
        args.extend((where.day.isoformat(), where.day.isoformat()))
    return clauses, args


class Store:
    """SQLite-backed state; ``path`` is a file or ``":memory:"``."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.create_function("contains_folded", -1, contains_folded, deterministic=True)
        self._db.create_function("author_matches", 2, author_matches, deterministic=True)
        self._db.create_function("iso_day", 1, _iso_day, deterministic=True)
        self._db.create_function("iso", 1, iso, deterministic=True)
        if self.path != ":memory:":
            # WAL keeps a reader from blocking on a writer and survives a killed process.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA + TTL_SCHEMA)
        self._migrate()
        self.expirations = ExpirationTable(self._db, self._lock)
        self.jobs = JobTable(self._db, self._lock, self.locked)

    def _migrate(self) -> None:
        """Bring a database written by an older emulator up to this schema."""
        with self.locked():
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(workorders)")}
            if "created_iso" not in columns:
                self._db.execute(
                    "ALTER TABLE workorders ADD COLUMN created_iso TEXT NOT NULL DEFAULT ''"
                )
                self._db.execute("UPDATE workorders SET created_iso = iso(created_at)")
            job_columns = {
                row["name"] for row in self._db.execute("PRAGMA table_info(privacy_jobs)")
            }
            if "products" not in job_columns:
                self._db.execute(
                    "ALTER TABLE privacy_jobs ADD COLUMN products TEXT NOT NULL DEFAULT '[]'"
                )
            # The default order (-createdAt) of one sandbox's list: pages read off the index.
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS workorders_created "
                "ON workorders (org_id, sandbox, created_iso)"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store for a read-check-write sequence, in one transaction."""
        with self._lock:
            if self._db.in_transaction:  # nested: the outer block commits
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def latest_time(self) -> float:
        """The latest creation or edit time stored (0 when empty)."""
        with self._lock:
            row = self._db.execute(
                "SELECT max(t) AS t FROM ("
                " SELECT max(max(created_at), coalesce(max(edited_at), 0)) AS t FROM workorders"
                " UNION ALL SELECT max(created_at) FROM privacy_jobs"
                " UNION ALL SELECT max(created_at) FROM consents"
                f" UNION ALL {LATEST_TIME_SQL})"
            ).fetchone()
            return float(row["t"] or 0.0)

    # -- tokens -----------------------------------------------------------
    def add_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (token, client_id, org_id, expires_at) VALUES (?, ?, ?, ?)",
                (record.token, record.client_id, record.org_id, record.expires_at),
            )

    def get_token(self, token: str) -> TokenRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT token, client_id, org_id, expires_at FROM tokens WHERE token = ?", (token,)
            ).fetchone()
        return None if row is None else TokenRecord(**{k: row[k] for k in row.keys()})

    def expire_tokens(self) -> int:
        with self._lock:
            return self._db.execute("UPDATE tokens SET expires_at = 0").rowcount

    # -- work orders --------------------------------------------------------
    def add_workorder(self, record: WorkOrderRecord, identities: Iterable[tuple[str, str]]) -> None:
        with self.locked():
            self._db.execute(
                f"INSERT INTO workorders ({_WO_COLUMNS}, created_iso) "
                f"VALUES ({', '.join('?' * 15)})",
                (
                    record.workorder_id,
                    record.org_id,
                    record.sandbox,
                    record.bundle_id,
                    record.dataset_id,
                    record.dataset_name,
                    int(record.dataset_known),
                    record.display_name,
                    record.description,
                    record.created_by,
                    record.created_at,
                    record.edited_at,
                    record.identity_count,
                    json.dumps(list(record.target_services)),
                    iso(record.created_at),
                ),
            )
            self._db.executemany(
                "INSERT INTO workorder_identities (workorder_id, namespace, value) "
                "VALUES (?, ?, ?)",
                ((record.workorder_id, ns, value) for ns, value in identities),
            )

    def get_workorder(self, workorder_id: str) -> WorkOrderRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_WO_COLUMNS} FROM workorders WHERE workorder_id = ?", (workorder_id,)
            ).fetchone()
        return None if row is None else _workorder(row)

    def list_workorders(
        self,
        org_id: str | None = None,
        sandbox: str | None = None,
        *,
        search: str | None = None,
        since: float | None = None,
        dataset_known: bool | None = None,
    ) -> list[WorkOrderRecord]:
        """Work orders oldest first, optionally of one org and sandbox.

        ``search`` keeps those whose id is ``search`` or whose author, name, description or
        dataset name contains it, ignoring case (``GET /workorder?search=``); ``since`` those
        created at or after it. Filtering here spares decoding every row of a large store.
        """
        clauses, args = _workorder_clauses(WorkOrderFilter(org_id, sandbox, search=search))
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since)
        if dataset_known is not None:
            clauses.append("dataset_known = ?")
            args.append(int(dataset_known))
        where = _where(clauses)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_WO_COLUMNS} FROM workorders {where} ORDER BY seq", args
            ).fetchall()
        return [_workorder(row) for row in rows]

    def page_workorders(
        self, where: WorkOrderFilter, order: str, descending: bool, offset: int, limit: int
    ) -> tuple[int, list[WorkOrderRecord]]:
        """How many work orders match, and the ``limit`` from ``offset`` on in this order.

        ``order`` is a key of :data:`WORKORDER_SORT_KEYS`; equal keys keep creation order
        (reversed when ``descending``), as a stable sort of the oldest-first list would.
        """
        clauses, args = _workorder_clauses(where)
        direction = "DESC" if descending else "ASC"
        key = WORKORDER_SORT_KEYS[order]
        sort = f"seq {direction}" if key is None else f"{key} {direction}, seq {direction}"
        with self._lock:
            total = int(
                self._db.execute(
                    f"SELECT count(*) AS n FROM workorders {_where(clauses)}", args
                ).fetchone()["n"]
            )
            if offset >= total:
                return total, []
            rows = self._db.execute(
                f"SELECT {_WO_COLUMNS} FROM workorders {_where(clauses)} "
                f"ORDER BY {sort} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return total, [_workorder(row) for row in rows]

    def identity_sum(self, org_id: str, since: float, *, dataset_known: bool) -> int:
        """Identities in the org's work orders created at or after ``since``."""
        with self._lock:
            row = self._db.execute(
                "SELECT coalesce(sum(identity_count), 0) AS n FROM workorders "
                "WHERE org_id = ? AND created_at >= ? AND dataset_known = ?",
                (org_id, since, int(dataset_known)),
            ).fetchone()
        return int(row["n"])

    def update_workorder(
        self, workorder_id: str, display_name: str, description: str, edited_at: float
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE workorders SET display_name = ?, description = ?, edited_at = ? "
                "WHERE workorder_id = ?",
                (display_name, description, edited_at, workorder_id),
            )

    # -- privacy jobs -------------------------------------------------------
    # -- admin ----------------------------------------------------------------
    def clear(self) -> None:
        """Forget every object and token (admin reset)."""
        with self.locked():
            for table in (
                "tokens",
                "workorders",
                "workorder_identities",
                "privacy_jobs",
                "consents",
                *TTL_TABLES,
                "meta",
            ):
                self._db.execute(f"DELETE FROM {table}")
