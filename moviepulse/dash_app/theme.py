"""The dashboard's one theme: colours, fonts, the Plotly template and axis/number helpers.

This is the only module that names a colour or an axis format. Widgets ask for
``VARIANT_COLORS["A"]``, ``status_color("warning")``, ``sequential(0.7)``, ``percent_axis(fig)``;
plugins restyle through the ``prepare_figure`` hook. Every text/background pair is WCAG AA
(4.5:1 for text, 3:1 for chart marks on the paper colour), which
``tests/unit/test_dashboard_theme.py`` computes.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from moviepulse.dash_app.figure import Fig

TEMPLATE_NAME = "moviepulse"

#: Body and figure font: the fonts the CI image has, then generic fallbacks.
FONT_FAMILY = '"DejaVu Sans", "Liberation Sans", Arial, sans-serif'
FONT_SIZE = 13

PAPER = "#ffffff"  # figure and card background
SURFACE = "#f4f6f8"  # page background
TEXT = "#1d2430"  # body text
MUTED_TEXT = "#4f5b6b"  # secondary text (4.5:1 on PAPER and SURFACE)
GRID = "#dde2e8"  # gridlines (decorative, no contrast requirement)
BORDER = "#c3cad3"
LINK = "#1a56a8"
NAV_BG = "#1d2430"
NAV_TEXT = "#ffffff"
FOCUS = "#1a56a8"

#: A/B variants: a blue and an orange that colour-blind viewers can tell apart.
VARIANT_COLORS: dict[str, str] = {"A": "#1f5fa8", "B": "#b5480b"}

#: Status colours, used as text or badge background (with white text).
STATUS_COLORS: dict[str, str] = {"ok": "#1d7a35", "warning": "#8a5300", "critical": "#b42318", "unknown": "#4f5b6b"}

#: Series that are neither variant: placements, funnel stages, sources, percentiles.
CATEGORY_COLORS: tuple[str, ...] = ("#1f5fa8", "#b5480b", "#1d7a35", "#7a3fa0", "#8a5300", "#0f6f78", "#b42318")

#: Sequential scale (light to dark blue) for heatmaps and ordered categories.
SEQUENTIAL: tuple[str, ...] = ("#eaf1fb", "#c5d8f1", "#94b8e3", "#5f92cf", "#3470b4", "#1f5fa8", "#123d70")

#: Marker for a day that reconciliation flagged as drifted.
DRIFT_MARKER: dict[str, Any] = {"symbol": "x", "size": 11, "color": STATUS_COLORS["warning"],
                                "line": {"width": 1, "color": STATUS_COLORS["warning"]}}


# -- colour arithmetic (WCAG 2.x) -------------------------------------------------------
def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_color: str) -> float:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG contrast ratio, from 1 (same colour) to 21 (black on white)."""
    a, b = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_on(background: str) -> str:
    """The text colour (``TEXT`` or white) with the higher contrast on ``background``."""
    return max((TEXT, "#ffffff"), key=lambda fg: contrast_ratio(fg, background))


def variant_color(variant: str) -> str:
    return VARIANT_COLORS.get(str(variant).upper(), CATEGORY_COLORS[-1])


def status_color(status: str | None) -> str:
    return STATUS_COLORS.get((status or "unknown").lower(), STATUS_COLORS["unknown"])


def category_color(index: int) -> str:
    return CATEGORY_COLORS[index % len(CATEGORY_COLORS)]


def sequential(fraction: float) -> str:
    """A colour from the sequential scale, ``fraction`` in [0, 1]."""
    fraction = min(1.0, max(0.0, float(fraction)))
    return SEQUENTIAL[round(fraction * (len(SEQUENTIAL) - 1))]


def sequential_colorscale() -> list[list[Any]]:
    n = len(SEQUENTIAL) - 1
    return [[i / n, c] for i, c in enumerate(SEQUENTIAL)]


def status_badge_style(status: str | None) -> dict[str, str]:
    """Inline style for a status badge (background + readable text colour)."""
    bg = status_color(status)
    return {"backgroundColor": bg, "color": text_on(bg)}


# -- Plotly template -------------------------------------------------------------------
def _build_template() -> go.layout.Template:
    axis = {"gridcolor": GRID, "linecolor": BORDER, "zerolinecolor": BORDER, "tickcolor": BORDER,
            "title": {"font": {"color": MUTED_TEXT}}, "tickfont": {"color": MUTED_TEXT}, "automargin": True}
    return go.layout.Template(layout={
        "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": TEXT},
        "paper_bgcolor": PAPER, "plot_bgcolor": PAPER,
        "colorway": list(CATEGORY_COLORS),
        "colorscale": {"sequential": sequential_colorscale()},
        "xaxis": axis, "yaxis": axis,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                   "font": {"color": TEXT}},
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "title": {"font": {"size": 14, "color": TEXT}},
    })


def register_template() -> None:
    """Register the ``moviepulse`` Plotly template once per process (idempotent)."""
    if TEMPLATE_NAME not in pio.templates:
        pio.templates[TEMPLATE_NAME] = _build_template()


_TEMPLATE_JSON: dict[str, Any] = {}


def template_json() -> dict[str, Any]:
    """The registered template as a plain dict (computed once per process)."""
    if not _TEMPLATE_JSON:
        register_template()
        _TEMPLATE_JSON.update(pio.templates[TEMPLATE_NAME].to_plotly_json())
    return _TEMPLATE_JSON


def figure(height: int, **layout: Any) -> Fig:
    """A new figure on the MoviePulse template with a fixed height (screenshots need it).

    A :class:`~moviepulse.dash_app.figure.Fig` (dict builder, ``go.Figure``-like API), because
    building a validated ``go.Figure`` costs more than the query behind a widget.
    """
    fig = Fig({"template": template_json(), "height": height, "autosize": True})
    fig.update_layout(**layout)
    return fig


# -- axis helpers ------------------------------------------------------------------------
def _axis(fig: Any, axis: str, **props: Any) -> Any:
    """Update one axis (``"x"``, ``"y"``, ``"x2"`` …) of a ``Fig`` or a ``go.Figure``."""
    title = props.pop("title_text", None)
    if title is not None:
        props["title"] = {"text": title}
    props = {k: v for k, v in props.items() if v is not None}
    if isinstance(fig, Fig):
        fig.update_axis(axis, **props)
    else:
        fig.update_layout({f"{axis[0]}axis{axis[1:]}": props})
    return fig


def category_axis(fig: Any, axis: str = "x", title: str | None = None) -> Any:
    """Labels as categories, always (route ``404`` or year ``2024`` must not become a number)."""
    return _axis(fig, axis, type="category", title_text=title)


def percent_axis(fig: Any, axis: str = "y", digits: int = 1, title: str | None = None) -> Any:
    """Values are fractions (0.042 = 4.2 %)."""
    return _axis(fig, axis, tickformat=f".{digits}%", rangemode="tozero", title_text=title)


def percent_points_axis(fig: Any, axis: str = "y", digits: int = 1, title: str | None = None) -> Any:
    """Values are already percentages (4.2 = 4.2 %), as the analytics queries return CTRs."""
    return _axis(fig, axis, tickformat=f".{digits}f", ticksuffix=" %", rangemode="tozero", title_text=title)


def date_axis(fig: Any, axis: str = "x", title: str | None = None) -> Any:
    return _axis(fig, axis, type="date", tickformat="%b %d", hoverformat="%Y-%m-%d", title_text=title)


def hour_axis(fig: Any, axis: str = "x", title: str | None = None) -> Any:
    """Hourly buckets (queue activity)."""
    return _axis(fig, axis, type="date", tickformat="%b %d %H:%M", hoverformat="%Y-%m-%d %H:00", title_text=title)


def delta_axis(fig: Any, axis: str = "y", title: str | None = None) -> Any:
    """A signed change (score points) around a drawn zero line."""
    return _axis(fig, axis, zeroline=True, title_text=title)


def ms_axis(fig: Any, axis: str = "y", title: str | None = None) -> Any:
    return _axis(fig, axis, tickformat=",~f", ticksuffix=" ms", rangemode="tozero", title_text=title)


def count_axis(fig: Any, axis: str = "y", title: str | None = None) -> Any:
    return _axis(fig, axis, tickformat=",d", rangemode="tozero", title_text=title)


def score_axis(fig: Any, axis: str = "y", title: str | None = None) -> Any:
    """A 0–100 score (SSR score)."""
    return _axis(fig, axis, range=[0, 100], tickformat=",d", title_text=title)


# -- number formats for text ---------------------------------------------------------------
def fmt_percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def fmt_points(value: float | None, digits: int = 2) -> str:
    """A value that is already a percentage (``4.2`` -> ``4.20 %``)."""
    return "–" if value is None else f"{value:.{digits}f} %"


def fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def fmt_duration(seconds: float | None) -> str:
    """A duration given in seconds: ms below 1 s, seconds below 2 min, else minutes."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds < 120:
        return f"{seconds:,.1f} s"
    return f"{seconds / 60:,.1f} min"


def fmt_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if digits else f"{round(value):,}"


def stylesheet() -> str:
    """The dashboard CSS (served at ``/admin/theme.css`` and inlined on the login page)."""
    return f"""
:root {{ --mp-text: {TEXT}; --mp-muted: {MUTED_TEXT}; --mp-surface: {SURFACE}; --mp-paper: {PAPER};
  --mp-border: {BORDER}; --mp-link: {LINK}; --mp-focus: {FOCUS}; }}
body {{ font-family: {FONT_FAMILY}; font-size: {FONT_SIZE + 1}px; color: {TEXT}; background: {SURFACE}; }}
a {{ color: {LINK}; }}
.text-muted, .mp-muted {{ color: {MUTED_TEXT} !important; }}
.mp-nav {{ background: {NAV_BG}; color: {NAV_TEXT}; }}
.mp-nav a, .mp-nav .navbar-brand {{ color: {NAV_TEXT}; text-decoration: none; }}
.mp-nav a.active {{ text-decoration: underline; text-underline-offset: 4px; font-weight: 600; }}
.mp-nav .btn-outline-light {{ color: {NAV_TEXT}; border-color: {NAV_TEXT}; }}
.mp-card {{ background: {PAPER}; border: 1px solid {BORDER}; border-radius: 6px; }}
.mp-card h2 {{ font-size: 1rem; font-weight: 600; margin: 0; color: {TEXT}; }}
.mp-filterbar {{ background: {PAPER}; border-bottom: 1px solid {BORDER}; }}
.mp-filterbar label {{ font-weight: 600; font-size: 0.85rem; color: {TEXT}; }}
.mp-empty {{ color: {MUTED_TEXT}; }}
.mp-badge {{ display: inline-block; padding: 0.15em 0.5em; border-radius: 4px; font-size: 0.8rem;
  font-weight: 600; }}
.mp-banner-warning {{ border: 1px solid {STATUS_COLORS["warning"]}; color: {STATUS_COLORS["warning"]};
  background: {PAPER}; border-radius: 4px; padding: 0.4rem 0.6rem; }}
.mp-banner-critical {{ border: 1px solid {STATUS_COLORS["critical"]}; color: {STATUS_COLORS["critical"]};
  background: {PAPER}; border-radius: 4px; padding: 0.4rem 0.6rem; }}
.mp-table {{ font-size: 0.85rem; }}
.mp-table th {{ color: {TEXT}; }}
.mp-stat .mp-stat-value {{ font-size: 1.35rem; font-weight: 600; color: {TEXT}; }}
.mp-stat .mp-stat-label {{ font-size: 0.8rem; color: {MUTED_TEXT}; }}
:focus-visible {{ outline: 3px solid {FOCUS}; outline-offset: 2px; }}
.mp-login {{ max-width: 24rem; margin: 8vh auto; background: {PAPER}; border: 1px solid {BORDER};
  border-radius: 6px; padding: 1.5rem; }}
.mp-error {{ color: {STATUS_COLORS["critical"]}; }}
"""


register_template()
