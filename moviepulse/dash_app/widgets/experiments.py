"""The experiment / z-test widget: CTR of A and B, lift with its CI, z, p, SRM state, the
minimum-sample guard, the sequential (mSPRT) state, and a drift banner when reconciliation
flagged a day of the window.

Data: ``moviepulse.analytics.queries.experiment(session, start, end, audience)`` and the drift
query. Every number shown is the query's own; nothing is recomputed here. Units: variant
``ctr`` is in percent; ``ztest`` ``diff``/``lift`` and their CIs are fractions.
"""

from __future__ import annotations

from typing import Any

from dash import html

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import badge, banner, stat, stat_row
from moviepulse.dash_app.data import field
from moviepulse.dash_app.widget import Empty, Rendered, Widget
from moviepulse.dash_app.widgets.ctr import drifted_days

EXPERIMENT = ("experiment", "experiment_summary", "experiment_stats")
NOT_ENOUGH = "not_enough_data"


def _ci(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return float(value[0]), float(value[1])
    return None


def _fmt_ci(ci: tuple[float, float] | None, digits: int = 2) -> str:
    return "–" if ci is None else f"[{theme.fmt_percent(ci[0], digits)}, {theme.fmt_percent(ci[1], digits)}]"


def _fmt_pp(value: float | None) -> str:
    """A difference of two proportions, in percentage points."""
    return "–" if value is None else f"{value * 100:+.2f} pp"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


class ExperimentWidget(Widget):
    slug = "experiment-ztest"
    title = "A/B test: two-proportion z-test"
    page = "experiments"
    also_on = ("overview",)
    size = "full"
    order = 10
    height = 260

    def render(self, filters: Any) -> Rendered:
        stats = data.query(data.ANALYTICS, EXPERIMENT, filters)
        data.check_unavailable(stats)
        state = data.state_of(stats)
        variants = field(stats, "variants", default={}) or {}
        control = str(field(stats, "control", default="A"))
        treatment = str(field(stats, "treatment", default="B"))
        a, b = variants.get(control) or {}, variants.get(treatment) or {}
        if state == "no_data" or not (field(a, "impressions", default=0) or field(b, "impressions", default=0)):
            return Rendered(Empty())
        z = field(stats, "ztest", default={}) or {}

        fig = theme.figure(self.height)
        for name, v in ((control, a), (treatment, b)):
            fig.add_bar(x=[f"Variant {name}"], y=[field(v, "ctr")], name=f"Variant {name}",
                        marker_color=theme.variant_color(name), showlegend=False,
                        text=[theme.fmt_points(field(v, "ctr"))], textposition="outside",
                        hovertemplate="%{x}: %{y:.2f} %<extra></extra>")
        theme.percent_points_axis(fig, digits=1, title="CTR")
        theme.category_axis(fig)

        tiles = [
            stat(f"CTR {control}", theme.fmt_points(field(a, "ctr")),
                 hint=f"{theme.fmt_number(field(a, 'clicks'))} / {theme.fmt_number(field(a, 'impressions'))}"),
            stat(f"CTR {treatment}", theme.fmt_points(field(b, "ctr")),
                 hint=f"{theme.fmt_number(field(b, 'clicks'))} / {theme.fmt_number(field(b, 'impressions'))}"),
            stat("Lift", theme.fmt_percent(field(z, "lift"), 1), hint=f"95% CI {_fmt_ci(_ci(field(z, 'ci_lift')), 1)}"),
            stat("Difference", _fmt_pp(field(z, "diff")), hint=f"95% CI {_fmt_ci(_ci(field(z, 'ci_diff')))}"),
            stat("z", "–" if field(z, "z") is None else f"{field(z, 'z'):.3f}"),
            stat("p", _fmt_p(field(z, "p_value"))),
        ]

        badges = []
        if state == NOT_ENOUGH or field(z, "state") == NOT_ENOUGH:
            badges.append(badge("Sample guard: not enough data", "warning",
                                title=str(field(z, "reason", default=""))))
        else:
            badges.append(badge(f"Sample guard: ≥ {theme.fmt_number(field(z, 'min_n'))} per variant", "ok"))
        srm = field(stats, "srm", default=None)
        if srm:
            if field(srm, "state") == NOT_ENOUGH:
                badges.append(badge("SRM: not enough data", "unknown", title=str(field(srm, "reason", default=""))))
            elif field(srm, "flagged"):
                badges.append(badge(f"SRM: mismatch (p = {_fmt_p(field(srm, 'p_value'))})", "critical"))
            else:
                badges.append(badge(f"SRM: ok (p = {_fmt_p(field(srm, 'p_value'))})", "ok"))
        seq = field(stats, "sequential", default=None)
        if seq:
            if field(seq, "state") == NOT_ENOUGH:
                badges.append(badge("Sequential: not enough data", "unknown"))
            else:
                decided = bool(field(seq, "reject"))
                badges.append(badge(
                    f"Sequential: {'significant' if decided else 'keep collecting'} "
                    f"(always-valid p = {_fmt_p(field(seq, 'p_value'))}, {field(seq, 'looks', default=0)} looks)",
                    "ok" if decided else "unknown"))
        if field(z, "significant") is not None:
            sig = bool(field(z, "significant"))
            badges.append(badge("Fixed-horizon: significant" if sig else "Fixed-horizon: not significant",
                                "ok" if sig else "unknown"))

        extra: list[Any] = []
        days = sorted(drifted_days(filters))
        if days:
            extra.append(banner(f"Drift: reconciliation flagged {', '.join(days)} in this window; "
                                "rollups differ from raw events, so treat these numbers with care.", "warning"))
        extra += [stat_row(tiles), html.Div(badges, className="d-flex flex-wrap gap-2")]
        status = "not enough data" if state == NOT_ENOUGH else ""
        return Rendered(fig, extra=extra, status=status)
