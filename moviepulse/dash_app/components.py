"""Small presentational building blocks shared by widgets: stat tiles, tables, badges, banners.

Colours come from ``theme`` (badges) or the theme stylesheet classes (``mp-*``); nothing here
computes data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html

from moviepulse.dash_app import theme


def stat(label: str, value: str, ident: Any = None, hint: str | None = None) -> Any:
    children = [html.Div(value, className="mp-stat-value", id=ident) if ident else
                html.Div(value, className="mp-stat-value"),
                html.Div(label, className="mp-stat-label")]
    if hint:
        children.append(html.Div(hint, className="mp-stat-label"))
    return html.Div(children, className="mp-stat", **{"data-stat": label})


def stat_row(items: Sequence[Any]) -> Any:
    return html.Div(list(items), className="d-flex flex-wrap gap-4 mb-2")


def badge(text: str, status: str | None, title: str | None = None) -> Any:
    return html.Span(text, className="mp-badge", style=theme.status_badge_style(status), title=title or text,
                     **{"data-status": (status or "unknown").lower()})


def banner(text: str, status: str = "warning", ident: Any = None) -> Any:
    kwargs: dict[str, Any] = {"role": "alert", "className": f"mp-banner-{status} mb-2"}
    if ident is not None:
        kwargs["id"] = ident
    return html.Div(text, **kwargs)


def table(headers: Sequence[str], body: Sequence[Sequence[Any]], caption: str | None = None,
          ident: Any = None, row_ids: Sequence[str] | None = None) -> Any:
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in headers]))
    rows = []
    for i, cells in enumerate(body):
        kwargs = {"data-row": row_ids[i]} if row_ids else {}
        rows.append(html.Tr([html.Td(c) for c in cells], **kwargs))
    children = ([html.Caption(caption)] if caption else []) + [head, html.Tbody(rows)]
    kwargs2: dict[str, Any] = {"className": "table table-sm mp-table mb-0"}
    if ident is not None:
        kwargs2["id"] = ident
    return html.Div(html.Table(children, **kwargs2), className="table-responsive")


def empty(message: str) -> Any:
    return html.Div(message, className="mp-empty", role="status", **{"data-state": "empty"})
