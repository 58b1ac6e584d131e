"""Built-in plugin ``ingestion``: the pipeline's settings, Huey tasks, admin API and commands.

Sources come from other plugins (``tmdb``, ``omdb``, or third-party ones) through ``pulse.sources``.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec
from moviepulse.ingestion.provenance import DEFAULT_CHAINS


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("INGESTION_FALLBACK_CHAIN", DEFAULT_CHAINS, "Per locale, the locales tried when TMDB has no "
                "translation ('*' = any other locale; 'original' = the film's original language)."),
        Setting("INGESTION_CONCURRENCY", 4, "Movies fetched in parallel by one import."),
        Setting("INGESTION_PENDING_TTL_SECONDS", 7 * 3600, "After this, a pending import is considered lost."),
        Setting("UPSTREAM_STATE_BACKEND", "auto", "Breaker/limiter/budget state: auto (Redis when Huey uses "
                "Redis, else the database) | sql | redis | memory."),
        Setting("UPSTREAM_BACKOFF_BASE", 0.25, "First retry waits base/2..base seconds, doubling per retry."),
        Setting("UPSTREAM_BACKOFF_MAX", 4.0, "Cap of one backoff wait, seconds."),
        Setting("UPSTREAM_RETRY_AFTER_MAX", 10.0, "Longest Retry-After honoured inside a request, seconds."),
        Setting("UPSTREAM_RETRY_BUDGET_PER_MIN", 60, "Retries per upstream per minute, all processes together."),
        Setting("UPSTREAM_MAX_LIMITER_WAIT", 30.0, "Longest wait for a rate-limiter slot before giving up."),
        Setting("BREAKER_WINDOW_SECONDS", 30.0, "Sliding window of the circuit breaker, seconds."),
        Setting("BREAKER_MIN_CALLS", 5, "Calls in the window before the breaker may open."),
        Setting("BREAKER_FAILURE_RATIO", 0.5, "Failure ratio in the window that opens the breaker."),
        Setting("BREAKER_CONSECUTIVE_FAILURES", 5, "Failures in a row that open the breaker whatever the "
                "window's ratio (0 = off)."),
        Setting("BREAKER_OPEN_SECONDS", 30.0, "How long the breaker stays open before probing."),
        Setting("BREAKER_HALF_OPEN_PROBES", 1, "Probe calls allowed (and needed to close) when half-open."),
        Setting("BREAKER_CLOSED_CACHE_SECONDS", 0.0, "How long a process trusts a 'closed' reading of the "
                "shared breaker before reading it again (outcomes refresh it); 0 = read on every call."),
        Setting("INGESTION_STORE_BATCH", 10, "Movies stored per write transaction."),
        Setting("BACKFILL_INTERVAL_SECONDS", 3600, "How often the backfill scheduler runs."),
        Setting("BACKFILL_BATCH", 50, "Most imports one backfill pass enqueues."),
        Setting("BACKFILL_STALE_DAYS", 180, "Metadata older than this is refreshed."),
        Setting("BACKFILL_MIN_AGE_HOURS", 12, "Metadata younger than this is never refreshed."),
        Setting("BACKFILL_RECENT_RELEASE_DAYS", 30, "Films released within this many days are refreshed."),
        Setting("BACKFILL_MISSING_COOLDOWN_HOURS", 24, "Wait between retries of missing localisation."),
        Setting("BACKFILL_FIELDS", ["title", "overview"], "Localised fields whose absence triggers a backfill."),
        Setting("BACKFILL_OMDB_RESERVE", 50, "OMDb requests per day the backfill leaves for on-demand imports."),
    ]


@hookimpl
def register_tasks() -> list[TaskSpec]:
    from moviepulse.ingestion import queueing as q

    return [
        TaskSpec(q.IMPORT_TASK, q.run_import_task, retries=q.IMPORT_RETRIES, retry_delay=q.IMPORT_RETRY_DELAY,
                 retry_backoff=2.0, expires=q.IMPORT_EXPIRES, help="Import one movie (TMDB + OMDb)."),
        TaskSpec(q.LIST_TASK, q.run_list_task, retries=2, retry_delay=60, retry_backoff=2.0, expires=3600,
                 help="Import a TMDB list (popular/discover); failures become movie tasks."),
        TaskSpec(q.BACKFILL_TASK, q.run_backfill_task, schedule="BACKFILL_INTERVAL_SECONDS", expires=1800,
                 help="Enqueue re-imports for missing localisation or stale metadata."),
    ]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.ingestion.api import bp

    return [bp]


@hookimpl
def register_commands() -> list[Any]:
    from moviepulse.ingestion.cli import backfill_command, import_command, upstreams_command

    return [import_command, backfill_command, upstreams_command]


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: ingestion health (``moviepulse.dash_app.widgets.ingestion``)."""
    from moviepulse.dash_app.widgets.ingestion import IngestionHealthWidget

    return [IngestionHealthWidget]
