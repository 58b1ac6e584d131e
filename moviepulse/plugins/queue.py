"""Built-in plugin ``queue``: Huey signal recorder (job ledger), queue statistics, the stale-job
sweeper task ``queue.sweep``, and ``/admin/api/queue/*`` with the retry action.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("QUEUE_LONG_WAIT_SECONDS", 60, "A job pending longer than this raises the long-wait alert."),
        Setting("QUEUE_STATS_BATCH", 200, "Signals buffered before the recorder flushes early."),
        Setting("QUEUE_STATS_FLUSH_SECONDS", 2.0, "Recorder flush interval (background thread)."),
        Setting("QUEUE_STATS_SYNC", False, "Flush every signal synchronously (always on with an immediate Huey)."),
        Setting("QUEUE_SWEEP_STALE_SECONDS", 3600, "A job running this long without finishing is re-enqueued."),
        Setting("QUEUE_SWEEP_INTERVAL_SECONDS", 600, "How often queue.sweep runs."),
    ]


def run_sweep() -> list[dict[str, Any]]:
    from flask import current_app

    from moviepulse.analytics.queue import sweep_stale_jobs
    from moviepulse.core.pulse import current_pulse

    return sweep_stale_jobs(current_pulse(), float(current_app.config["QUEUE_SWEEP_STALE_SECONDS"]))


@hookimpl
def register_tasks() -> list[TaskSpec]:
    return [TaskSpec("queue.sweep", run_sweep, schedule="QUEUE_SWEEP_INTERVAL_SECONDS",
                     help="Re-enqueue jobs that started but never finished (worker died).")]


@hookimpl
def startup(pulse: Any) -> None:
    from moviepulse.analytics.queue import install_recorder

    install_recorder(pulse)


@hookimpl
def register_metrics() -> list[Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.metric import Metric

    return [Metric("queue_stats", "Queue statistics", queries.queue),
            Metric("queue_failed", "Failed jobs", queries.failed)]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import queue_blueprint

    return [queue_blueprint()]


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: queue statistics and failed tasks (``moviepulse.dash_app.widgets.queue``)."""
    from moviepulse.dash_app.widgets.queue import QueueFailedWidget, QueueStatsWidget

    return [QueueStatsWidget, QueueFailedWidget]
