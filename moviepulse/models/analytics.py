"""Analytics storage: CTR rollups (daily, hourly for the current day, per movie), the
record of which days/hours are rolled up, and reconciliation drift rows.

Dimension columns keep NULL as NULL (GROUP BY treats NULLs as one group on SQLite and
PostgreSQL alike). ``devices`` is the number of distinct non-bot devices *within that one
row*; it does not add across rows (a device seen on two placements counts once in each).
Exact distinct totals are computed from raw events where a query needs them.

Coarse levels: ``rollup_daily`` holds ~3,000 dimension rows per day at production volume (the
cohort week multiplies them), so a 30-day dashboard query would aggregate ~90,000 rows. The
same transaction that writes a day's fine rows also writes two coarse tables, each the exact
sum of the fine rows over the dimensions it drops (additive measures only, no ``devices``):
``rollup_daily_segment`` (every dimension but ``first_seen_week``, ~340 rows/day) and
``rollup_daily_placement`` (day × variant × placement, ~10 rows/day). Queries read the smallest
level whose dimensions cover their grouping and their audience filter (:data:`ROLLUP_LEVELS`).
Each coarse table has a covering index, so a query reads only the index.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moviepulse.models.base import Base, BigId, utcnow

#: The dimensions every CTR rollup row is keyed by (besides its day or hour).
ROLLUP_DIMENSIONS = ("variant", "placement", "locale", "device_type", "visitor_type", "first_seen_week")
#: The additive measures of a rollup row.
ROLLUP_MEASURES = ("impressions", "clicks", "views", "bot_events")


class _Dims:
    variant: Mapped[str | None] = mapped_column(String(8))
    placement: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    device_type: Mapped[str | None] = mapped_column(String(16))
    visitor_type: Mapped[str | None] = mapped_column(String(12))
    first_seen_week: Mapped[str | None] = mapped_column(String(10))
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    devices: Mapped[int] = mapped_column(Integer, default=0)  # distinct non-bot devices in this row only
    bot_events: Mapped[int] = mapped_column(Integer, default=0)


class RollupDaily(_Dims, Base):
    """One day × dimensions of non-bot impressions/clicks/views, plus bot events apart."""

    __tablename__ = "rollup_daily"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_rollup_daily_day_variant", "day", "variant"),)


class _CoarseMeasures:
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    bot_events: Mapped[int] = mapped_column(Integer, default=0)


class RollupDailySegment(_CoarseMeasures, Base):
    """``rollup_daily`` summed over ``first_seen_week``: day × variant × placement × locale ×
    device type × visitor type (serves every audience but cohort weeks)."""

    __tablename__ = "rollup_daily_segment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    variant: Mapped[str | None] = mapped_column(String(8))
    placement: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    device_type: Mapped[str | None] = mapped_column(String(16))
    visitor_type: Mapped[str | None] = mapped_column(String(12))

    __table_args__ = (Index("ix_rollup_daily_segment_cover", "day", "variant", "placement", "locale",
                            "device_type", "visitor_type", "impressions", "clicks", "views", "bot_events"),)


class RollupDailyPlacement(_CoarseMeasures, Base):
    """``rollup_daily`` summed to day × variant × placement (global, variant and placement audiences)."""

    __tablename__ = "rollup_daily_placement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    variant: Mapped[str | None] = mapped_column(String(8))
    placement: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_rollup_daily_placement_cover", "day", "variant", "placement",
                            "impressions", "clicks", "views", "bot_events"),)


#: Coarse daily levels, smallest first: (model, the dimensions it keeps).
ROLLUP_LEVELS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (RollupDailyPlacement, ("variant", "placement")),
    (RollupDailySegment, ("variant", "placement", "locale", "device_type", "visitor_type")),
)


class RollupHourly(_Dims, Base):
    """The same per hour; kept for the current (not yet daily-rolled) day."""

    __tablename__ = "rollup_hourly"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_rollup_hourly_hour", "hour"),)


class RollupMovieDaily(Base):
    """Non-bot impressions, clicks and views per movie per day (the trends leaderboard)."""

    __tablename__ = "rollup_movie_daily"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    movie_id: Mapped[int] = mapped_column(Integer)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_rollup_movie_daily_day_movie", "day", "movie_id"),)


class RollupMovieWeekly(Base):
    """``rollup_movie_daily`` clicks summed per ISO week (``week`` = its Monday), rewritten by every
    ``rollup_day`` of that week in the same transaction; ``days`` = how many of the week's days had a
    daily rollup when it was written. The leaderboard reads a week from here only when ``days`` is 7
    and the whole week lies in its window (a 30-day window then reads ~4 weekly row sets + 2 days)."""

    __tablename__ = "rollup_movie_weekly"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    week: Mapped[date] = mapped_column(Date)
    movie_id: Mapped[int] = mapped_column(Integer)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    days: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_rollup_movie_weekly_cover", "week", "days", "movie_id", "clicks"),)


class RollupState(Base):
    """Which days are rolled up: ``granularity`` ``daily`` (whole day) or ``hourly``
    (hours ``[day, covered_until)`` are in ``rollup_hourly``)."""

    __tablename__ = "rollup_state"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    covered_until: Mapped[datetime] = mapped_column(DateTime)
    rolled_up_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    events: Mapped[int] = mapped_column(Integer, default=0)  # raw events (bots included) rolled up
    rows: Mapped[int] = mapped_column(Integer, default=0)


class ReconcileRun(Base):
    """One reconciliation pass over a range of days."""

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    threshold: Mapped[float] = mapped_column(Float)
    flagged_days: Mapped[list[str] | None] = mapped_column(JSON)
    late_events: Mapped[int] = mapped_column(Integer, default=0)
    rebuilt: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[dict | None] = mapped_column(JSON)


class DriftRow(Base):
    """Stored-vs-raw difference of one metric on one day, for the day total
    (``dimension`` = ``"*"``) or one dimension combination (``"variant=A|placement=home|…"``)."""

    __tablename__ = "drift_rows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    day: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(300))
    metric: Mapped[str] = mapped_column(String(16))
    stored: Mapped[int] = mapped_column(Integer)
    raw: Mapped[int] = mapped_column(Integer)
    abs_diff: Mapped[int] = mapped_column(Integer)
    rel_diff: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    late_events: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_drift_rows_day", "day"),)


class ExperimentSnapshot(Base):
    """A cached expensive experiment computation (CUPED needs a per-device scan of the window and
    pre-period), keyed by ``kind|from|to|audience|params``; refreshed by a background task."""

    __tablename__ = "experiment_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="cuped")
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    audience: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime)


# The experiment's sample-ratio check counts devices first seen in the window per variant; without an
# index that is a scan of the whole ``devices`` table. A covering index, variant first so that each
# variant's window is one range seek (declared here, next to the query that needs it; the ``devices``
# table itself belongs to models/events.py).
from moviepulse.models.events import Device  # noqa: E402

Index("ix_devices_variant_first_seen", Device.variant, Device.first_seen_at, Device.is_bot, Device.device_type)
