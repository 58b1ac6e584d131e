"""Built-in plugin ``omdb``: the OMDb source (fallback: English plot/title, runtime, IMDb ratings).

Its daily request budget (``OMDB_DAILY_BUDGET``, 1,000 on the free tier) is enforced across
processes; production refuses the demo key while ``OMDB_ENABLED`` is true.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import Setting


def _enabled(config: Any) -> bool:
    return bool(config.get("OMDB_ENABLED", True))


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("OMDB_ENABLED", True, "Fill missing fields and IMDb ratings from OMDb."),
        Setting("OMDB_API_KEY", "demo-omdb-key", "OMDb API key.", secret=True, required_if=_enabled),
        Setting("OMDB_BASE_URL", "http://127.0.0.1:8702/", "OMDb base URL (real: https://www.omdbapi.com/)."),
        Setting("OMDB_MODE", "fallback", "fallback: ask OMDb only when TMDB leaves a gap it can fill (a missing "
                "plot/title, runtime, release date or rating); always: ask for every movie (IMDb ratings, credits)."),
        Setting("OMDB_DAILY_BUDGET", 1000, "Requests per UTC day for the key, shared by every process."),
        Setting("OMDB_RATE_LIMIT", 5.0, "Client-side limit, requests/s."),
        Setting("OMDB_RETRIES", 1, "Retries per request on 5xx/timeouts."),
        Setting("OMDB_CONNECT_TIMEOUT", 3.05, "Connect timeout, seconds."),
        Setting("OMDB_READ_TIMEOUT", 10.0, "Read timeout, seconds."),
        Setting("FAKE_OMDB_PORT", 8702, "Port of the fake OMDb started by `moviepulse upstreams`."),
    ]


@hookimpl
def register_sources() -> list[type]:
    from moviepulse.ingestion.omdb import OmdbSource

    return [OmdbSource]
