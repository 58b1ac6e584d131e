"""Rolling raw events up into ``rollup_daily`` / ``rollup_hourly`` / ``rollup_movie_daily``.

Recomputing a day is ``DELETE`` + ``INSERT … SELECT … GROUP BY`` inside one
``write_transaction``: idempotent and complete (a day is never "done because a row exists").
The aggregation runs in the database over the ``event_time`` range of the day, so the cost
is one grouped scan of the day (plus a click-only scan for the per-movie table).

Bot events are excluded from impressions/clicks/views and counted apart in ``bot_events``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from moviepulse.analytics.sqlutil import (
    day_bounds,
    days_in,
    floor_minute,
    hour_bucket,
    no_index,
    real_session,
)
from moviepulse.core.db import write_transaction
from moviepulse.models.analytics import (
    ROLLUP_DIMENSIONS,
    ROLLUP_LEVELS,
    ROLLUP_MEASURES,
    RollupDaily,
    RollupHourly,
    RollupMovieDaily,
    RollupMovieWeekly,
    RollupState,
)
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event

log = logging.getLogger(__name__)

DAILY = "daily"
HOURLY = "hourly"


def is_bot_expr() -> Any:
    return Event.is_bot.is_(True)


def human_expr() -> Any:
    """Not a bot (``is_bot`` false or NULL)."""
    return Event.is_bot.is_not(True)


def measure_columns() -> list[Any]:
    """impressions, clicks, views (non-bot), distinct non-bot devices, bot events — as SQL aggregates."""
    human = human_expr()

    def count_type(kind: str) -> Any:
        return func.coalesce(func.sum(case((and_(human, Event.type == kind), 1), else_=0)), 0)

    return [
        count_type("impression").label("impressions"),
        count_type("click").label("clicks"),
        count_type("view").label("views"),
        func.count(func.distinct(case((human, Event.device_id), else_=None))).label("devices"),
        func.coalesce(func.sum(case((is_bot_expr(), 1), else_=0)), 0).label("bot_events"),
    ]


def dimension_columns() -> list[Any]:
    return [getattr(Event, d) for d in ROLLUP_DIMENSIONS]


def raw_grouped_select(start: datetime, end: datetime, *, bucket: Any = None, per_device: bool = False) -> Any:
    """SELECT [bucket,] dims…, measures… FROM events WHERE event_time in [start, end) GROUP BY …

    ``per_device``: the same rows computed in two hashable steps — per bucket, dimensions, device
    and bot flag first, then per bucket and dimensions, where the distinct non-bot devices are the
    non-bot device groups. ``count(DISTINCT …)`` makes PostgreSQL sort every event of the range by
    all the keys (2.35 million events of a day spilled ~180 MB to disk and took 11–13 s); the two
    hash aggregations (see :func:`batch_settings`) give the same numbers in less than half of that."""
    dims = dimension_columns()
    rng = (Event.event_time >= start, Event.event_time < end)
    if not per_device:
        cols = ([bucket.label("bucket")] if bucket is not None else []) + dims + measure_columns()
        group = ([bucket] if bucket is not None else []) + dims
        return select(*cols).where(*rng).group_by(*group)
    human = human_expr()
    keys = ([bucket.label("bucket")] if bucket is not None else []) + dims + [Event.device_id, human.label("human")]
    inner = (select(*keys,
                    *[func.count().filter(and_(human, Event.type == kind)).label(f"{kind}s")
                      for kind in ("impression", "click", "view")],
                    func.count().filter(is_bot_expr()).label("bot_events"))
             .where(*rng)
             .group_by(*([bucket] if bucket is not None else []), *dims, Event.device_id, human)
             .subquery())
    group = ([inner.c.bucket] if bucket is not None else []) + [inner.c[d] for d in ROLLUP_DIMENSIONS]
    total = lambda name: func.sum(inner.c[name]).cast(BigInteger).label(name)  # noqa: E731
    return select(*group, total("impressions"), total("clicks"), total("views"),
                  func.count(inner.c.device_id).filter(inner.c.human).label("devices"),
                  total("bot_events")).group_by(*group)


def per_device_rollups(session: Session) -> bool:
    """Whether to aggregate a day in two hash steps (PostgreSQL) rather than with ``count(DISTINCT)``."""
    return session.get_bind().dialect.name == "postgresql"


def _insert_columns(table: Any, first: str) -> list[Any]:
    return [table.c[first], *(table.c[d] for d in ROLLUP_DIMENSIONS),
            table.c.impressions, table.c.clicks, table.c.views, table.c.devices, table.c.bot_events]


def lock_day(session: Session, day: date) -> None:
    """Serialise concurrent recomputes of one day. SQLite's ``BEGIN IMMEDIATE`` already does; on
    PostgreSQL two READ COMMITTED delete+insert transactions could both insert, so take a
    transaction-scoped advisory lock keyed by the day (daily and hourly recomputes alike)."""
    if session.get_bind().dialect.name == "postgresql":
        key = 0x4D50_0000 + day.toordinal()
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def try_lock_day(session: Session, day: date) -> bool:
    """:func:`lock_day` without waiting: ``False`` when another transaction holds the day's lock on
    PostgreSQL (always ``True`` on SQLite, whose ``BEGIN IMMEDIATE`` already serialises)."""
    if session.get_bind().dialect.name == "postgresql":
        key = 0x4D50_0000 + day.toordinal()
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))
    return True


#: ``work_mem`` of a rollup or reconciliation transaction on PostgreSQL (its hash aggregations).
BATCH_WORK_MEM = "64MB"


def batch_settings(session: Session) -> None:
    """Settings for the current transaction of a background rollup or reconciliation on PostgreSQL:
    no JIT compilation (about a second of compiling per grouped scan of a day, for a statement that
    runs once); no parallel workers (a day's grouped scan in three processes took every core of a
    small host for seconds, stalling the web workers; in one process it leaves the other cores to
    the requests); hash aggregation with :data:`BATCH_WORK_MEM` for the per-device grouping of
    :func:`raw_grouped_select` (the planner would otherwise sort millions of rows for it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        session.execute(text(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'"))
        session.execute(text("SET LOCAL enable_sort = off"))


def _write_levels(session: Session, day: date) -> None:
    """(Re)write the coarse levels of ``day`` from its fine ``rollup_daily`` rows (inside the caller's
    transaction). Each level is summed from the next finer one: exact integer sums of the same rows."""
    source = RollupDaily.__table__
    for model, dims in reversed(ROLLUP_LEVELS):  # segment from fine, then placement from segment
        table = model.__table__
        session.execute(delete(table).where(table.c.day == day))
        group = [source.c[d] for d in dims]
        select_ = (select(source.c.day, *group, *[func.sum(source.c[m]) for m in ROLLUP_MEASURES])
                   .where(source.c.day == day).group_by(source.c.day, *group))
        session.execute(insert(table).from_select(["day", *dims, *ROLLUP_MEASURES], select_))
        source = table


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def _write_movie_week(session: Session, day: date) -> None:
    """(Re)write ``rollup_movie_weekly`` for ``day``'s week from its daily per-movie rows (inside the
    caller's transaction, after the day's state row), recording how many of its days are rolled up."""
    week = week_of(day)
    last = week + timedelta(days=6)
    weekly = RollupMovieWeekly.__table__
    daily = RollupMovieDaily.__table__
    if session.get_bind().dialect.name == "postgresql":  # two days of one week rolled up concurrently
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x4D57_0000 + week.toordinal()})
    rolled = session.scalar(select(func.count()).select_from(RollupState.__table__).where(
        RollupState.day >= week, RollupState.day <= last, RollupState.granularity == DAILY)) or 0
    session.execute(delete(weekly).where(weekly.c.week == week))
    source = (select(literal(week, weekly.c.week.type), daily.c.movie_id, func.sum(daily.c.clicks),
                     literal(int(rolled), Integer()))
              .where(daily.c.day >= week, daily.c.day <= last).group_by(daily.c.movie_id))
    session.execute(insert(weekly).from_select(["week", "movie_id", "clicks", "days"], source))


def rollup_levels(session: Session, start: date, end: date) -> int:
    """Rebuild the coarse levels (and the weekly per-movie rows) of the daily-rolled days in
    ``[start, end]`` from their fine rows (for days rolled up before the levels existed). Returns the
    number of days rebuilt."""
    session = real_session(session)
    days = sorted(d for d, st in rollup_state(session, start, end).items() if st.get(DAILY))
    for day in days:
        with write_transaction(session):
            lock_day(session, day)
            _write_levels(session, day)
            if day.weekday() == 6 or day == days[-1]:
                _write_movie_week(session, day)
    return len(days)


def rollup_day(session: Session, day: date) -> dict[str, Any]:
    """Recompute the daily rollup (its coarse levels and per-movie clicks) of one day. Idempotent."""
    session = real_session(session)
    start, end = day_bounds(day)
    daily = RollupDaily.__table__
    movie = RollupMovieDaily.__table__
    day_value = literal(day, RollupDaily.__table__.c.day.type)
    # Re-select from the grouped subquery so the literal day rides along on every row.
    sub = raw_grouped_select(start, end, per_device=per_device_rollups(session)).subquery()
    source = select(day_value, *[sub.c[c] for c in
                                 (*ROLLUP_DIMENSIONS, "impressions", "clicks", "views", "devices", "bot_events")])
    movie_id = no_index(Event.movie_id)  # read the day through (event_time, type), not per movie
    movie_clicks = (
        select(day_value, movie_id, func.count().label("clicks"))
        .where(Event.event_time >= start, Event.event_time < end, Event.type == "click",
               human_expr(), movie_id.is_not(None))
        .group_by(movie_id)
    )
    with write_transaction(session):
        lock_day(session, day)
        batch_settings(session)
        session.execute(delete(daily).where(daily.c.day == day))
        session.execute(delete(movie).where(movie.c.day == day))
        session.execute(insert(daily).from_select(_insert_columns(daily, "day"), source))
        rows = session.scalar(select(func.count()).select_from(daily).where(daily.c.day == day))
        _write_levels(session, day)
        session.execute(insert(movie).from_select([movie.c.day, movie.c.movie_id, movie.c.clicks], movie_clicks))
        totals = session.execute(
            select(func.coalesce(func.sum(daily.c.impressions + daily.c.clicks + daily.c.views
                                          + daily.c.bot_events), 0)).where(daily.c.day == day)
        ).scalar_one()
        # The whole day is now in rollup_daily: its hourly rows are obsolete.
        session.execute(delete(RollupHourly.__table__).where(RollupHourly.hour >= start, RollupHourly.hour < end))
        session.execute(delete(RollupState.__table__).where(RollupState.day == day))
        session.execute(insert(RollupState.__table__).values(
            day=day, granularity=DAILY, covered_until=end, rolled_up_at=utcnow(),
            events=int(totals or 0), rows=int(rows or 0)))
        _write_movie_week(session, day)
    return {"day": day.isoformat(), "granularity": DAILY, "rows": int(rows or 0), "events": int(totals or 0)}


def rollup_hours(session: Session, day: date, until: datetime | None = None) -> dict[str, Any]:
    """Recompute the hourly rollup of ``day`` up to the last complete minute before ``until`` (default:
    now). The current hour's row is partial (it covers ``[hour, covered_until)``); readers take raw
    events from ``covered_until`` on, so at a high event rate the raw tail a dashboard query
    aggregates is at most one rollup interval long, not up to an hour.

    On PostgreSQL a recompute that finds another rollup of the day running returns at once
    (``"skipped"``, with the coverage that stands) instead of queueing behind it: the running one
    covers the same day to the same or an earlier minute, and waiting runs would each recompute the
    whole day again (at a high event rate a run takes seconds; periodic, "run now" and re-enqueued
    runs piled up behind the lock and kept the database busy)."""
    session = real_session(session)
    start, end = day_bounds(day)
    until = min(floor_minute(until or utcnow()), end)
    hourly = RollupHourly.__table__
    if until <= start:
        return {"day": day.isoformat(), "granularity": HOURLY, "rows": 0, "covered_until": start.isoformat()}
    sub = raw_grouped_select(start, until, bucket=hour_bucket(Event.event_time),
                             per_device=per_device_rollups(session)).subquery()
    source = select(sub.c.bucket, *[sub.c[c] for c in
                                    (*ROLLUP_DIMENSIONS, "impressions", "clicks", "views", "devices", "bot_events")])
    with write_transaction(session):
        busy = not try_lock_day(session, day)
        if not busy:
            batch_settings(session)
            session.execute(delete(hourly).where(hourly.c.hour >= start, hourly.c.hour < end))
            session.execute(insert(hourly).from_select(_insert_columns(hourly, "hour"), source))
            rows = session.scalar(select(func.count()).select_from(hourly).where(hourly.c.hour >= start,
                                                                                 hourly.c.hour < end))
            session.execute(delete(RollupState.__table__).where(RollupState.day == day,
                                                                RollupState.granularity == HOURLY))
            session.execute(insert(RollupState.__table__).values(
                day=day, granularity=HOURLY, covered_until=until, rolled_up_at=utcnow(), events=0,
                rows=int(rows or 0)))
    if busy:
        covered = rollup_state(session, day, day).get(day, {}).get(HOURLY)
        session.commit()
        return {"day": day.isoformat(), "granularity": HOURLY, "rows": None,
                "covered_until": (covered or start).isoformat(),
                "skipped": "another rollup of this day is running"}
    return {"day": day.isoformat(), "granularity": HOURLY, "rows": int(rows or 0),
            "covered_until": until.isoformat()}


def rollup_range(session: Session, start: date, end: date) -> list[dict[str, Any]]:
    """Recompute the daily rollups of every day in ``[start, end]``."""
    if start > end:
        start, end = end, start
    return [rollup_day(session, d) for d in days_in(start, end)]


def rollup_state(session: Session, start: date, end: date) -> dict[date, dict[str, Any]]:
    """``{day: {"daily": covered_until | None, "hourly": covered_until | None}}`` for days with any state."""
    from moviepulse.analytics.sqlutil import as_date, as_datetime

    out: dict[date, dict[str, Any]] = {}
    rows = session.execute(select(RollupState.day, RollupState.granularity, RollupState.covered_until)
                           .where(RollupState.day >= start, RollupState.day <= end)).all()
    for day, gran, covered in rows:
        out.setdefault(as_date(day), {DAILY: None, HOURLY: None})[gran] = as_datetime(covered)
    return out


def periodic_rollup(session: Session, *, now: datetime | None = None, catchup_days: int = 3,
                    settle_seconds: int = 7200) -> list[dict[str, Any]]:
    """What the ``ctr.rollup`` task does each run.

    * Days in the ``catchup_days`` before today with no daily rollup are rolled up.
    * Yesterday is recomputed while its rollup is younger than ``settle_seconds`` past
      midnight (late events still arrive); reconciliation covers anything later.
    * Today is rolled up by hour, up to its last complete minute.
    """
    now = now or utcnow()
    today = now.date()
    state = rollup_state(session, today - timedelta(days=catchup_days), today)
    done: list[dict[str, Any]] = []
    for i in range(catchup_days, 0, -1):
        day = today - timedelta(days=i)
        st = state.get(day, {})
        rolled_at = None
        if st.get(DAILY):
            rolled_at = session.scalar(select(RollupState.rolled_up_at).where(
                RollupState.day == day, RollupState.granularity == DAILY))
        settle_limit = day_bounds(day)[1] + timedelta(seconds=settle_seconds)
        if rolled_at is None or (i == 1 and rolled_at < settle_limit):
            done.append(rollup_day(session, day))
    done.append(rollup_hours(session, today, now))
    return done


def count_type_column(kind: str) -> Any:
    """SUM(CASE type=kind AND not bot) — shared with live (raw) queries."""
    human = human_expr()
    return func.coalesce(func.sum(case((and_(human, Event.type == kind), 1), else_=0)), 0).cast(Integer)
