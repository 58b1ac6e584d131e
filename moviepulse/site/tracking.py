"""The one writer of tracking events, used by the site pages and by ``POST /api/events``.

:func:`record_events` takes plain dicts, upserts the ``devices`` rows they reference, fills the
audience keys at write time (``device_type`` from the device, ``visitor_type`` = ``new`` when the
device's first-seen day is the event day else ``returning``, ``first_seen_week`` = ISO
``YYYY-Www`` of first sight) and writes every event with a single executemany
``INSERT … ON CONFLICT(event_id) DO NOTHING`` inside :func:`write_transaction`. A duplicate
``event_id`` (within the batch or against the table) is counted, never an error. After the
commit it emits ``events_recorded`` with the accepted rows and counts outcomes in Prometheus.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from moviepulse.core.db import is_sqlite, write_transaction
from moviepulse.models.base import utcnow
from moviepulse.models.events import Device, Event
from moviepulse.site.dbutil import real_session

log = logging.getLogger("moviepulse.site.tracking")

#: Columns an event row may carry (anything else in a row dict is ignored).
EVENT_COLUMNS = ("event_id", "type", "event_time", "received_at", "device_id", "movie_id", "placement",
                 "variant", "position", "locale", "device_type", "visitor_type", "first_seen_week",
                 "is_bot", "origin", "request_id")
#: ``last_seen_at`` is refreshed at most this often per device (saves a write on every page).
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class DeviceFacts:
    first_seen_at: datetime
    device_type: str
    is_bot: bool


_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


def mint_event_id() -> str:
    """A server-minted, time-ordered UUIDv7: 48-bit millisecond timestamp, version 7, 74 random bits.

    The random part comes from a per-process generator seeded from ``os.urandom`` (re-seeded after
    ``fork``): event ids must be unique, not secret, and a page mints twenty of them.
    """
    ms = time.time_ns() // 1_000_000
    rand = _rng.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def audience_keys(first_seen_at: datetime, event_time: datetime) -> tuple[str, str]:
    """``(visitor_type, first_seen_week)`` for an event of a device first seen at ``first_seen_at``."""
    visitor_type = "new" if first_seen_at.date() == event_time.date() else "returning"
    return visitor_type, iso_week(first_seen_at)


def _normalise(rows: Iterable[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    rid = g.get("request_id") if has_request_context() else None
    out = []
    for row in rows:
        get = row.get
        out.append({
            "event_id": get("event_id") or mint_event_id(), "type": get("type"),
            "event_time": get("event_time") or now, "received_at": get("received_at") or now,
            "device_id": get("device_id"), "movie_id": get("movie_id"), "placement": get("placement"),
            "variant": get("variant"), "position": get("position"), "locale": get("locale"),
            "device_type": get("device_type"), "visitor_type": None, "first_seen_week": None,
            "is_bot": bool(get("is_bot")), "origin": get("origin") or "server", "request_id": get("request_id") or rid,
        })
    return out


def _sqlite_dt(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage format for DateTime (always with microseconds)."""
    if value is None:
        return None
    text = value.isoformat(" ")
    return text if value.microsecond else text + ".000000"


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@functools.lru_cache(maxsize=64)
def _unnest_arrays(table_name: str, columns: tuple[str, ...]) -> str:
    """``%b::type[], …`` for an ``unnest`` of these columns (built once per table and column list).
    Strings travel as ``text`` (the column's own length check then applies on insert; a cast to
    ``varchar(n)`` would truncate); binary parameters need no escaping."""
    from sqlalchemy import String
    from sqlalchemy.dialects import postgresql

    from moviepulse.models.base import Base

    table = Base.metadata.tables[table_name]
    return ", ".join(
        "%b::" + ("text" if isinstance(table.c[name].type, String)
                  else table.c[name].type.compile(dialect=postgresql.dialect())) + "[]"
        for name in columns)


class _Raw:
    """The session's DBAPI connection, with the right placeholder and value formats."""

    def __init__(self, session: Session) -> None:
        self.sqlite = is_sqlite(session)
        self.ph = "?" if self.sqlite else "%s"
        self.conn = session.connection().connection

    def dt(self, value: datetime | None) -> Any:
        return _sqlite_dt(value) if self.sqlite else value

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()

    def insert_unnest(self, head: str, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                      tail: str = "", returning: bool = False) -> tuple[int, list[tuple[Any, ...]]]:
        """PostgreSQL: ``head SELECT * FROM unnest(%b::type[], …) AS incoming(columns) tail`` — the
        whole batch in one statement with one binary array per column: one round trip, and a short
        query text that psycopg prepares once (a multi-row VALUES would be re-parsed every time).
        Returns (rows affected, rows returned)."""
        arrays = _unnest_arrays(table.name, tuple(columns))
        sql = f"{head} SELECT * FROM unnest({arrays}) AS incoming ({', '.join(columns)}) {tail}"
        cur = self.conn.cursor()
        try:
            cur.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return max(cur.rowcount, 0), (cur.fetchall() if returning else [])
        finally:
            cur.close()

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> int:
        cur = self.conn.cursor()
        try:
            cur.executemany(sql, params)
            count = cur.rowcount
        finally:
            cur.close()
        return count if count is not None and count >= 0 else len(params)


DEVICE_CACHE_KEY = "moviepulse.site.device_facts"
#: How long a device's facts may be reused from memory instead of re-read (per process).
DEVICE_CACHE_SECONDS = 30.0


def _device_cache() -> dict[str, tuple[float, datetime, datetime | None, str, bool]]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get(DEVICE_CACHE_KEY)
    if cache is None:
        cache = app.extensions.setdefault(DEVICE_CACHE_KEY, {})
    return cache


def ensure_devices(session: Session, rows: Sequence[dict[str, Any]], now: datetime,
                   remember: dict[str, tuple[float, datetime, datetime | None, str, bool]] | None = None,
                   ) -> dict[str, DeviceFacts]:
    """Upsert the devices of ``rows``; return their facts (first seen, type, bot flag).

    A device first appears with ``first_seen_at`` = its earliest event; a back-dated event
    (a beacon for an earlier day) moves ``first_seen_at`` back, since a device cannot be first
    seen after its own events. ``last_seen_at`` moves forward at most every 5 minutes. Facts read
    in the last 30 s are reused from memory; what this call learnt goes into ``remember`` (the
    caller publishes it to the cache after its commit). Plain DBAPI statements: this runs for
    every page and every beacon batch.
    """
    earliest: dict[str, datetime] = {}
    hints: dict[str, dict[str, Any]] = {}
    for r in rows:
        device_id, moment = r["device_id"], r["event_time"]
        if device_id not in earliest:
            earliest[device_id], hints[device_id] = moment, r
        elif moment < earliest[device_id]:
            earliest[device_id] = moment
    cache = _device_cache()
    clock = time.monotonic()
    known: dict[str, tuple[datetime, datetime | None, str, bool]] = {}
    for device_id in earliest:
        hit = cache.get(device_id)
        if hit is not None and clock - hit[0] < DEVICE_CACHE_SECONDS:
            known[device_id] = hit[1:]
    raw = _Raw(session)
    table = Device.__tablename__
    columns = "device_id, first_seen_at, last_seen_at, device_type, is_bot"
    # Devices in key order: two concurrent batches sharing devices then lock their rows in the same
    # order and cannot deadlock (PostgreSQL; the soak benchmark hit it once in 30,000 batches).
    ids = sorted(i for i in earliest if i not in known)

    def new_row(device_id: str) -> tuple[Any, ...]:
        hint = hints[device_id]
        variant = hint.get("variant") if hint.get("variant") in ("A", "B") else None
        return (device_id, raw.dt(min(earliest[device_id], now)), raw.dt(now), hint.get("device_type") or "desktop",
                variant, bool(hint.get("is_bot")))

    def learn(found: Iterable[tuple[Any, ...]]) -> None:
        for device_id, first, last, dtype, bot in found:
            known[device_id] = (_as_datetime(first), _as_datetime(last) if last is not None else None,
                                dtype or "desktop", bool(bot))

    insert_head = f"INSERT INTO {table} (device_id, first_seen_at, last_seen_at, device_type, variant, is_bot)"
    if ids and not raw.sqlite:
        # One round trip: insert the new devices and read back every device of the batch. The
        # second SELECT sees the statement's snapshot, so it returns the rows that existed before
        # and RETURNING the rows this statement inserted; a device another transaction inserted
        # meanwhile is in neither and is read by the follow-up below.
        device_columns = ("device_id", "first_seen_at", "last_seen_at", "device_type", "variant", "is_bot")
        _n, found = raw.insert_unnest(
            "WITH incoming AS (", Device.__table__, device_columns, [new_row(i) for i in ids],
            f"), ins AS ({insert_head} SELECT * FROM incoming ON CONFLICT (device_id) DO NOTHING "
            f"RETURNING {columns}) SELECT {columns} FROM ins UNION ALL SELECT "
            + ", ".join(f"d.{c.strip()}" for c in columns.split(","))
            + f" FROM {table} d JOIN incoming USING (device_id)", returning=True)
        learn(found)
    elif ids:
        sql = f"SELECT {columns} FROM {table} WHERE device_id IN ({', '.join([raw.ph] * len(ids))})"
        learn(raw.fetch(sql, ids))
        missing = [i for i in ids if i not in known]
        if missing:
            raw.executemany(f"{insert_head} VALUES ({', '.join([raw.ph] * 6)}) ON CONFLICT (device_id) DO NOTHING",
                            [new_row(i) for i in missing])
    missing = [i for i in ids if i not in known]
    if missing:
        sql = f"SELECT {columns} FROM {table} WHERE device_id IN ({', '.join([raw.ph] * len(missing))})"
        learn(raw.fetch(sql, missing))
    facts: dict[str, DeviceFacts] = {}
    updates = []
    for device_id, (first_seen, last_seen, dtype, is_bot) in known.items():
        new_first = min(first_seen, earliest[device_id])
        stale = last_seen is None or now - last_seen > LAST_SEEN_RESOLUTION
        new_last = now if stale else last_seen
        if new_first < first_seen or stale:
            updates.append((raw.dt(new_first), raw.dt(new_last), device_id))
        facts[device_id] = DeviceFacts(new_first, dtype, is_bot)
        if remember is not None:
            remember[device_id] = (clock, new_first, new_last, dtype, is_bot)
    if updates:
        updates.sort(key=lambda u: u[2])  # by device id, for the same reason
        raw.executemany(f"UPDATE {table} SET first_seen_at = {raw.ph}, last_seen_at = {raw.ph} "
                        f"WHERE device_id = {raw.ph}", updates)
    return facts


def insert_events(session: Session, batch: Sequence[dict[str, Any]]) -> int:
    """``INSERT … ON CONFLICT(event_id) DO NOTHING`` of the batch; returns rows inserted.

    The raw cursor is used because it reports the true number of inserted rows on both SQLite and
    psycopg 3 (SQLAlchemy's executemany result does not on PostgreSQL) and is the fastest path:
    one in-process ``executemany`` on SQLite, one ``INSERT … SELECT FROM unnest(arrays)`` on PostgreSQL.
    """
    raw = _Raw(session)
    sql = (f"INSERT INTO {Event.__tablename__} ({', '.join(EVENT_COLUMNS)}) "
           f"VALUES ({', '.join([raw.ph] * len(EVENT_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")
    if raw.sqlite:
        received: dict[datetime, str | None] = {}
        params = []
        for r in batch:
            ra = r["received_at"]
            if ra not in received:
                received[ra] = _sqlite_dt(ra)
            params.append((r["event_id"], r["type"], _sqlite_dt(r["event_time"]), received[ra], r["device_id"],
                           r["movie_id"], r["placement"], r["variant"], r["position"], r["locale"],
                           r["device_type"], r["visitor_type"], r["first_seen_week"], 1 if r["is_bot"] else 0,
                           r["origin"], r["request_id"]))
        return raw.executemany(sql, params)
    # PostgreSQL: one statement for the batch instead of one per row (rowcount = rows inserted).
    params = sorted((tuple(r[c] for c in EVENT_COLUMNS) for r in batch), key=lambda p: p[0])  # by event id:
    # concurrent resends of overlapping batches take the unique-index locks in one order
    return raw.insert_unnest(f"INSERT INTO {Event.__tablename__} ({', '.join(EVENT_COLUMNS)})", Event.__table__,
                             EVENT_COLUMNS, params, "ON CONFLICT (event_id) DO NOTHING")[0]


def record_events(session: Session, rows: list[dict[str, Any]]) -> BatchOutcome:
    """Write tracking events idempotently; ``accepted + duplicates == len(rows)``.

    Each row is a dict of :data:`EVENT_COLUMNS` (``type``, ``device_id`` required; ``event_id``,
    ``event_time``/``received_at`` (naive UTC), ``origin`` and ``request_id`` default to a minted id,
    now, ``"server"`` and the current request id). ``device_type``/``is_bot``/``variant`` serve as
    hints for a device seen for the first time; the audience keys are always computed here.
    """
    if not rows:
        return BatchOutcome(0, 0)
    session = real_session(session)
    now = utcnow()
    normalised = _normalise(rows, now)
    unique: dict[str, dict[str, Any]] = {}
    for r in normalised:
        unique.setdefault(r["event_id"], r)
    batch = list(unique.values())
    learnt: dict[str, tuple[float, datetime, datetime | None, str, bool]] = {}
    with write_transaction(session):
        facts = ensure_devices(session, batch, now, learnt)
        keys = {device_id: (f.device_type, f.is_bot, f.first_seen_at.date(), iso_week(f.first_seen_at))
                for device_id, f in facts.items()}
        for r in batch:
            dtype, bot, first_day, week = keys[r["device_id"]]
            r["device_type"] = dtype
            if bot:
                r["is_bot"] = True
            r["visitor_type"] = "new" if r["event_time"].date() == first_day else "returning"
            r["first_seen_week"] = week
        accepted = insert_events(session, batch)
        if 0 < accepted < len(batch):
            batch = _inserted_rows(session, batch)
        elif accepted == 0:
            batch = []
    cache = _device_cache()
    if len(cache) > 200_000:
        cache.clear()
    cache.update(learnt)
    outcome = BatchOutcome(accepted, len(normalised) - accepted)
    _after_commit(outcome, batch)
    return outcome


def _inserted_rows(session: Session, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``batch`` this call inserted (their stored ``received_at`` is ours)."""
    stored = dict(session.execute(
        select(Event.event_id, Event.received_at).where(Event.event_id.in_([r["event_id"] for r in batch]))).all())
    return [r for r in batch if stored.get(r["event_id"]) == r["received_at"]]


def _after_commit(outcome: BatchOutcome, accepted_rows: list[dict[str, Any]]) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        from moviepulse.core.observability import prom

        counter = prom(app).events
        if outcome.accepted:
            counter.labels("accepted").inc(outcome.accepted)
        if outcome.duplicates:
            counter.labels("duplicate").inc(outcome.duplicates)
    except KeyError:  # pragma: no cover - an app without the core services
        pass
    pulse = app.extensions.get("moviepulse")
    if pulse is not None and accepted_rows:
        pulse.emit("events_recorded", events=accepted_rows)
