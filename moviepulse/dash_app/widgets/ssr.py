"""SSR widgets: score per route with its trend, the insights card (percentiles, Apdex, alert
badges with since-when), and drops (day-over-day drops, repeat offenders, fingerprint detail
with the matching playbook).

Data: ``moviepulse.ssr.queries`` — ``route_stats``/``score_trend``/``fingerprints`` over the
half-open window ``[start 00:00, end + 1 day 00:00)``, ``drops`` for the last day of the range,
``alerts`` (current state). SSR telemetry has no visitor audiences, so the audience filter
does not change these widgets (their status line says so).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from dash import Input, Output, State, dcc, html

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import badge, table
from moviepulse.dash_app.data import field
from moviepulse.dash_app.widget import Empty, Rendered, Widget, WidgetIds

ROUTE_STATS = ("route_stats",)
SCORE_TREND = ("score_trend",)
DROPS = ("drops",)
FINGERPRINTS = ("fingerprints",)
ALERTS = ("alerts",)
PERCENTILES = ("p50", "p90", "p95", "p99")
NO_AUDIENCE = "all visitors (SSR has no audiences)"


def window(filters: Any) -> tuple[datetime, datetime]:
    """The filters' inclusive day range as the half-open datetime window SSR queries take."""
    return datetime.combine(filters.start, time.min), datetime.combine(filters.end + timedelta(days=1), time.min)


def _when(value: Any) -> str:
    if value is None:
        return "–"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def _status_line(filters: Any) -> str:
    return NO_AUDIENCE if filters.audience != "global" else ""


def _ssr(names: tuple[str, ...], *args: Any, **kwargs: Any) -> Any:
    return data.call(data.SSR, names, data.session(), *args, **kwargs)


def playbook_for(slug: str | None) -> Any:
    """The registered playbook with this slug (``None`` when there is none)."""
    if not slug:
        return None
    from moviepulse.core.pulse import current_pulse

    return current_pulse().playbooks.find(slug)


class SsrStatsWidget(Widget):
    slug = "ssr-stats"
    title = "SSR score by route"
    page = "ssr"
    size = "full"
    order = 10
    height = 300
    description = "Latest audit score per route (bars) and the daily average score (line)."

    def render(self, filters: Any) -> Rendered:
        start, end = window(filters)
        stats = _ssr(ROUTE_STATS, start, end)
        trend = _ssr(SCORE_TREND, start, end)
        scored = [r for r in stats if field(r, "score_latest") is not None]
        if not scored and not trend:
            return Rendered(Empty(), status=_status_line(filters))
        # Two panels side by side: latest score per route as horizontal bars (x/y, long route
        # templates stay readable), average score per day (x2/y2).
        fig = theme.figure(self.height, showlegend=False,
                           xaxis={"domain": [0, 0.46], "anchor": "y"}, yaxis={"anchor": "x"},
                           xaxis2={"domain": [0.56, 1], "anchor": "y2"}, yaxis2={"anchor": "x2"})
        for x, text in ((0.0, "Latest score per route"), (0.56, "Average score per day")):
            fig.add_annotation(text=text, x=x, y=1.0, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                               showarrow=False, font={"size": 13})
        if scored:
            fig.add_bar(y=[r["route"] for r in scored], x=[r["score_latest"] for r in scored], orientation="h",
                        marker_color=[theme.status_color(_score_status(r)) for r in scored], name="Latest score",
                        hovertemplate="%{y}: %{x:.0f}<extra></extra>")
        if trend:
            fig.add_scatter(x=[t["day"] for t in trend], y=[t["avg_score"] for t in trend], mode="lines+markers",
                            xaxis="x2", yaxis="y2", line={"color": theme.category_color(0)}, name="Average score",
                            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}<extra></extra>")
            theme.date_axis(fig, axis="x2")
        theme.score_axis(fig, axis="x")
        theme.score_axis(fig, axis="y2")
        theme.category_axis(fig, axis="y")
        fig.update_axis("y", autorange="reversed")
        body = [[r["route"], theme.fmt_number(field(r, "score_latest")), _when(field(r, "score_latest_at")),
                 theme.fmt_number(field(r, "score_avg"), 1), theme.fmt_number(field(r, "score_samples")),
                 badge(str(_score_status(r)), _score_status(r))] for r in stats]
        return Rendered(fig, extra=table(["Route", "Latest", "At", "Average", "Samples", "Status"], body),
                        status=_status_line(filters))


def _score_status(row: Any) -> str:
    """``score_status`` from the query: passing/warning/failing -> ok/warning/critical."""
    status = str(field(row, "score_status", default="unknown") or "unknown").lower()
    return {"passing": "ok", "pass": "ok", "good": "ok", "failing": "critical", "fail": "critical",
            "poor": "critical"}.get(status, status)


class SsrInsightsWidget(Widget):
    slug = "ssr-insights"
    title = "SSR insights"
    page = "ssr"
    also_on = ("overview",)
    size = "full"
    order = 20
    height = 260
    description = "p50/p90/p95/p99 server time and Apdex per route; alert badges with since-when."

    def render(self, filters: Any) -> Rendered:
        start, end = window(filters)
        stats = _ssr(ROUTE_STATS, start, end)
        alerts = _ssr(ALERTS) if data.available(data.SSR, *ALERTS) else []
        badges = []
        for a in alerts:
            state = str(field(a, "state", default="unknown"))
            subject = field(a, "subject", default=None)
            text = f"{field(a, 'rule', default='alert')}{' · ' + str(subject) if subject else ''}: {state}"
            if state != "ok":
                text += f" since {_when(field(a, 'since'))}"
            badges.append(badge(text, state, title=str(field(a, "message", default="") or text)))
        badge_row = html.Div(badges or [badge("No alerts evaluated yet", "unknown")],
                             className="d-flex flex-wrap gap-2 mb-2", **{"data-part": "alerts"})
        if not stats:
            return Rendered(Empty(), extra=badge_row, status=_status_line(filters))
        routes = [r["route"] for r in stats]
        fig = theme.figure(self.height, barmode="group")
        for i, pct in enumerate(PERCENTILES):
            fig.add_bar(x=routes, y=[field(r, pct) for r in stats], name=pct,
                        marker_color=theme.sequential(0.3 + 0.23 * i),
                        hovertemplate="%{x}: %{y:,.0f} ms<extra>" + pct + "</extra>")
        theme.ms_axis(fig)
        theme.category_axis(fig)
        body = [[r["route"], *[theme.fmt_ms(field(r, p)) for p in PERCENTILES],
                 "–" if field(r, "apdex") is None else f"{r['apdex']:.3f}",
                 theme.fmt_number(field(r, "requests")), theme.fmt_percent(field(r, "error_rate"), 2)]
                for r in stats]
        extra = [badge_row, table(["Route", "p50", "p90", "p95", "p99", "Apdex", "Requests", "Errors"], body)]
        return Rendered(fig, extra=extra, status=_status_line(filters))


class SsrDropsWidget(Widget):
    slug = "ssr-drops"
    title = "SSR drops and fingerprints"
    page = "ssr"
    size = "full"
    order = 30
    height = 260
    description = "Day-over-day score change per route on the last day of the range, repeat offenders, playbooks."
    extra_outputs = (("fingerprint", "options"),)

    def extra_controls(self, ids: WidgetIds, instance: str) -> list[Any]:
        select_id = ids.part("fingerprint", instance)
        return [html.Div([
            html.Label("Fingerprint detail", htmlFor=ids.stringify(select_id), className="form-label mb-1 fw-semibold"),
            dcc.Dropdown(id=select_id, options=[], value=None, placeholder="Choose a fingerprint…", clearable=True),
            html.Div(id=ids.part("detail", instance), className="mt-2", **{"aria-live": "polite"}),
        ], className="mt-3")]

    def render(self, filters: Any) -> Rendered:
        start, end = window(filters)
        day_rows = _ssr(DROPS, filters.end)
        fps = _ssr(FINGERPRINTS, start, end) if data.available(data.SSR, *FINGERPRINTS) else []
        options = [{"label": f"{'★ repeat · ' if field(f, 'repeat_offender') else ''}{field(f, 'kind', default='')}"
                             f" · {field(f, 'route', default='')} · {field(f, 'title', default='')} "
                             f"({field(f, 'count', default=0)}×)",
                    "value": str(field(f, "id"))} for f in fps]
        more = {"fingerprint.options": options}
        tables: list[Any] = []
        repeat = [f for f in fps if field(f, "repeat_offender")]
        if repeat:
            tables += [html.H3("Repeat offenders", className="h6 mt-3"),
                       table(["Kind", "Route", "Title", "Count", "Days", "Last seen", "Status", "Playbook"],
                             [[str(field(f, "kind", default="")), str(field(f, "route", default="")),
                               str(field(f, "title", default="")), theme.fmt_number(field(f, "count")),
                               theme.fmt_number(field(f, "days_seen")), _when(field(f, "last_seen")),
                               str(field(f, "status", default="")), str(field(f, "playbook") or "–")]
                              for f in repeat])]
        with_data = [d for d in day_rows if field(d, "delta") is not None]
        body = [[str(d["route"]), theme.fmt_number(field(d, "yesterday"), 1), theme.fmt_number(field(d, "today"), 1),
                 "–" if field(d, "delta") is None else f"{d['delta']:+.1f}",
                 badge(str(d["status"]).replace("_", " "), _drop_status(str(d["status"]))),
                 ", ".join(f"{k} ({v})" for k, v in sorted((field(d, "failing_checks", default={}) or {}).items())),
                 ", ".join(field(d, "playbooks", default=[]) or []) or "–"] for d in day_rows]
        if body:
            tables.insert(0, table([f"Route ({filters.end.isoformat()} vs day before)", "Before", "After", "Change",
                                    "Status", "Failing checks", "Playbooks"], body))
        if not with_data:
            message = "No score drops for this range." if day_rows else None
            return Rendered(Empty(message) if message else Empty(), extra=tables or None, more=more,
                            status=_status_line(filters))
        fig = theme.figure(self.height)
        fig.add_bar(x=[d["route"] for d in with_data], y=[d["delta"] for d in with_data],
                    marker_color=[theme.status_color(_drop_status(d["status"])) for d in with_data],
                    name="Change", hovertemplate="%{x}: %{y:+.1f} points<extra></extra>")
        theme.delta_axis(fig, title="score change (points)")
        theme.category_axis(fig)
        return Rendered(fig, extra=tables, more=more, status=_status_line(filters))

    def register_callbacks(self, dash_app: Any, ids: WidgetIds) -> None:
        super().register_callbacks(dash_app, ids)

        @dash_app.callback(Output(ids.part("detail"), "children"), Input(ids.part("fingerprint"), "value"),
                           State("mp-filters", "data"), prevent_initial_call=True)
        def detail(value: str | None, filter_data: dict[str, Any] | None) -> Any:
            from moviepulse.dash_app.filters import Filters

            if not value:
                return ""
            try:
                fps = _ssr(FINGERPRINTS, *window(Filters.from_store(filter_data)))
            except data.QueryUnavailable as exc:
                return html.Div(str(exc), className="mp-empty")
            match = next((f for f in fps if str(field(f, "id")) == value), None)
            if match is None:
                return html.Div("This fingerprint is not in the selected range.", className="mp-empty")
            return fingerprint_detail(match)


def _drop_status(status: str) -> str:
    return {"drop": "critical", "improved": "ok", "steady": "ok", "new": "unknown", "no_data": "unknown"}.get(
        status, "unknown")


def fingerprint_detail(fp: Any) -> Any:
    """Kind, route, counts, lifecycle, sample context and the matching playbook's steps."""
    sample = field(fp, "sample", default={}) or {}
    items = [("Kind", field(fp, "kind")), ("Route", field(fp, "route")), ("Title", field(fp, "title")),
             ("Exception", field(fp, "exc_type")),
             ("Seen", f"{field(fp, 'count', default=0)}× on {field(fp, 'days_seen', default=0)} day(s); first "
                      f"{_when(field(fp, 'first_seen'))}, last {_when(field(fp, 'last_seen'))}"),
             ("Status", field(fp, "status")),
             ("Request id", field(sample, "request_id")), ("Message", field(sample, "message"))]
    frames = field(fp, "frames", default=None)
    dl: list[Any] = []
    for label, value in items:
        if value:
            dl += [html.Dt(label, className="col-sm-3"), html.Dd(str(value), className="col-sm-9")]
    children: list[Any] = [html.Dl(dl, className="row mb-2")]
    if frames:
        children.append(html.Pre("\n".join(map(str, frames))[:2000], className="small mb-2"))
    playbook = playbook_for(field(fp, "playbook"))
    if playbook is not None:
        steps = list(field(playbook, "steps", default=[]) or [])
        children += [html.H3(f"Playbook: {field(playbook, 'title', 'label', 'slug')}", className="h6"),
                     html.P(str(field(playbook, "summary", "description", default="") or ""), className="mb-1"),
                     html.Ol([html.Li(str(s)) for s in steps])]
    elif field(fp, "playbook"):
        children.append(html.P(f"Playbook: {field(fp, 'playbook')}"))
    else:
        children.append(html.P("No playbook matches this fingerprint.", className="mp-muted"))
    return html.Div(children, **{"data-fingerprint": str(field(fp, "id"))})
