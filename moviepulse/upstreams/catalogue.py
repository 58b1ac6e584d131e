"""Bundled demo catalogue served by the fake TMDB/OMDb servers and the demo.

``data/catalogue.json`` is a JSON list of 262 films. Each entry has exactly these keys::

    tmdb_id, imdb_id, title, original_title, original_language, release_date, runtime, genres,
    vote_average, vote_count, popularity, poster_path, backdrop_path, tagline, overview,
    translations, omdb, synthetic

* ``translations`` maps a locale (``de``, ``fr``, ``es``, ``pt-BR``, ``pt-PT``, ``it``) to
  ``{"title", "overview", "tagline"}``, TMDB-style: an untranslated field is ``""``; an empty title
  means TMDB would fall back to the original title. Translated taglines are ``""``.
* ``omdb`` holds the OMDb title-lookup fields ``Rated, Director, Writer, Actors, Plot, Language,
  Country, Awards, Metascore, imdbRating, imdbVotes, BoxOffice, Type`` as OMDb strings (``"N/A"``
  when missing), or ``None`` when OMDb does not know the film.

Real films (250) carry their real TMDB and IMDb ids, titles, years, runtimes and genres; the ids were
checked against a public TMDB/IMDb crosswalk. Ratings, vote counts, popularity, box office and award
counts are approximate demo values, not authoritative. English overviews were written for this
catalogue; localised overviews are short generated synopses in the target language. Twelve invented
films are marked ``"synthetic": true`` and use ``tmdb_id >= 9000000`` and ``imdb_id`` ``tt99xxxxxx``.

Deliberate gaps (exact counts; ``tests/unit/test_catalogue.py`` asserts the ranges in brackets):

============================  =====  ========  ===============================================
group                         films  share     definition
============================  =====  ========  ===============================================
complete translations           146  55.7 %    de, fr, es, pt-BR all with title and overview
                                               (pt-PT and it on about half of them) [50-60 %]
partial translations             65  24.8 %    one of four patterns, rotating: (a) es and pt-BR
                                               missing; (b) es and pt-BR overview ``""``;
                                               (c) de title ``""``, es overview ``""``, pt-BR
                                               missing; (d) only de plus pt-PT [20-30 %]
no translations                  39  14.9 %    ``translations == {}`` (English only) [12-18 %]
OMDb unknown                     12   4.6 %    ``omdb is None``; the 12 synthetic films, which
                                               have complete translations [3-7 %]
============================  =====  ========  ===============================================

Also: 14 old or non-English films have an ``omdb`` record with at least three ``"N/A"`` values
(Rated, Metascore, BoxOffice, Awards) [>= 10]; 12 real films have an empty English ``overview``
and a non-``N/A`` OMDb ``Plot``, so ingestion must fill the overview from OMDb [>= 10].

The parsed catalogue is cached and shared: treat it as read-only (``copy.deepcopy`` before editing).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_PATH: Path = Path(__file__).resolve().parent / "data" / "catalogue.json"


@cache
def load_catalogue() -> list[dict[str, Any]]:
    """Return every film of the bundled catalogue (parsed once, then cached; do not mutate)."""
    with CATALOGUE_PATH.open(encoding="utf-8") as fh:
        films: list[dict[str, Any]] = json.load(fh)
    return films


@cache
def catalogue_by_tmdb_id() -> dict[int, dict[str, Any]]:
    """Return the catalogue indexed by ``tmdb_id`` (cached; do not mutate)."""
    return {film["tmdb_id"]: film for film in load_catalogue()}


@cache
def catalogue_by_imdb_id() -> dict[str, dict[str, Any]]:
    """Return the catalogue indexed by ``imdb_id`` (cached; do not mutate)."""
    return {film["imdb_id"]: film for film in load_catalogue()}
