"""Estimated watch time, in SQL over the ``events`` and ``movies`` tables.

Definition (one place, used by the metric, the widget, the rollup task and the JSON API):

* a *watch* is a distinct (device, movie, UTC day) among non-bot ``view`` events whose
  ``event_time`` falls in ``[start, end]`` (inclusive days) and that match the audience;
* its minutes are the movie's ``runtime_min``; watches of a movie with no known runtime are
  counted in ``unknown_runtime`` and add no minutes;
* ``minutes`` for a day is the sum over that day's watches.

Every function has the analytics query signature ``(session, start, end, audience)`` so the
dashboard's ``data.query`` can call it, and returns plain dicts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from moviepulse.models.events import Event
from moviepulse.models.movie import Movie
from sqlalchemy import distinct, false, func, or_, select
from sqlalchemy.orm import Session


def _audience(audience: Any) -> Any:
    from moviepulse.analytics.audiences import resolve_audience

    return resolve_audience(audience)


Watch = tuple[date, int, int | None]  # (day, movie_id, runtime_min)


def _counted_views(start: date, end: date, audience: Any) -> list[Any]:
    """WHERE conditions: non-bot ``view`` events of a movie in ``[start, end]`` matching the audience."""
    lo = datetime.combine(start, time.min)
    hi = datetime.combine(end + timedelta(days=1), time.min)
    return [Event.type == "view", Event.movie_id.is_not(None), Event.event_time >= lo, Event.event_time < hi,
            or_(Event.is_bot == false(), Event.is_bot.is_(None)), *_audience(audience).conditions(Event)]


def _watches(session: Session, start: date, end: date, audience: Any = "global") -> list[Watch]:
    """Distinct (day, movie_id, runtime_min) per device: one tuple per watch."""
    day = func.date(Event.event_time)
    query = (
        select(day.label("day"), Event.device_id, Event.movie_id, Movie.runtime_min)
        .join(Movie, Movie.id == Event.movie_id, isouter=True)
        .where(*_counted_views(start, end, audience))
        .distinct()
    )
    out = []
    for row in session.execute(query):
        value = row.day
        out.append((value if isinstance(value, date) else date.fromisoformat(str(value)[:10]),
                    row.movie_id, row.runtime_min))
    return out


def _zero_day() -> dict[str, int]:
    return {"watches": 0, "minutes": 0, "unknown_runtime": 0}


def watch_minutes_daily(session: Session, start: date, end: date, audience: Any = "global") -> dict[str, Any]:
    """``{"state", "from", "to", "audience", "rows": [{day, watches, minutes, unknown_runtime}],
    "total_minutes", "total_watches"}`` with a row for every day (zeros where nothing was watched)."""
    per_day: dict[date, dict[str, int]] = defaultdict(_zero_day)
    for day, _movie, runtime in _watches(session, start, end, audience):
        bucket = per_day[day]
        bucket["watches"] += 1
        if runtime:
            bucket["minutes"] += int(runtime)
        else:
            bucket["unknown_runtime"] += 1
    rows = []
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        rows.append({"day": day.isoformat(), **per_day.get(day, _zero_day())})
    total_minutes = sum(r["minutes"] for r in rows)
    total_watches = sum(r["watches"] for r in rows)
    slug = getattr(audience, "slug", None) or audience or "global"
    return {"state": "ok" if total_watches else "no_data", "from": start.isoformat(), "to": end.isoformat(),
            "audience": slug, "rows": rows, "total_minutes": total_minutes, "total_watches": total_watches}


def top_movies(session: Session, start: date, end: date, audience: Any = "global",
               limit: int = 5) -> list[dict[str, Any]]:
    """The ``limit`` movies with the most watch minutes: ``[{movie_id, title, watches, minutes}]``."""
    per_movie: dict[int, dict[str, int]] = defaultdict(lambda: {"watches": 0, "minutes": 0})
    for _day, movie_id, runtime in _watches(session, start, end, audience):
        per_movie[movie_id]["watches"] += 1
        per_movie[movie_id]["minutes"] += int(runtime or 0)
    best = sorted(per_movie.items(), key=lambda kv: (-kv[1]["minutes"], -kv[1]["watches"], kv[0]))[:limit]
    ids = [movie_id for movie_id, _ in best]
    titles = dict(session.execute(select(Movie.id, Movie.title).where(Movie.id.in_(ids))).all())
    return [{"movie_id": m, "title": titles.get(m) or f"#{m}", **v} for m, v in best]


def distinct_viewers(session: Session, start: date, end: date, audience: Any = "global") -> int:
    """Devices with at least one counted view in the range (for minutes per viewer)."""
    query = select(func.count(distinct(Event.device_id))).where(*_counted_views(start, end, audience))
    return int(session.scalar(query) or 0)
