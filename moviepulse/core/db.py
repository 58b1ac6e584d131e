"""Database plumbing: SQLite pragmas on every connection and immediate write transactions.

On SQLite every connection gets WAL, ``synchronous=NORMAL``, foreign keys and a busy
timeout. Writers call :func:`write_transaction`, which starts ``BEGIN IMMEDIATE`` so that
the write lock is taken up front (waiting up to ``busy_timeout``) instead of failing with
"database is locked" when a deferred read transaction tries to upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session


def install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int = 5000) -> None:
    """Set the pragmas on every new DBAPI connection of ``engine`` (no-op off SQLite)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_conn: Any, _record: Any) -> None:
        if not isinstance(dbapi_conn, sqlite3.Connection):
            return
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       f"busy_timeout={int(busy_timeout_ms)}"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()


def real_session(session: Session | scoped_session[Any]) -> Session:
    """The ``Session`` behind ``db.session`` (or ``session`` itself), for DBAPI-level access."""
    return session() if isinstance(session, scoped_session) else session


def is_sqlite(session_or_engine: Session | scoped_session[Any] | Engine) -> bool:
    """True when the session (plain or scoped, e.g. ``db.session``) or engine talks to SQLite."""
    bind = session_or_engine.get_bind() if hasattr(session_or_engine, "get_bind") else session_or_engine
    return bind.dialect.name == "sqlite"


def begin_immediate(session: Session | scoped_session[Any]) -> None:
    """Start the session's transaction with ``BEGIN IMMEDIATE`` on SQLite (no-op elsewhere).

    Safe to call when the session has only read so far: Python's sqlite3 does not open a
    transaction for SELECTs, so the immediate BEGIN is still the first one.
    """
    if not is_sqlite(session):
        return
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def write_transaction(session: Session | scoped_session[Any]) -> Iterator[Session | scoped_session[Any]]:
    """``with write_transaction(db.session): ...`` — immediate on SQLite, commit or roll back."""
    begin_immediate(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
