"""The dashboard theme: WCAG AA contrast, one Plotly template, axis helpers."""

from __future__ import annotations

import plotly.io as pio
import pytest

from moviepulse.dash_app import theme


def _luminance_by_formula(hex_color: str) -> float:
    """WCAG relative luminance, written out independently of ``theme``."""
    rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_contrast_ratio_matches_known_values():
    assert theme.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert theme.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # #767676 on white is the classic "just passes AA" grey (4.54:1); #777777 just fails (4.48:1).
    assert theme.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert theme.contrast_ratio("#777777", "#ffffff") < 4.5
    for color in ("#1f5fa8", "#b5480b", "#4f5b6b"):
        la, lb = _luminance_by_formula(color), _luminance_by_formula("#ffffff")
        assert theme.contrast_ratio(color, "#ffffff") == pytest.approx((lb + 0.05) / (la + 0.05), rel=1e-3)


@pytest.mark.parametrize("background", [theme.PAPER, theme.SURFACE])
@pytest.mark.parametrize("foreground", [theme.TEXT, theme.MUTED_TEXT, theme.LINK])
def test_text_colours_pass_aa_on_page_and_cards(foreground, background):
    assert theme.contrast_ratio(foreground, background) >= 4.5


def test_nav_text_passes_aa():
    assert theme.contrast_ratio(theme.NAV_TEXT, theme.NAV_BG) >= 4.5


@pytest.mark.parametrize("color", [*theme.VARIANT_COLORS.values(), *theme.STATUS_COLORS.values(),
                                   *theme.CATEGORY_COLORS])
def test_series_and_status_colours_pass_aa_as_text_on_paper(color):
    # They are used as banner text on white and as badge backgrounds under white text.
    assert theme.contrast_ratio(color, theme.PAPER) >= 4.5
    assert theme.contrast_ratio(theme.text_on(color), color) >= 4.5


@pytest.mark.parametrize("color", theme.SEQUENTIAL)
def test_every_sequential_step_has_a_readable_text_colour(color):
    assert theme.contrast_ratio(theme.text_on(color), color) >= 4.5


def test_sequential_scale_gets_darker():
    lum = [theme.relative_luminance(c) for c in theme.SEQUENTIAL]
    assert lum == sorted(lum, reverse=True)
    assert theme.sequential(0) == theme.SEQUENTIAL[0] and theme.sequential(1) == theme.SEQUENTIAL[-1]


def test_variant_colours_are_distinct_for_colour_blind_viewers():
    a, b = theme.VARIANT_COLORS["A"], theme.VARIANT_COLORS["B"]
    assert a != b
    # Different lightness is not enough on its own; make sure hue differs (blue vs orange).
    ra, _, ba = (int(a[i:i + 2], 16) for i in (1, 3, 5))
    rb, _, bb = (int(b[i:i + 2], 16) for i in (1, 3, 5))
    assert ba > ra and rb > bb


def test_template_registered_once_and_figures_use_it():
    theme.register_template()
    first = pio.templates[theme.TEMPLATE_NAME]
    theme.register_template()
    assert pio.templates[theme.TEMPLATE_NAME] is first
    fig = theme.figure(280).to_plotly_json()
    assert fig["layout"]["height"] == 280
    assert fig["layout"]["template"]["layout"]["font"]["family"] == theme.FONT_FAMILY
    assert list(fig["layout"]["template"]["layout"]["colorway"]) == list(theme.CATEGORY_COLORS)
    # the dict figure is a valid Plotly figure
    real = theme.figure(200).add_bar(x=["a"], y=[1], marker_color=theme.VARIANT_COLORS["A"]).to_go()
    assert real.data[0].marker.color == theme.VARIANT_COLORS["A"]
    assert real.layout.template.layout.font.family == theme.FONT_FAMILY


def test_axis_helpers():
    fig = theme.figure(200)
    theme.percent_axis(fig, digits=2)
    theme.date_axis(fig, title="day")
    layout = fig.to_go().layout  # validated by Plotly itself
    assert layout.yaxis.tickformat == ".2%"
    assert layout.xaxis.type == "date" and layout.xaxis.tickformat == "%b %d" and layout.xaxis.title.text == "day"
    fig2 = theme.ms_axis(theme.figure(200), axis="x").to_go()
    assert fig2.layout.xaxis.ticksuffix == " ms"
    fig3 = theme.percent_points_axis(theme.figure(200)).to_go()
    assert fig3.layout.yaxis.ticksuffix == " %" and fig3.layout.yaxis.tickformat == ".1f"
    fig4 = theme.score_axis(theme.figure(200, xaxis2={"domain": [0.6, 1]}), axis="y2").to_go()
    assert list(fig4.layout.yaxis2.range) == [0, 100]


def test_axis_helpers_work_on_real_plotly_figures_too():
    import plotly.graph_objects as go

    fig = theme.percent_axis(go.Figure(), digits=1)
    assert fig.layout.yaxis.tickformat == ".1%"


def test_number_formats():
    assert theme.fmt_percent(0.04213) == "4.21 %"
    assert theme.fmt_points(4.213) == "4.21 %"
    assert theme.fmt_ms(1234.4) == "1,234 ms"
    assert theme.fmt_number(1234567) == "1,234,567"
    assert theme.fmt_percent(None) == theme.fmt_ms(None) == theme.fmt_number(None) == "–"


def test_no_widget_module_names_a_colour():
    import pathlib
    import re

    root = pathlib.Path(theme.__file__).parent
    offenders = []
    for path in [*root.glob("widgets/*.py"), root / "widget.py", root / "components.py", root / "shell.py"]:
        text = path.read_text()
        if re.search(r"#[0-9a-fA-F]{6}\b|rgba?\(", text):
            offenders.append(path.name)
    assert offenders == []
