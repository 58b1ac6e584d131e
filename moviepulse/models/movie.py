"""Movies, their localised fields with provenance, and cast-free catalogue facts.

A movie's language-independent facts live on ``movies``. Every field that a source
supplied — localised (``title``, ``overview``, ``tagline`` per locale) or global
(``runtime``, ``imdb_rating`` … with ``locale = ''``) — has a ``movie_fields`` row that
remembers its value, the source that gave it, the locale actually used and when.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, cast
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moviepulse.models.base import Base, utcnow

#: Bayesian average constants (IMDb style): WR = v/(v+m)·R + m/(v+m)·C.
WR_MIN_VOTES = 1000
WR_MEAN = 6.8

#: Provenance values of ``MovieField.source``.
FIELD_SOURCES = ("tmdb_translation", "tmdb_fallback_locale", "tmdb_original", "omdb_fallback", "missing", "seed")


def weighted_rating(votes: int | None, rating: float | None) -> float:
    """IMDb-style weighted rating, 0 when there are no votes (stored, never computed in SQL)."""
    if not votes or votes <= 0 or rating is None:
        return 0.0
    v = float(votes)
    return round(v / (v + WR_MIN_VOTES) * float(rating) + WR_MIN_VOTES / (v + WR_MIN_VOTES) * WR_MEAN, 4)


class Movie(Base):
    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    imdb_id: Mapped[str | None] = mapped_column(String(16), unique=True)
    type: Mapped[str] = mapped_column(String(16), default="movie")  # movie | series | animation
    original_title: Mapped[str] = mapped_column(String(300))
    original_language: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))  # canonical (English) title
    overview: Mapped[str | None] = mapped_column(Text)  # canonical (English) overview
    year: Mapped[int | None] = mapped_column(Integer)
    release_date: Mapped[date | None] = mapped_column(Date)
    runtime_min: Mapped[int | None] = mapped_column(Integer)
    genres: Mapped[list[str] | None] = mapped_column(JSON)
    imdb_rating: Mapped[float | None] = mapped_column(Float)
    imdb_votes: Mapped[int | None] = mapped_column(Integer)
    weighted_score: Mapped[float] = mapped_column(Float, default=0.0)
    popularity: Mapped[float | None] = mapped_column(Float)
    poster_path: Mapped[str | None] = mapped_column(String(300))
    backdrop_path: Mapped[str | None] = mapped_column(String(300))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_source: Mapped[str | None] = mapped_column(String(32))
    metadata_fetched_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    fields: Mapped[list[MovieField]] = relationship(back_populates="movie", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_movies_weighted_score", "weighted_score"),
        Index("ix_movies_votes", "imdb_votes"),
        Index("ix_movies_type_year", "type", "year"),
    )

    def refresh_weighted_score(self) -> None:
        self.weighted_score = weighted_rating(self.imdb_votes, self.imdb_rating)


class MovieField(Base):
    """One field of one movie in one locale ('' for language-independent fields), with provenance."""

    __tablename__ = "movie_fields"

    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))  # one of FIELD_SOURCES (or a plugin source slug)
    source_locale: Mapped[str | None] = mapped_column(String(16))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    movie: Mapped[Movie] = relationship(back_populates="fields")

    __table_args__ = (Index("ix_movie_fields_source", "source", "locale"),)


def movie_filters(type: str | None, genre: str | None, year_from: int | None, year_to: int | None) -> list[Any]:
    """SQL conditions for the catalogue filters: type, genre (membership in the JSON list), year range."""
    conds: list[Any] = []
    if type:
        conds.append(Movie.type == type)
    if genre:
        escaped = genre.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', '\\"')
        conds.append(cast(Movie.genres, String).like(f'%"{escaped}"%', escape="\\"))
    if year_from:
        conds.append(Movie.year >= int(year_from))
    if year_to:
        conds.append(Movie.year <= int(year_to))
    return conds
