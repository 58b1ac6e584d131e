"""The filter bar: date range and audience, kept in the URL query string and a ``dcc.Store``.

``?start=YYYY-MM-DD&end=YYYY-MM-DD&audience=<slug>`` makes every view shareable and
bookmarkable; one callback keeps the URL, the controls and the store ``mp-filters`` in step
(back/forward changes the URL, which updates the controls and the store; a control change
writes the URL without reloading). Widgets listen to the store only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from dash import Input, Output, State, ctx, dcc, html, no_update

from moviepulse.dash_app.widget import FILTER_STORE_ID
from moviepulse.models.base import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from dash import Dash

GLOBAL_AUDIENCE = "global"
MAX_RANGE_DAYS = 366
PRESETS = (7, 14, 30, 90)

URL_ID = "mp-url"
START_ID = "mp-filter-start"
END_ID = "mp-filter-end"
RANGE_ID = "mp-filter-range"
PRESET_ID = "mp-filter-preset"
AUDIENCE_ID = "mp-filter-audience"


def today() -> date:
    return utcnow().date()


@dataclass(frozen=True)
class Filters:
    """The filter state every widget receives."""

    start: date
    end: date
    audience: str = GLOBAL_AUDIENCE

    @classmethod
    def default(cls, days: int = 14) -> Filters:
        end = today()
        return cls(end - timedelta(days=days - 1), end, GLOBAL_AUDIENCE)

    @classmethod
    def parse(cls, start: Any, end: Any, audience: Any, audiences: Any = None,
              default_days: int = 14) -> Filters:
        """Validated filters; anything invalid falls back to the default for that part."""
        fallback = cls.default(default_days)
        s, e = _date(start), _date(end)
        if s is None or e is None or s > e or (e - s).days >= MAX_RANGE_DAYS:
            s, e = fallback.start, fallback.end
        aud = str(audience) if audience else GLOBAL_AUDIENCE
        if audiences is not None and not (audiences(aud) if callable(audiences) else aud in audiences):
            aud = GLOBAL_AUDIENCE
        return cls(s, e, aud)

    @classmethod
    def from_query(cls, search: str | None, audiences: Any = None, default_days: int = 14) -> Filters:
        qs = parse_qs((search or "").lstrip("?"))

        def first(key: str) -> str | None:
            values = qs.get(key)
            return values[0] if values else None

        return cls.parse(first("start"), first("end"), first("audience"), audiences, default_days)

    @classmethod
    def from_store(cls, data: dict[str, Any] | None) -> Filters:
        data = data or {}
        return cls.parse(data.get("start"), data.get("end"), data.get("audience"))

    def to_store(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "audience": self.audience}

    def to_query(self) -> str:
        return "?" + urlencode(self.to_store())


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def audience_ok(pulse: Any) -> Any:
    """A predicate: is ``slug`` a registered audience or a valid ``<kind>:<value>`` one?"""

    def check(slug: str) -> bool:
        if slug == GLOBAL_AUDIENCE or slug in pulse.audiences:
            return True
        try:
            from moviepulse.analytics.audiences import UnknownAudience, parse_audience_slug
        except ImportError:
            return False
        try:
            parse_audience_slug(slug)
        except UnknownAudience:
            return False
        return True

    return check


def recent_cohorts(weeks: int = 8) -> list[str]:
    """ISO weeks (``YYYY-Www``) of the last ``weeks`` weeks, newest first."""
    out = []
    for i in range(weeks):
        y, w, _ = (today() - timedelta(weeks=i)).isocalendar()
        out.append(f"{y}-W{w:02d}")
    return out


def audience_options(pulse: Any, current: str | None = None) -> list[dict[str, str]]:
    """``global`` first, every registered audience, recent first-seen cohorts, and ``current``."""
    options = [{"label": "Global (all visitors)", "value": GLOBAL_AUDIENCE}]
    for audience in pulse.audiences:
        slug = audience.slug
        if slug == GLOBAL_AUDIENCE:
            continue
        label = getattr(audience, "label", None) or getattr(audience, "title", None) or slug
        options.append({"label": str(label), "value": slug})
    for week in recent_cohorts():
        slug = f"cohort:{week}"
        if slug not in pulse.audiences:
            options.append({"label": f"Cohort first seen {week}", "value": slug})
    if current and current not in {o["value"] for o in options}:
        options.append({"label": current, "value": current})
    return options


def filter_bar(pulse: Any, initial: Filters) -> Any:
    """The filter bar: preset, start and end dates, audience; every control labelled."""
    presets = [{"label": f"Last {d} days", "value": str(d)} for d in PRESETS] + [{"label": "Custom", "value": ""}]
    span = (initial.end - initial.start).days + 1
    return html.Div(
        [
            html.Div([
                html.Label("Range", htmlFor=PRESET_ID, className="form-label mb-1"),
                dcc.Dropdown(id=PRESET_ID, options=presets, value=str(span) if span in PRESETS else "",
                             clearable=False, searchable=False, style={"minWidth": "10rem"}),
            ]),
            html.Div([
                html.Div("Dates", className="form-label mb-1 d-block", **{"aria-hidden": "true"}),
                html.Label("Start date", htmlFor=START_ID, className="visually-hidden"),
                html.Label("End date", htmlFor=END_ID, className="visually-hidden"),
                dcc.DatePickerRange(
                    id=RANGE_ID, start_date_id=START_ID, end_date_id=END_ID,
                    start_date=initial.start.isoformat(), end_date=initial.end.isoformat(),
                    display_format="YYYY-MM-DD", start_date_placeholder_text="Start date",
                    end_date_placeholder_text="End date", minimum_nights=0, clearable=False,
                    updatemode="bothdates", first_day_of_week=1,
                ),
            ]),
            html.Div([
                html.Label("Audience", htmlFor=AUDIENCE_ID, className="form-label mb-1"),
                dcc.Dropdown(id=AUDIENCE_ID, options=audience_options(pulse, initial.audience), value=initial.audience,
                             clearable=False, searchable=True, style={"minWidth": "14rem"}),
            ]),
        ],
        id="mp-filterbar", className="mp-filterbar d-flex flex-wrap gap-3 align-items-end px-3 py-2",
        role="search", **{"aria-label": "Dashboard filters"},
    )


def register_filter_callbacks(dash_app: Dash, pulse: Any) -> None:
    """One callback keeps URL query, controls and store in step (no page reload)."""

    known_audiences = audience_ok(pulse)
    default_days = int(pulse.setting("DASHBOARD_DEFAULT_DAYS", 14) or 14)

    @dash_app.callback(
        Output(URL_ID, "search"),
        Output(RANGE_ID, "start_date"),
        Output(RANGE_ID, "end_date"),
        Output(PRESET_ID, "value"),
        Output(AUDIENCE_ID, "value"),
        Output(AUDIENCE_ID, "options"),
        Output(FILTER_STORE_ID, "data"),
        Input(URL_ID, "search"),
        Input(RANGE_ID, "start_date"),
        Input(RANGE_ID, "end_date"),
        Input(PRESET_ID, "value"),
        Input(AUDIENCE_ID, "value"),
        State(FILTER_STORE_ID, "data"),
    )
    def sync(search, start, end, preset, audience, current):
        audiences = known_audiences
        trigger = ctx.triggered_id
        if trigger == PRESET_ID and preset:
            end_day = _date(end) or today()
            filters = Filters.parse((end_day - timedelta(days=int(preset) - 1)), end_day, audience, audiences,
                                    default_days)
        elif trigger in (RANGE_ID, AUDIENCE_ID):
            filters = Filters.parse(start, end, audience, audiences, default_days)
        else:  # first load, or back/forward changed the URL
            filters = Filters.from_query(search, audiences, default_days)
        span = (filters.end - filters.start).days + 1
        new_search = filters.to_query()
        store = filters.to_store()
        return (
            new_search if new_search != search else no_update,
            filters.start.isoformat(),
            filters.end.isoformat(),
            str(span) if span in PRESETS else "",
            filters.audience,
            audience_options(pulse, filters.audience),
            store if store != current else no_update,
        )
