"""Funnel widgets: the placement funnel (impressions → clicks → views) and the ingestion funnel
(requested → fetched → localised by TMDB translation / OMDb fallback / missing → stored, per locale).

Data: ``moviepulse.analytics.queries`` (placement funnel) and ``moviepulse.ingestion.queries``
(``ingestion_funnel(session, start, end)``).
"""

from __future__ import annotations

from typing import Any

from dash import html

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import table
from moviepulse.dash_app.data import field, rows
from moviepulse.dash_app.widget import Empty, Rendered, Widget

PLACEMENT_FUNNEL = ("placement_funnel", "funnel_by_placement", "funnel")
INGESTION_FUNNEL = ("ingestion_funnel",)

STAGES = ("impressions", "clicks", "views")


def _num(row: Any, *names: str) -> int:
    return int(field(row, *names, default=0) or 0)


def _rate(num: int, den: int) -> float | None:
    """Percent, as the analytics queries report rates."""
    return 100 * num / den if den else None


class PlacementFunnelWidget(Widget):
    slug = "placement-funnel"
    title = "Placement funnel"
    page = "ctr"
    size = "full"
    order = 30
    height = 280
    description = "Impressions → clicks → views per placement, with click and view rates."

    def render(self, filters: Any) -> Rendered:
        raw = data.query(data.ANALYTICS, PLACEMENT_FUNNEL, filters)
        data.check_unavailable(raw)
        result = rows(raw, "rows", "placements")
        placements = [(str(field(r, "placement", default="?")), r) for r in result]
        if not placements or not sum(_num(r, "impressions") for _, r in placements):
            return Rendered(Empty())
        fig = theme.figure(self.height, barmode="group")
        names = [p for p, _ in placements]
        for i, stage in enumerate(STAGES):
            fig.add_bar(x=names, y=[_num(r, stage) for _, r in placements], name=stage.capitalize(),
                        marker_color=theme.sequential(0.35 + 0.3 * i),
                        hovertemplate="%{x}: %{y:,d}<extra>" + stage + "</extra>")
        theme.count_axis(fig)
        theme.category_axis(fig)
        body = []
        for name, r in placements:
            impr, clicks, views = _num(r, "impressions"), _num(r, "clicks"), _num(r, "views")
            click_rate = field(r, "ctr", "click_rate", default=_rate(clicks, impr))
            view_rate = field(r, "view_rate", "click_to_view", default=_rate(views, clicks))
            body.append([name, theme.fmt_number(impr), theme.fmt_number(clicks), theme.fmt_number(views),
                         theme.fmt_points(click_rate), theme.fmt_points(view_rate)])
        extra = table(["Placement", "Impressions", "Clicks", "Views", "Click rate", "View rate"], body, row_ids=names)
        return Rendered(fig, extra=extra)


#: Per-locale field outcomes, in stacking order, with their labels.
ATTRIBUTION = (("tmdb_translation", "TMDB translation"), ("tmdb_fallback_locale", "TMDB fallback locale"),
               ("tmdb_original", "TMDB original"), ("omdb_fallback", "OMDb fallback"), ("missing", "Missing"))
LOCALE_COLUMNS = ("requested", "fetched", *(k for k, _ in ATTRIBUTION), "stored")


class IngestionFunnelWidget(Widget):
    slug = "ingestion-funnel"
    title = "Ingestion funnel by locale"
    page = "ingestion"
    size = "full"
    order = 10
    height = 300
    description = ("Requested → fetched → localised by TMDB translation / OMDb fallback / still missing → stored, "
                   "per locale (field values), and per source.")

    def render(self, filters: Any) -> Rendered:
        result = data.call(data.INGESTION, INGESTION_FUNNEL, data.session(), filters.start, filters.end)
        data.check_unavailable(result)
        locales = field(result, "locales", default={}) or {}
        status = "ingestion has no audiences" if filters.audience != "global" else ""
        if not field(result, "runs", default=0) or not locales:
            return Rendered(Empty("No ingestion runs in this range."), status=status)
        names = sorted(locales)
        fig = theme.figure(self.height, barmode="stack")
        for i, (key, label) in enumerate(ATTRIBUTION):
            color = theme.STATUS_COLORS["critical"] if key == "missing" else theme.category_color(i)
            fig.add_bar(x=names, y=[int(locales[loc].get(key, 0)) for loc in names], name=label, marker_color=color,
                        hovertemplate="%{x}: %{y:,d}<extra>" + label + "</extra>")
        theme.count_axis(fig, title="field values")
        theme.category_axis(fig)
        body = [[loc, *[theme.fmt_number(locales[loc].get(k, 0)) for k in LOCALE_COLUMNS]] for loc in names]
        movies = field(result, "movies", default={}) or {}
        sources = field(result, "sources", default={}) or {}
        extra = [
            table(["Locale", "Requested", "Fetched", *(label for _, label in ATTRIBUTION), "Stored"], body,
                  row_ids=names),
            html.P(f"Movies: {theme.fmt_number(movies.get('requested'))} requested, "
                   f"{theme.fmt_number(movies.get('fetched'))} fetched, {theme.fmt_number(movies.get('stored'))} "
                   f"stored, {theme.fmt_number(movies.get('failed'))} failed — over "
                   f"{theme.fmt_number(field(result, 'runs'))} run(s).", className="mt-2 mb-1"),
        ]
        if sources:
            keys = sorted({k for v in sources.values() for k in v})
            extra.append(table(["Source", *keys], [[slug, *[theme.fmt_number(v.get(k, 0)) for k in keys]]
                                                   for slug, v in sorted(sources.items())]))
        return Rendered(fig, extra=extra, status=status)
