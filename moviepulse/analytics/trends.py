"""The trends leaderboard: movies by non-bot clicks over the last ``days`` days.

Whole ISO weeks whose seven days are rolled up read ``rollup_movie_weekly``, other days with a
daily rollup read ``rollup_movie_daily``; the others (normally only the current day) read raw
click events. With no clicks at all it falls back to the top movies
by ``weighted_score`` with ``clicks = None``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from moviepulse.analytics.rollups import DAILY, rollup_state
from moviepulse.analytics.sqlutil import as_date, day_bounds, days_in, no_index
from moviepulse.models.analytics import RollupMovieDaily, RollupMovieWeekly
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event
from moviepulse.models.movie import Movie, movie_filters

MAX_DAYS = 90


def _item(movie: Any, clicks: int | None) -> dict[str, Any]:
    return {
        "movie_id": movie.id,
        "title": movie.title,
        "year": movie.year,
        "type": movie.type,
        "genres": list(movie.genres or []),
        "imdb_rating": movie.imdb_rating,
        "imdb_votes": movie.imdb_votes,
        "poster_path": movie.poster_path,
        "weighted_score": movie.weighted_score,
        "clicks": None if clicks is None else int(clicks),
    }


def click_counts_subquery(session: Session, start: date, end: date) -> Any:
    """``(movie_id, clicks)`` per movie over ``[start, end]``: whole weeks from ``rollup_movie_weekly``
    where all seven days are rolled up (and the weekly rows say so), other rolled-up days from
    ``rollup_movie_daily``, the rest from raw click events. Every source counts the same clicks."""
    state = rollup_state(session, start, end)
    rolled = [d for d in days_in(start, end) if state.get(d, {}).get(DAILY)]
    rolled_set = set(rolled)
    raw_days = [d for d in days_in(start, end) if d not in rolled_set]
    weeks = [m for m in days_in(start, end) if m.weekday() == 0 and m + timedelta(days=6) <= end
             and all(m + timedelta(days=i) in rolled_set for i in range(7))]
    if weeks:
        w = RollupMovieWeekly
        weeks = sorted(as_date(x) for x in session.execute(
            select(w.week).distinct().where(w.week.in_(weeks), w.days == 7)).scalars())
    in_weeks = {m + timedelta(days=i) for m in weeks for i in range(7)}
    rolled = [d for d in rolled if d not in in_weeks]
    parts: list[Any] = []
    if weeks:
        parts.append(select(RollupMovieWeekly.movie_id.label("movie_id"), RollupMovieWeekly.clicks.label("clicks"))
                     .where(RollupMovieWeekly.week.in_(weeks), RollupMovieWeekly.days == 7))
    if rolled:
        parts.append(select(RollupMovieDaily.movie_id.label("movie_id"), RollupMovieDaily.clicks.label("clicks"))
                     .where(RollupMovieDaily.day.in_(rolled)))
    if raw_days:
        ranges = [(Event.event_time >= a) & (Event.event_time < b) for a, b in map(day_bounds, raw_days)]
        movie_id = no_index(Event.movie_id)  # read the days through (event_time, type), not per movie
        parts.append(select(movie_id.label("movie_id"), literal(1).label("clicks"))
                     .where(or_(*ranges), Event.type == "click",
                            Event.is_bot.is_not(True), movie_id.is_not(None)))
    union = parts[0] if len(parts) == 1 else union_all(*parts)
    u = union.subquery()
    return (select(u.c.movie_id, func.sum(u.c.clicks).label("clicks"))
            .group_by(u.c.movie_id).subquery())


def leaderboard(session: Session, *, days: int = 7, type: str | None = None, genre: str | None = None,
                year_from: int | None = None, year_to: int | None = None, limit: int = 40,
                today: date | None = None) -> list[dict[str, Any]]:
    """Top movies by clicks over the ``days`` days ending ``today`` (inclusive; clamped 1..90).

    Returns dicts ``movie_id, title, year, type, genres, imdb_rating, imdb_votes, poster_path,
    weighted_score, clicks``; ``clicks`` is ``None`` in the no-clicks fallback.
    """
    today = today or utcnow().date()
    days = max(1, min(MAX_DAYS, int(days or 7)))
    limit = max(1, min(500, int(limit or 40)))
    start = today - timedelta(days=days - 1)
    filters = movie_filters(type, genre, year_from, year_to)
    counts = click_counts_subquery(session, start, today)
    rows = session.execute(
        select(Movie, counts.c.clicks)
        .join(counts, counts.c.movie_id == Movie.id)
        .where(*filters, counts.c.clicks > 0)
        .order_by(counts.c.clicks.desc(), Movie.weighted_score.desc(), Movie.id)
        .limit(limit)
    ).all()
    if rows:
        return [_item(movie, clicks) for movie, clicks in rows]
    fallback = session.execute(
        select(Movie).where(*filters)
        .order_by(Movie.weighted_score.desc(), func.coalesce(Movie.imdb_votes, 0).desc(), Movie.id).limit(limit)
    ).scalars().all()
    return [_item(movie, None) for movie in fallback]
