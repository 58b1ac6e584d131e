"""Deterministic, seeded generator of realistic MoviePulse traffic, written into SQLite.

``generate(path, DataSpec(events=10_000_000))`` creates the app's tables (``create_app`` +
``db.create_all()``, so the schema is the real one), then loads synthetic movies, devices and
events for ``days`` days ending on ``end`` (default: today, UTC) and rebuilds the secondary
indexes. Same spec, same rows: every random draw comes from one ``numpy`` generator seeded
with ``spec.seed``.

Shape of the traffic (close to what the site produces):

* impressions come in rails (one request renders 8-12 cards with 1-based positions, one shared
  timestamp and request id); clicks follow ~4% of impressions (B's CTR 15% above A's, decaying
  with position); ~92% of clicks become a movie-page view, plus direct views without a rail;
* placements home / trends / show / search, locales en / de / fr / es / pt-BR, device types
  desktop / mobile / tablet, new vs returning visitors with their first-seen ISO week;
* ~2% of events from bots (device type ``bot``, ``is_bot`` set, almost no clicks);
* weekly seasonality, slow growth, a diurnal curve, a Zipf popularity over 10,000 movies;
* 0.1% of beacon views arrive late (received hours after the event time).

Speed: the unique ``event_id`` index is kept during the load (ids arrive in time order, so it
only appends); the three secondary indexes are dropped and rebuilt afterwards. A rail is one
``executemany`` row whose shared values are bound once and whose event ids are the rail's
34-character UUIDv7-style prefix plus the position, so SQLite, not Python, does most of the
work. Run ``python -m bench.datagen --events 1000000`` to see the rate on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / ".data"

PLACEMENTS = ("home", "trends", "show", "search")
PLACEMENT_SHARE = (0.45, 0.20, 0.25, 0.10)  # of rail renders
RAIL_LENGTH = {"home": 12, "trends": 8, "show": 10, "search": 10}
BASE_CTR = {"home": 0.045, "trends": 0.035, "show": 0.055, "search": 0.080}
LOCALES = ("en", "de", "fr", "es", "pt-BR")
LOCALE_SHARE = (0.45, 0.15, 0.13, 0.15, 0.12)
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot")
HUMAN_DEVICE_SHARE = (0.56, 0.38, 0.06)
GENRES = ("Drama", "Comedy", "Action", "Thriller", "Romance", "Horror", "Animation", "Documentary",
          "Science Fiction", "Crime", "Adventure", "Family")
#: Relative traffic per hour of day (UTC), evening peak.
HOURLY = np.array([3, 2, 1.5, 1, 1, 1.5, 2.5, 4, 5, 5.5, 6, 6, 6.5, 6.5, 6, 6, 6.5, 7.5, 9, 10, 10, 9, 7, 5],
                  dtype=np.float64)

EVENT_COLUMNS = ("event_id", "type", "event_time", "received_at", "device_id", "movie_id", "placement",
                 "variant", "position", "locale", "device_type", "visitor_type", "first_seen_week",
                 "is_bot", "origin", "request_id")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class DataSpec:
    """What to generate. ``end`` is the last day included (default: today, UTC)."""

    events: int = 10_000_000
    days: int = 90
    movies: int = 10_000
    seed: int = 20261127
    end: str | None = None  # ISO date
    bot_share: float = 0.02
    ctr_lift_b: float = 0.15  # B's CTR relative to A's, minus one
    split_a: int = 50  # percent of devices in A
    locales_per_movie: tuple[str, ...] = ("de", "fr")

    def end_date(self) -> date:
        return date.fromisoformat(self.end) if self.end else datetime.now(UTC).date()

    def key(self) -> str:
        """Cache key: the spec (with the resolved end date) and this file's generator version."""
        payload = json.dumps({**asdict(self), "end": self.end_date().isoformat(), "v": GENERATOR_VERSION,
                              "schema": schema_fingerprint()}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]


GENERATOR_VERSION = 4


@dataclass
class GenStats:
    path: str
    events: int = 0
    devices: int = 0
    movies: int = 0
    generate_s: float = 0.0  # building the rows (numpy + Python tuples), or waiting for them
    executemany_s: float = 0.0  # time inside executemany (rows -> SQLite pages in the cache)
    load_s: float = 0.0  # wall time of the load: generation overlapped with executemany, then COMMIT
    flush_s: float = 0.0  # the COMMIT: dirty pages written to the file
    index_s: float = 0.0  # unique + secondary indexes, ANALYZE
    total_s: float = 0.0  # schema creation to closed file
    counts: dict[str, int] = field(default_factory=dict)
    first_day: str = ""
    last_day: str = ""

    @property
    def executemany_rate(self) -> float:
        """Events per second inside ``executemany`` (the issue's "writes through executemany")."""
        return self.events / max(self.executemany_s, 1e-9)

    @property
    def load_rate(self) -> float:
        """Events per second of the whole load (generation, executemany, COMMIT), indexes excluded."""
        return self.events / max(self.load_s, 1e-9)

    @property
    def total_rate(self) -> float:
        return self.events / max(self.total_s, 1e-9)

    def as_dict(self) -> dict:
        return {**asdict(self), "executemany_rate": self.executemany_rate, "load_rate": self.load_rate,
                "total_rate": self.total_rate}


# --------------------------------------------------------------------------- encoding helpers

def _hex_digits(values: np.ndarray, digits: int) -> np.ndarray:
    """(n,) uint64 -> (n, digits) uint8 of lowercase hex ASCII."""
    shifts = (np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4))
    return _HEX[((values[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)]


def uuid7_strings(ms: np.ndarray, rand: np.ndarray, length: int = 36) -> list[str]:
    """UUIDv7-shaped ids (time-ordered by ``ms``), truncated to ``length`` characters."""
    n = len(ms)
    out = np.empty((n, 36), dtype=np.uint8)
    ms = ms.astype(np.uint64)
    rand = rand.astype(np.uint64)
    out[:, 0:8] = _hex_digits(ms >> np.uint64(16), 8)
    out[:, 8] = 45
    out[:, 9:13] = _hex_digits(ms & np.uint64(0xFFFF), 4)
    out[:, 13] = 45
    out[:, 14] = ord("7")
    out[:, 15:18] = _hex_digits(rand & np.uint64(0xFFF), 3)
    out[:, 18] = 45
    out[:, 19] = _HEX[(8 + ((rand >> np.uint64(12)) & np.uint64(3))).astype(np.intp)]
    out[:, 20:23] = _hex_digits((rand >> np.uint64(14)) & np.uint64(0xFFF), 3)
    out[:, 23] = 45
    out[:, 24:36] = _hex_digits(rand >> np.uint64(16), 12)
    out = np.ascontiguousarray(out[:, :length])
    return out.view(f"S{length}").ravel().astype(f"U{length}").tolist()


def uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    hi = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    lo = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, 0:8] = _hex_digits(hi >> np.uint64(32), 8)
    out[:, 8] = 45
    out[:, 9:13] = _hex_digits((hi >> np.uint64(16)) & np.uint64(0xFFFF), 4)
    out[:, 13] = 45
    out[:, 14] = ord("4")
    out[:, 15:18] = _hex_digits(hi & np.uint64(0xFFF), 3)
    out[:, 18] = 45
    out[:, 19] = _HEX[(8 + (lo & np.uint64(3))).astype(np.intp)]
    out[:, 20:23] = _hex_digits((lo >> np.uint64(2)) & np.uint64(0xFFF), 3)
    out[:, 23] = 45
    out[:, 24:36] = _hex_digits(lo >> np.uint64(14), 12)
    return out.view("S36").ravel().astype("U36").tolist()


def datetime_strings(us: np.ndarray) -> list[str]:
    """Epoch microseconds -> SQLAlchemy's SQLite DateTime text ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us").astype("U26")
    codes = text.view(np.uint32).reshape(len(us), 26)
    codes[:, 10] = 32  # 'T' -> ' '
    return text.tolist()


def iso_week(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def _epoch_us(d: date) -> int:
    return int((datetime(d.year, d.month, d.day) - _EPOCH).total_seconds()) * 1_000_000


# --------------------------------------------------------------------------- schema

GENERATED_TABLES = ("events", "devices", "movies", "movie_fields")
#: Secondary indexes added to the generated tables after data sets were cached. They do not change
#: a single generated row, so they stay out of the fingerprint (no 10 GB regeneration for an index);
#: ``common.make_app`` creates them on open when a cached file lacks them.
ON_OPEN_INDEXES = frozenset({"ix_devices_variant_first_seen"})


def schema_fingerprint() -> str:
    """Hash of the DDL of the tables the generator writes (other tables are created on open)."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    from moviepulse import models  # noqa: F401
    from moviepulse.models.base import Base

    parts = []
    for name in GENERATED_TABLES:
        table = Base.metadata.tables[name]
        parts.append(str(CreateTable(table).compile(dialect=sqlite_dialect.dialect())))
        parts.extend(sorted(str(CreateIndex(i).compile(dialect=sqlite_dialect.dialect())) for i in table.indexes
                            if i.name not in ON_OPEN_INDEXES))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:10]

def create_schema(path: str | os.PathLike) -> None:
    """Create every table through the app's own metadata (``create_app`` + ``db.create_all()``)."""
    from moviepulse.app import create_app
    from moviepulse.extensions import db

    with tempfile.TemporaryDirectory(prefix="mp-bench-inst-") as inst:
        overrides = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "INSTANCE_PATH": inst,
                     "LOG_JSON": False}
        try:
            app = create_app("testing", **overrides)
        except Exception:  # a half-built plugin must not stop the benchmarks: the tables are in models/
            app = create_app("testing", only_plugins=("core",), **overrides)
        with app.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()


def _secondary_indexes(con: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = con.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='events' "
                       "AND sql IS NOT NULL").fetchall()
    return [(name, sql) for name, sql in rows]


# --------------------------------------------------------------------------- the generator

class _World:
    """Movies and devices, drawn once per spec."""

    def __init__(self, spec: DataSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        m = spec.movies
        # Popularity: a Zipf-like weight over a random permutation of movie ids 1..m.
        self.movie_rank_to_id = rng.permutation(m).astype(np.int64) + 1
        ranks = np.arange(1, m + 1, dtype=np.float64)
        w = ranks ** -1.05
        self.movie_cdf = np.cumsum(w) / w.sum()
        n_dev = max(500, spec.events // 30)
        self.n_devices = n_dev
        self.device_ids = uuid4_strings(rng, n_dev)
        is_bot = rng.random(n_dev) < 0.004  # few bot devices, each very active
        dtype = rng.choice(3, size=n_dev, p=HUMAN_DEVICE_SHARE)
        dtype[is_bot] = 3
        self.device_type = dtype
        self.is_bot = is_bot
        self.locale = rng.choice(len(LOCALES), size=n_dev, p=LOCALE_SHARE)
        # First-seen day relative to the window start: a third before the window, the rest spread in it.
        first = rng.integers(0, spec.days, size=n_dev)
        before = rng.random(n_dev) < 0.33
        first[before] = -rng.integers(1, 120, size=int(before.sum()))
        self.first_seen_day = first
        seed = str(spec.seed)
        self.variant_b = np.fromiter(
            (zlib.crc32(f"{seed}|{d}".encode()) % 100 >= spec.split_a for d in self.device_ids),
            dtype=bool, count=n_dev)
        # Activity: a heavy tail, so that a few devices return often.
        self.activity = rng.pareto(1.5, size=n_dev) + 0.2
        humans = np.flatnonzero(~is_bot)
        order = humans[np.argsort(first[humans], kind="stable")]
        self.humans_by_first = order
        self.human_first_sorted = first[order]
        self.bots = np.flatnonzero(is_bot)


def _movies_for(world: _World, rng: np.random.Generator, n: int) -> np.ndarray:
    ranks = np.searchsorted(world.movie_cdf, rng.random(n))
    return world.movie_rank_to_id[np.minimum(ranks, len(world.movie_rank_to_id) - 1)]


def _day_events(world: _World, rng: np.random.Generator, day_index: int, day: date, n_target: int) -> dict:
    """All events of one day as column arrays, split into rails (impressions) and singles."""
    spec = world.spec
    events_per_render = 0.0
    for p, share in zip(PLACEMENTS, PLACEMENT_SHARE, strict=True):
        n = RAIL_LENGTH[p]
        clicks = sum(BASE_CTR[p] * 1.25 / (1 + 0.08 * k) for k in range(n)) * (1 + spec.ctr_lift_b / 2)
        # impressions + clicks + their views + direct views (about 40% of rail views), with slack so that
        # the direct views fill the day up to its exact target
        events_per_render += share * (n + clicks * (1 + 0.92 * 1.4))
    n_render = max(1, int(round(n_target / events_per_render)))
    # Device per render: bots, devices first seen today (new) and earlier ones (returning).
    bot = rng.random(n_render) < spec.bot_share * 1.0
    hi = int(np.searchsorted(world.human_first_sorted, day_index, side="right"))
    lo_today = int(np.searchsorted(world.human_first_sorted, day_index, side="left"))
    new_pool = world.humans_by_first[lo_today:hi]
    old_pool = world.humans_by_first[:lo_today]
    dev = np.empty(n_render, dtype=np.int64)
    is_new_pick = (rng.random(n_render) < 0.22) & (len(new_pool) > 0) | (len(old_pool) == 0)
    k_new = int(is_new_pick.sum())
    if k_new:
        dev[is_new_pick] = new_pool[rng.integers(0, len(new_pool), size=k_new)]
    k_old = n_render - k_new
    if k_old:
        w = world.activity[old_pool]
        cdf = np.cumsum(w)
        dev[~is_new_pick] = old_pool[np.minimum(np.searchsorted(cdf, rng.random(k_old) * cdf[-1]),
                                                len(old_pool) - 1)]
    if len(world.bots):
        dev[bot] = world.bots[rng.integers(0, len(world.bots), size=int(bot.sum()))]
    # Time of day.
    hour = rng.choice(24, size=n_render, p=HOURLY / HOURLY.sum())
    us_in_day = hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, size=n_render)
    us = _epoch_us(day) + np.sort(us_in_day)
    placement = rng.choice(len(PLACEMENTS), size=n_render, p=PLACEMENT_SHARE)
    return {"n_render": n_render, "dev": dev, "us": us, "placement": placement}


def _device_columns(world: _World, dev: np.ndarray, day_index: int, window_start: date) -> tuple:
    first = world.first_seen_day[dev]
    weeks_cache: dict[int, str] = {}
    def week(d: int) -> str:
        if d not in weeks_cache:
            weeks_cache[d] = iso_week(window_start + timedelta(days=int(d)))
        return weeks_cache[d]
    uniq, inv = np.unique(first, return_inverse=True)
    week_of = np.array([week(int(d)) for d in uniq], dtype=object)[inv]
    visitor = np.where(first == day_index, "new", "returning")
    return first, week_of, visitor


def generate(path: str | os.PathLike, spec: DataSpec = DataSpec(), *, progress: bool = False,
             overlap: bool = False) -> GenStats:
    """Write a fresh SQLite database at ``path`` with the app's schema and the spec's data.

    With ``overlap`` the next day is generated in a thread while the previous one is inserted
    (SQLite releases the GIL while it steps); the GIL hand-offs usually cost more than they save.
    """
    path = str(path)
    _remove_db(path)
    t_start = time.perf_counter()
    create_schema(path)
    stats = GenStats(path=path)
    rng = np.random.default_rng(spec.seed)
    con = sqlite3.connect(path, isolation_level=None, cached_statements=64)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY",
                   "locking_mode=EXCLUSIVE"):
        con.execute(f"PRAGMA {pragma}")
    table_sql, indexes = _unconstrain_events(con)

    t_load = time.perf_counter()
    world = _World(spec, rng)
    end = spec.end_date()
    window_start = end - timedelta(days=spec.days - 1)
    stats.first_day, stats.last_day = window_start.isoformat(), end.isoformat()
    em_s = 0.0
    con.execute("BEGIN")
    ti = time.perf_counter()
    _insert_movies(con, spec, rng, end)
    em_s += time.perf_counter() - ti
    stats.movies = spec.movies

    rail_sql = {p: _rail_statement(p) for p in PLACEMENTS}
    single_k = 16
    single_multi = _single_statement(single_k)
    single_one = _single_statement(1)
    # Daily volume: weekly seasonality and slow growth, normalised to the requested total.
    days = np.arange(spec.days)
    dates = [window_start + timedelta(days=int(i)) for i in days]
    weight = np.array([(1.18 if d.weekday() >= 5 else 1.0) for d in dates]) * (1 + 0.25 * days / max(1, spec.days))
    per_day = np.floor(weight / weight.sum() * spec.events).astype(np.int64)
    per_day[-1] += spec.events - per_day.sum()
    cum_target = np.cumsum(per_day)
    counts = {"impression": 0, "click": 0, "view": 0, "bot": 0}
    device_seen = np.zeros(world.n_devices, dtype=bool)
    device_first_us = np.zeros(world.n_devices, dtype=np.int64)
    device_last_us = np.zeros(world.n_devices, dtype=np.int64)
    done = 0

    def produce(i: int, done: int):
        # the day's share plus whatever earlier days fell short of (or minus what they exceeded)
        return _build_day(world, rng, i, dates[i], window_start, max(0, int(cum_target[i]) - done))

    gen_s = 0.0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(produce, 0, 0) if overlap else None
        for i in range(len(dates)):
            tg = time.perf_counter()
            if overlap:
                rails, singles, n_day, day_counts = pending.result()
                if i + 1 < len(dates):  # approximate carry-over: the day in flight is not counted yet
                    pending = pool.submit(produce, i + 1, int(cum_target[i]))
            else:
                rails, singles, n_day, day_counts = produce(i, done)
            gen_s += time.perf_counter() - tg
            ti = time.perf_counter()
            for p, rows in rails.items():
                if rows:
                    con.executemany(rail_sql[p], rows)
            full = len(singles) - len(singles) % single_k
            if full:
                flat = [x for row in singles[:full] for x in row]
                step = 15 * single_k
                con.executemany(single_multi, [flat[j:j + step] for j in range(0, len(flat), step)])
            if full < len(singles):
                con.executemany(single_one, singles[full:])
            em_s += time.perf_counter() - ti
            done += n_day
            seen_dev, seen_us = day_counts.pop("_dev"), day_counts.pop("_us")
            for k, v in day_counts.items():
                counts[k] += v
            uniq, first_idx = np.unique(seen_dev, return_index=True)  # arrays are time-sorted
            fresh = ~device_seen[uniq]
            device_first_us[uniq[fresh]] = seen_us[first_idx[fresh]]
            device_seen[uniq] = True
            np.maximum.at(device_last_us, seen_dev, seen_us)
            if progress and (i % 10 == 9 or i == len(dates) - 1):
                print(f"  datagen: day {i + 1}/{len(dates)}  {done:,} events  "
                      f"{done / max(time.perf_counter() - t_load, 1e-9):,.0f} ev/s", file=sys.stderr)
    ti = time.perf_counter()
    _insert_devices(con, world, device_seen, device_first_us, device_last_us)
    em_s += time.perf_counter() - ti
    tf = time.perf_counter()
    con.execute("COMMIT")
    stats.flush_s = time.perf_counter() - tf
    stats.load_s = time.perf_counter() - t_load
    stats.events = done
    stats.devices = int(device_seen.sum())
    stats.counts = {k: int(v) for k, v in counts.items()}
    stats.executemany_s = em_s
    stats.generate_s = gen_s

    tx = time.perf_counter()
    _restore_events_constraints(con, table_sql, indexes)
    con.execute("ANALYZE")
    con.close()
    # Leave the file in the mode the app expects (WAL) for the benchmarks that open it.
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    stats.index_s = time.perf_counter() - tx
    stats.total_s = time.perf_counter() - t_start
    return stats


def _remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


_UNIQUE_CLAUSE = re.compile(r",\s*CONSTRAINT\s+(\w+)\s+UNIQUE\s*\((\w+)\)", re.I)


def _unconstrain_events(con: sqlite3.Connection) -> tuple[str, list[tuple[str, str]]]:
    """Drop the secondary indexes and the inline UNIQUE(event_id) for the load; return what to restore.

    The table is recreated from the metadata's own DDL minus the UNIQUE clause (the table is empty).
    """
    table_sql = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='events'").fetchone()[0]
    indexes = _secondary_indexes(con)
    if len(_UNIQUE_CLAUSE.findall(table_sql)) != 1:  # schema changed shape: keep it, load slower
        for name, _sql in indexes:
            con.execute(f'DROP INDEX "{name}"')
        return "", indexes
    con.execute("DROP TABLE events")
    con.execute(_UNIQUE_CLAUSE.sub("", table_sql))
    return table_sql, indexes


def _restore_events_constraints(con: sqlite3.Connection, table_sql: str, indexes: list[tuple[str, str]]) -> None:
    """Build the unique index in one sort, then make it the table's own UNIQUE constraint again.

    ``CREATE UNIQUE INDEX`` checks uniqueness while it sorts; the schema rows are then rewritten so that
    ``sqlite_master`` holds exactly the metadata's DDL and the index is the constraint's autoindex
    (same b-tree layout: key ``(event_id, rowid)``). ``PRAGMA integrity_check`` passes on the result.
    """
    if table_sql:
        ((_name, column),) = _UNIQUE_CLAUSE.findall(table_sql)
        con.execute(f'CREATE UNIQUE INDEX "bench_tmp_unique" ON events ("{column}")')
        version = con.execute("PRAGMA schema_version").fetchone()[0]
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_master SET sql=? WHERE type='table' AND name='events'", (table_sql,))
        con.execute("UPDATE sqlite_master SET name='sqlite_autoindex_events_1', sql=NULL "
                    "WHERE type='index' AND name='bench_tmp_unique'")
        con.execute(f"PRAGMA schema_version={version + 1}")
        con.execute("PRAGMA writable_schema=OFF")
    for _name, sql in indexes:
        con.execute(sql)


def _rail_statement(placement: str) -> str:
    n = RAIL_LENGTH[placement]
    rows = []
    for pos in range(1, n + 1):
        rows.append(f"(?1||'{pos:02x}','impression',?2,?2,?3,?{9 + pos},'{placement}',?4,{pos},?5,?6,?7,?8,?9,"
                    f"'server',?1)")
    cols = ", ".join(EVENT_COLUMNS)
    return f"INSERT INTO events ({cols}) VALUES " + ",".join(rows)


def _single_statement(k: int) -> str:
    cols = ", ".join(EVENT_COLUMNS)
    one = "(" + ",".join("?" * 15) + ",NULL)"
    return f"INSERT INTO events ({cols}) VALUES " + ",".join([one] * k)


def _build_day(world: _World, rng: np.random.Generator, day_index: int, day: date, window_start: date,
               target: int) -> tuple[dict[str, list], list[tuple], int, dict]:
    """Rows of one day: rails per placement (impressions) and singles (clicks, views)."""
    spec = world.spec
    r = _day_events(world, rng, day_index, day, target)
    n_render, dev, us, placement = r["n_render"], r["dev"], r["us"], r["placement"]
    first, week_of, visitor = _device_columns(world, dev, day_index, window_start)
    variant_b = world.variant_b[dev]
    variant = np.where(variant_b, "B", "A")
    locale = np.array(LOCALES, dtype=object)[world.locale[dev]]
    dtype = np.array(DEVICE_TYPES, dtype=object)[world.device_type[dev]]
    is_bot = world.is_bot[dev].astype(np.int64)
    ms = us // 1000
    prefixes = uuid7_strings(ms, rng.integers(0, 2**62, size=n_render, dtype=np.int64), length=34)
    times = datetime_strings(us)
    dev_ids = [world.device_ids[j] for j in dev.tolist()]
    counts = {"impression": 0, "click": 0, "view": 0, "bot": 0}
    rails: dict[str, list] = {}
    click_parts = []
    n_events = 0
    variant_l, locale_l, dtype_l, visitor_l = variant.tolist(), locale.tolist(), dtype.tolist(), visitor.tolist()
    week_l, bot_l = week_of.tolist(), is_bot.tolist()
    for pi, p in enumerate(PLACEMENTS):
        sel = np.flatnonzero(placement == pi)
        n = RAIL_LENGTH[p]
        # Distinct movies per rail: a popular start rank plus the next ranks, shuffled by offset.
        start = np.searchsorted(world.movie_cdf, rng.random(len(sel)))
        offs = (np.arange(n)[None, :] * 7 + rng.integers(0, 7, size=(len(sel), 1))) % (n * 7)
        ranks = np.minimum(start[:, None] + offs, len(world.movie_rank_to_id) - 1)
        movies = world.movie_rank_to_id[ranks]
        # Clicks: Bernoulli per card, CTR by placement, variant and position; bots almost never click.
        pos = np.arange(1, n + 1)[None, :]
        p_click = BASE_CTR[p] * (1.0 + spec.ctr_lift_b * variant_b[sel][:, None]) * (1.25 / (1 + 0.08 * (pos - 1)))
        p_click = np.where(is_bot[sel][:, None] == 1, 0.001, p_click)
        clicked = rng.random(p_click.shape) < p_click
        ci, cj = np.nonzero(clicked)
        click_parts.append((sel[ci], movies[ci, cj], cj + 1, pi))
        movies_l = movies.tolist()
        rows = []
        for k, s in enumerate(sel.tolist()):
            rows.append((prefixes[s], times[s], dev_ids[s], variant_l[s], locale_l[s], dtype_l[s], visitor_l[s],
                         week_l[s], bot_l[s], *movies_l[k]))
        rails[p] = rows
        counts["impression"] += len(sel) * n
        counts["bot"] += int(is_bot[sel].sum()) * n
        n_events += len(sel) * n
    # Singles: clicks (a few seconds after the render), views after ~92% of clicks, direct views.
    render_idx = np.concatenate([c[0] for c in click_parts])
    c_movie = np.concatenate([c[1] for c in click_parts])
    c_pos = np.concatenate([c[2] for c in click_parts])
    c_place = np.concatenate([np.full(len(c[0]), c[3]) for c in click_parts])
    n_click = len(render_idx)
    c_us = us[render_idx] + (rng.exponential(20.0, n_click) * 1e6).astype(np.int64) + 1000
    has_view = rng.random(n_click) < 0.92
    v_idx = render_idx[has_view]
    v_us = c_us[has_view] + (rng.exponential(1.5, len(v_idx)) * 1e6).astype(np.int64) + 1000
    n_direct = max(0, target - n_events - n_click - len(v_idx))
    d_idx = rng.integers(0, n_render, size=n_direct)
    d_us = us[d_idx] + (rng.exponential(60.0, n_direct) * 1e6).astype(np.int64) + 1000
    # Exact day total: drop the latest singles when the rails and their clicks overshoot the target.
    s_render = np.concatenate([render_idx, v_idx, d_idx])
    s_us = np.concatenate([c_us, v_us, d_us])
    s_type = np.concatenate([np.zeros(n_click, np.int8), np.ones(len(v_idx), np.int8), np.full(n_direct, 2, np.int8)])
    s_movie = np.concatenate([c_movie, c_movie[has_view], _movies_for(world, rng, n_direct)])
    s_pos = np.concatenate([c_pos, c_pos[has_view], np.zeros(n_direct, np.int64)])
    s_place = np.concatenate([c_place, c_place[has_view], np.full(n_direct, -1)])
    last_us = _epoch_us(day) + 86_400_000_000 - 1
    s_us = np.minimum(s_us, last_us)
    order = np.argsort(s_us, kind="stable")
    excess = n_events + len(order) - target
    if excess > 0:
        order = order[:max(0, len(order) - excess)]
    s_render, s_us, s_type, s_movie, s_pos, s_place = (a[order] for a in (s_render, s_us, s_type, s_movie, s_pos,
                                                                           s_place))
    n_click = int((s_type == 0).sum())
    n_s = len(s_us)
    s_ids = uuid7_strings(s_us // 1000, rng.integers(0, 2**62, size=n_s, dtype=np.int64))
    s_times = datetime_strings(s_us)
    # Beacon views: ~30% of views; 0.1% of those arrive 2-30 hours late.
    beacon = (s_type > 0) & (rng.random(n_s) < 0.30)
    late = beacon & (rng.random(n_s) < 0.002)
    recv_us = s_us + np.where(late, rng.integers(2 * 3_600, 30 * 3_600, size=n_s) * 1_000_000, 0)
    s_recv = datetime_strings(recv_us) if late.any() else s_times
    types = ("click", "view", "view")
    place_names = (*PLACEMENTS, None)
    singles = []
    sr, st, sm, sp, spl = s_render.tolist(), s_type.tolist(), s_movie.tolist(), s_pos.tolist(), s_place.tolist()
    bea = beacon.tolist()
    for k in range(n_s):
        j = sr[k]
        t = st[k]
        direct = t == 2
        singles.append((s_ids[k], types[t], s_times[k], s_recv[k], dev_ids[j], sm[k],
                        None if direct else place_names[spl[k]], variant_l[j], None if direct else sp[k],
                        locale_l[j], dtype_l[j], visitor_l[j], week_l[j], bot_l[j],
                        "beacon" if bea[k] else "server"))
    counts["click"] = n_click
    counts["view"] = n_s - n_click
    counts["bot"] += int(is_bot[s_render].sum())
    n_events += n_s
    seen = np.concatenate([dev, dev[s_render]])
    seen_us = np.concatenate([us, s_us])
    o = np.argsort(seen_us, kind="stable")
    counts["_dev"], counts["_us"] = seen[o], seen_us[o]
    return rails, singles, n_events, counts


def _insert_devices(con: sqlite3.Connection, world: _World, seen: np.ndarray, first_us: np.ndarray,
                    last_us: np.ndarray) -> None:
    idx = np.flatnonzero(seen)
    firsts = datetime_strings(first_us[idx])
    lasts = datetime_strings(last_us[idx])
    rows = []
    for k, j in enumerate(idx.tolist()):
        rows.append((world.device_ids[j], firsts[k], lasts[k], DEVICE_TYPES[int(world.device_type[j])],
                     "B" if world.variant_b[j] else "A", int(world.is_bot[j])))
    con.executemany("INSERT INTO devices (device_id, first_seen_at, last_seen_at, device_type, variant, is_bot) "
                    "VALUES (?,?,?,?,?,?)", rows)


def _insert_movies(con: sqlite3.Connection, spec: DataSpec, rng: np.random.Generator, end: date) -> None:
    from moviepulse.models.movie import weighted_rating

    m = spec.movies
    years = rng.integers(1950, end.year + 1, size=m)
    votes = np.floor(rng.pareto(1.1, size=m) * 800).astype(np.int64)
    rating = np.round(np.clip(rng.normal(6.6, 1.0, size=m), 1.0, 9.8), 1)
    runtime = rng.integers(75, 190, size=m)
    popularity = np.round(rng.pareto(1.3, size=m) * 10, 3)
    kinds = rng.choice(3, size=m, p=(0.8, 0.12, 0.08))
    g1 = rng.integers(0, len(GENRES), size=m)
    g2 = rng.integers(0, len(GENRES), size=m)
    now = datetime_strings(np.array([_epoch_us(end)], dtype=np.int64))[0]
    rows = []
    fields = []
    for i in range(m):
        mid = i + 1
        title = f"Synthetic Film {mid:05d}"
        genres = [GENRES[g1[i]]] if g1[i] == g2[i] else [GENRES[g1[i]], GENRES[g2[i]]]
        v, r = int(votes[i]), float(rating[i])
        rows.append((mid, 9_000_000 + mid, f"tt9{mid:07d}", ("movie", "series", "animation")[kinds[i]], title, "en",
                     title, f"Overview of synthetic film {mid}.", int(years[i]), f"{int(years[i])}-06-15",
                     int(runtime[i]), json.dumps(genres), r, v, weighted_rating(v, r), float(popularity[i]),
                     1, "seed", now, now, now))
        for loc in spec.locales_per_movie:
            if (mid + len(loc)) % 3:  # deliberate gaps
                fields.append((mid, loc, "title", f"{title} ({loc})", "seed", loc, now))
    con.executemany(
        "INSERT INTO movies (id, tmdb_id, imdb_id, type, original_title, original_language, title, overview, year, "
        "release_date, runtime_min, genres, imdb_rating, imdb_votes, weighted_score, popularity, is_synthetic, "
        "metadata_source, metadata_fetched_at, created_at, updated_at) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT INTO movie_fields (movie_id, locale, field, value, source, source_locale, fetched_at) "
                    "VALUES (?,?,?,?,?,?,?)", fields)


# --------------------------------------------------------------------------- cache

def ensure_dataset(spec: DataSpec, data_dir: str | os.PathLike | None = None, *,
                   progress: bool = True) -> tuple[str, GenStats | None]:
    """Path of a database for ``spec``, generated once and reused (``bench/.data/events-<key>.db``).

    Returns ``(path, stats)``; ``stats`` is None when the file came from the cache. Benchmarks that
    write into the data set must work on a copy.
    """
    root = Path(data_dir) if data_dir else DATA_DIR
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    path = root / f"events-{spec.events}-{spec.key()}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return str(path), None
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # concurrent runs never share a half-written file
    stats = generate(tmp, spec, progress=progress)
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(str(tmp) + suffix)
        except FileNotFoundError:
            pass
    stats.path = str(path)
    meta.write_text(json.dumps({"spec": asdict(spec), "stats": stats.as_dict()}, indent=2))
    return str(path), stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.datagen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--movies", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=DataSpec.seed)
    ap.add_argument("--end", default=None, help="last day (YYYY-MM-DD), default today UTC")
    ap.add_argument("--out", default=None, help="database file (default: a temporary file, removed after)")
    args = ap.parse_args(argv)
    spec = DataSpec(events=args.events, days=args.days, movies=args.movies, seed=args.seed, end=args.end)
    out = args.out or os.path.join(tempfile.gettempdir(), f"mp-datagen-{os.getpid()}.db")
    stats = generate(out, spec, progress=True)
    print(f"{stats.events:,} events, {stats.devices:,} devices, {stats.movies:,} movies "
          f"({stats.first_day} .. {stats.last_day}) -> {out}")
    print(f"  counts: {stats.counts}")
    print(f"  executemany: {stats.executemany_rate:,.0f} events/s ({stats.executemany_s:.2f} s)")
    print(f"  load (generation overlapped with executemany, COMMIT {stats.flush_s:.2f} s): "
          f"{stats.load_rate:,.0f} events/s ({stats.load_s:.2f} s)")
    print(f"  indexes + ANALYZE: {stats.index_s:.2f} s; end to end {stats.total_rate:,.0f} events/s "
          f"({stats.total_s:.2f} s)")
    if not args.out:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(out + suffix)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
