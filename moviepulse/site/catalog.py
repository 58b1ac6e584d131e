"""Catalogue reads for the site, with an in-memory cache per app.

The cache holds every movie's card facts (a few hundred bytes each), the recommender's
candidate list (top ``REC_CANDIDATES`` by weighted score, then votes), a genre index for the
"similar titles" rail and the set of movie ids for the events API. It is rebuilt after
``SITE_CACHE_SECONDS`` or on :func:`invalidate` (the demo loader and ingestion call it), so page
requests never scan the catalogue. Trend leaderboards are cached ``SITE_TRENDS_CACHE_SECONDS``
(0 turns that cache off: every page computes the leaderboard it shows).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from moviepulse.models.base import utcnow
from moviepulse.models.movie import Movie, MovieField, movie_filters
from moviepulse.site.dbutil import raw_fetch
from moviepulse.site.recommender import Candidate

log = logging.getLogger("moviepulse.site.catalog")
GENRE_INDEX_DEPTH = 300
CACHE_KEY = "moviepulse.site.catalog"


@dataclass
class CatalogSnapshot:
    built_at: float
    movies: dict[int, Candidate]
    candidates: list[Candidate]
    by_votes: list[Candidate]
    genre_index: dict[str, list[int]]
    similar: dict[tuple[Any, ...], list[Candidate]] = field(default_factory=dict)


@dataclass
class CatalogCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: CatalogSnapshot | None = None
    trends: dict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)
    refreshing: set[Any] = field(default_factory=set)


def _refresh_in_background(app: Flask, cache: CatalogCache, key: Any, work: Any) -> None:
    """Recompute an expired entry in a thread (stale-while-revalidate): no request waits for it."""
    with cache.lock:
        if key in cache.refreshing:
            return
        cache.refreshing.add(key)

    def run() -> None:
        from moviepulse.extensions import db

        try:
            with app.app_context():
                work(db.session)
        except Exception:  # noqa: BLE001 - the stale value stays; the next expiry retries
            log.exception("background refresh of %s failed", key)
        finally:
            with cache.lock:
                cache.refreshing.discard(key)

    threading.Thread(target=run, name=f"moviepulse-site-refresh-{key!r}"[:60], daemon=True).start()


def _cache(app: Flask) -> CatalogCache:
    cache = app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = app.extensions.setdefault(CACHE_KEY, CatalogCache())
    return cache


def invalidate(app: Flask | None = None) -> None:
    """Drop the cached catalogue and leaderboards (call after changing movies)."""
    cache = _cache(app or current_app._get_current_object())  # type: ignore[attr-defined]
    with cache.lock:
        cache.snapshot = None
        cache.trends.clear()


def _build(session: Session, candidate_count: int) -> CatalogSnapshot:
    rows = session.execute(select(
        Movie.id, Movie.title, Movie.year, Movie.type, Movie.genres, Movie.poster_path, Movie.imdb_rating,
        Movie.imdb_votes, Movie.weighted_score)).all()
    movies = {r.id: Candidate(r.id, r.title, r.year, r.type or "movie", tuple(r.genres or ()), r.poster_path,
                              r.imdb_rating, r.imdb_votes, float(r.weighted_score or 0.0)) for r in rows}
    by_score = sorted(movies.values(), key=lambda c: (-c.weighted_score, -(c.imdb_votes or 0), c.id))
    by_votes = sorted(movies.values(), key=lambda c: (-(c.imdb_votes or 0), -(c.imdb_rating or 0), c.id))
    index: dict[str, list[int]] = {}
    for c in by_score:
        for genre in c.genres:
            bucket = index.setdefault(genre, [])
            if len(bucket) < GENRE_INDEX_DEPTH:
                bucket.append(c.id)
    return CatalogSnapshot(time.monotonic(), movies, by_score[:candidate_count], by_votes[:50], index)


def snapshot(session: Session) -> CatalogSnapshot:
    """The cached catalogue snapshot (built on first use and after expiry)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = _cache(app)
    ttl = float(app.config.get("SITE_CACHE_SECONDS", 300))
    count = int(app.config.get("REC_CANDIDATES", 200))
    snap = cache.snapshot
    if snap is not None:
        if time.monotonic() - snap.built_at >= ttl:
            def rebuild(s: Session) -> None:
                cache.snapshot = _build(s, count)

            _refresh_in_background(app, cache, "snapshot", rebuild)
        return snap
    with cache.lock:
        snap = cache.snapshot
        if snap is None:
            snap = cache.snapshot = _build(session, count)
    return snap


def existing_movie_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are movies: the cached set, then one query for the ids it misses."""
    wanted = set(ids)
    known = snapshot(session).movies
    found = {i for i in wanted if i in known}
    missing = [i for i in wanted - found if -(2**31) <= i < 2**31]
    if missing:
        found.update(session.execute(select(Movie.id).where(Movie.id.in_(missing))).scalars())
    return found


def similar(snap: CatalogSnapshot, movie_id: int, genres: Iterable[str], limit: int = 12) -> list[Candidate]:
    """Movies sharing the most genres with ``movie_id`` (ties: weighted score, then id); memoised per snapshot."""
    key = (movie_id, tuple(sorted(set(genres or ()))), limit)
    hit = snap.similar.get(key)
    if hit is not None:
        return hit
    shared: Counter[int] = Counter()
    for genre in key[1]:
        shared.update(snap.genre_index.get(genre, ()))
    shared.pop(movie_id, None)
    ranked = sorted(shared, key=lambda m: (-shared[m], -snap.movies[m].weighted_score, m))
    result = [snap.movies[m] for m in ranked[:limit] if m in snap.movies]
    if len(snap.similar) < 50_000:
        snap.similar[key] = result
    return result


def localised_titles(session: Session, ids: Iterable[int], locale: str) -> dict[int, str]:
    """``{movie_id: title}`` in ``locale`` for the ids that have one (one indexed query)."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    sql = (f"SELECT movie_id, value FROM movie_fields WHERE movie_id IN ({', '.join('?' * len(ids))}) "
           "AND locale = ? AND field = 'title' AND value IS NOT NULL")
    return {movie_id: value for movie_id, value in raw_fetch(session, sql, [*ids, locale]) if value}


def localised_fields(session: Session, movie_id: int, locale: str) -> dict[str, str]:
    """``{field: value}`` of one movie in ``locale`` (title, overview, tagline … when present)."""
    rows = raw_fetch(session, "SELECT field, value FROM movie_fields WHERE movie_id = ? AND locale = ? "
                              "AND value IS NOT NULL", (int(movie_id), locale))
    return {f: v for f, v in rows if v}


@dataclass(frozen=True)
class MovieDetail:
    """What a movie page shows, read in one query (plain values: no ORM state to expire on commit)."""

    id: int
    imdb_id: str | None
    type: str
    title: str
    overview: str | None
    year: int | None
    release_date: date | None
    runtime_min: int | None
    genres: list[str]
    imdb_rating: float | None
    imdb_votes: int | None
    weighted_score: float
    poster_path: str | None


DETAIL_SQL = ("SELECT id, imdb_id, type, title, overview, year, release_date, runtime_min, genres, imdb_rating, "
              "imdb_votes, weighted_score, poster_path FROM movies WHERE id = ?")


def movie_detail(session: Session, movie_id: int) -> MovieDetail | None:
    if not -(2**31) <= movie_id < 2**31:
        return None
    rows = raw_fetch(session, DETAIL_SQL, (int(movie_id),))
    if not rows:
        return None
    (mid, imdb_id, mtype, title, overview, year, released, runtime, genres, rating, votes, score, poster) = rows[0]
    if isinstance(genres, str):
        genres = json.loads(genres)
    if isinstance(released, str):
        released = date.fromisoformat(released[:10])
    return MovieDetail(mid, imdb_id, mtype or "movie", title, overview, year, released, runtime, list(genres or []),
                       rating, votes, float(score or 0.0), poster)


# -- trends ----------------------------------------------------------------------------------

def leaderboard(session: Session, *, days: int = 7, type: str | None = None, genre: str | None = None,
                year_from: int | None = None, year_to: int | None = None, limit: int = 40) -> list[dict[str, Any]]:
    """The trends leaderboard (``moviepulse.analytics.trends.leaderboard``), cached ``SITE_TRENDS_CACHE_SECONDS``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = _cache(app)
    key = (days, type, genre, year_from, year_to, limit, utcnow().date())
    ttl = float(app.config.get("SITE_TRENDS_CACHE_SECONDS", 60))
    kwargs = {"days": days, "type": type, "genre": genre, "year_from": year_from, "year_to": year_to,
              "limit": limit}

    def compute(s: Session) -> list[dict[str, Any]]:
        from moviepulse.analytics.trends import leaderboard as analytics_leaderboard

        items = analytics_leaderboard(s, **kwargs)
        with cache.lock:
            if len(cache.trends) > 256:
                cache.trends.clear()
            cache.trends[key] = (time.monotonic(), items)
        return items

    if ttl <= 0:  # caching off: every page reads current numbers (deterministic runs, parity tests)
        return compute(session)
    hit = cache.trends.get(key)
    if hit is not None:
        if time.monotonic() - hit[0] >= ttl:
            _refresh_in_background(app, cache, key, compute)
        return hit[1]
    return compute(session)


def search(session: Session, *, q: str | None, type: str | None, genre: str | None, year_from: int | None,
           year_to: int | None, locale: str, limit: int = 20) -> list[Movie]:
    """Title (canonical, original or localised) contains ``q``, or IMDb id equals it; by votes."""
    conds = movie_filters(type, genre, year_from, year_to)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
        localised = select(MovieField.movie_id).where(
            MovieField.field == "title", MovieField.locale == locale,
            func.lower(MovieField.value).like(like, escape="\\"))
        conds.append(or_(func.lower(Movie.title).like(like, escape="\\"),
                         func.lower(Movie.original_title).like(like, escape="\\"),
                         Movie.imdb_id == q, Movie.id.in_(localised)))
    stmt = (select(Movie).where(*conds)
            .order_by(func.coalesce(Movie.imdb_votes, 0).desc(), func.coalesce(Movie.imdb_rating, 0).desc(),
                      Movie.id).limit(limit))
    return list(session.execute(stmt).scalars())
