"""``Fig``: a light Plotly figure builder that produces the figure dict directly.

Building a ``plotly.graph_objects.Figure`` validates every property and deep-copies the
template, which costs 20–30 ms per small chart on this machine class — more than the
queries behind it. ``Fig`` offers the subset of the ``go.Figure`` API the widgets use
(``add_bar``, ``add_scatter``, ``add_annotation``, ``update_layout``, ``update_xaxes``,
``update_yaxes``, ``magic_underscores`` for a few compound properties) and serialises
through ``to_plotly_json`` like a real figure. ``to_go()`` returns a real ``go.Figure``
(used when a plugin implements ``prepare_figure``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

#: Prefixes whose ``prefix_sub`` keyword means ``{"prefix": {"sub": value}}`` (Plotly's magic underscores).
COMPOUND = frozenset({"marker", "line", "title", "font", "hoverlabel", "textfont", "legend", "error"})
_AXIS = re.compile(r"^([xy])axis(\d*)$")


def expand(props: dict[str, Any]) -> dict[str, Any]:
    """``{"marker_color": c, "title_text": t}`` -> ``{"marker": {"color": c}, "title": {"text": t}}``."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        prefix, _, rest = key.partition("_")
        if rest and prefix in COMPOUND and key not in ("error_x", "error_y"):
            merge(out, {prefix: expand({rest: value})})
        else:
            merge(out, {key: value})
    return out


def merge(target: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into ``target`` (``None`` values are dropped, as Plotly does)."""
    for key, value in update.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


class Fig:
    """A figure as ``{"data": [...], "layout": {...}}`` with a ``go.Figure``-like API."""

    def __init__(self, layout: dict[str, Any] | None = None) -> None:
        self.data: list[dict[str, Any]] = []
        self.layout: dict[str, Any] = copy.deepcopy(layout or {})

    # -- traces --------------------------------------------------------------------------
    def add_trace(self, kind: str, **props: Any) -> Fig:
        trace = {"type": kind, **expand(props)}
        row, col = trace.pop("row", None), trace.pop("col", None)
        if row is not None and col is not None and col > 1:
            trace.setdefault("xaxis", f"x{col}")
            trace.setdefault("yaxis", f"y{col}")
        self.data.append(trace)
        return self

    def add_bar(self, **props: Any) -> Fig:
        return self.add_trace("bar", **props)

    def add_scatter(self, **props: Any) -> Fig:
        return self.add_trace("scatter", **props)

    def add_annotation(self, **props: Any) -> Fig:
        self.layout.setdefault("annotations", []).append(expand(props))
        return self

    # -- layout --------------------------------------------------------------------------
    def update_layout(self, **props: Any) -> Fig:
        merge(self.layout, expand(props))
        return self

    def _axes(self, letter: str) -> list[str]:
        names = [k for k in self.layout if (m := _AXIS.match(k)) and m.group(1) == letter]
        return names or [f"{letter}axis"]

    def update_xaxes(self, **props: Any) -> Fig:
        for name in self._axes("x"):
            merge(self.layout.setdefault(name, {}), expand(props))
        return self

    def update_yaxes(self, **props: Any) -> Fig:
        for name in self._axes("y"):
            merge(self.layout.setdefault(name, {}), expand(props))
        return self

    def update_axis(self, name: str, **props: Any) -> Fig:
        """One axis by name (``"x"``, ``"y2"`` …)."""
        key = f"{name[0]}axis{name[1:]}"
        merge(self.layout.setdefault(key, {}), expand(props))
        return self

    # -- output --------------------------------------------------------------------------
    def to_plotly_json(self) -> dict[str, Any]:
        return {"data": self.data, "layout": self.layout}

    def to_dict(self) -> dict[str, Any]:
        return self.to_plotly_json()

    def to_go(self) -> Any:
        import plotly.graph_objects as go

        return go.Figure(self.to_plotly_json())
