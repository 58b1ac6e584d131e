"""Real PostgreSQL databases and Redis databases for the staging/production tiers.

The machine runs PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis on 127.0.0.1:6379;
``scripts/services.sh`` starts them when they are down. Each test gets its own database.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_HOST = os.environ.get("MOVIEPULSE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MOVIEPULSE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MOVIEPULSE_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("MOVIEPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
#: The database throw-away schemas live in (unit tests that need PostgreSQL, not a whole database).
PG_SCHEMA_URL = os.environ.get("MOVIEPULSE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; yields a SQLAlchemy URL whose
    connections use it. Skips the test when PostgreSQL is not reachable (CI fails skips)."""
    import pytest

    psycopg = pytest.importorskip("psycopg")
    plain = PG_SCHEMA_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(plain, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    sep = "&" if "?" in PG_SCHEMA_URL else "?"
    try:
        yield f"{PG_SCHEMA_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def fresh_postgres_database(prefix: str = "mp_test") -> tuple[str, str]:
    """Create an empty database; returns (name, SQLAlchemy URL)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_redis_url() -> str:
    """A Redis database number nobody else in this run uses (flushed first)."""
    import redis

    db = 1 + (uuid.uuid4().int % 14)
    url = f"{REDIS_URL}/{db}"
    redis.Redis.from_url(url).flushdb()
    return url
