"""Helpers for tests, the demo and the bench: app settings that point at a running fake pair."""

from __future__ import annotations

from typing import Any


def app_overrides(handle: Any, **extra: Any) -> dict[str, Any]:
    """``create_app`` overrides aiming TMDB/OMDb at ``handle`` with fast retries and loose client limits."""
    return {
        "TMDB_BASE_URL": handle.tmdb_url,
        "OMDB_BASE_URL": handle.omdb_url,
        "UPSTREAM_BACKOFF_BASE": 0.01,
        "UPSTREAM_BACKOFF_MAX": 0.05,
        "TMDB_RATE_LIMIT": 1000.0,
        "OMDB_RATE_LIMIT": 1000.0,
        **extra,
    }
