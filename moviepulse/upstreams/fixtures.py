"""A tiny catalogue in the bundled catalogue's format, for tests and as a fallback.

Six films that cover the cases the pipeline must handle: complete translations, partial ones
(title only / overview only, ``""`` values), pt-BR and pt-PT differing, no translations at all,
a non-English original title, no OMDb record, and OMDb ``N/A`` values.
"""

from __future__ import annotations

import copy
from typing import Any


def _omdb(rated: str, director: str, actors: str, plot: str, rating: str, votes: str, **extra: str) -> dict[str, str]:
    return {
        "Rated": rated, "Director": director, "Writer": extra.get("Writer", director), "Actors": actors,
        "Plot": plot, "Language": extra.get("Language", "English"), "Country": extra.get("Country", "United States"),
        "Awards": extra.get("Awards", "N/A"), "Metascore": extra.get("Metascore", "N/A"), "imdbRating": rating,
        "imdbVotes": votes, "BoxOffice": extra.get("BoxOffice", "N/A"), "Type": extra.get("Type", "movie"),
    }


FIXTURE_CATALOGUE: list[dict[str, Any]] = [
    {
        "tmdb_id": 603, "imdb_id": "tt0133093", "title": "The Matrix", "original_title": "The Matrix",
        "original_language": "en", "release_date": "1999-03-31", "runtime": 136,
        "genres": ["Action", "Science Fiction"], "vote_average": 8.2, "vote_count": 26000, "popularity": 90.5,
        "poster_path": "/matrix.jpg", "backdrop_path": "/matrix_bd.jpg", "tagline": "Welcome to the Real World.",
        "overview": "A hacker learns the truth about his reality.",
        "translations": {
            "de": {"title": "Matrix", "overview": "Ein Hacker erfährt die Wahrheit.", "tagline": "Willkommen in der Wirklichkeit."},
            "fr": {"title": "Matrix", "overview": "Un pirate découvre la vérité.", "tagline": "Bienvenue dans le monde réel."},
            "es": {"title": "Matrix", "overview": "Un hacker descubre la verdad.", "tagline": "Bienvenido al mundo real."},
            "pt-BR": {"title": "Matrix", "overview": "Um hacker descobre a verdade.", "tagline": "Bem-vindo ao mundo real."},
            "pt-PT": {"title": "Matrix", "overview": "Um pirata informático descobre a verdade.", "tagline": ""},
        },
        "omdb": _omdb("R", "Lana Wachowski, Lilly Wachowski", "Keanu Reeves, Laurence Fishburne",
                      "Neo discovers the Matrix.", "8.7", "2,100,000", Metascore="73", BoxOffice="$172,076,928",
                      Awards="Won 4 Oscars. 42 wins & 51 nominations total"),
        "synthetic": False,
    },
    {
        "tmdb_id": 194, "imdb_id": "tt0211915", "title": "Amélie", "original_title": "Le Fabuleux Destin d'Amélie Poulain",
        "original_language": "fr", "release_date": "2001-04-25", "runtime": 122,
        "genres": ["Comedy", "Romance"], "vote_average": 7.9, "vote_count": 11000, "popularity": 30.1,
        "poster_path": "/amelie.jpg", "backdrop_path": None, "tagline": "She'll change your life.",
        "overview": "A shy waitress decides to change the lives of those around her.",
        "translations": {
            "fr": {"title": "Le Fabuleux Destin d'Amélie Poulain", "overview": "Amélie, une serveuse timide.", "tagline": ""},
            "de": {"title": "Die fabelhafte Welt der Amélie", "overview": "", "tagline": ""},
            "pt-PT": {"title": "O Fabuloso Destino de Amélie", "overview": "Amélie é uma empregada tímida.", "tagline": ""},
        },
        "omdb": _omdb("R", "Jean-Pierre Jeunet", "Audrey Tautou, Mathieu Kassovitz",
                      "Amélie is an innocent and naive girl in Paris.", "8.3", "800,000",
                      Language="French, Russian", Country="France, Germany"),
        "synthetic": False,
    },
    {
        "tmdb_id": 9001, "imdb_id": "tt9000001", "title": "Quiet Harbour", "original_title": "Quiet Harbour",
        "original_language": "en", "release_date": "2019-06-01", "runtime": 0,
        "genres": ["Drama"], "vote_average": 6.1, "vote_count": 120, "popularity": 4.2,
        "poster_path": None, "backdrop_path": None, "tagline": "", "overview": "",
        "translations": {},
        "omdb": _omdb("N/A", "Ada Lind", "N/A", "A fishing town faces a long winter.", "6.4", "1,234",
                      Writer="N/A"),
        "synthetic": True,
    },
    {
        "tmdb_id": 9002, "imdb_id": "tt9000002", "title": "Paper Moons", "original_title": "Lunas de papel",
        "original_language": "es", "release_date": "2022-02-11", "runtime": 98,
        "genres": ["Animation", "Family"], "vote_average": 7.0, "vote_count": 800, "popularity": 12.0,
        "poster_path": "/paper.jpg", "backdrop_path": "/paper_bd.jpg", "tagline": "Fold the sky.",
        "overview": "Two kids build a moon out of paper.",
        "translations": {
            "es": {"title": "Lunas de papel", "overview": "Dos niños construyen una luna de papel.", "tagline": ""},
            "de": {"title": "", "overview": "Zwei Kinder bauen einen Mond aus Papier.", "tagline": ""},
        },
        "omdb": None,
        "synthetic": True,
    },
    {
        "tmdb_id": 9003, "imdb_id": "tt9000003", "title": "The Long Road", "original_title": "The Long Road",
        "original_language": "en", "release_date": "2015-09-20", "runtime": 141,
        "genres": ["Western"], "vote_average": 5.5, "vote_count": 40, "popularity": 2.5,
        "poster_path": "/road.jpg", "backdrop_path": None, "tagline": "", "overview": "A drifter crosses the plains.",
        "translations": {"fr": {"title": "La Longue Route", "overview": "", "tagline": ""}},
        "omdb": _omdb("PG-13", "Sam Ortiz", "Joe Banks", "N/A", "N/A", "N/A"),
        "synthetic": True,
    },
    {
        "tmdb_id": 9004, "imdb_id": "tt9000004", "title": "Northern Lights", "original_title": "Nordlicht",
        "original_language": "de", "release_date": "2024-01-05", "runtime": 105,
        "genres": ["Documentary"], "vote_average": 7.4, "vote_count": 2500, "popularity": 55.0,
        "poster_path": "/nord.jpg", "backdrop_path": "/nord_bd.jpg", "tagline": "Look up.",
        "overview": "A year of auroras over Lapland.",
        "translations": {
            "de": {"title": "Nordlicht", "overview": "Ein Jahr Polarlichter über Lappland.", "tagline": "Schau nach oben."},
            "pt-BR": {"title": "Luzes do Norte", "overview": "", "tagline": ""},
            "it": {"title": "Luci del nord", "overview": "Un anno di aurore.", "tagline": ""},
        },
        "omdb": _omdb("N/A", "Eva Berg", "N/A", "A year of auroras.", "7.6", "3,100", Type="movie",
                      Language="German", Country="Germany"),
        "synthetic": True,
    },
]


def fixture_catalogue() -> list[dict[str, Any]]:
    """A fresh deep copy (servers and tests may mutate their copy)."""
    return copy.deepcopy(FIXTURE_CATALOGUE)


def default_catalogue() -> list[dict[str, Any]]:
    """The bundled 220-film catalogue when it is installed, else the fixture."""
    try:
        from moviepulse.upstreams.catalogue import load_catalogue
    except ImportError:
        return fixture_catalogue()
    return load_catalogue()
