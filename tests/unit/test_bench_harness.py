"""Smoke test of the benchmark harness and the seeded data generator (no timed assertions)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench import datagen
from bench.harness import (
    Case,
    Context,
    NotAvailable,
    Plan,
    Registered,
    Target,
    Variant,
    format_result,
    run_benchmark,
    write_json,
)


def test_harness_interleaves_computes_ratios_targets_and_writes_json(tmp_path):
    calls: list[str] = []

    def const(name: str, value: float):
        def run() -> float:
            calls.append(name)
            return value
        return run

    def plan(ctx: Context) -> Plan:
        case = Case("c", "µs", [Variant("base", const("A", 10.0), baseline=True),
                                Variant("cand", const("B", 20.0))], rounds=3, warmup=1)
        return Plan(cases=[case], targets=[
            Target("ratio ok", lambda r: r["c"]["cand"].ratio, 2.5, "<="),
            Target("ratio bad", lambda r: r["c"]["cand"].ratio, 1.5, "<="),
            Target("missing variant", lambda r: r["c"]["nope"].ratio, 1.0, "<="),
        ])

    ctx = Context(quick=True, verbose=False)
    result = run_benchmark(Registered("smoke", "Smoke", "test", plan, 0), ctx)
    assert result.status == "ok"
    assert calls == ["A", "B"] * 4  # one warm-up round, then A B interleaved
    cand = result["c"]["cand"]
    assert cand.ratio == pytest.approx(2.0)
    assert cand.stats["median"] == 20.0 and cand.stats["n"] == 3
    assert [t["status"] for t in result.targets] == ["PASS", "FAIL", "N/A"]
    text = format_result(result)
    assert "cand" in text and "PASS" in text and "FAIL" in text
    path = write_json(result, ctx, {"nproc": 1}, results_dir=tmp_path)
    data = json.loads(path.read_text())
    assert path.name.startswith("smoke-") and data["cases"][0]["variants"][1]["ratio"] == pytest.approx(2.0)
    assert data["targets"][1]["status"] == "FAIL"


def test_not_available_and_errors_are_reported_not_raised():
    def missing(ctx):
        raise NotAvailable("moviepulse.nothing")

    def broken(ctx):
        return Plan(cases=[Case("c", "ms", [Variant("base", lambda: 1 / 0, baseline=True)])])

    ctx = Context(verbose=False)
    r1 = run_benchmark(Registered("m", "M", "", missing, 0), ctx)
    assert r1.status == "not available" and "not available: moviepulse.nothing" in format_result(r1)
    r2 = run_benchmark(Registered("b", "B", "", broken, 1), ctx)
    assert r2.status == "error" and "ZeroDivisionError" in r2.reason


def test_cli_lists_every_benchmark(capsys):
    from bench.__main__ import main

    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("datagen", "ingest", "sketch", "audit", "ssr_middleware", "queries", "rollup", "memory"):
        assert name in out


def test_encoders_match_the_standard_library():
    us = np.array([0, 1_764_201_600_123_456, 1_767_225_599_999_999], dtype=np.int64)
    expected = [(datetime(1970, 1, 1) + timedelta(microseconds=int(u))).strftime("%Y-%m-%d %H:%M:%S.%f")
                for u in us]
    assert datagen.datetime_strings(us) == expected
    ms = np.array([1_764_201_600_123], dtype=np.int64)
    (uid,) = datagen.uuid7_strings(ms, np.array([123456789], dtype=np.int64))
    parsed = uuid.UUID(uid)
    assert parsed.version == 7 and parsed.int >> 80 == int(ms[0])
    (u4,) = datagen.uuid4_strings(np.random.default_rng(1), 1)
    assert uuid.UUID(u4).version == 4


@pytest.fixture
def fast_dir(tmp_path):
    """A RAM-backed directory when the machine has one (the generator's files are fsync-heavy)."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        path = tempfile.mkdtemp(prefix="mp-bench-test-", dir="/dev/shm")
        yield Path(path)
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path


def test_generator_is_deterministic_and_keeps_the_real_schema(fast_dir):
    tmp_path = fast_dir
    spec = datagen.DataSpec(events=4_000, days=10, movies=200, end="2026-11-20")
    a = datagen.generate(tmp_path / "a.db", spec)
    b = datagen.generate(tmp_path / "b.db", spec)
    assert a.events == b.events == 4_000
    ca, cb = sqlite3.connect(tmp_path / "a.db"), sqlite3.connect(tmp_path / "b.db")
    q = "SELECT event_id, type, event_time, device_id, movie_id, placement, variant FROM events ORDER BY id"
    assert ca.execute(q).fetchall() == cb.execute(q).fetchall()
    assert ca.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the table DDL is the metadata's, with the UNIQUE(event_id) constraint enforced
    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateTable

    from moviepulse.models.events import Event

    expected = str(CreateTable(Event.__table__).compile(dialect=sqlite_dialect.dialect())).strip()
    assert ca.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0] == expected
    names = {r[0] for r in ca.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'events'")}
    assert names == {"events", "sqlite_autoindex_events_1", *(i.name for i in Event.__table__.indexes)}
    with pytest.raises(sqlite3.IntegrityError):
        ca.execute("INSERT INTO events (event_id, type, event_time, received_at, device_id, is_bot, origin) "
                   "SELECT event_id, type, event_time, received_at, device_id, is_bot, origin FROM events LIMIT 1")
    # shape: impressions dominate, bots about 2%, only the requested days, devices for every event
    counts = dict(ca.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    assert counts["impression"] > 10 * counts["click"] > 0 and counts["view"] > 0
    assert sum(counts.values()) == 4_000 == sum(a.counts[k] for k in ("impression", "click", "view"))
    bots = ca.execute("SELECT avg(is_bot) FROM events").fetchone()[0]
    assert 0.005 < bots < 0.05
    lo, hi = ca.execute("SELECT min(event_time), max(event_time) FROM events").fetchone()
    assert lo >= "2026-11-11" and hi < "2026-11-21"
    assert ca.execute("SELECT count(*) FROM events e LEFT JOIN devices d USING (device_id) "
                      "WHERE d.device_id IS NULL").fetchone()[0] == 0
    assert ca.execute("SELECT count(*) FROM movies WHERE is_synthetic = 1").fetchone()[0] == 200
