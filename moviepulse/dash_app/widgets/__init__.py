"""The built-in dashboard widgets, grouped by the domain plugin that registers them.

``BY_PLUGIN`` maps a domain plugin name to its widget classes; until each domain plugin
registers its own (``register_widgets``), the dashboard plugin registers those that are
not yet claimed (see ``moviepulse.plugins.dashboard``).
"""

from __future__ import annotations

from typing import Any


def by_plugin() -> dict[str, list[Any]]:
    from moviepulse.dash_app.widgets.ctr import CtrBarsWidget, CtrLineWidget
    from moviepulse.dash_app.widgets.experiments import ExperimentWidget
    from moviepulse.dash_app.widgets.funnel import IngestionFunnelWidget, PlacementFunnelWidget
    from moviepulse.dash_app.widgets.ingestion import IngestionHealthWidget
    from moviepulse.dash_app.widgets.queue import QueueFailedWidget, QueueStatsWidget
    from moviepulse.dash_app.widgets.ssr import SsrDropsWidget, SsrInsightsWidget, SsrStatsWidget

    return {
        "ctr": [CtrLineWidget, CtrBarsWidget],
        "funnel": [PlacementFunnelWidget, IngestionFunnelWidget],
        "experiments": [ExperimentWidget],
        "ssr": [SsrStatsWidget, SsrInsightsWidget, SsrDropsWidget],
        "queue": [QueueStatsWidget, QueueFailedWidget],
        "ingestion": [IngestionHealthWidget],
    }
