"""``Widget``: the base class of every dashboard widget (re-exported as ``moviepulse.Widget``).

A plugin registers widget *classes* through ``register_widgets``. The dashboard lays each
one out on its page (and on ``also_on`` pages) as an *instance* with its own id, so a widget
may appear more than once. Element ids are pattern-matching dicts namespaced by the widget
slug, ``{"widget": slug, "part": part, "instance": instance}``, and callbacks are registered
once per class with ``MATCH`` on ``instance`` — on the Dash app being built, never with the
global ``dash.callback``.

The common case needs only :meth:`Widget.render`: given the filters it returns a figure
(or an :class:`Empty` / :class:`Unavailable` state) and optional extra content; the default
layout is a card with a title, a status line, a fixed-height graph and an extra area.

Callbacks never touch tables: ``render`` calls query modules through
``moviepulse.dash_app.data.query``, whose results are cached for ``DASHBOARD_CACHE_SECONDS``;
when a widget shows numbers computed earlier than its callback, its status line says
"as of HH:MM:SS UTC".
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from dash import MATCH, Input, Output, State, dcc, html, no_update

from moviepulse.core import resultcache
from moviepulse.dash_app import theme

if TYPE_CHECKING:  # pragma: no cover
    from dash import Dash

    from moviepulse.dash_app.filters import Filters

#: Ids of the shell components every widget listens to.
FILTER_STORE_ID = "mp-filters"
REFRESH_ID = "mp-refresh"

NO_DATA = "No data for this audience and range."

_INSTANCE: ContextVar[str] = ContextVar("moviepulse_widget_instance", default="")

SIZES = {"full": 12, "half": 6, "third": 4, "two-thirds": 8}


@dataclass(frozen=True)
class WidgetIds:
    """Pattern-matching ids for one widget class; ``instance`` defaults to ``MATCH``."""

    slug: str

    def part(self, name: str, instance: Any = MATCH) -> dict[str, Any]:
        return {"widget": self.slug, "part": name, "instance": instance}

    def graph(self, instance: Any = MATCH) -> dict[str, Any]:
        return self.part("graph", instance)

    def status(self, instance: Any = MATCH) -> dict[str, Any]:
        return self.part("status", instance)

    def extra(self, instance: Any = MATCH) -> dict[str, Any]:
        return self.part("extra", instance)

    def config(self, instance: Any = MATCH) -> dict[str, Any]:
        return self.part("config", instance)

    @staticmethod
    def stringify(ident: dict[str, Any]) -> str:
        """The DOM id Dash gives a dict id (sorted keys, compact JSON), e.g. for ``htmlFor``."""
        import json

        return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(ident[k])}" for k in sorted(ident)) + "}"

    @staticmethod
    def dom_id(slug: str, instance: str) -> str:
        """The plain string id of an instance's card (stable; used by browser tests)."""
        return f"w-{slug}--{instance}"


@dataclass
class Empty:
    """Nothing to show for these filters (the message is shown in place of the chart)."""

    message: str = NO_DATA


@dataclass
class Unavailable:
    """The data source this widget needs is missing or failed; shown as a clear state."""

    message: str


@dataclass
class Rendered:
    """What :meth:`Widget.render` returns: a figure or a state, plus optional extra content."""

    figure: Any  # a Fig / go.Figure, or Empty / Unavailable
    extra: Any = None
    status: str = ""
    #: Values for the widget's ``extra_outputs``, keyed ``"<part>.<prop>"``.
    more: dict[str, Any] = field(default_factory=dict)


class Widget:
    """Base class for dashboard widgets. Subclass, set the class attributes, implement ``render``."""

    slug: ClassVar[str]
    title: ClassVar[str]
    page: ClassVar[str] = "overview"
    #: Other pages this widget also appears on (each appearance is a separate instance).
    also_on: ClassVar[tuple[str, ...]] = ()
    #: ``full`` | ``two-thirds`` | ``half`` | ``third`` of the page width.
    size: ClassVar[str] = "half"
    #: The width on ``also_on`` pages (the Overview is a grid of halves).
    also_size: ClassVar[str] = "half"
    #: Fixed figure height in pixels.
    height: ClassVar[int] = 300
    #: Position on the page (lower first).
    order: ClassVar[int] = 100
    description: ClassVar[str] = ""
    #: False for widgets whose content is not a chart (cards, tables): no graph element.
    has_graph: ClassVar[bool] = True
    #: Additional ``(part, prop)`` outputs of the default callback (filled from ``Rendered.more``).
    extra_outputs: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def ids(cls) -> WidgetIds:
        return WidgetIds(cls.slug)

    # -- layout --------------------------------------------------------------------------
    def layout(self, ids: WidgetIds, instance: str) -> Any:
        """The card for one instance. Override to add controls; keep the part ids."""
        body: list[Any] = [
            html.Div(
                [html.H2(self.title, id=ids.part("title", instance)),
                 html.Span(id=ids.status(instance), className="mp-muted small", **{"aria-live": "polite"})],
                className="d-flex justify-content-between align-items-baseline gap-2 mb-2",
            ),
        ]
        if self.has_graph:
            body.append(dcc.Graph(
                id=ids.graph(instance),
                figure=placeholder_figure(self.height),
                config={"displayModeBar": False, "responsive": False},
                style={"height": f"{self.height}px"},
            ))
        body.append(html.Div(id=ids.extra(instance), className="mt-2"))
        body.append(dcc.Store(id=ids.config(instance), data={"slug": self.slug, "instance": instance}))
        body.extend(self.extra_controls(ids, instance))
        return html.Section(
            body,
            id=WidgetIds.dom_id(self.slug, instance),
            className="mp-card p-3 h-100",
            **{"data-widget": self.slug, "data-instance": instance, "aria-label": self.title},
        )

    def extra_controls(self, ids: WidgetIds, instance: str) -> list[Any]:
        """Additional components appended to the card (buttons, stores)."""
        return []

    # -- data ----------------------------------------------------------------------------
    def render(self, filters: Filters) -> Rendered:
        """Ask the query modules for data and build the figure. Must not touch tables."""
        raise NotImplementedError

    @staticmethod
    def current_instance() -> str:
        """The instance id being rendered (inside ``render``), for ids of dynamic elements."""
        return _INSTANCE.get()

    def safe_render(self, filters: Filters) -> Rendered:
        """``render``, with a failure turned into an ``Unavailable`` state (logged)."""
        from moviepulse.dash_app.data import QueryUnavailable

        try:
            return self.render(filters)
        except QueryUnavailable as exc:
            return Rendered(Unavailable(str(exc)))
        except Exception:  # noqa: BLE001 - one widget must not break the page
            import logging

            logging.getLogger("moviepulse.dashboard").exception("widget %s failed", self.slug)
            return Rendered(Unavailable("This widget failed to load its data; see the server log."))

    def outputs(self, rendered: Rendered) -> tuple[Any, Any, Any]:
        """(figure, status text, extra children) for the default callback."""
        fig = rendered.figure
        if isinstance(fig, Empty | Unavailable):
            state = "empty" if isinstance(fig, Empty) else "unavailable"
            # With a graph the message is drawn in the figure; the text stays for screen readers and tests.
            hidden = " visually-hidden" if self.has_graph else ""
            message = html.Div(fig.message, className=f"mp-empty mp-{state}{hidden}",
                               **{"data-state": state, "role": "status"})
            figure_out = message_figure(self.height, fig.message)
            extra = [message, *_as_list(rendered.extra)] if rendered.extra is not None else message
            return figure_out, rendered.status or ("unavailable" if state == "unavailable" else ""), extra
        fig = prepared(fig, self)
        extra = _as_list(rendered.extra) if isinstance(rendered.extra, list | tuple) else rendered.extra
        return fig, rendered.status, extra

    # -- callbacks -----------------------------------------------------------------------
    def register_callbacks(self, dash_app: Dash, ids: WidgetIds) -> None:
        """Register this class's callbacks on ``dash_app`` (called once per class per app)."""
        widget = self
        outputs = [Output(ids.status(), "children"), Output(ids.extra(), "children")]
        if self.has_graph:
            outputs.insert(0, Output(ids.graph(), "figure"))
        outputs += [Output(ids.part(part), prop) for part, prop in self.extra_outputs]

        @dash_app.callback(
            *outputs,
            Input(FILTER_STORE_ID, "data"),
            Input(REFRESH_ID, "n_intervals"),
            State(ids.config(), "data"),
        )
        def _update(filter_data: dict[str, Any] | None, _n: int | None, _config: dict[str, Any] | None):
            from moviepulse.dash_app.filters import Filters

            filters = Filters.from_store(filter_data)
            token = _INSTANCE.set(str((_config or {}).get("instance", "")))
            try:
                with resultcache.track() as seen:
                    rendered = widget.safe_render(filters)
            finally:
                _INSTANCE.reset(token)
            fig, status, extra = widget.outputs(rendered)
            status = with_age(status, seen.oldest)
            more = [rendered.more.get(f"{part}.{prop}", no_update) for part, prop in widget.extra_outputs]
            head = [fig, status, extra] if widget.has_graph else [status, extra]
            return (*head, *more)


#: Numbers computed at least this long before the callback get an "as of" in the status line.
STALE_AFTER_SECONDS = 1.0


def with_age(status: Any, computed_at: float | None, now: float | None = None) -> Any:
    """``status`` plus "as of HH:MM:SS UTC" when the oldest number shown was computed (cached) at
    least :data:`STALE_AFTER_SECONDS` before ``now`` (epoch seconds); else ``status`` unchanged."""
    if computed_at is None or (now if now is not None else time.time()) - computed_at < STALE_AFTER_SECONDS:
        return status
    age = f"as of {datetime.fromtimestamp(computed_at, UTC).strftime('%H:%M:%S')} UTC"
    return f"{status} · {age}" if status else age


def prepared(fig: Any, widget: Widget) -> Any:
    """Run the ``prepare_figure`` hook (on a real ``go.Figure``) when a plugin implements it."""
    from moviepulse.core.pulse import current_pulse

    try:
        pulse = current_pulse()
    except (RuntimeError, KeyError):  # pragma: no cover - outside an app context
        return fig
    if not pulse.pm.hook.prepare_figure.get_hookimpls():
        return fig
    figure = fig.to_go() if hasattr(fig, "to_go") else fig
    pulse.pm.hook.prepare_figure(figure=figure, widget=widget, pulse=pulse)
    return figure


def placeholder_figure(height: int) -> Any:
    """The figure shown before the first callback answers (fixed height, no data)."""
    fig = theme.figure(height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def message_figure(height: int, message: str) -> Any:
    """An empty figure with ``message`` in the middle (empty or unavailable state)."""
    fig = placeholder_figure(height)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"color": theme.MUTED_TEXT, "size": 14})
    return fig


def _as_list(children: Any) -> list[Any]:
    """Children as a flat list (Dash does not render a list nested in a list)."""
    if isinstance(children, list | tuple):
        out: list[Any] = []
        for child in children:
            out.extend(_as_list(child))
        return out
    return [children]
