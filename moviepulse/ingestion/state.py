"""Shared state for the breaker, rate limiter, budgets and counters: one interface, three backends.

Everything that must agree across processes (web workers, Huey consumers, the CLI) is a small
JSON document under a key, changed only by an atomic read-modify-write:

    result = store.update("breaker:tmdb", lambda doc: (new_doc, result))

Backends: :class:`SqlStateStore` (``upstream_state`` table; ``BEGIN IMMEDIATE`` on SQLite through
``write_transaction``, ``SELECT … FOR UPDATE`` on PostgreSQL) for ``local``;
:class:`RedisStateStore` (``WATCH``/``MULTI`` optimistic transactions) for staging/production;
:class:`MemoryStateStore` for unit tests. :func:`make_state_store` picks one from the config.

A store never keeps state in the Python object, so building a new breaker or limiter never
resets what other processes recorded (unlike pybreaker's storage, see pybreaker #26).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Doc = dict[str, Any]
Updater = Callable[[Doc], tuple[Doc, T]]


#: Serialises this process's SQLite writers (state updates, stored batches): threads then queue on a
#: Python lock instead of colliding on the database lock, where SQLite's busy handler sleeps in
#: growing steps. Other processes still meet at ``BEGIN IMMEDIATE``.
_SQLITE_WRITERS = threading.RLock()


@contextmanager
def sqlite_writer(bind: Any) -> Iterator[None]:
    """Hold the in-process writer lock when ``bind`` (engine or session) is SQLite; no-op otherwise."""
    engine = bind.get_bind() if hasattr(bind, "get_bind") else bind
    if engine.dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITERS:
        yield


class StateStore(Protocol):
    """What the breaker, limiter and budget need from a backend."""

    def get(self, key: str) -> Doc: ...

    def update(self, key: str, fn: Updater[T]) -> T: ...

    def delete(self, key: str) -> None: ...


def incr_fields(store: StateStore, key: str, amounts: dict[str, int | float]) -> None:
    """Add ``amounts`` to numeric fields of the document at ``key``."""

    def fn(doc: Doc) -> tuple[Doc, None]:
        for name, amount in amounts.items():
            doc[name] = doc.get(name, 0) + amount
        return doc, None

    store.update(key, fn)


class MemoryStateStore:
    """Process-local store (tests, and a fallback when nothing else is configured)."""

    def __init__(self) -> None:
        self._docs: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Doc:
        with self._lock:
            return json.loads(self._docs.get(key, "{}"))

    def update(self, key: str, fn: Updater[T]) -> T:
        with self._lock:
            doc = json.loads(self._docs.get(key, "{}"))
            new, result = fn(doc)
            self._docs[key] = json.dumps(new)
            return result

    def delete(self, key: str) -> None:
        with self._lock:
            self._docs.pop(key, None)


class SqlStateStore:
    """Documents in the ``upstream_state`` table, each change in its own short write transaction.

    It uses its own sessions (never the caller's ``db.session``), so a state change never commits
    or rolls back the caller's unit of work.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def _session(self) -> Any:
        from sqlalchemy.orm import Session

        return Session(self.engine, expire_on_commit=False)

    def get(self, key: str) -> Doc:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            raw = conn.execute(text("SELECT value FROM upstream_state WHERE key = :k"), {"k": key}).scalar()
            return json.loads(raw) if raw else {}

    def update(self, key: str, fn: Updater[T]) -> T:
        from sqlalchemy import text

        from moviepulse.core.db import is_sqlite, write_transaction
        from moviepulse.models.base import utcnow

        with sqlite_writer(self.engine), self._session() as session, write_transaction(session):
            lock = "" if is_sqlite(session) else " FOR UPDATE"
            if lock:  # PostgreSQL: make sure the row exists so that FOR UPDATE has something to lock
                session.execute(text("INSERT INTO upstream_state (key, value, updated_at) VALUES (:k, '{}', :t) "
                                     "ON CONFLICT (key) DO NOTHING"), {"k": key, "t": utcnow()})
            raw = session.execute(text(f"SELECT value FROM upstream_state WHERE key = :k{lock}"), {"k": key}).scalar()
            doc = json.loads(raw) if raw else {}
            new, result = fn(doc)
            session.execute(text("INSERT INTO upstream_state (key, value, updated_at) VALUES (:k, :v, :t) "
                                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"),
                            {"k": key, "v": json.dumps(new), "t": utcnow()})
        return result

    def delete(self, key: str) -> None:
        from sqlalchemy import delete

        from moviepulse.core.db import write_transaction
        from moviepulse.models.ingestion import UpstreamState

        with self._session() as session, write_transaction(session):
            session.execute(delete(UpstreamState).where(UpstreamState.key == key))


class RedisStateStore:
    """Documents as JSON strings in Redis, changed with optimistic ``WATCH``/``MULTI`` transactions."""

    def __init__(self, url_or_client: Any, prefix: str = "moviepulse:upstream:") -> None:
        if isinstance(url_or_client, str):
            import redis

            self.redis = redis.Redis.from_url(url_or_client)
        else:
            self.redis = url_or_client
        self.prefix = prefix

    def get(self, key: str) -> Doc:
        raw = self.redis.get(self.prefix + key)
        return json.loads(raw) if raw else {}

    def update(self, key: str, fn: Updater[T]) -> T:
        import redis

        full = self.prefix + key
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(full)
                    raw = pipe.get(full)
                    doc = json.loads(raw) if raw else {}
                    new, result = fn(doc)
                    pipe.multi()
                    pipe.set(full, json.dumps(new), ex=14 * 86400)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def delete(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


def make_state_store(app: Any) -> StateStore:
    """The store for this app: ``UPSTREAM_STATE_BACKEND`` = auto | sql | redis | memory.

    ``auto`` means Redis when Huey runs on Redis (staging/production), else the database.
    """
    backend = str(app.config.get("UPSTREAM_STATE_BACKEND", "auto") or "auto").lower()
    if backend == "auto":
        backend = "redis" if app.config.get("HUEY_BACKEND") == "redis" else "sql"
    if backend == "memory":
        return MemoryStateStore()
    if backend == "redis":
        return RedisStateStore(app.config["REDIS_URL"], prefix=f"{app.config.get('HUEY_NAME', 'moviepulse')}:upstream:")
    if backend == "sql":
        from moviepulse.extensions import db

        with app.app_context():
            return SqlStateStore(db.engine)
    raise ValueError(f"UPSTREAM_STATE_BACKEND={backend!r} is not one of auto, sql, redis, memory")
