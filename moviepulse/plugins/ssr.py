"""Built-in plugin ``ssr``: SSR telemetry — timing and HTML-audit middleware, per-route-minute
sketches, fingerprints, alerts, self-crawl, pruning and the ``/admin/api/ssr/*`` endpoints.

The middleware is installed in ``startup`` on whatever Flask app MoviePulse built; upstream
signals from the ingestion clients arrive through ``upstream_event``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec


@hookimpl
def register_settings() -> list[Setting]:
    from moviepulse.ssr.settings import SETTINGS

    return list(SETTINGS)


@hookimpl
def register_tasks() -> list[TaskSpec]:
    from moviepulse.ssr import tasks

    return [
        TaskSpec("ssr.evaluate_alerts", tasks.evaluate_alerts_task, schedule="SSR_ALERT_INTERVAL_SECONDS",
                 expires=300, help="Flush, auto-resolve quiet fingerprints, evaluate alert rules."),
        TaskSpec("ssr.self_crawl", tasks.self_crawl, schedule="SSR_SELF_CRAWL_INTERVAL_SECONDS", expires=600,
                 help="Request SSR_SELF_CRAWL_PATHS through the app so quiet routes keep fresh numbers."),
        TaskSpec("ssr.compact", tasks.compact, schedule="SSR_COMPACT_INTERVAL_SECONDS", expires=3600,
                 help="Merge finished hours' minute rows into hour rows (exact; keeps long windows fast)."),
        TaskSpec("ssr.prune", tasks.prune, schedule="SSR_PRUNE_INTERVAL_SECONDS", expires=3600,
                 help="Delete raw audits and aggregates past their retention."),
    ]


@hookimpl
def register_alert_rules() -> list[Any]:
    from moviepulse.ssr.alerts import BUILTIN_RULES

    return [rule() for rule in BUILTIN_RULES]


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from moviepulse.ssr.api import bp

    return [bp]


@hookimpl
def startup(pulse: Any) -> None:
    from moviepulse.ssr.middleware import install

    install(pulse.app)


@hookimpl
def upstream_event(pulse: Any, upstream: str, kind: str, detail: dict[str, Any]) -> None:
    from moviepulse.ssr.upstream import record_upstream_event

    record_upstream_event(pulse.app, upstream, kind, detail)


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: SSR stats, insights and drops (``moviepulse.dash_app.widgets.ssr``)."""
    from moviepulse.dash_app.widgets.ssr import SsrDropsWidget, SsrInsightsWidget, SsrStatsWidget

    return [SsrStatsWidget, SsrInsightsWidget, SsrDropsWidget]
