"""Writing a buffer snapshot: one transaction per flush, merging into existing rows.

Rows keyed by (route, minute), (upstream, minute) and fingerprint may already exist (another
worker flushed the same minute), so existing rows are read with ``FOR UPDATE`` (``BEGIN
IMMEDIATE`` on SQLite), merged in Python (sketches add bucket-wise) and updated; new keys are
inserted. Two workers inserting the same new key race on the unique constraint; the loser rolls
back and retries once, by which time the row exists and is merged.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moviepulse.core.db import (
    is_sqlite,
    real_session,  # noqa: F401  (re-exported for this package)
    write_transaction,
)
from moviepulse.models.ssr import (
    SsrAudit,
    SsrFingerprint,
    SsrRouteMinute,
    SsrUpstreamMinute,
    SsrUpstreamState,
)
from moviepulse.ssr.buffer import AUDIT_COLUMNS, UPSTREAM_COUNTERS, RouteAgg, Snapshot
from moviepulse.ssr.sketch import LatencySketch

log = logging.getLogger("moviepulse.ssr")
_AUDIT_DEFAULTS: dict[str, Any] = {"method": "GET", "locale": None, "variant": None, "request_id": None,
                                   "self_crawl": False, "failing": []}
_AUDIT_TABLE = SsrAudit.__table__
_INSERT_AUDITS: dict[str, str] = {}  # paramstyle -> INSERT statement


def minute_dt(epoch_minute: int) -> datetime:
    """Naive UTC datetime of an epoch minute."""
    return datetime.fromtimestamp(epoch_minute * 60, UTC).replace(tzinfo=None)



def write_snapshot(session: Session, snap: Snapshot) -> dict[str, int]:
    """Write everything in ``snap`` in one transaction (retried once on a unique-key race)."""
    session = real_session(session)
    for attempt in (1, 2):
        try:
            with write_transaction(session):
                return _write(session, snap)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("ssr flush raced another worker on a new key; retrying once")
    return {}  # pragma: no cover


def _locked(session: Session, stmt: Any) -> Any:
    return stmt if is_sqlite(session) else stmt.with_for_update()


def _write(session: Session, snap: Snapshot) -> dict[str, int]:
    written = {"routes": 0, "audits": 0, "fingerprints": 0, "upstream": 0}
    if snap.routes:
        written["routes"] = _write_routes(session, snap.routes)
    if snap.audits:
        written["audits"] = _write_audits(session, snap.audits)
    if snap.fingerprints:
        written["fingerprints"] = _write_fingerprints(session, snap)
    if snap.upstream or snap.breakers:
        written["upstream"] = _write_upstream(session, snap)
    session.flush()
    return written


def _audit_tuple(row: tuple | dict[str, Any]) -> tuple:
    """A buffered audit as a tuple in ``AUDIT_COLUMNS`` order. The middleware buffers tuples with
    ``recorded_at`` in epoch seconds (cheap on the hot path); a dict (tests, tools) has a datetime
    and may leave out the columns that have defaults."""
    if isinstance(row, dict):
        full = {**_AUDIT_DEFAULTS, **row}
        return tuple(full[name] for name in AUDIT_COLUMNS)
    return row


class _Stamper:
    """``recorded_at`` (epoch seconds or a naive UTC datetime) -> the bound value the column type
    would produce. On SQLite the DateTime processor's text is built once per second and only the
    microseconds are formatted per row (a flush writes thousands of rows within a few seconds)."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.prefixes: dict[int, str | None] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, float):
            return self.proc(value) if self.proc is not None and value is not None else value
        if self.proc is None:
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        sec = math.floor(value)
        us = round((value - sec) * 1_000_000)
        if us >= 1_000_000:
            sec, us = sec + 1, us - 1_000_000
        prefix = self.prefixes.get(sec, "")
        if prefix == "":
            text = self.proc(datetime.fromtimestamp(sec, UTC).replace(tzinfo=None))
            prefix = self.prefixes[sec] = text[:-7] if isinstance(text, str) and text.endswith(".000000") else None
        if prefix is None:  # a storage format without 6-digit microseconds: the processor, every row
            return self.proc(datetime.fromtimestamp(value, UTC).replace(tzinfo=None))
        return f"{prefix}.{us:06d}"


def _write_audits(session: Session, audits: list) -> int:
    """One ``executemany`` of plain tuples through the driver. Every value goes through the column
    type's own bind processor (``recorded_at`` via :class:`_Stamper`, ``failing`` memoised per
    distinct list), so the stored form is exactly what the ORM would write."""
    conn = session.connection()
    dialect = conn.dialect
    sql = _INSERT_AUDITS.get(dialect.paramstyle)
    if sql is None:
        marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(AUDIT_COLUMNS))
        sql = _INSERT_AUDITS[dialect.paramstyle] = (
            f"INSERT INTO {_AUDIT_TABLE.name} ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})")
    procs = {name: p for name in AUDIT_COLUMNS
             if (p := _AUDIT_TABLE.c[name].type._cached_bind_processor(dialect)) is not None}
    stamp = _Stamper(procs.pop("recorded_at", None))
    failing_proc = procs.pop("failing", None)
    others = [(AUDIT_COLUMNS.index(name), p) for name, p in procs.items()]
    failing_values: dict[tuple[str, ...], Any] = {}
    rows = []
    for raw in audits:
        values = list(_audit_tuple(raw))
        values[0] = stamp(values[0])
        key = tuple(values[-1] or ())
        failing = failing_values.get(key)
        if failing is None:
            failing = failing_values[key] = failing_proc(list(key)) if failing_proc is not None else list(key)
        values[-1] = failing
        for i, proc in others:
            if values[i] is not None:
                values[i] = proc(values[i])
        rows.append(tuple(values))
    conn.exec_driver_sql(sql, rows)
    return len(rows)


def _write_routes(session: Session, routes: dict[tuple[str, int], RouteAgg]) -> int:
    keys = {(route, minute_dt(m)): agg for (route, m), agg in routes.items()}
    existing = {
        (row.route, row.minute): row
        for row in session.scalars(_locked(session, select(SsrRouteMinute).where(
            tuple_(SsrRouteMinute.route, SsrRouteMinute.minute).in_(list(keys)))))
    }
    for (route, minute), agg in keys.items():
        row = existing.get((route, minute))
        if row is None:
            session.add(SsrRouteMinute(
                route=route, minute=minute, requests=agg.requests, errors=agg.errors,
                apdex_satisfied=agg.satisfied, apdex_tolerating=agg.tolerating,
                latency_sum_ms=agg.latency_sum, latency_max_ms=agg.latency_max, sketch=agg.sketch.to_bytes(),
                score_count=agg.score_count, score_sum=agg.score_sum, score_min=agg.score_min,
                score_max=agg.score_max))
            continue
        row.sketch = LatencySketch.from_bytes(row.sketch).merge(agg.sketch).to_bytes()
        row.requests += agg.requests
        row.errors += agg.errors
        row.apdex_satisfied += agg.satisfied
        row.apdex_tolerating += agg.tolerating
        row.latency_sum_ms += agg.latency_sum
        row.latency_max_ms = max(row.latency_max_ms or 0.0, agg.latency_max)
        row.score_count += agg.score_count
        row.score_sum += agg.score_sum
        if agg.score_min is not None:
            row.score_min = agg.score_min if row.score_min is None else min(row.score_min, agg.score_min)
        if agg.score_max is not None:
            row.score_max = agg.score_max if row.score_max is None else max(row.score_max, agg.score_max)
    return len(keys)


def _write_fingerprints(session: Session, snap: Snapshot) -> int:
    hits = snap.fingerprints
    existing = {row.fingerprint: row for row in session.scalars(_locked(session, select(SsrFingerprint).where(
        SsrFingerprint.fingerprint.in_(list(hits)))))}
    for fp, hit in hits.items():
        days = sorted(hit.days)
        row = existing.get(fp)
        if row is None:
            session.add(SsrFingerprint(
                fingerprint=fp, kind=hit.kind, route=hit.route, title=hit.title[:255], exc_type=hit.exc_type,
                frames=hit.frames, count=hit.count, days_seen=len(days), last_day=days[-1] if days else None,
                first_seen=hit.first_seen, last_seen=hit.last_seen,
                status="new" if len(days) <= 1 else "ongoing", sample=hit.sample))
            continue
        row.count += hit.count
        for day in days:
            if row.last_day is None or day > row.last_day:
                row.days_seen += 1
                row.last_day = day
        if hit.first_seen and hit.first_seen < row.first_seen:
            row.first_seen = hit.first_seen
        if hit.last_seen and hit.last_seen >= row.last_seen:
            row.last_seen = hit.last_seen
            row.sample = hit.sample
        if row.status == "resolved":
            row.status = "regressed"
            row.resolved_at = None
        elif row.status == "new" and row.days_seen > 1:
            row.status = "ongoing"
    return len(hits)


def _write_upstream(session: Session, snap: Snapshot) -> int:
    keys = {(up, minute_dt(m)): counts for (up, m), counts in snap.upstream.items()}
    if keys:
        stmt = select(SsrUpstreamMinute).where(
            tuple_(SsrUpstreamMinute.upstream, SsrUpstreamMinute.minute).in_(list(keys)))
        existing = {(row.upstream, row.minute): row for row in session.scalars(_locked(session, stmt))}
        for (up, minute), counts in keys.items():
            row = existing.get((up, minute))
            if row is None:
                session.add(SsrUpstreamMinute(upstream=up, minute=minute, **counts))
            else:
                for name in UPSTREAM_COUNTERS:
                    setattr(row, name, (getattr(row, name) or 0) + counts[name])
    for up, (state, at) in snap.breakers.items():
        row = session.get(SsrUpstreamState, up, with_for_update=not is_sqlite(session))
        if row is None:
            session.add(SsrUpstreamState(upstream=up, breaker=state, since=at, updated_at=at))
        elif at >= row.updated_at:
            if row.breaker != state:
                row.breaker = state
                row.since = at
            row.updated_at = at
    return len(keys) + len(snap.breakers)
