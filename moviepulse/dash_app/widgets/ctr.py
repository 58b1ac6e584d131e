"""CTR widgets: the daily CTR line by variant (drifted days marked) and placement × variant bars.

Data: ``moviepulse.analytics.queries`` — daily CTR per variant and CTR per placement × variant
(``(session, start, end, audience)``), plus the drift query for the markers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import stat, stat_row
from moviepulse.dash_app.data import field, rows
from moviepulse.dash_app.widget import Empty, Rendered, Widget

CTR_DAILY = ("ctr_daily", "ctr_by_day", "daily_ctr")
CTR_PLACEMENT = ("ctr_by_placement", "ctr_placement_variant", "ctr_placement", "placement_ctr")
DRIFT = ("drift_days", "drift", "drift_rows", "drift_warnings")


def _day(row: Any) -> str:
    value = field(row, "day", "date", "bucket")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)[:10]


def _ctr(row: Any) -> float | None:
    """CTR in percent (the analytics queries' unit); computed only when the row has none."""
    value = field(row, "ctr", "rate")
    if value is not None:
        return float(value)
    impressions = field(row, "impressions", default=0) or 0
    clicks = field(row, "clicks", default=0) or 0
    return 100 * clicks / impressions if impressions else None


def drifted_days(filters: Any) -> set[str]:
    """Days reconciliation flagged in the range (empty when the drift query is unavailable)."""
    if not data.available(data.ANALYTICS, *DRIFT):
        return set()
    result = data.query(data.ANALYTICS, DRIFT, filters)
    out = set()
    for row in rows(result, "days", "rows", "flagged"):
        flagged = field(row, "flagged", "is_flagged", default=True)
        if flagged:
            out.add(_day(row))
    return out


def daily_series(result: Any) -> dict[str, list[tuple[str, float | None, Any]]]:
    """variant -> [(day, ctr, row)] sorted by day."""
    series: dict[str, list[tuple[str, float | None, Any]]] = defaultdict(list)
    for row in rows(result, "rows", "days"):
        series[str(field(row, "variant", default="all"))].append((_day(row), _ctr(row), row))
    for points in series.values():
        points.sort(key=lambda p: p[0])
    return dict(sorted(series.items()))


class CtrLineWidget(Widget):
    slug = "ctr-line"
    title = "Daily CTR by variant"
    page = "ctr"
    also_on = ("overview",)
    size = "two-thirds"
    order = 10
    height = 320
    description = "Clicks / impressions per day for variants A and B; x marks days flagged by reconciliation."

    def render(self, filters: Any) -> Rendered:
        result = data.query(data.ANALYTICS, CTR_DAILY, filters)
        data.check_unavailable(result)
        series = daily_series(result)
        if data.state_of(result) == "no_data" or not any(any(p[1] is not None for p in pts) for pts in series.values()):
            return Rendered(Empty())
        drift = drifted_days(filters) | {p[0] for pts in series.values() for p in pts
                                         if field(p[2], "drifted", "drift_flagged", default=False)}
        fig = theme.figure(self.height)
        for variant, points in series.items():
            fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                            name=f"Variant {variant}", line={"color": theme.variant_color(variant), "width": 2},
                            marker={"color": theme.variant_color(variant), "size": 6},
                            hovertemplate="%{x|%Y-%m-%d}: %{y:.2f} %<extra>Variant " + variant + "</extra>")
        if drift:
            marks = [(p[0], p[1]) for pts in series.values() for p in pts if p[0] in drift and p[1] is not None]
            fig.add_scatter(x=[m[0] for m in marks], y=[m[1] for m in marks], mode="markers",
                            name="Drift flagged", marker=theme.DRIFT_MARKER, hoverinfo="skip")
        theme.date_axis(fig)
        theme.percent_points_axis(fig, digits=1)
        status = f"{len(drift)} drifted day(s)" if drift else ""
        return Rendered(fig, status=status)


class CtrBarsWidget(Widget):
    slug = "ctr-bars"
    title = "CTR by placement and variant"
    page = "ctr"
    size = "third"
    order = 20
    height = 320
    description = "Clicks / impressions per placement, variants side by side."

    def render(self, filters: Any) -> Rendered:
        raw = data.query(data.ANALYTICS, CTR_PLACEMENT, filters)
        data.check_unavailable(raw)
        result = rows(raw, "rows", "placements")
        by_variant: dict[str, dict[str, float | None]] = defaultdict(dict)
        placements: list[str] = []
        total_impr = 0
        for row in result:
            placement = str(field(row, "placement", default="?"))
            if placement not in placements:
                placements.append(placement)
            by_variant[str(field(row, "variant", default="all"))][placement] = _ctr(row)
            total_impr += int(field(row, "impressions", default=0) or 0)
        if not placements or not total_impr:
            return Rendered(Empty())
        fig = theme.figure(self.height, barmode="group")
        for variant in sorted(by_variant):
            values = [by_variant[variant].get(p) for p in placements]
            fig.add_bar(x=placements, y=values, name=f"Variant {variant}",
                        marker_color=theme.variant_color(variant),
                        hovertemplate="%{x}: %{y:.2f} %<extra>Variant " + variant + "</extra>")
        theme.percent_points_axis(fig, digits=1)
        theme.category_axis(fig)
        return Rendered(fig, extra=stat_row([stat("Impressions", theme.fmt_number(total_impr))]))
