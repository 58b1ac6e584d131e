'''Templates for ``moviepulse new-plugin``: ``{relative path: text}`` with ``{{placeholders}}``.

Placeholders are the fields of ``PluginNames`` (``slug``, ``name``, ``dist``, ``package``,
``title``, ``env``, ``cls``) plus ``api`` (hook API major) and ``moviepulse_version``.
'''

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64", "wheel"]
build-backend = "setuptools.build_meta"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "-p no:cacheprovider -p no:dash"

[tool.ruff]
line-length = 110
"""

SETUP_CFG = """\
[metadata]
name = {{dist}}
version = 0.1.0
description = {{title}}: a MoviePulse plugin.
long_description = file: README.md
long_description_content_type = text/markdown

[options]
packages = find:
python_requires = >=3.11
install_requires =
    moviepulse>={{moviepulse_version}}

[options.packages.find]
include = {{package}}, {{package}}.*

[options.extras_require]
test =
    pytest>=8

[options.entry_points]
moviepulse =
    {{name}} = {{package}}
"""

README = """\
# {{dist}}

{{title}}: a [MoviePulse](https://example.invalid/moviepulse) plugin.

It adds:

- a setting, `{{env}}_GREETING`;
- a task, `{{name}}.hello`, run on demand (`pulse.enqueue("{{name}}.hello", "you")`);
- a periodic task, `{{name}}.remember`, run every `{{env}}_EVERY_SECONDS` seconds (default 3600) by the
  Huey consumer; it keeps its last result in the queue's key-value store;
- an admin JSON endpoint, `GET /admin/api/{{slug}}/hello`;
- a dashboard widget, `{{slug}}-views`, on the Overview page: view events per day.

## Install next to MoviePulse

    pip install -e .
    moviepulse plugins            # {{name}} is listed with what it registered

## Test

    pip install -e '.[test]'
    pytest
"""

INIT = '''\
"""{{title}}: a MoviePulse plugin (hook API {{api}})."""

from __future__ import annotations

from moviepulse import Setting, TaskSpec, hookimpl
from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.pulse import current_pulse
from moviepulse.extensions import db
from moviepulse.models.movie import Movie
from sqlalchemy import func, select

#: The MoviePulse hook API this plugin is written for; start-up refuses another major.
MOVIEPULSE_API = {{api}}

__version__ = "0.1.0"

LAST_KEY = "{{name}}:last"


def hello(name: str = "world") -> dict:
    """The on-demand task: runs in the app context, so the database is at hand."""
    greeting = current_pulse().setting("{{env}}_GREETING")
    movies = db.session.scalar(select(func.count()).select_from(Movie))
    return {"message": f"{greeting}, {name}", "movies": movies}


def remember() -> None:
    """The periodic task. Huey keeps no result for periodic tasks, so it stores its own."""
    current_pulse().huey.put(LAST_KEY, hello("scheduler"))


def last_result() -> dict | None:
    """What ``remember`` stored last (read by any process sharing the queue)."""
    return current_pulse().huey.get(LAST_KEY, peek=True)


api = admin_api_blueprint("{{name}}_api", __name__, "/{{slug}}")


@api.get("/hello")
def hello_view():
    return {**hello(), "last": last_result()}


@hookimpl
def register_settings():
    return [
        Setting("{{env}}_GREETING", "Hello", "Greeting used by {{name}}.hello."),
        Setting("{{env}}_EVERY_SECONDS", 3600, "How often {{name}}.remember runs (seconds)."),
    ]


@hookimpl
def register_tasks():
    return [
        TaskSpec("{{name}}.hello", hello, retries=2, retry_delay=10),
        TaskSpec("{{name}}.remember", remember, schedule="{{env}}_EVERY_SECONDS"),
    ]


@hookimpl
def register_blueprints():
    return [api]


@hookimpl
def register_widgets():
    from {{package}}.widget import {{cls}}ViewsWidget

    return [{{cls}}ViewsWidget]
'''

QUERIES = '''\
"""The data behind the widget. Widgets never query tables themselves: they call functions
with the signature ``(session, start, end, audience)`` through ``moviepulse.dash_app.data.query``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from moviepulse.analytics.audiences import resolve_audience
from moviepulse.models.events import Event
from sqlalchemy import false, func, or_, select


def views_per_day(session: Any, start: date, end: date, audience: Any = "global") -> dict:
    """Non-bot ``view`` events per day in ``[start, end]``: ``{"days": [iso...], "views": [n...]}``."""
    lo, hi = datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)
    day = func.date(Event.event_time)
    query = (select(day, func.count()).where(
        Event.type == "view", Event.event_time >= lo, Event.event_time < hi,
        or_(Event.is_bot == false(), Event.is_bot.is_(None)), *resolve_audience(audience).conditions(Event),
    ).group_by(day))
    counts = {str(d)[:10]: n for d, n in session.execute(query)}
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    return {"days": days, "views": [counts.get(d, 0) for d in days]}
'''

WIDGET = '''\
"""``{{cls}}ViewsWidget``: view events per day, on the dashboard's Overview page."""

from __future__ import annotations

from typing import Any

from moviepulse import Widget
from moviepulse.dash_app import data, theme
from moviepulse.dash_app.widget import Empty, Rendered


class {{cls}}ViewsWidget(Widget):
    slug = "{{slug}}-views"
    title = "{{title}}: views per day"
    page = "overview"
    size = "half"
    order = 200
    height = 240

    def render(self, filters: Any) -> Rendered:
        result = data.query("{{package}}.queries", "views_per_day", filters)
        if not sum(result["views"]):
            return Rendered(Empty())
        fig = theme.figure(self.height)
        fig.add_bar(x=result["days"], y=result["views"], name="Views", marker_color=theme.sequential(0.6))
        theme.date_axis(fig)
        theme.count_axis(fig)
        return Rendered(fig, status=f"{sum(result['views'])} views")
'''

TEST = '''\
"""{{title}} works inside a real MoviePulse app (immediate Huey, temporary SQLite database)."""

from datetime import timedelta

from moviepulse.dash_app.filters import Filters
from moviepulse.dash_app.pages import widgets_for
from moviepulse.dash_app.widget import Empty
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event
from moviepulse.testing import admin_client, make_app, pulse_of

import {{package}}
from {{package}}.widget import {{cls}}ViewsWidget

#: The built-in plugins this plugin needs (fast, and immune to the others); drop it to test with all.
NEEDS = ["core", "dashboard"]


def make(**overrides):
    return make_app(plugins=[{{package}}], only_plugins=NEEDS, **overrides)


def test_plugin_is_registered():
    plugins = {p["name"]: p for p in pulse_of(make()).describe_plugins()}
    registered = plugins["{{package}}"]["registered"]
    assert registered["tasks"] == ["{{name}}.hello", "{{name}}.remember"]
    assert registered["widgets"] == ["{{slug}}-views"]
    assert "{{env}}_GREETING" in registered["settings"]


def test_task_runs():
    app = make()
    result = pulse_of(app).enqueue("{{name}}.hello", "tests")
    assert result.get() == {"message": "Hello, tests", "movies": 0}


def test_setting_can_be_overridden():
    app = make({{env}}_GREETING="Hi")
    assert pulse_of(app).enqueue("{{name}}.hello").get()["message"] == "Hi, world"


def test_periodic_task_stores_its_result():
    app = make()
    pulse_of(app).enqueue("{{name}}.remember")
    with app.app_context():
        assert {{package}}.last_result() == {"message": "Hello, scheduler", "movies": 0}


def test_admin_endpoint_needs_login():
    app = make()
    assert app.test_client().get("/admin/api/{{slug}}/hello").status_code == 401
    assert admin_client(app).get("/admin/api/{{slug}}/hello").get_json()["message"] == "Hello, world"


def test_widget_is_on_the_overview_page_and_counts_views():
    app = make()
    assert "{{slug}}-views" in [w.slug for w, _ in widgets_for(pulse_of(app), "overview")]
    today = utcnow().date()
    filters = Filters(today - timedelta(days=1), today)
    with app.app_context():
        assert isinstance({{cls}}ViewsWidget().render(filters).figure, Empty)
        db.session.add_all([Event(event_id=f"e{i}", type="view", event_time=utcnow(), device_id=f"d{i}",
                                  movie_id=1) for i in range(3)])
        db.session.commit()
        rendered = {{cls}}ViewsWidget().render(filters)
    assert list(rendered.figure.data[0]["y"]) == [0, 3]
'''

TEMPLATES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "setup.cfg": SETUP_CFG,
    "README.md": README,
    "{{package}}/__init__.py": INIT,
    "{{package}}/queries.py": QUERIES,
    "{{package}}/widget.py": WIDGET,
    "tests/test_{{name}}.py": TEST,
}
