"""``load_catalogue_directly``: movies and per-locale fields with provenance ``seed``; idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from moviepulse.demo.fixtures import sample_entries
from moviepulse.demo.loader import load_catalogue_directly, movie_values, parse_votes
from moviepulse.extensions import db
from moviepulse.models.movie import Movie, MovieField, weighted_rating


def test_movie_values_from_omdb_and_tmdb():
    entry = {"tmdb_id": 27205, "imdb_id": "tt1375666", "title": "Inception", "original_title": "Inception",
             "release_date": "2010-07-15", "runtime": 148, "genres": ["Action", "Science-Fiction", "action"],
             "vote_average": 8.4, "vote_count": 35000, "omdb": {"imdbRating": "8.8", "imdbVotes": "2,345,678"}}
    v = movie_values(entry)
    assert (v["imdb_rating"], v["imdb_votes"], v["year"], v["runtime_min"]) == (8.8, 2345678, 2010, 148)
    assert v["genres"] == ["action", "science fiction"] and v["type"] == "movie"
    v = movie_values({**entry, "omdb": {"imdbRating": "N/A", "imdbVotes": "N/A"}, "genres": ["Animation"]})
    assert (v["imdb_rating"], v["imdb_votes"], v["type"]) == (8.4, 35000, "animation")
    assert parse_votes("1,234") == 1234 and parse_votes("N/A") is None


def test_load_creates_movies_and_fields_and_is_idempotent(app_ctx):
    entries = sample_entries(20)
    first = load_catalogue_directly(db.session, entries)
    assert (first.created, first.updated) == (20, 0)
    second = load_catalogue_directly(db.session, entries)
    assert (second.created, second.updated) == (0, 20)
    assert db.session.scalar(select(func.count()).select_from(Movie)) == 20
    m2 = db.session.scalar(select(Movie).where(Movie.tmdb_id == 1002))
    assert m2.weighted_score == weighted_rating(m2.imdb_votes, m2.imdb_rating) > 0
    assert m2.is_synthetic and m2.metadata_source == "seed"
    fields = {(f.locale, f.field): f for f in db.session.execute(
        select(MovieField).where(MovieField.movie_id == m2.id)).scalars()}
    assert fields[("de", "title")].value == "Film 2 (DE)" and fields[("de", "title")].source == "seed"
    assert fields[("en", "title")].value == "Film 2"
    assert ("de", "tagline") not in fields  # empty translations are gaps, not empty strings
    assert fields[("", "runtime_min")].value == str(m2.runtime_min)
    assert {f.source for f in fields.values()} == {"seed"}
    total = db.session.scalar(select(func.count()).select_from(MovieField))
    load_catalogue_directly(db.session, entries)
    assert db.session.scalar(select(func.count()).select_from(MovieField)) == total


def test_demo_load_command_with_file(app, tmp_path):
    import json

    path = tmp_path / "cat.json"
    path.write_text(json.dumps(sample_entries(5)))
    result = app.test_cli_runner().invoke(args=["demo", "load", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "5 created" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 5
