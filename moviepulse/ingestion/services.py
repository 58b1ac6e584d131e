"""Per-app wiring: the shared state store, one resilient client per source, source instances.

Everything is cached in ``app.extensions["moviepulse.ingestion"]``. Clients read their settings
by prefix (``TMDB_BASE_URL``, ``TMDB_API_KEY``, ``TMDB_RATE_LIMIT`` …) plus the ``UPSTREAM_*`` and
``BREAKER_*`` settings of the ``ingestion`` plugin. Signals become ``upstream_event`` hook calls
and increments of ``prom(app).upstream``. Tests replace the clock and sleep with
:func:`configure_runtime`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from moviepulse.ingestion.breaker import BreakerConfig
from moviepulse.ingestion.http import ClientConfig, UpstreamClient
from moviepulse.ingestion.source import Source
from moviepulse.ingestion.state import StateStore, make_state_store


def as_pulse(app_or_pulse: Any) -> Any:
    """Accept a Flask app or a ``MoviePulse``."""
    if hasattr(app_or_pulse, "extensions") and "moviepulse" in getattr(app_or_pulse, "extensions", {}):
        return app_or_pulse.extensions["moviepulse"]
    return app_or_pulse


def _runtime(pulse: Any) -> dict[str, Any]:
    ext = pulse.app.extensions.setdefault("moviepulse.ingestion", {})
    ext.setdefault("clients", {})
    ext.setdefault("sources", {})
    ext.setdefault("clock", time.time)
    ext.setdefault("sleep", time.sleep)
    return ext


def configure_runtime(app_or_pulse: Any, *, clock: Callable[[], float] | None = None,
                      sleep: Callable[[float], None] | None = None, store: StateStore | None = None) -> None:
    """Swap the clock, the sleep function or the store (tests); drops cached clients and sources."""
    pulse = as_pulse(app_or_pulse)
    ext = _runtime(pulse)
    for client in ext["clients"].values():
        client.close()
    ext["clients"].clear()
    ext["sources"].clear()
    if clock is not None:
        ext["clock"] = clock
    if sleep is not None:
        ext["sleep"] = sleep
    if store is not None:
        ext["store"] = store


def state_store(app_or_pulse: Any) -> StateStore:
    pulse = as_pulse(app_or_pulse)
    ext = _runtime(pulse)
    if "store" not in ext:
        ext["store"] = make_state_store(pulse.app)
    return ext["store"]


def make_emitter(pulse: Any, upstream: str) -> Callable[[str, dict[str, Any]], None]:
    from moviepulse.core.observability import prom

    def emit(kind: str, detail: dict[str, Any]) -> None:
        try:
            prom(pulse.app).upstream.labels(upstream, kind).inc()
        except KeyError:  # app without core services (bare tests)
            pass
        pulse.emit("upstream_event", upstream=upstream, kind=kind, detail=detail)

    return emit


def client_config(pulse: Any, source_cls: type[Source]) -> ClientConfig:
    p = source_cls.prefix()
    s = pulse.setting
    defaults = dict(source_cls.client_defaults)
    key = s(f"{p}_API_KEY")
    bearer = defaults.pop("bearer", False)
    if s(f"{p}_AUTH", "auto") == "bearer" or (s(f"{p}_AUTH", "auto") == "auto" and key and len(str(key)) > 64):
        bearer = True
    budget = s(f"{p}_DAILY_BUDGET", defaults.pop("daily_budget", None))
    breaker = BreakerConfig(
        window_seconds=float(s("BREAKER_WINDOW_SECONDS", 30)),
        min_calls=int(s("BREAKER_MIN_CALLS", 5)),
        failure_ratio=float(s("BREAKER_FAILURE_RATIO", 0.5)),
        open_seconds=float(s("BREAKER_OPEN_SECONDS", 30)),
        half_open_probes=int(s("BREAKER_HALF_OPEN_PROBES", 1)),
        consecutive_failures=int(s("BREAKER_CONSECUTIVE_FAILURES", 5)),
        closed_cache_seconds=float(s("BREAKER_CLOSED_CACHE_SECONDS", 0.0)),
    )
    return ClientConfig(
        name=source_cls.slug,
        base_url=str(s(f"{p}_BASE_URL", "")),
        api_key=str(key) if key else None,
        bearer=bearer,
        connect_timeout=float(s(f"{p}_CONNECT_TIMEOUT", 3.05)),
        read_timeout=float(s(f"{p}_READ_TIMEOUT", 10.0)),
        retries=int(s(f"{p}_RETRIES", 2)),
        rate_per_s=float(s(f"{p}_RATE_LIMIT", 10.0)),
        backoff_base=float(s("UPSTREAM_BACKOFF_BASE", 0.25)),
        backoff_max=float(s("UPSTREAM_BACKOFF_MAX", 4.0)),
        retry_after_max=float(s("UPSTREAM_RETRY_AFTER_MAX", 10.0)),
        retry_budget_per_min=int(s("UPSTREAM_RETRY_BUDGET_PER_MIN", 60)),
        max_limiter_wait=float(s("UPSTREAM_MAX_LIMITER_WAIT", 30.0)),
        daily_budget=int(budget) if budget else None,
        pool_size=max(4, int(s("INGESTION_CONCURRENCY", 4)) * 2),
        breaker=breaker,
        **defaults,
    )


def get_client(app_or_pulse: Any, source: type[Source] | str) -> UpstreamClient:
    """The (cached) resilient client of a source class or slug."""
    pulse = as_pulse(app_or_pulse)
    source_cls = pulse.sources.get(source) if isinstance(source, str) else source
    ext = _runtime(pulse)
    client = ext["clients"].get(source_cls.slug)
    if client is None:
        client = UpstreamClient(client_config(pulse, source_cls), state_store(pulse),
                                emit=make_emitter(pulse, source_cls.slug), clock=ext["clock"], sleep=ext["sleep"])
        ext["clients"][source_cls.slug] = client
    return client


def get_source(app_or_pulse: Any, slug: str) -> Source:
    pulse = as_pulse(app_or_pulse)
    ext = _runtime(pulse)
    source = ext["sources"].get(slug)
    if source is None:
        source = pulse.sources.get(slug)(pulse)
        ext["sources"][slug] = source
    return source


def active_sources(app_or_pulse: Any, role: str | None = None) -> list[Source]:
    """Enabled sources (optionally of one role), by priority."""
    pulse = as_pulse(app_or_pulse)
    out = [get_source(pulse, cls.slug) for cls in pulse.sources]
    out = [s for s in out if s.enabled() and (role is None or s.role == role)]
    return sorted(out, key=lambda s: (s.priority, s.slug))
