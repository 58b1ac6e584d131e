"""Built-in plugin ``tmdb``: the TMDB source (primary: identity, facts, translations) and its settings.

The defaults point at the fake TMDB (``moviepulse upstreams``) with its demo key; production
refuses to start with the demo key while ``TMDB_ENABLED`` is true.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import Setting


def _enabled(config: Any) -> bool:
    return bool(config.get("TMDB_ENABLED", True))


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("TMDB_ENABLED", True, "Import from TMDB (the primary metadata source)."),
        Setting("TMDB_API_KEY", "demo-tmdb-key", "TMDB v3 API key or read-access token (a token > 64 chars is "
                "sent as a Bearer header).", secret=True, required_if=_enabled),
        Setting("TMDB_BASE_URL", "http://127.0.0.1:8701/3", "TMDB API base URL (real: https://api.themoviedb.org/3)."),
        Setting("TMDB_AUTH", "auto", "How the key is sent: auto | query | bearer."),
        Setting("TMDB_RATE_LIMIT", 35.0, "Client-side limit, requests/s across all processes (TMDB allows ~40)."),
        Setting("TMDB_RETRIES", 2, "Retries per request on 429/5xx/timeouts."),
        Setting("TMDB_CONNECT_TIMEOUT", 3.05, "Connect timeout, seconds."),
        Setting("TMDB_READ_TIMEOUT", 10.0, "Read timeout, seconds."),
        Setting("FAKE_TMDB_PORT", 8701, "Port of the fake TMDB started by `moviepulse upstreams`."),
    ]


@hookimpl
def register_sources() -> list[type]:
    from moviepulse.ingestion.tmdb import TmdbSource

    return [TmdbSource]
