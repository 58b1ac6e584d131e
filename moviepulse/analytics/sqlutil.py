"""Portable SQL helpers: dialect-aware hour buckets, day bounds, value normalisation.

``hour_bucket(col)`` compiles to ``date_trunc('hour', col)`` on PostgreSQL and to a
``strftime`` producing SQLAlchemy's own SQLite DATETIME text format (``YYYY-MM-DD HH:00:00.000000``)
so that bucket values compare correctly with bound datetimes. ``day_bucket`` likewise.
Everything else in the analytics package is plain SQLAlchemy Core.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from moviepulse.core.db import real_session  # noqa: F401  (re-exported for this package)


class hour_bucket(FunctionElement):  # noqa: N801 - reads like a SQL function
    """The start of the hour of a DATETIME column."""

    type = DateTime()
    inherit_cache = True
    name = "hour_bucket"


class day_bucket(FunctionElement):  # noqa: N801
    """The day (DATE) of a DATETIME column."""

    type = Date()
    inherit_cache = True
    name = "day_bucket"


@compiles(hour_bucket)
def _hour_default(element: hour_bucket, compiler: Any, **kw: Any) -> str:
    return f"date_trunc('hour', {compiler.process(element.clauses, **kw)})"


@compiles(hour_bucket, "sqlite")
def _hour_sqlite(element: hour_bucket, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d %H:00:00.000000', {compiler.process(element.clauses, **kw)})"


@compiles(day_bucket)
def _day_default(element: day_bucket, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_bucket, "sqlite")
def _day_sqlite(element: day_bucket, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


class no_index(FunctionElement):  # noqa: N801
    """The column's value, marked so that SQLite's planner does not drive the query by an index on it
    (``+col``: SQLite's documented way; the plain column elsewhere). Used where SQLite would
    otherwise skip-scan ``ix_events_movie_time`` for a ``GROUP BY movie_id`` over a time range
    (looking up every event of the range) instead of reading the ``(event_time, type)`` index."""

    inherit_cache = True
    name = "no_index"

    def __init__(self, col: Any) -> None:
        super().__init__(col)
        self.type = col.type


@compiles(no_index)
def _no_index_default(element: no_index, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(no_index, "sqlite")
def _no_index_sqlite(element: no_index, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[00:00 of day, 00:00 of the next day)`` as naive UTC datetimes."""
    start = day_start(day)
    return start, start + timedelta(days=1)


def days_in(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive (empty if ``start > end``)."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def as_date(value: Any) -> date:
    """Normalise a DATE value read back from either dialect (``date`` or ``'YYYY-MM-DD'``)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def not_bot(col: ColumnElement[Any]) -> ColumnElement[bool]:
    """``is_bot`` false (NULL counts as not a bot)."""
    from sqlalchemy import false, or_

    return or_(col == false(), col.is_(None))


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
