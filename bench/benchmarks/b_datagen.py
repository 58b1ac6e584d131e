"""The data generator against SQLite's own ceiling for rows of the same shape.

Baseline: ``INSERT INTO events … SELECT`` from a recursive CTE producing the same columns (no
Python, no binding) into the same unindexed table — what SQLite itself can append on this
machine. Candidate: ``bench.datagen`` (rows built with numpy, written with ``executemany``).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time

from bench import datagen
from bench.harness import Case, Context, Plan, Target, Variant, benchmark

CEILING_SQL = """
INSERT INTO events (event_id, type, event_time, received_at, device_id, movie_id, placement, variant, position,
                    locale, device_type, visitor_type, first_seen_week, is_bot, origin, request_id)
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s LIMIT ?)
SELECT printf('0190a0b0-%04x-7abc-8def-%012x', x % 65536, x), 'impression', '2026-11-01 12:00:00.123456',
       '2026-11-01 12:00:00.123456', 'c0ffee00-1234-4abc-8def-0123456789ab', x % 10000, 'home', 'A', x % 12 + 1,
       'en', 'desktop', 'returning', '2026-W44', 0, 'server', '0190a0b0-1234-7abc-8def-0123456789'
FROM s
"""


@benchmark("datagen", title="Seeded data generator vs SQLite's own append ceiling", issue="issue 8")
def build(ctx: Context) -> Plan:
    n = ctx.pick(50_000, 1_000_000)
    tmp = tempfile.mkdtemp(prefix="mp-bench-datagen-")
    schema_db = os.path.join(tmp, "schema.db")
    datagen.create_schema(schema_db)
    con = sqlite3.connect(schema_db)
    table_sql = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='events'").fetchone()[0]
    con.close()
    bare_sql = datagen._UNIQUE_CLAUSE.sub("", table_sql)
    last: dict[str, datagen.GenStats] = {}

    def ceiling() -> float:
        path = os.path.join(tmp, "ceiling.db")
        datagen._remove_db(path)
        c = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-400000", "locking_mode=EXCLUSIVE"):
            c.execute(f"PRAGMA {pragma}")
        c.execute(bare_sql)
        t = time.perf_counter()
        c.execute("BEGIN")
        c.execute(CEILING_SQL, (n,))
        c.execute("COMMIT")
        dt = time.perf_counter() - t
        c.close()
        return n / dt

    def generator() -> float:
        path = os.path.join(tmp, "gen.db")
        stats = datagen.generate(path, datagen.DataSpec(events=n, movies=2_000), progress=False)
        last["stats"] = stats
        gen_variant.info.update(load_rate=round(stats.load_rate), index_s=round(stats.index_s, 2),
                                flush_s=round(stats.flush_s, 2))
        return stats.executemany_rate

    gen_variant = Variant("datagen executemany", generator)
    case = Case(f"{n:,} events into the real events schema", "events/s",
                [Variant("sqlite INSERT…SELECT ceiling", ceiling, baseline=True), gen_variant],
                higher_is_better=True, rounds=ctx.rounds or ctx.pick(1, 3), warmup=0,
                note="datagen: executemany rate; info: load_rate = whole load incl. generation and COMMIT")

    def cleanup() -> None:
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)

    return Plan(
        cases=[case],
        targets=[Target("datagen executemany rate (events/s)",
                        lambda r: r[case.name]["datagen executemany"].median, 1_000_000, ">=", "issue 8")],
        cleanup=cleanup, params={"events": n},
    )
