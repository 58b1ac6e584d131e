"""``WatchTimeWidget``: estimated minutes watched per day, with the top titles underneath."""

from __future__ import annotations

from typing import Any

from dash import html
from moviepulse import Widget
from moviepulse.dash_app import data, theme
from moviepulse.dash_app.widget import Empty, Rendered

QUERIES = "moviepulse_watchtime.queries"


class WatchTimeWidget(Widget):
    slug = "watchtime-daily"
    title = "Watch time"
    page = "watchtime"
    also_on = ("overview",)
    size = "half"
    order = 60
    height = 260
    description = "Estimated minutes watched per day (runtime of viewed titles)."

    def render(self, filters: Any) -> Rendered:
        daily = data.query(QUERIES, "watch_minutes_daily", filters)
        if not daily["total_watches"]:
            return Rendered(Empty())
        fig = theme.figure(self.height)
        fig.add_bar(x=[r["day"] for r in daily["rows"]], y=[r["minutes"] for r in daily["rows"]],
                    name="Minutes", marker_color=theme.sequential(0.6),
                    hovertemplate="%{x}: %{y:,d} min<extra></extra>")
        theme.date_axis(fig)
        theme.count_axis(fig, title="minutes")
        top = data.query(QUERIES, "top_movies", filters)
        extra = html.Ol([html.Li(f"{m['title']}: {theme.fmt_number(m['minutes'])} min") for m in top],
                        className="small mb-0", **{"aria-label": "Top titles by watch time"})
        status = f"{theme.fmt_number(daily['total_minutes'])} min in {daily['total_watches']} watches"
        return Rendered(fig, extra=extra, status=status)
