"""Dashboard queries at 10,000,000 events on PostgreSQL: each widget's query p50/p95, vs the naive raw
GROUP BY (issue 8; targets of issue 5).

The cases and targets of ``queries`` (``b_queries.widget_cases``), with the app on PostgreSQL
(``BENCH_PG_ADMIN_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``):

* the seeded SQLite data set of ``queries`` (same size rule; ``--quick``: 200,000 events) is copied
  once into its own database ``moviepulse_bench_<events>``: the schema by the app (``create_app`` +
  ``db.create_all()``), every table the generator fills streamed from sqlite3 with
  ``COPY … FROM STDIN (FREEZE)`` (unique constraints and secondary indexes dropped during the load
  and rebuilt after it, sequences advanced), then ``VACUUM (ANALYZE)``. The database's comment
  holds the cache key (the SQLite file's key, this loader's version and a fingerprint of the
  PostgreSQL DDL of those tables), so later runs reuse it;
* every day is rolled up on PostgreSQL by the app's own rollup code (``b_queries.ensure_rollups``;
  kept in the database), then the rollup tables are vacuumed and analysed (what autovacuum does
  in production; index-only scans need the visibility map);
* case "CTR line, 30 days": baseline = the naive raw ``GROUP BY day, variant`` on PostgreSQL
  (plain psycopg); case "widget queries": every widget query, global and ``device:mobile``,
  baseline = a ``SELECT 1`` round trip. Targets: each query's p95 ≤ 50 ms.

The server runs with its own settings (recorded in the result's params); nothing is tuned for
the benchmark.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import common, datagen
from bench.benchmarks.b_queries import ensure_rollups, widget_cases
from bench.benchmarks.b_rollup import dataset_days, dataset_size
from bench.harness import Context, NotAvailable, Plan, benchmark

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES_SH = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"
LOADER_VERSION = 1
COPY_BATCH = 20_000

NAIVE_CTR_SQL_PG = ("SELECT CAST(event_time AS date) AS day, variant, "
                    "sum(CASE WHEN type = 'impression' THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) "
                    "FROM events WHERE event_time >= %s AND event_time < %s AND is_bot = false "
                    "GROUP BY day, variant")

ROLLUP_TABLES = ("rollup_daily", "rollup_daily_segment", "rollup_daily_placement", "rollup_hourly",
                 "rollup_movie_daily", "rollup_movie_weekly", "rollup_state", "experiment_snapshots")


# --------------------------------------------------------------------------- server

def admin_connection(psycopg):
    """An autocommit connection to the admin database; tries ``scripts/services.sh`` once when the
    server is down (as the test suite does), else raises NotAvailable."""
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as first:
        reason = f"{first}".strip().splitlines()[0] if str(first).strip() else type(first).__name__
    started = ""
    if SERVICES_SH.exists():
        try:
            out = subprocess.run(["bash", str(SERVICES_SH)], capture_output=True, text=True, timeout=90)
            lines = (out.stdout + out.stderr).strip().splitlines()
            started = lines[-1] if lines else f"exit status {out.returncode}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            started = f"{type(exc).__name__}: {exc}"
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        raise NotAvailable(f"PostgreSQL at {PG_ADMIN_URL} is unreachable ({reason}); scripts/services.sh did not "
                           f"bring it up{': ' + started if started else ''}") from None


def database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def sqlalchemy_url(name: str) -> str:
    from moviepulse.config import normalise_database_url

    return normalise_database_url(database_url(name))


def pg_fingerprint() -> str:
    """Hash of the PostgreSQL DDL of the tables the loader fills (a change reloads the data)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from moviepulse import models  # noqa: F401
    from moviepulse.models.base import Base

    parts = []
    for name in datagen.GENERATED_TABLES:
        table = Base.metadata.tables[name]
        parts.append(str(CreateTable(table).compile(dialect=postgresql.dialect())))
        parts.extend(sorted(str(CreateIndex(i).compile(dialect=postgresql.dialect())) for i in table.indexes
                            if i.name not in datagen.ON_OPEN_INDEXES))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:10]


def cache_key(path: str) -> str:
    return f"{Path(path).stem}|loader{LOADER_VERSION}|pg{pg_fingerprint()}"


def database_comment(admin, name: str) -> dict | None:
    row = admin.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                        (name,)).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0]) if row[0] else {}
    except ValueError:
        return {}


# --------------------------------------------------------------------------- the load

def _secondary(con, table: str) -> list[tuple[str, str, str]]:
    """``(kind, name, definition)`` of the table's unique constraints and plain indexes (not the PK)."""
    out = [("constraint", name, ddl) for name, ddl in con.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = 'u' ORDER BY conname", (table,)).fetchall()]
    out += [("index", name, ddl) for name, ddl in con.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname",
        (table,)).fetchall()]
    return out


def load_tables(ctx: Context, url: str, path: str) -> dict:
    """COPY every generated table from the SQLite file into the (empty, app-created) database."""
    import psycopg

    from moviepulse.models.base import Base

    stats: dict = {"rows": {}, "copy_s": 0.0, "index_s": 0.0, "vacuum_s": 0.0}
    t_all = time.perf_counter()
    order = [t.name for t in Base.metadata.sorted_tables if t.name in datagen.GENERATED_TABLES]
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("SET maintenance_work_mem = '512MB'")
        con.execute("SET synchronous_commit = off")
        for table in order:
            lite_cols = {r[1] for r in src.execute(f'PRAGMA table_info("{table}")')}
            pg_cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()]
            cols = [c for c in pg_cols if c in lite_cols]
            secondary = _secondary(con, table)
            for kind, name, _ in secondary:
                con.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"' if kind == "constraint"
                            else f'DROP INDEX "{name}"')
            col_list = ", ".join(f'"{c}"' for c in cols)
            t = time.perf_counter()
            n = 0
            with con.transaction():  # FREEZE: the table is truncated in the same transaction
                con.execute(f'TRUNCATE "{table}" CASCADE')
                cur = src.execute(f'SELECT {col_list} FROM "{table}"')
                with con.cursor().copy(f'COPY "{table}" ({col_list}) FROM STDIN (FREEZE)') as copy:
                    while rows := cur.fetchmany(COPY_BATCH):
                        for row in rows:
                            copy.write_row(row)
                        n += len(rows)
                        if ctx.verbose and table == "events" and n % 1_000_000 < COPY_BATCH:
                            ctx.log(f"queries_pg: {n:,} events copied ({time.perf_counter() - t:.0f} s)")
            copy_s = time.perf_counter() - t
            stats["copy_s"] += copy_s
            stats["rows"][table] = n
            t = time.perf_counter()
            for kind, name, ddl in secondary:
                con.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {ddl}' if kind == "constraint" else ddl)
            for (col,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND (column_default LIKE 'nextval(%%' OR is_identity = 'YES')",
                    (table,)).fetchall():
                con.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                            f'(SELECT coalesce(max("{col}"), 0) + 1 FROM "{table}"), false)', (table, col))
            index_s = time.perf_counter() - t
            stats["index_s"] += index_s
            ctx.log(f"queries_pg: {table}: {n:,} rows copied in {copy_s:.1f} s "
                    f"({n / max(copy_s, 1e-9):,.0f} rows/s), {len(secondary)} index(es) rebuilt in {index_s:.1f} s")
        t = time.perf_counter()
        for table in order:
            con.execute(f'VACUUM (ANALYZE) "{table}"')
        stats["vacuum_s"] = time.perf_counter() - t
    src.close()
    stats["load_s"] = time.perf_counter() - t_all
    return stats


def ensure_database(ctx: Context, admin, name: str, path: str) -> tuple[dict, bool]:
    """The loaded database for the SQLite file ``path`` (loaded now unless its comment has the key).
    Returns ``(its comment, loaded_now)``."""
    key = cache_key(path)
    comment = database_comment(admin, name)
    if comment is not None and comment.get("key") == key:
        return comment, False
    ctx.log(f"queries_pg: loading {Path(path).name} into PostgreSQL database {name} "
            "(once; kept until the data set or the schema changes)")
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    t = time.perf_counter()
    app = common.make_app(path, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(name))  # create_all on PostgreSQL
    common.dispose_app(app)
    schema_s = time.perf_counter() - t
    stats = load_tables(ctx, database_url(name), path)
    stats["schema_s"] = schema_s
    stats["load_s"] += schema_s
    stats["size_bytes"] = admin.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]
    comment = {"key": key, "loaded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in stats.items()}}
    admin.execute(f"COMMENT ON DATABASE \"{name}\" IS {_literal(json.dumps(comment))}")
    ctx.log(f"queries_pg: loaded in {stats['load_s']:.1f} s (COPY {stats['copy_s']:.1f} s, indexes "
            f"{stats['index_s']:.1f} s, VACUUM ANALYZE {stats['vacuum_s']:.1f} s), "
            f"{stats['size_bytes'] / 2**30:.2f} GiB")
    return comment, True


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- the benchmark

@benchmark("queries_pg", title="Dashboard queries on PostgreSQL vs the naive raw GROUP BY", issue="issue 8")
def build(ctx: Context) -> Plan:
    psycopg = common.require("psycopg", what="psycopg (PostgreSQL driver)")
    queries = common.require("moviepulse.analytics.queries", what="moviepulse.analytics.queries")
    common.require("moviepulse.analytics.rollups", "rollup_state", "moviepulse.analytics.rollups.rollup_state")
    admin = admin_connection(psycopg)
    n = dataset_size(ctx)
    name = os.environ.get("BENCH_PG_QUERIES_DB", f"moviepulse_bench_{n}")
    path = common.dataset(ctx, n)
    lock = int(hashlib.sha1(name.encode()).hexdigest()[:15], 16)
    admin.execute("SELECT pg_advisory_lock(%s)", (lock,))  # one loader per database at a time
    try:
        comment, loaded_now = ensure_database(ctx, admin, name, path)
        app = common.make_app(path, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(name))
        url = database_url(name)
        with psycopg.connect(url, autocommit=True) as con:
            before = con.execute("SELECT count(*) FROM rollup_state").fetchone()[0]
        t = time.perf_counter()
        ensure_rollups(ctx, app, path)
        rollup_s = time.perf_counter() - t
        with psycopg.connect(url, autocommit=True) as con:
            after = con.execute("SELECT count(*) FROM rollup_state").fetchone()[0]
            if after != before or loaded_now:
                t = time.perf_counter()
                for table in ROLLUP_TABLES:
                    con.execute(f'VACUUM (ANALYZE) "{table}"')
                ctx.log(f"queries_pg: rolled up on PostgreSQL in {rollup_s:.1f} s; rollup tables vacuumed and "
                        f"analysed in {time.perf_counter() - t:.1f} s")
    finally:
        admin.execute("SELECT pg_advisory_unlock(%s)", (lock,))
    settings = {s: admin.execute(f"SHOW {s}").fetchone()[0] for s in
                ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
                 "jit", "max_parallel_workers_per_gather")}
    size = admin.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]
    admin.close()

    first, last = dataset_days(path)
    end = last - timedelta(days=1)
    start = end - timedelta(days=29)
    con = psycopg.connect(url, autocommit=True)
    notes = [f"data set: {n:,} events {first} .. {last}; window {start} .. {end} (30 days); "
             f"PostgreSQL {settings['server_version'].split()[0]} database {name}, {size / 2**30:.2f} GiB",
             f"load ({'this run' if loaded_now else 'cached, loaded ' + str(comment.get('loaded_at'))}): "
             f"{comment.get('load_s', float('nan')):.1f} s (COPY {comment.get('copy_s', float('nan')):.1f} s, "
             f"indexes {comment.get('index_s', float('nan')):.1f} s, "
             f"VACUUM ANALYZE {comment.get('vacuum_s', float('nan')):.1f} s)"]
    lo = datetime.combine(start, datetime.min.time())
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time())

    def naive() -> float:
        t = time.perf_counter()
        con.execute(NAIVE_CTR_SQL_PG, (lo, hi)).fetchall()
        return (time.perf_counter() - t) * 1000

    cases, targets, states = widget_cases(ctx, queries, app, start, end, naive, notes)

    def cleanup() -> None:
        con.close()
        common.dispose_app(app)
        if states:
            notes.append("states: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items())))

    return Plan(cases=cases, targets=targets, cleanup=cleanup, notes=notes,
                params={"dataset_events": n, "from": str(start), "to": str(end), "pg_database": name,
                        "pg_size_bytes": size, "pg_settings": settings, "loaded_this_run": loaded_now,
                        "load": {k: v for k, v in comment.items() if k != "key"}, "cache_key": comment.get("key")})
