"""A small deterministic catalogue in the bundled catalogue's shape (tests, benchmarks, examples).

Entries carry German translations for even ids, nothing for ids divisible by 5 (deliberate gaps),
an ``omdb`` block for two ids in three, and are all marked ``synthetic``.
"""

from __future__ import annotations

from typing import Any

GENRE_SETS = (["Drama", "Science Fiction"], ["Comedy"], ["Action", "Adventure"], ["Animation", "Family"],
              ["Drama", "Romance"], ["Horror", "Thriller"], ["Science Fiction", "Action"], ["Documentary"])


def sample_entries(n: int = 40, *, base_year: int = 2000) -> list[dict[str, Any]]:
    entries = []
    for i in range(1, n + 1):
        translations: dict[str, Any] = {}
        if i % 2 == 0 and i % 5:
            translations["de"] = {"title": f"Film {i} (DE)", "overview": f"Überblick {i}", "tagline": ""}
        if i % 3 == 0 and i % 5:
            translations["fr"] = {"title": f"Film {i} (FR)", "overview": "", "tagline": None}
        entries.append({
            "tmdb_id": 1000 + i, "imdb_id": f"tt9{i:06d}", "title": f"Film {i}", "original_title": f"Film {i}",
            "original_language": "en", "release_date": f"{base_year + i % 27}-0{1 + i % 9}-15", "runtime": 80 + i % 60,
            "genres": GENRE_SETS[i % len(GENRE_SETS)], "vote_average": round(5 + (i % 40) / 10, 1),
            "vote_count": 500 + 137 * i, "popularity": float(i), "poster_path": f"/poster{i}.jpg",
            "overview": f"Overview of film {i}.", "tagline": f"Tagline {i}", "translations": translations,
            "omdb": ({"imdbRating": f"{6 + (i % 30) / 10:.1f}", "imdbVotes": f"{1000 * i * 7:,}", "Plot": "…"}
                     if i % 3 else None),
            "synthetic": True,
        })
    return entries
