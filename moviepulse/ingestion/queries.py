"""Read-side queries for the dashboard and the admin API: funnel, health, runs, a movie's fields.

* :func:`ingestion_funnel` — per locale (field values) and per source (calls), summed over the runs
  started in ``[start, end]``: ``requested → fetched → localised_tmdb / filled_omdb / missing → stored``.
* :func:`ingestion_health` — breaker state, today's retries / 429s / requests, budgets (used, left,
  resets at), pending imports, the last runs and the last backfill pass.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

PROVENANCE_KEYS = ("tmdb_translation", "tmdb_fallback_locale", "tmdb_original", "omdb_fallback", "missing")


def _runs_between(session: Any, start: date, end: date) -> list[Any]:
    from moviepulse.models.ingestion import IngestionRun

    lo = datetime.combine(start, time.min)
    hi = datetime.combine(end + timedelta(days=1), time.min)
    return list(session.scalars(select(IngestionRun).where(IngestionRun.started_at >= lo,
                                                           IngestionRun.started_at < hi)
                                .order_by(IngestionRun.id)))


def ingestion_funnel(session: Any, start: date, end: date) -> dict[str, Any]:
    """The ingestion funnel over the runs started between ``start`` and ``end`` (inclusive days).

    Returns ``{"from", "to", "runs", "movies": {requested, fetched, unchanged, not_found, failed,
    stored}, "locales": {locale: {requested, fetched, unchanged, failed, tmdb_translation,
    tmdb_fallback_locale, tmdb_original, localised_tmdb, omdb_fallback, filled_omdb, missing,
    stored, <other provenance labels>}}, "sources": {slug: {requests, ok, not_found, <error
    reasons>…}}, "steps": [...]}``. Locale units are field values (movie × localised field).
    """
    runs = _runs_between(session, start, end)
    movies: defaultdict[str, int] = defaultdict(int)
    locales: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    statuses: defaultdict[str, int] = defaultdict(int)
    for run in runs:
        statuses[run.status] += 1
        counts = run.counts or {}
        for key, n in (counts.get("movies") or {}).items():
            movies[key] += int(n)
        for locale, values in (counts.get("locales") or {}).items():
            for key, n in values.items():
                locales[locale][key] += int(n)
        for slug, values in (counts.get("sources") or {}).items():
            for key, n in values.items():
                sources[slug][key] += int(n)
    out_locales: dict[str, dict[str, int]] = {}
    for locale, values in locales.items():
        row = {k: int(values.get(k, 0)) for k in ("requested", "fetched", "unchanged", "failed", "stored", *PROVENANCE_KEYS)}
        row.update({k: int(v) for k, v in values.items()})
        row["localised_tmdb"] = row["tmdb_translation"] + row["tmdb_fallback_locale"] + row["tmdb_original"]
        row["filled_omdb"] = row["omdb_fallback"]
        out_locales[locale] = row
    return {
        "from": start.isoformat(), "to": end.isoformat(), "runs": len(runs), "run_statuses": dict(statuses),
        "movies": {k: int(movies.get(k, 0)) for k in ("requested", "fetched", "unchanged", "not_found", "failed", "stored")},
        "locales": out_locales,
        "sources": {slug: dict(v) for slug, v in sources.items()},
        "steps": ["requested", "fetched", "localised_tmdb", "filled_omdb", "missing", "stored"],
    }


def recent_runs(session: Any, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
    from moviepulse.models.ingestion import IngestionRun

    stmt = select(IngestionRun).order_by(IngestionRun.id.desc()).limit(max(1, min(int(limit), 500)))
    if kind:
        stmt = stmt.where(IngestionRun.kind == kind)
    return [run.as_dict() for run in session.scalars(stmt)]


def ingestion_health(session: Any, pulse: Any = None) -> dict[str, Any]:
    """Breaker states, today's retry / 429 / request counts, budgets and the latest runs.

    ``{"upstreams": {slug: {"breaker": {...state...}, "today": {requests, attempts, retries,
    rate_limited, errors, …}, "budget": {limit, used, left, resets_at, exhausted}?, "role",
    "enabled"}}, "pending_imports": n, "last_runs": [...], "last_backfill": {...} | None}``.
    """
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.backfill import notifications
    from moviepulse.ingestion.services import as_pulse, get_source
    from moviepulse.models.ingestion import PendingImport

    pulse = as_pulse(pulse) if pulse is not None else current_pulse()
    upstreams: dict[str, Any] = {}
    for cls in pulse.sources:
        source = get_source(pulse, cls.slug)
        try:
            upstreams[cls.slug] = source.health()
        except Exception as exc:  # noqa: BLE001 - health must render even with a broken source
            upstreams[cls.slug] = {"source": cls.slug, "error": type(exc).__name__}
    last = notifications(session, limit=1)
    return {
        "upstreams": upstreams,
        "pending_imports": int(session.scalar(select(func.count()).select_from(PendingImport)) or 0),
        "last_runs": recent_runs(session, 5),
        "last_backfill": last[0] if last else None,
    }


def movie_fields(session: Any, movie_id: int) -> dict[str, Any] | None:
    """A movie with each field per locale: value, source, source_locale, fetched_at (admin API)."""
    from moviepulse.models.movie import Movie, MovieField

    movie = session.get(Movie, movie_id)
    if movie is None:
        return None
    localized: dict[str, dict[str, Any]] = {}
    facts: dict[str, Any] = {}
    for row in session.scalars(select(MovieField).where(MovieField.movie_id == movie_id)
                               .order_by(MovieField.locale, MovieField.field)):
        entry = {"value": row.value, "source": row.source, "source_locale": row.source_locale,
                 "fetched_at": row.fetched_at.isoformat() if row.fetched_at else None}
        if row.locale == "":
            facts[row.field] = entry
        else:
            localized.setdefault(row.locale, {})[row.field] = entry
    return {
        "id": movie.id, "tmdb_id": movie.tmdb_id, "imdb_id": movie.imdb_id, "type": movie.type,
        "title": movie.title, "original_title": movie.original_title, "original_language": movie.original_language,
        "year": movie.year, "runtime_min": movie.runtime_min, "genres": movie.genres or [],
        "imdb_rating": movie.imdb_rating, "imdb_votes": movie.imdb_votes, "weighted_score": movie.weighted_score,
        "popularity": movie.popularity, "is_synthetic": movie.is_synthetic, "metadata_source": movie.metadata_source,
        "metadata_fetched_at": movie.metadata_fetched_at.isoformat() if movie.metadata_fetched_at else None,
        "localized": localized, "facts": facts,
    }
