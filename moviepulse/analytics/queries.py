"""The query functions the dashboard and the admin API call — one import for every widget.

Every function takes ``(session, start: date, end: date, audience: str = "global")`` and returns
plain dicts/lists with an explicit ``state`` (``ok``, ``no_data``, ``not_enough_data``,
``unavailable``). Settings are read from the current app when there is one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from moviepulse.analytics.ctr import ctr_by_placement, ctr_daily, ctr_totals
from moviepulse.analytics.experiment import experiment_summary
from moviepulse.analytics.funnels import ingestion_funnel, placement_funnel
from moviepulse.analytics.queue import failed_jobs, queue_stats
from moviepulse.analytics.reconcile import drift_report
from moviepulse.analytics.trends import leaderboard

__all__ = ["ctr_daily", "ctr_by_placement", "ctr_totals", "placement_funnel", "ingestion_funnel", "experiment",
           "drift", "queue", "failed", "trends", "setting"]


def setting(name: str, default: Any) -> Any:
    try:
        from flask import current_app

        return current_app.config.get(name, default)
    except RuntimeError:
        return default


def experiment(session: Any, start: date, end: date, audience: str = "global", *, with_cuped: bool = True,
               sequential: bool = True) -> dict[str, Any]:
    """z-test, SRM, sequential read-out with the configured settings; CUPED from its snapshot cache
    (computed inline with an immediate Huey, else by the ``experiments.cuped`` task)."""
    from moviepulse.analytics.cuped_cache import cuped_section

    split = setting("EXPERIMENT_SRM_SPLIT", {"A": 50, "B": 50})
    result = experiment_summary(
        session, start, end, audience,
        min_impressions=int(setting("EXPERIMENT_MIN_IMPRESSIONS", 1000)),
        split={str(k): float(v) for k, v in dict(split).items()},
        srm_threshold=float(setting("EXPERIMENT_SRM_THRESHOLD", 0.001)),
        with_cuped=False, sequential=sequential,
        tau_relative=float(setting("EXPERIMENT_MSPRT_TAU_RELATIVE", 0.1)),
    )
    if with_cuped:
        enqueue = None
        inline = True
        try:
            from flask import current_app

            pulse = current_app.extensions["moviepulse"]
            inline = bool(current_app.config.get("HUEY_IMMEDIATE")) or "experiments.cuped" not in pulse.tasks
            enqueue = pulse.enqueue
        except (RuntimeError, KeyError):
            pass
        result["cuped"] = cuped_section(session, start, end, audience, int(setting("EXPERIMENT_CUPED_PRE_DAYS", 14)),
                                        ttl_seconds=float(setting("EXPERIMENT_CUPED_TTL_SECONDS", 3600)),
                                        inline=inline, enqueue=enqueue)
    return result


def drift(session: Any, start: date, end: date, audience: str = "global") -> dict[str, Any]:
    return drift_report(session, start, end, audience)


def queue(session: Any, start: date, end: date, audience: str = "global") -> dict[str, Any]:
    huey = None
    try:
        from flask import current_app

        pulse = current_app.extensions["moviepulse"]
        huey = pulse.huey
        from moviepulse.analytics.queue import flush_recorder

        flush_recorder(pulse)
    except (RuntimeError, KeyError):
        pass
    return queue_stats(session, start, end, audience,
                       long_wait_seconds=float(setting("QUEUE_LONG_WAIT_SECONDS", 60)), huey=huey)


def failed(session: Any, start: date | None = None, end: date | None = None, audience: str = "global",
           limit: int = 100) -> dict[str, Any]:
    return failed_jobs(session, start, end, audience, limit=limit)


def trends(session: Any, start: date, end: date, audience: str = "global", *, type: str | None = None,
           genre: str | None = None, year_from: int | None = None, year_to: int | None = None,
           limit: int = 40) -> dict[str, Any]:
    """The leaderboard for ``[start, end]`` (``audience`` is echoed: per-movie rollups carry no
    audience dimensions)."""
    items = leaderboard(session, days=(end - start).days + 1, today=end, type=type, genre=genre,
                        year_from=year_from, year_to=year_to, limit=limit)
    has_clicks = any(i["clicks"] is not None for i in items)
    return {"state": "ok" if has_clicks else ("fallback" if items else "no_data"), "from": start.isoformat(),
            "to": end.isoformat(), "audience": audience, "items": items,
            "filters": {"type": type, "genre": genre, "year_from": year_from, "year_to": year_to}}
