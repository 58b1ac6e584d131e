"""Dashboard pages: the built-in ``PageSpec`` list, URLs, and the widgets laid out on a page.

A page's widgets are every registered widget whose ``page`` (or ``also_on``) names it,
ordered by ``order``. Each appearance is an instance whose id is the page slug (plus a
counter if the same widget appears twice on one page), so ids are stable across reloads.
"""

from __future__ import annotations

from typing import Any

from dash import html

from moviepulse.core.types import PageSpec
from moviepulse.dash_app.widget import SIZES, Widget

BASE = "/admin/"

CORE_PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "Overview", 0, "The headline numbers from every area."),
    PageSpec("ctr", "CTR", 10, "Click-through rate by day, variant and placement; the placement funnel."),
    PageSpec("experiments", "Experiments", 20, "The A/B test: z-test, confidence interval, SRM, guards."),
    PageSpec("ssr", "SSR", 30, "Server-rendering scores, percentiles, drops and alerts."),
    PageSpec("ingestion", "Ingestion", 40, "Metadata ingestion: funnel by source and locale, upstream health."),
    PageSpec("queue", "Queue", 50, "The task queue: backlog, failures, wait and run times."),
    PageSpec("plugins", "Plugins", 90, "Every plugin and what it registered."),
)


def page_path(slug: str) -> str:
    return BASE if slug == "overview" else f"{BASE}{slug}"


def slug_from_path(pathname: str | None) -> str:
    """``/admin/ctr`` -> ``ctr``; ``/admin/`` (and anything unknown) -> ``overview``-style lookup."""
    path = (pathname or BASE)
    if not path.startswith(BASE):
        return "overview"
    rest = path[len(BASE):].strip("/")
    return rest.split("/", 1)[0] or "overview"


def ordered_pages(pulse: Any) -> list[PageSpec]:
    return sorted(pulse.pages, key=lambda p: (p.order, p.slug))


def widgets_for(pulse: Any, page_slug: str) -> list[tuple[Widget, str]]:
    """(widget instance, instance id) for every widget on ``page_slug``, in order.

    A page whose ``PageSpec.extra["widgets"]`` lists widget slugs shows exactly those, in that
    order (a slug may repeat: each appearance is its own instance).
    """
    spec = pulse.pages.find(page_slug)
    explicit = (spec.extra or {}).get("widgets") if spec is not None else None
    found: list[Widget] = []
    if explicit:
        for slug in explicit:
            cls = pulse.widgets.find(slug)
            if cls is not None:
                found.append(widget_instance(pulse, cls))
    else:
        for cls in pulse.widgets:
            if cls.page == page_slug or page_slug in tuple(getattr(cls, "also_on", ()) or ()):
                found.append(widget_instance(pulse, cls))
        found.sort(key=lambda w: (w.order, w.slug))
    out: list[tuple[Widget, str]] = []
    seen: dict[str, int] = {}
    for widget in found:
        n = seen.get(widget.slug, 0)
        seen[widget.slug] = n + 1
        out.append((widget, page_slug if n == 0 else f"{page_slug}-{n + 1}"))
    return out


def widget_instance(pulse: Any, cls: Any) -> Widget:
    """One shared instance per widget class per app (widgets hold no per-request state)."""
    cache: dict[str, Widget] = pulse.app.extensions.setdefault("moviepulse.widget_instances", {})
    if cls.slug not in cache:
        cache[cls.slug] = cls() if isinstance(cls, type) else cls
    return cache[cls.slug]


def grid(items: list[tuple[Widget, str]], page_slug: str = "") -> Any:
    """Bootstrap grid of widget cards (``size`` on the widget's own page, ``also_size`` elsewhere)."""
    cols = []
    for w, instance in items:
        size = w.size if w.page == page_slug else getattr(w, "also_size", "half")
        cols.append(html.Div(w.layout(w.ids(), instance), className=f"col-12 col-xl-{SIZES.get(size, 6)} mb-3"))
    return html.Div(cols, className="row")


def page_content(pulse: Any, slug: str) -> Any:
    """The body of one page (the Plugins page is built from ``pulse.describe_plugins()``)."""
    spec = pulse.pages.find(slug)
    if spec is None:
        return html.Div([html.H1("Page not found", className="h4"),
                         html.P(f"There is no dashboard page called {slug!r}.")],
                        id="mp-page-missing", className="p-3")
    header = [html.H1(spec.title, className="h4 mb-1", id="mp-page-title"),
              html.P(spec.description, className="mp-muted small mb-3")] if spec.description else \
        [html.H1(spec.title, className="h4 mb-3", id="mp-page-title")]
    if slug == "plugins":
        from moviepulse.dash_app.plugins_page import plugins_table

        return html.Div([*header, plugins_table(pulse)], **{"data-page": slug})
    items = widgets_for(pulse, slug)
    if not items:
        return html.Div([*header, html.P("No widgets are registered for this page.", className="mp-empty")],
                        **{"data-page": slug})
    return html.Div([*header, grid(items, slug)], **{"data-page": slug})
