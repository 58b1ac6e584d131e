"""Built-in plugin ``funnel``: placement funnel (impressions → clicks → views) and the ingestion
funnel (from ``moviepulse.ingestion.queries`` when present); ``/admin/api/funnel/*``.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl


@hookimpl
def register_metrics() -> list[Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.metric import Metric

    return [
        Metric("funnel_placements", "Placement funnel", queries.placement_funnel, "%"),
        Metric("funnel_ingestion", "Ingestion funnel", queries.ingestion_funnel, "movies"),
    ]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import funnel_blueprint

    return [funnel_blueprint()]


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: placement and ingestion funnels (``moviepulse.dash_app.widgets.funnel``)."""
    from moviepulse.dash_app.widgets.funnel import IngestionFunnelWidget, PlacementFunnelWidget

    return [PlacementFunnelWidget, IngestionFunnelWidget]
