"""The OMDb source: English plot and title, runtime, IMDb rating and votes, as a fallback.

OMDb answers every scalar as a string, ``"N/A"`` for missing values, errors inside HTTP 200
(``Response: "False"``) and its daily quota as 401 ``Request limit reached!`` (the client turns
that into :class:`~moviepulse.ingestion.errors.BudgetExhausted`). The parsers below map those
formats to typed values; they are plain functions so that tests pin them down.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from moviepulse.ingestion.source import MovieRef, Source, SourceRecord, normalise_imdb_id

_RUNTIME = re.compile(r"^\s*(?:(\d+)\s*h(?:r|rs|ours?)?)?\s*(?:(\d+)\s*min)?\s*$", re.IGNORECASE)


def na(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "N/A") else text


def parse_runtime(value: Any) -> int | None:
    """``"136 min"``, ``"1 h 34 min"``, ``"1 h"`` → minutes; ``"N/A"``/nonsense → None."""
    text = na(value)
    if text is None:
        return None
    match = _RUNTIME.match(text)
    if not match or not (match.group(1) or match.group(2)):
        return None
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    return minutes if minutes > 0 else None


def parse_int(value: Any) -> int | None:
    """``"1,234"`` → 1234; ``"$12,345,678"`` → 12345678; ``"N/A"`` → None."""
    text = na(value)
    if text is None:
        return None
    digits = re.sub(r"[^\d]", "", text)
    return int(digits) if digits else None


def parse_float(value: Any) -> float | None:
    text = na(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_year(value: Any) -> int | None:
    """``"2014"``, ``"2008–2013"`` (en dash), ``"2016–"``, ``"2008-2013"`` → the first year."""
    text = na(value)
    if text is None:
        return None
    match = re.match(r"^\s*(\d{4})", text)
    return int(match.group(1)) if match else None


def parse_released(value: Any) -> str | None:
    """``"07 Nov 2014"`` → ``"2014-11-07"``."""
    text = na(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%d %b %Y").date().isoformat()
    except ValueError:
        return None


def split_list(value: Any) -> list[str] | None:
    text = na(value)
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


class OmdbSource(Source):
    slug = "omdb"
    label = "OMDb"
    role = "fallback"
    priority = 50
    fallback_fields = ("title", "overview")
    fallback_locale = "en"
    fallback_facts = ("runtime", "release_date", "vote_average")
    client_defaults = {"key_param": "apikey"}

    def lookup(self, ref: MovieRef, *, validators: dict[str, str | None] | None = None) -> SourceRecord | None:
        imdb = normalise_imdb_id(ref.imdb_id)
        if imdb is not None:
            params: dict[str, Any] = {"i": imdb, "plot": "short", "r": "json"}
        elif ref.title:
            params = {"t": ref.title, "y": ref.year, "plot": "short", "r": "json"}
        else:
            return None
        data = self.client.get("/", params).data or {}
        if str(data.get("Response", "False")) != "True":
            return None  # "Incorrect IMDb ID." / "Movie not found!" come with HTTP 200
        return self.record_from_payload(data)

    def record_from_payload(self, data: dict[str, Any]) -> SourceRecord:
        facts = {
            "runtime": parse_runtime(data.get("Runtime")),
            "release_date": parse_released(data.get("Released")),
            "year": parse_year(data.get("Year")),
            "genres": split_list(data.get("Genre")),
            "imdb_rating": parse_float(data.get("imdbRating")),
            "imdb_votes": parse_int(data.get("imdbVotes")),
            "metascore": parse_int(data.get("Metascore")),
            "rated": na(data.get("Rated")),
            "director": na(data.get("Director")),
            "writer": na(data.get("Writer")),
            "actors": na(data.get("Actors")),
            "language": na(data.get("Language")),
            "country": na(data.get("Country")),
            "awards": na(data.get("Awards")),
            "box_office": parse_int(data.get("BoxOffice")),
            "omdb_type": na(data.get("Type")),
        }
        localized = {"en": {"title": na(data.get("Title")) or "", "overview": na(data.get("Plot")) or "", "tagline": ""}}
        return SourceRecord(source=self.slug, imdb_id=normalise_imdb_id(data.get("imdbID")), facts=facts,
                            localized=localized, requests=1)
