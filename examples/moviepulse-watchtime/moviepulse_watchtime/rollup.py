"""The periodic rollup: the last ``WATCHTIME_DAYS`` days, kept in the queue's key-value store.

Huey keeps no result for periodic tasks, and this plugin has no table of its own, so the
task stores its summary with ``huey.put`` under :data:`ROLLUP_KEY`; the widget and the JSON
API read it with :func:`last_rollup` from any process that shares the queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moviepulse.core.pulse import current_pulse
from moviepulse.extensions import db
from moviepulse.models.base import utcnow

from moviepulse_watchtime.queries import top_movies, watch_minutes_daily

ROLLUP_KEY = "watchtime:last-rollup"


def rollup(days: int | None = None) -> dict[str, Any]:
    """Compute the summary for the last ``days`` days (default ``WATCHTIME_DAYS``) and store it."""
    pulse = current_pulse()
    days = int(days or pulse.setting("WATCHTIME_DAYS"))
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    daily = watch_minutes_daily(db.session, start, end)
    summary = {
        "computed_at": utcnow().isoformat(timespec="seconds"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": days,
        "total_minutes": daily["total_minutes"],
        "total_watches": daily["total_watches"],
        "top": top_movies(db.session, start, end),
    }
    pulse.huey.put(ROLLUP_KEY, summary)
    return summary


def last_rollup() -> dict[str, Any] | None:
    """The summary the rollup stored last, or ``None`` before its first run."""
    return current_pulse().huey.get(ROLLUP_KEY, peek=True)
