"""SQLite under contention: the web server, a real Huey consumer and a lock-holding contender write
to one database file at once; no client ever sees "database is locked", every accepted event is
stored, writes start with ``BEGIN IMMEDIATE`` and the pragmas hold on every connection.

The sustained-load run doubles as the short tier of the load test (a fixed rate for a bounded time,
accepted count == stored count); ``RELIABILITY_LOAD_SECONDS`` makes it longer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import event as sa_event

from tests.reliability.conftest import wait_until

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
LOAD_SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "15"))
BATCHES_PER_SECOND = 8
EVENTS_PER_BATCH = 25


def iso_now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def seed_movies(env) -> None:
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    with env.app.app_context():
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in range(1, 6)])
        db.session.commit()
        db.session.remove()


class Contender(threading.Thread):
    """boringnode pattern: BEGIN IMMEDIATE, insert, hold 2 ms, commit, sleep 6 ms — ~25 % of the time."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.commits = 0
        self.errors: list[str] = []

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS rel_contender (id INTEGER PRIMARY KEY, at REAL)")
        while not self.stop.is_set():
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO rel_contender (at) VALUES (?)", (time.time(),))
                time.sleep(0.002)
                conn.execute("COMMIT")
                self.commits += 1
            except sqlite3.OperationalError as exc:
                self.errors.append(str(exc))
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            time.sleep(0.006)
        conn.close()


@pytest.mark.slow
def test_sustained_ingestion_with_worker_and_contender_loses_nothing(queue_env, live_server):
    env = queue_env()
    seed_movies(env)
    server = live_server(env.app)
    url = server.url + "/api/events"
    jobs = 400
    for n in range(jobs):
        env.enqueue("reltest.work", n)
    consumer = env.start_consumer(workers=2)
    wait_until(lambda: env.done(), 120, "the consumer to start writing")
    contender = Contender(str(env.db_path))
    contender.start()

    statuses: dict[int, int] = {}
    locked_bodies = 0
    accepted = sent = 0
    latencies: list[float] = []
    lock = threading.Lock()
    clients = 4
    interval = clients / BATCHES_PER_SECOND
    deadline = time.monotonic() + LOAD_SECONDS

    def client(k: int) -> None:
        nonlocal locked_bodies, accepted, sent
        s = requests.Session()
        s.headers["User-Agent"] = UA
        i = 0
        next_at = time.monotonic() + k * interval / clients
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval  # fixed rate: a slow answer does not lower the offered load
            events = [{"event_id": f"load-{k}-{i}-{j}", "type": "impression", "ts": iso_now(),
                       "device_id": f"dev_load_{k}_{j % 5}", "movie_id": 1 + j % 5, "placement": "home",
                       "variant": "AB"[j % 2], "position": 1 + j % 10, "locale": "en"}
                      for j in range(EVENTS_PER_BATCH)]
            i += 1
            started = time.monotonic()
            try:
                r = s.post(url, json={"sent_at": iso_now(), "events": events}, timeout=60)
                code, text = r.status_code, r.text
            except requests.RequestException as exc:
                code, text = -1, str(exc)
            with lock:
                latencies.append(time.monotonic() - started)
                statuses[code] = statuses.get(code, 0) + 1
                sent += len(events)
                locked_bodies += "locked" in text.lower()
                if code == 200:
                    accepted += r.json()["accepted"]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LOAD_SECONDS + 300)
    contender.stop.set()
    contender.join(30)
    wait_until(lambda: len(env.done()) == jobs, 180, "every worker job")
    consumer.signal(2)
    consumer.wait(60)

    stored = env.scalar("SELECT count(*) FROM events")
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else None
    print(f"\nload: {sum(statuses.values())} batches ({sent} events) in {LOAD_SECONDS:.0f}s, statuses {statuses}, "
          f"accepted {accepted}, stored {stored}, p50 {latencies[len(latencies) // 2]:.3f}s p99 {p99:.3f}s, "
          f"worker jobs {len(env.done())}/{jobs}, contender commits {contender.commits} "
          f"errors {len(contender.errors)}")
    assert statuses == {200: statuses.get(200, 0)} and statuses[200] >= BATCHES_PER_SECOND * LOAD_SECONDS * 0.25
    assert locked_bodies == 0
    assert "database is locked" not in consumer.log()
    assert accepted == sent == stored  # zero-loss reconciliation
    assert contender.commits > 0
    wal = env.db_path.with_name(env.db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size < 64 * 1024 * 1024  # checkpoints keep the WAL bounded


def test_pragmas_hold_on_every_web_and_worker_connection(queue_env):
    env = queue_env()
    from moviepulse.extensions import db

    with env.app.app_context():
        conns = [db.engine.connect() for _ in range(4)]  # four distinct pooled DBAPI connections
        try:
            web = [tuple(c.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                         ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")) for c in conns]
        finally:
            for c in conns:
                c.close()
    assert set(web) == {("wal", 5000, 1, 1)}
    for _ in range(6):
        env.enqueue("reltest.pragmas")
    consumer = env.start_consumer(workers=3)
    wait_until(lambda: env.scalar("SELECT count(*) FROM rel_pragmas") == 6, 120, "6 pragma reports")
    consumer.signal(2)
    consumer.wait(60)
    worker = set(env.rows("SELECT journal_mode, busy_timeout, synchronous, foreign_keys FROM rel_pragmas"))
    assert worker == {("wal", 5000, 1, 1)}
    huey_conn = env.pulse.huey.storage.conn
    assert huey_conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_event_writes_begin_immediate(make_app):
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    app = make_app()
    statements: list[str] = []
    with app.app_context():
        db.session.add(Movie(id=1, title="M1", original_title="M1"))
        db.session.commit()
        db.engine.dispose()  # new connections get the trace (the event writer uses raw DBAPI cursors)
        sa_event.listen(db.engine, "connect", lambda dbapi_conn, _rec: dbapi_conn.set_trace_callback(
            lambda stmt: statements.append(stmt.strip())))
    r = app.test_client().post("/api/events", json={"sent_at": iso_now(), "events": [
        {"event_id": "imm-00000001", "type": "impression", "ts": iso_now(), "device_id": "dev_immediate",
         "movie_id": 1, "placement": "home", "variant": "A", "position": 1, "locale": "en"}]})
    assert r.get_json()["accepted"] == 1
    writes = [i for i, s in enumerate(statements) if s.upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    begins = [i for i, s in enumerate(statements) if s.upper() == "BEGIN IMMEDIATE"]
    assert writes and begins and begins[0] < writes[0]


def test_deferred_read_then_write_would_fail_but_write_transaction_waits(make_app):
    """The trap the core avoids: a deferred transaction that read cannot upgrade while another
    connection writes (SQLITE_BUSY at once, busy_timeout ignored); BEGIN IMMEDIATE waits instead."""
    from sqlalchemy import text

    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db

    app = make_app()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.commit()
        other = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        # deferred: read first, then another connection writes and holds, then we try to write
        raw = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        raw.execute("BEGIN")
        raw.execute("SELECT count(*) FROM t").fetchone()
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            raw.execute("INSERT INTO t VALUES (2)")
        raw.execute("ROLLBACK")
        # immediate: the writer waits for the lock and succeeds once it is released
        threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
        with write_transaction(db.session):
            db.session.execute(text("SELECT count(*) FROM t")).scalar()
            db.session.execute(text("INSERT INTO t VALUES (3)"))
        assert db.session.execute(text("SELECT count(*) FROM t")).scalar() == 2
        other.close()
        raw.close()
