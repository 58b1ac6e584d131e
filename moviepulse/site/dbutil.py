"""Session helpers for the site.

``moviepulse.core.db.is_sqlite``/``write_transaction`` expect a real ``Session``; Flask-SQLAlchemy's
``db.session`` is a ``scoped_session`` proxy, so callers that accept either unwrap it first.
"""

from __future__ import annotations

from typing import Any

from moviepulse.core.db import real_session  # noqa: F401  (re-exported for this package)


def raw_fetch(session: Any, sql: str, params: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
    """Run a read on the session's DBAPI connection (``?`` placeholders, rewritten for psycopg).

    For the few queries on every page: it skips statement construction and ORM result handling.
    The SQL must not contain a literal ``%``.
    """
    session = real_session(session)
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        sql = sql.replace("?", "%s")
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()
