"""The ``reltest`` plugin of the reliability tier: idempotent probe tasks for real Huey consumers.

Every task writes to small ``rel_*`` tables (created by :func:`create_tables`) so the test can count
what ran, how often, and on which connection settings — from another process.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from moviepulse import hookimpl
from moviepulse.core.types import TaskSpec

TABLES = (
    "CREATE TABLE IF NOT EXISTS rel_started (n INTEGER NOT NULL, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rel_done (n INTEGER PRIMARY KEY, runs INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rel_attempts (k TEXT PRIMARY KEY, attempts INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rel_attempt_times (k TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rel_pragmas (pid INTEGER, journal_mode TEXT, busy_timeout INTEGER, "
    "synchronous INTEGER, foreign_keys INTEGER)",
)


def create_tables(session: Any) -> None:
    for ddl in TABLES:
        session.execute(text(ddl))
    session.commit()


def _write(sql: str, **params: Any) -> None:
    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db

    with write_transaction(db.session):
        db.session.execute(text(sql), params)


def work(n: int, sleep: float = 0.0) -> int:
    """Mark start, sleep, then record completion idempotently (a second run bumps ``runs``)."""
    _write("INSERT INTO rel_started (n, at) VALUES (:n, :at)", n=n, at=time.time())
    if sleep:
        time.sleep(sleep)
    _write("INSERT INTO rel_done (n, runs) VALUES (:n, 1) ON CONFLICT (n) DO UPDATE SET runs = rel_done.runs + 1",
           n=n)
    return n


def flaky(key: str, fail_times: int) -> str:
    """Fails ``fail_times`` times, then succeeds (attempts counted in the database)."""
    _write("INSERT INTO rel_attempts (k, attempts) VALUES (:k, 1) "
           "ON CONFLICT (k) DO UPDATE SET attempts = rel_attempts.attempts + 1", k=key)
    _write("INSERT INTO rel_attempt_times (k, at) VALUES (:k, :at)", k=key, at=time.time())
    from moviepulse.extensions import db

    attempts = db.session.execute(text("SELECT attempts FROM rel_attempts WHERE k = :k"), {"k": key}).scalar()
    db.session.commit()
    if attempts <= fail_times:
        raise RuntimeError(f"{key}: planned failure {attempts}/{fail_times}")
    return key


def always_fails(key: str) -> None:
    flaky(key, 10**6)


def pragmas() -> dict[str, Any]:
    """The pragmas of the worker's own database connection, recorded and returned."""
    import os

    from moviepulse.extensions import db

    values = {name: db.session.execute(text(f"PRAGMA {name}")).scalar()
              for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")}
    db.session.commit()
    _write("INSERT INTO rel_pragmas VALUES (:pid, :journal_mode, :busy_timeout, :synchronous, :foreign_keys)",
           pid=os.getpid(), **values)
    return values


@hookimpl
def register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec("reltest.work", work),
        TaskSpec("reltest.flaky", flaky, retries=5, retry_delay=1, retry_backoff=2, expires=60),
        TaskSpec("reltest.always_fails", always_fails, retries=2, retry_delay=1),
        TaskSpec("reltest.pragmas", pragmas),
    ]
