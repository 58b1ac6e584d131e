"""Checks on the bundled demo catalogue: schema, id formats and the documented translation/OMDb gaps."""

import datetime
import json
import re

import pytest

from moviepulse.upstreams.catalogue import (
    CATALOGUE_PATH,
    catalogue_by_imdb_id,
    catalogue_by_tmdb_id,
    load_catalogue,
)

FILM_KEYS = {
    "tmdb_id": int, "imdb_id": str, "title": str, "original_title": str, "original_language": str,
    "release_date": str, "runtime": (int, type(None)), "genres": list, "vote_average": float,
    "vote_count": int, "popularity": float, "poster_path": str, "backdrop_path": (str, type(None)),
    "tagline": str, "overview": str, "translations": dict, "omdb": (dict, type(None)), "synthetic": bool,
}
OMDB_KEYS = {"Rated", "Director", "Writer", "Actors", "Plot", "Language", "Country", "Awards", "Metascore",
             "imdbRating", "imdbVotes", "BoxOffice", "Type"}
LOCALES = {"de", "fr", "es", "pt-BR", "pt-PT", "it"}
REQUIRED_LOCALES = ("de", "fr", "es", "pt-BR")
TMDB_GENRES = {"Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
               "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "TV Movie",
               "Thriller", "War", "Western"}
SYNTHETIC_MIN_TMDB_ID = 9_000_000


@pytest.fixture(scope="module")
def films():
    return load_catalogue()


def classify(film):
    """Gap group of a film, computed independently of the generator."""
    if film["omdb"] is None:
        return "omdb_missing"
    tr = film["translations"]
    if not tr:
        return "none"
    if all(loc in tr and tr[loc]["title"] and tr[loc]["overview"] for loc in REQUIRED_LOCALES):
        return "complete"
    return "partial"


def na_count(omdb):
    return sum(1 for value in omdb.values() if value == "N/A")


def test_size_and_file(films):
    assert len(films) >= 220
    assert CATALOGUE_PATH.stat().st_size < 600 * 1024
    # The file on disk is what the loader returns.
    assert json.loads(CATALOGUE_PATH.read_text(encoding="utf-8")) == films


def test_loader_is_cached_and_indexed(films):
    assert load_catalogue() is films
    by_tmdb, by_imdb = catalogue_by_tmdb_id(), catalogue_by_imdb_id()
    assert by_tmdb[278]["imdb_id"] == "tt0111161"
    assert by_imdb["tt0068646"]["title"] == "The Godfather"
    assert len(by_tmdb) == len(by_imdb) == len(films)


def test_ids_unique(films):
    tmdb_ids = [f["tmdb_id"] for f in films]
    imdb_ids = [f["imdb_id"] for f in films]
    assert len(set(tmdb_ids)) == len(tmdb_ids)
    assert len(set(imdb_ids)) == len(imdb_ids)


def test_schema(films):
    for film in films:
        assert set(film) == set(FILM_KEYS), film.get("tmdb_id")
        for key, typ in FILM_KEYS.items():
            assert isinstance(film[key], typ), (film["tmdb_id"], key)
        assert not isinstance(film["tmdb_id"], bool)
        assert film["title"] and film["original_title"]
        assert re.fullmatch(r"[a-z]{2}", film["original_language"])
        assert film["genres"] and set(film["genres"]) <= TMDB_GENRES, film["tmdb_id"]
        assert film["runtime"] is None or 30 <= film["runtime"] <= 300
        assert 0.0 <= film["vote_average"] <= 10.0
        assert film["vote_count"] >= 0 and film["popularity"] >= 0
        assert film["poster_path"] == f"/synthetic-{film['tmdb_id']}.jpg"
        assert film["backdrop_path"] is None or film["backdrop_path"].startswith("/")


def test_dates_parse(films):
    for film in films:
        date = datetime.date.fromisoformat(film["release_date"])
        assert 1900 <= date.year <= 2030


def test_imdb_id_format_and_synthetic_ranges(films):
    for film in films:
        assert re.fullmatch(r"tt\d{7,8}", film["imdb_id"]), film["imdb_id"]
        if film["synthetic"]:
            assert film["tmdb_id"] >= SYNTHETIC_MIN_TMDB_ID
            assert re.fullmatch(r"tt99\d{6}", film["imdb_id"])
        else:
            assert 0 < film["tmdb_id"] < SYNTHETIC_MIN_TMDB_ID
            assert not re.fullmatch(r"tt99\d{6}", film["imdb_id"])


def test_known_real_films(films):
    by_tmdb = catalogue_by_tmdb_id()
    assert by_tmdb[238]["translations"]["de"]["title"] == "Der Pate"
    assert by_tmdb[129]["original_title"] == "千と千尋の神隠し"
    assert by_tmdb[496243]["imdb_id"] == "tt6751668"
    assert by_tmdb[598]["original_title"] == "Cidade de Deus"
    assert by_tmdb[387]["original_language"] == "de"


def test_translations_shape(films):
    for film in films:
        assert set(film["translations"]) <= LOCALES, film["tmdb_id"]
        for loc, data in film["translations"].items():
            assert set(data) == {"title", "overview", "tagline"}, (film["tmdb_id"], loc)
            assert all(isinstance(v, str) for v in data.values())


def test_omdb_shape_and_string_formats(films):
    for film in films:
        omdb = film["omdb"]
        if omdb is None:
            continue
        assert set(omdb) == OMDB_KEYS, film["tmdb_id"]
        assert all(isinstance(v, str) and v for v in omdb.values()), film["tmdb_id"]
        assert omdb["Type"] == "movie"
        assert re.fullmatch(r"\d\.\d|10\.0|N/A", omdb["imdbRating"])
        assert re.fullmatch(r"\d{1,3}(,\d{3})*|N/A", omdb["imdbVotes"])
        assert re.fullmatch(r"\d{1,3}|N/A", omdb["Metascore"])
        assert re.fullmatch(r"\$\d{1,3}(,\d{3})*|N/A", omdb["BoxOffice"])
        assert omdb["Plot"] != "N/A"


def test_gap_distribution(films):
    n = len(films)
    groups = [classify(f) for f in films]
    share = {g: groups.count(g) / n for g in ("complete", "partial", "none", "omdb_missing")}
    assert 0.50 <= share["complete"] <= 0.60, share
    assert 0.20 <= share["partial"] <= 0.30, share
    assert 0.12 <= share["none"] <= 0.18, share
    assert 0.03 <= share["omdb_missing"] <= 0.07, share
    # Exact counts documented in the module docstring.
    assert (groups.count("complete"), groups.count("partial"), groups.count("none"),
            groups.count("omdb_missing")) == (146, 65, 39, 12)


def test_partial_translations_cover_every_gap_kind(films):
    partial = [f["translations"] for f in films if classify(f) == "partial"]
    assert any(loc not in tr for tr in partial for loc in REQUIRED_LOCALES)  # locale missing entirely
    assert any(d["overview"] == "" for tr in partial for d in tr.values())  # untranslated overview
    assert any(d["title"] == "" for tr in partial for d in tr.values())  # title falls back to original
    assert any("pt-PT" in tr and "pt-BR" not in tr for tr in partial)  # regional variant only


def test_omdb_na_heavy_films(films):
    heavy = [f for f in films if f["omdb"] is not None and na_count(f["omdb"]) >= 3]
    assert len(heavy) >= 10


def test_empty_english_overviews_have_omdb_plot(films):
    empty = [f for f in films if f["overview"] == ""]
    assert len(empty) >= 10
    for film in empty:
        assert film["omdb"] is not None
        assert film["omdb"]["Plot"] not in ("", "N/A")


def test_omdb_missing_films_are_synthetic_and_have_overviews(films):
    for film in films:
        if film["omdb"] is None:
            assert film["synthetic"]
            assert film["overview"]
