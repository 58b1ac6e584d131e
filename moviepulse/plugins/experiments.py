"""Built-in plugin ``experiments``: the A/B read-out (z-test, CIs, SRM, CUPED, mSPRT) and
``/admin/api/experiment``.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("EXPERIMENT_MIN_IMPRESSIONS", 1000, "Impressions per variant before the z-test is shown."),
        Setting("EXPERIMENT_SRM_SPLIT", {"A": 50, "B": 50}, "Configured assignment weights checked by SRM."),
        Setting("EXPERIMENT_SRM_THRESHOLD", 0.001, "SRM χ² p-value below which assignment is flagged."),
        Setting("EXPERIMENT_CUPED_PRE_DAYS", 14, "Pre-period length (days before 'from') for CUPED."),
        Setting("EXPERIMENT_CUPED_TTL_SECONDS", 3600, "How long a cached CUPED result is served."),
        Setting("EXPERIMENT_CUPED_REFRESH_DAYS", 7, "Window (days ending today) that experiments.refresh precomputes."),
        Setting("EXPERIMENT_MSPRT_TAU_RELATIVE", 0.1,
                "mSPRT mixing sd as a fraction of the pooled CTR (τ = value · p̂)."),
    ]


def run_cuped(start: str, end: str, audience: str = "global", pre_days: int | None = None) -> dict[str, Any]:
    from datetime import date

    from flask import current_app

    from moviepulse.analytics.cuped_cache import compute_and_store
    from moviepulse.extensions import db

    days = int(pre_days or current_app.config["EXPERIMENT_CUPED_PRE_DAYS"])
    return compute_and_store(db.session, date.fromisoformat(start), date.fromisoformat(end), audience, days)


def run_refresh() -> dict[str, Any]:
    from datetime import timedelta

    from flask import current_app

    from moviepulse.models.base import utcnow

    end = utcnow().date()
    start = end - timedelta(days=int(current_app.config["EXPERIMENT_CUPED_REFRESH_DAYS"]) - 1)
    return run_cuped(start.isoformat(), end.isoformat())


@hookimpl
def register_tasks() -> list[TaskSpec]:
    return [TaskSpec("experiments.cuped", run_cuped, help="Compute and cache CUPED for one window/audience."),
            TaskSpec("experiments.refresh", run_refresh, schedule="EXPERIMENT_CUPED_TTL_SECONDS",
                     help="Precompute CUPED for the default window so the dashboard reads a cache.")]


@hookimpl
def register_metrics() -> list[Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.metric import Metric

    return [Metric("experiment", "A/B experiment read-out", queries.experiment)]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import experiments_blueprint

    return [experiments_blueprint()]


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: the z-test card (``moviepulse.dash_app.widgets.experiments``)."""
    from moviepulse.dash_app.widgets.experiments import ExperimentWidget

    return [ExperimentWidget]
