"""Load the bundled catalogue straight into ``movies`` + ``movie_fields`` (provenance ``seed``).

``load_catalogue_directly(session, entries)`` is deliberately independent of the ingestion
pipeline: the demo may later import through the fake upstream servers instead.
Entries follow ``moviepulse/upstreams/data/catalogue.json`` (TMDB-shaped dicts with
``translations`` per locale and an optional ``omdb`` block).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moviepulse.core.db import write_transaction
from moviepulse.models.base import utcnow
from moviepulse.models.movie import Movie, MovieField
from moviepulse.site.dbutil import real_session

LOCALISED = ("title", "overview", "tagline")


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    fields: int


def normalise_genre(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, Mapping) else value
    if not isinstance(name, str):
        return None
    name = re.sub(r"[_./-]", " ", name.strip().lower())
    return re.sub(r"\s+", " ", name).strip() or None


def parse_rating(value: Any) -> float | None:
    try:
        rating = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return rating if 0 <= rating <= 10 else None


def parse_votes(value: Any) -> int | None:
    digits = str(value or "").replace(",", "").strip()
    return int(digits) if digits.isdigit() else None


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def movie_values(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of ``movies`` for one catalogue entry."""
    genres: list[str] = []
    for g in entry.get("genres") or []:
        name = normalise_genre(g)
        if name and name not in genres:
            genres.append(name)
    omdb = entry.get("omdb") or {}
    rating = parse_rating(omdb.get("imdbRating")) if omdb else None
    votes = parse_votes(omdb.get("imdbVotes")) if omdb else None
    if rating is None:
        rating = parse_rating(entry.get("vote_average"))
    if votes is None:
        votes = parse_votes(entry.get("vote_count"))
    released = parse_date(entry.get("release_date"))
    kind = str(entry.get("type") or entry.get("media_type") or (omdb or {}).get("Type") or "").lower()
    mtype = "series" if kind in ("tv", "series") else "animation" if "animation" in genres else "movie"
    title = entry.get("title") or entry.get("original_title") or f"Untitled {entry.get('tmdb_id')}"
    return {
        "tmdb_id": entry.get("tmdb_id"), "imdb_id": entry.get("imdb_id") or None, "type": mtype,
        "original_title": entry.get("original_title") or title, "original_language": entry.get("original_language"),
        "title": title, "overview": entry.get("overview") or None, "year": released.year if released else None,
        "release_date": released, "runtime_min": entry.get("runtime") or None, "genres": genres or None,
        "imdb_rating": rating, "imdb_votes": votes, "popularity": entry.get("popularity"),
        "poster_path": entry.get("poster_path"), "backdrop_path": entry.get("backdrop_path"),
        "is_synthetic": bool(entry.get("synthetic")), "metadata_source": "seed",
    }


def field_values(entry: Mapping[str, Any], default_locale: str = "en") -> dict[tuple[str, str], tuple[Any, str]]:
    """``{(locale, field): (value, source_locale)}``: localised texts and language-independent facts."""
    out: dict[tuple[str, str], tuple[Any, str]] = {}
    translations = entry.get("translations") or {}
    for locale, texts in translations.items():
        if not isinstance(texts, Mapping):
            continue
        for name in LOCALISED:
            if texts.get(name):
                out[(locale, name)] = (str(texts[name]), locale)
    for name in LOCALISED:
        if (default_locale, name) not in out and entry.get(name):
            out[(default_locale, name)] = (str(entry[name]), default_locale)
    values = movie_values(entry)
    for name in ("runtime_min", "release_date", "imdb_rating", "imdb_votes"):
        if values[name] is not None:
            out[("", name)] = (str(values[name]), "")
    return out


def load_catalogue_directly(session: Session, entries: Iterable[Mapping[str, Any]]) -> LoadResult:
    """Insert or update every entry (matched by ``tmdb_id``, else ``imdb_id``); idempotent."""
    entries = [e for e in entries if e.get("tmdb_id") or e.get("imdb_id")]
    session = real_session(session)
    created = updated = nfields = 0
    now = utcnow()
    with write_transaction(session):
        by_tmdb = {m.tmdb_id: m for m in session.execute(select(Movie).where(
            Movie.tmdb_id.in_([e["tmdb_id"] for e in entries if e.get("tmdb_id")]))).scalars()}
        by_imdb = {m.imdb_id: m for m in session.execute(select(Movie).where(
            Movie.imdb_id.in_([e["imdb_id"] for e in entries if e.get("imdb_id")]))).scalars()}
        for entry in entries:
            values = movie_values(entry)
            movie = by_tmdb.get(entry.get("tmdb_id")) or by_imdb.get(entry.get("imdb_id"))
            if movie is None:
                movie = Movie(**values)
                session.add(movie)
                created += 1
            else:
                for key, value in values.items():
                    setattr(movie, key, value)
                updated += 1
            movie.metadata_fetched_at = now
            movie.refresh_weighted_score()
            if values["tmdb_id"]:
                by_tmdb[values["tmdb_id"]] = movie
            if values["imdb_id"]:
                by_imdb[values["imdb_id"]] = movie
        session.flush()
        movies = {m.tmdb_id or m.imdb_id: m for m in list(by_tmdb.values()) + list(by_imdb.values())}
        ids = [m.id for m in movies.values()]
        existing = {(f.movie_id, f.locale, f.field): f for f in session.execute(
            select(MovieField).where(MovieField.movie_id.in_(ids))).scalars()}
        for entry in entries:
            movie = movies[entry.get("tmdb_id") or entry.get("imdb_id")]
            for (locale, name), (value, source_locale) in field_values(entry).items():
                row = existing.get((movie.id, locale, name))
                if row is None:
                    session.add(MovieField(movie_id=movie.id, locale=locale, field=name, value=value, source="seed",
                                           source_locale=source_locale or None, fetched_at=now))
                elif row.source == "seed":
                    row.value, row.source_locale, row.fetched_at = value, source_locale or None, now
                nfields += 1
    _invalidate_site_cache()
    return LoadResult(created, updated, nfields)


def _invalidate_site_cache() -> None:
    from flask import has_app_context

    if has_app_context():
        from moviepulse.site.catalog import invalidate

        invalidate()
