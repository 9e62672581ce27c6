"""The emulator's privacy jobs and consent submissions in SQLite (tables created by
:mod:`reconciler.emulator.store`, reached as ``Store.jobs``)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass


@dataclass(frozen=True)
class JobRecord:
    """A stored privacy job, without its user ids."""

    job_id: str
    request_id: str
    org_id: str
    user_key: str
    action: str
    product: str
    regulation: str
    submitted_by: str
    created_at: float


@dataclass(frozen=True)
class JobSubmission:
    """What was submitted for a job's user: the ids, and the request's products (``include``,
    empty for a job stored before products were)."""

    user_ids: tuple[dict[str, str], ...]
    products: tuple[str, ...]


_JOB_COLUMNS = (
    "job_id, request_id, org_id, user_key, action, product, regulation, submitted_by, created_at"
)


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(**{key: row[key] for key in row.keys()})


class JobTable:
    """The ``privacy_jobs`` and ``consents`` tables; ``lock`` is the store's (re-entrant)
    lock and ``locked`` its transaction."""

    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.RLock,
        locked: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._db = db
        self._lock = lock
        self._locked = locked

    def add(
        self,
        jobs: Iterable[tuple[JobRecord, list[dict[str, object]]]],
        products: Sequence[str] = (),
    ) -> None:
        """Store jobs with their user's ids; ``products``: the request's ``include``."""
        included = json.dumps(list(products))
        with self._locked():
            self._db.executemany(
                f"INSERT INTO privacy_jobs ({_JOB_COLUMNS}, user_ids, products) "
                f"VALUES ({', '.join('?' * 11)})",
                (
                    (
                        job.job_id,
                        job.request_id,
                        job.org_id,
                        job.user_key,
                        job.action,
                        job.product,
                        job.regulation,
                        job.submitted_by,
                        job.created_at,
                        json.dumps(user_ids),
                        included,
                    )
                    for job, user_ids in jobs
                ),
            )

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM privacy_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return None if row is None else _job(row)

    def submission(self, job_id: str) -> JobSubmission | None:
        """The ids and products submitted for a job, for its access content only."""
        with self._lock:
            row = self._db.execute(
                "SELECT user_ids, products FROM privacy_jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        if row is None:
            return None
        return JobSubmission(
            user_ids=tuple(json.loads(row["user_ids"])),
            products=tuple(json.loads(row["products"])),
        )

    def select(self, org_id: str | None = None, regulation: str | None = None) -> list[JobRecord]:
        """Jobs oldest first, optionally of one org and regulation."""
        clauses, args = [], []
        if org_id is not None:
            clauses.append("org_id = ?")
            args.append(org_id)
        if regulation is not None:
            clauses.append("regulation = ?")
            args.append(regulation)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM privacy_jobs {where} ORDER BY seq", args
            ).fetchall()
        return [_job(row) for row in rows]

    def page(
        self,
        org_id: str,
        regulation: str,
        created_from: float,
        created_to: float,
        offset: int,
        limit: int,
    ) -> tuple[int, list[JobRecord]]:
        """How many of the org's jobs under ``regulation`` were created in the window (ends
        included), and the ``limit`` from ``offset`` on, newest first."""
        where = "WHERE org_id = ? AND regulation = ? AND created_at BETWEEN ? AND ?"
        args: list[object] = [org_id, regulation, created_from, created_to]
        with self._lock:
            total = int(
                self._db.execute(
                    f"SELECT count(*) AS n FROM privacy_jobs {where}", args
                ).fetchone()["n"]
            )
            if offset >= total:
                return total, []
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM privacy_jobs {where} "
                "ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return total, [_job(row) for row in rows]

    def add_consent(
        self, org_id: str, created_at: float, opt_out: bool, entity_count: int, value_count: int
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO consents (org_id, created_at, opt_out, entity_count, value_count) "
                "VALUES (?, ?, ?, ?, ?)",
                (org_id, created_at, int(opt_out), entity_count, value_count),
            )

    def consent_counts(self) -> list[dict[str, object]]:
        """Per org: how many consent requests, entities and values were received."""
        with self._lock:
            rows = self._db.execute(
                "SELECT org_id, count(*) AS requests, sum(entity_count) AS entities, "
                "sum(value_count) AS ids FROM consents GROUP BY org_id ORDER BY org_id"
            ).fetchall()
        return [
            {
                "orgId": r["org_id"],
                "requests": r["requests"],
                "entities": r["entities"],
                "identities": r["ids"],
            }
            for r in rows
        ]
