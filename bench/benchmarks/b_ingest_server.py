"""Event ingestion under gunicorn with 2 workers, and on PostgreSQL (issue 2).

* case "gunicorn": ``gunicorn -w 2 wsgi:app`` (env ``local``: SQLite file, SQLite Huey) on a copy
  of a pre-filled data set, fed by 2 client threads with keep-alive sessions posting batches of
  100 (UUIDv7 ids); baseline: raw ``sqlite3.executemany`` of the same rows into another copy,
  one transaction per batch.
* case "PostgreSQL": the app on PostgreSQL (database ``moviepulse_bench`` on the local server,
  recreated from the metadata), ``POST /api/events`` in-process; baselines: raw psycopg
  ``executemany`` per batch (baseline) and ``COPY`` per batch, same rows, same table.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from bench import common, datagen
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "moviepulse_bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sampler(batches: list, per_sample: int, send) -> Callable[[], float]:
    state = {"i": 0}

    def run() -> float:
        i = state["i"]
        state["i"] += 1
        chunk = batches[i * per_sample:(i + 1) * per_sample]
        t = time.perf_counter()
        send(chunk)
        return len(chunk) * 100 / (time.perf_counter() - t)

    return run


def raw_sqlite_sender(path: str):
    con = common.app_connection(path)

    def send(chunk) -> None:
        for events in chunk:
            con.execute("BEGIN")
            con.executemany(common.INSERT_EVENT_SQL, common.event_rows(events))
            con.execute("COMMIT")

    return send, con


def _gunicorn_case(ctx: Context, tmp: str, template: str, rounds: int, per_sample: int, cleanups: list) -> Case:
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise NotAvailable("gunicorn")
    import requests

    batches = common.event_batches((rounds + 1) * per_sample, id_kind="uuid7", seed=ctx.seed + 11)
    raw_send, raw_con = raw_sqlite_sender(common.copy_db(template, tmp, "raw.db"))
    cleanups.append(raw_con.close)
    db_path = common.copy_db(template, tmp, "gunicorn.db")
    port = free_port()
    env = dict(os.environ, MOVIEPULSE_ENV="local", DATABASE_URL=f"sqlite:///{db_path}",
               MOVIEPULSE_INSTANCE_PATH=os.path.join(tmp, "instance"), MOVIEPULSE_SSR_ACCESS_LOG="false",
               MOVIEPULSE_LOG_LEVEL="WARNING", PYTHONPATH=ROOT)
    log = open(os.path.join(tmp, "gunicorn.log"), "w")
    proc = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    cleanups.append(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code < 500:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"gunicorn did not start (see {tmp}/gunicorn.log)")
        time.sleep(0.5)
    sessions = [requests.Session() for _ in range(2)]

    def post_http(chunk) -> None:
        errors: list[str] = []

        def worker(k: int) -> None:
            s = sessions[k]
            for events in chunk[k::2]:
                r = s.post(base + "/api/events", data=json.dumps({"sent_at": events[-1]["ts"], "events": events}),
                           headers={"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (bench)"},
                           timeout=60)
                if r.status_code >= 300 or r.json().get("accepted") != len(events):
                    errors.append(f"{r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise RuntimeError(f"POST /api/events via gunicorn: {errors[0]}")

    return Case("gunicorn -w 2 over HTTP, 2 client threads, SQLite, UUIDv7 ids", "rows/s",
                [Variant("raw sqlite3 executemany", sampler(batches, per_sample, raw_send), baseline=True),
                 Variant("POST /api/events via gunicorn -w 2", sampler(batches, per_sample, post_http))],
                higher_is_better=True, rounds=rounds)


def _postgres_case(ctx: Context, rounds: int, per_sample: int, cleanups: list) -> Case:
    psycopg = common.require("psycopg", what="psycopg")
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
            if not exists:
                admin.execute(f'CREATE DATABASE "{PG_DB}"')
    except psycopg.Error as exc:
        raise NotAvailable(f"PostgreSQL at {PG_ADMIN_URL} ({exc})") from None
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    from moviepulse.app import create_app
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    inst, rm_inst = common.tempdir("mp-bench-pg-inst-")
    cleanups.append(rm_inst)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=inst, LOG_JSON=False,
                     SSR_ACCESS_LOG=False)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.execute(db.insert(Movie), [{"id": i, "title": f"Synthetic Film {i:05d}",
                                               "original_title": f"Synthetic Film {i:05d}", "is_synthetic": True}
                                              for i in range(1, 10_001)])
        db.session.commit()
    cleanups.append(lambda: common.dispose_app(app))
    con = psycopg.connect(url)
    cleanups.append(con.close)
    insert_sql = common.INSERT_EVENT_SQL.replace("?", "%s")
    cols = ", ".join(datagen.EVENT_COLUMNS)

    def pg_rows(events):
        out = []
        for r in common.event_rows(events):
            r = list(r)
            r[2] = r[3] = datetime.fromisoformat(r[2])
            r[13] = bool(r[13])
            out.append(tuple(r))
        return out

    def raw_send(chunk) -> None:
        for events in chunk:
            with con.cursor() as cur:
                cur.executemany(insert_sql, pg_rows(events))
            con.commit()

    def copy_send(chunk) -> None:
        for events in chunk:
            with con.cursor() as cur, cur.copy(f"COPY events ({cols}) FROM STDIN") as copy:
                for row in pg_rows(events):
                    copy.write_row(row)
            con.commit()

    client = app.test_client()

    def post_send(chunk) -> None:
        for events in chunk:
            r = client.post("/api/events", data=json.dumps({"sent_at": events[-1]["ts"], "events": events}),
                            content_type="application/json", headers={"User-Agent": "Mozilla/5.0 (bench)"})
            if r.status_code >= 300 or r.get_json().get("accepted") != len(events):
                raise RuntimeError(f"POST /api/events on PostgreSQL: {r.status_code} {r.get_data(as_text=True)[:200]}")

    n = (rounds + 1) * per_sample
    return Case("PostgreSQL (local), batches of 100, UUIDv7 ids", "rows/s", [
        Variant("raw psycopg executemany", sampler(common.event_batches(n, seed=ctx.seed + 21), per_sample, raw_send),
                baseline=True),
        Variant("raw psycopg COPY", sampler(common.event_batches(n, seed=ctx.seed + 22), per_sample, copy_send)),
        Variant("POST /api/events (in-process, PostgreSQL)",
                sampler(common.event_batches(n, seed=ctx.seed + 23), per_sample, post_send)),
    ], higher_is_better=True, rounds=rounds)


@benchmark("ingest_server", title="Event ingestion under gunicorn (2 workers) and on PostgreSQL", issue="issue 2")
def build(ctx: Context) -> Plan:
    rounds = ctx.rounds or ctx.pick(2, 5)
    per_sample = ctx.pick(3, 50)  # batches of 100 per sample
    tmp, rm = common.tempdir("mp-bench-ingest-server-")
    cleanups: list = []
    notes: list[str] = []
    cases: list[Case] = []
    template = os.path.join(tmp, "template.db")
    datagen.generate(template, datagen.DataSpec(events=ctx.pick(2_000, 100_000), movies=10_000, seed=ctx.seed))
    for make in (lambda: _gunicorn_case(ctx, tmp, template, rounds, per_sample, cleanups),
                 lambda: _postgres_case(ctx, rounds, per_sample, cleanups)):
        try:
            cases.append(make())
        except NotAvailable as exc:
            notes.append(f"not available: {exc}")

    def cleanup() -> None:
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - report and go on
                notes.append(f"cleanup: {exc}")
        rm()

    if not cases:
        cleanup()
        raise NotAvailable("; ".join(notes))
    g = "gunicorn -w 2 over HTTP, 2 client threads, SQLite, UUIDv7 ids"
    p = "PostgreSQL (local), batches of 100, UUIDv7 ids"
    return Plan(cases=cases, cleanup=cleanup, notes=notes,
                params={"batches_per_sample": per_sample, "batch": 100},
                targets=[Target("gunicorn POST rate / raw sqlite3 executemany",
                                lambda r: r[g]["POST /api/events via gunicorn -w 2"].ratio, 0.5, ">=", "issue 2"),
                         Target("PostgreSQL POST rate / raw psycopg executemany",
                                lambda r: r[p]["POST /api/events (in-process, PostgreSQL)"].ratio, 0.5, ">=",
                                "issue 2")])
