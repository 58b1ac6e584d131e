"""The dashboard shell: navigation, filter bar, auto-refresh control, sign-out, page area.

Pages are routed on the URL path (``dcc.Location`` with ``refresh="callback-nav"``), so a
link click or back/forward swaps the page without a reload; the filters live in the query
string, and nav links carry it along.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dash import Input, Output, State, dcc, html
from flask import has_request_context, request

from moviepulse.dash_app.filters import URL_ID, Filters, audience_ok, filter_bar, register_filter_callbacks
from moviepulse.dash_app.pages import ordered_pages, page_content, page_path, slug_from_path
from moviepulse.dash_app.widget import FILTER_STORE_ID, REFRESH_ID

PAGE_ID = "mp-page"
REFRESH_TOGGLE_ID = "mp-refresh-toggle"
REFRESH_LABEL_ID = "mp-refresh-label"


def nav_id(slug: str) -> str:
    return f"mp-nav-{slug}"


def refresh_seconds(pulse: Any) -> int:
    try:
        return max(0, int(pulse.setting("DASHBOARD_REFRESH_SECONDS", 60) or 0))
    except (TypeError, ValueError):
        return 60


def _csrf_token() -> str:
    """The logout form's CSRF token — only inside an admin request (Dash also evaluates the layout
    once on the server's first request, which may be a public page that must not get a session)."""
    from flask_wtf.csrf import generate_csrf

    if not has_request_context() or not request.path.startswith("/admin"):
        return ""
    try:
        return generate_csrf()
    except (RuntimeError, KeyError):  # outside a request (layout validation)
        return ""


def _refresh_text(seconds: int, paused: bool) -> str:
    if seconds <= 0:
        return "Auto-refresh off"
    return f"Auto-refresh paused (every {seconds} s)" if paused else f"Auto-refresh every {seconds} s"


def layout(pulse: Any) -> Any:
    """Built per page load (a function layout), so the CSRF token and filters are fresh."""
    search = ""
    if has_request_context():  # the layout is fetched by /_dash-layout: the page URL is the referrer
        search = request.query_string.decode() or urlsplit(request.referrer or "").query
    default_days = int(pulse.setting("DASHBOARD_DEFAULT_DAYS", 14) or 14)
    initial = Filters.from_query(search, audience_ok(pulse), default_days)
    seconds = refresh_seconds(pulse)
    nav = [
        dcc.Link(spec.title, href=page_path(spec.slug), id=nav_id(spec.slug), className="nav-link px-2")
        for spec in ordered_pages(pulse)
    ]
    site = pulse.setting("SITE_NAME", "MoviePulse")
    header = html.Header(
        html.Nav([
            html.Span(f"{site} admin", className="navbar-brand fw-semibold me-3"),
            html.Div(nav, className="d-flex flex-wrap gap-1 me-auto", id="mp-nav"),
            html.Button(
                "Pause auto-refresh", id=REFRESH_TOGGLE_ID, n_clicks=0, type="button",
                className="btn btn-sm btn-outline-light me-2", disabled=seconds <= 0,
                **{"aria-pressed": "false", "aria-describedby": REFRESH_LABEL_ID},
            ),
            html.Span(_refresh_text(seconds, False), id=REFRESH_LABEL_ID, className="small me-3",
                      **{"aria-live": "polite"}),
            html.Form([
                dcc.Input(type="hidden", name="csrf_token", value=_csrf_token(), id="mp-logout-csrf"),
                html.Button("Sign out", type="submit", id="mp-logout", className="btn btn-sm btn-outline-light"),
            ], method="POST", action="/admin/logout", id="mp-logout-form"),
        ], className="navbar px-3 py-2 d-flex align-items-center", **{"aria-label": "Dashboard pages"}),
        className="mp-nav",
    )
    return html.Div([
        dcc.Location(id=URL_ID, refresh="callback-nav"),
        dcc.Store(id=FILTER_STORE_ID, data=initial.to_store()),
        dcc.Interval(id=REFRESH_ID, interval=max(seconds, 1) * 1000, n_intervals=0, disabled=seconds <= 0),
        header,
        filter_bar(pulse, initial),
        html.Main(html.Div(id=PAGE_ID, className="container-fluid py-3"), id="mp-main"),
    ], id="mp-shell")


def register_shell_callbacks(dash_app: Any, pulse: Any) -> None:
    register_filter_callbacks(dash_app, pulse)
    pages = ordered_pages(pulse)
    seconds = refresh_seconds(pulse)

    @dash_app.callback(Output(PAGE_ID, "children"), Input(URL_ID, "pathname"))
    def route(pathname: str | None) -> Any:
        return page_content(pulse, slug_from_path(pathname))

    @dash_app.callback(
        *[Output(nav_id(p.slug), "href") for p in pages],
        *[Output(nav_id(p.slug), "className") for p in pages],
        Input(FILTER_STORE_ID, "data"),
        Input(URL_ID, "pathname"),
    )
    def nav_links(data: dict[str, Any] | None, pathname: str | None) -> list[Any]:
        query = Filters.from_store(data).to_query()
        current = slug_from_path(pathname)
        hrefs = [page_path(p.slug) + query for p in pages]
        classes = ["nav-link px-2 active" if p.slug == current else "nav-link px-2" for p in pages]
        return [*hrefs, *classes]

    @dash_app.callback(
        Output(REFRESH_ID, "disabled"),
        Output(REFRESH_TOGGLE_ID, "children"),
        Output(REFRESH_TOGGLE_ID, "aria-pressed"),
        Output(REFRESH_LABEL_ID, "children"),
        Input(REFRESH_TOGGLE_ID, "n_clicks"),
        State(REFRESH_ID, "disabled"),
        prevent_initial_call=True,
    )
    def toggle_refresh(_clicks: int, disabled: bool) -> tuple[bool, str, str, str]:
        if seconds <= 0:
            return True, "Pause auto-refresh", "false", _refresh_text(seconds, True)
        paused = not disabled
        return (paused, "Resume auto-refresh" if paused else "Pause auto-refresh",
                "true" if paused else "false", _refresh_text(seconds, paused))
