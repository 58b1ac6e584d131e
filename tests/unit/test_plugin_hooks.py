"""One test per hook in ``moviepulse/core/hookspecs.py``: an extra plugin, a real app, real behaviour.

``tests/unit/test_plugin_docs.py`` fails when a hook has no ``test_hook_<name>`` test here (or
anywhere under ``tests/``) or no section in ``docs/plugins/hooks.md``.
"""

from __future__ import annotations

import json
import types
from datetime import datetime

import click
import pytest
from flask import Blueprint, jsonify

from moviepulse import PageSpec, Setting, TaskSpec, hookimpl
from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.errors import StartupError


def plugin(name: str, **hooks) -> types.SimpleNamespace:
    """A plugin object from plain functions (each marked ``@hookimpl``)."""
    return types.SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def pulse_of(app):
    return app.extensions["moviepulse"]


def core_app(make_app, *plugins, builtins=(), **overrides):
    """``core`` (plus ``builtins``) and the given plugins: fast, and nothing else interferes."""
    return make_app(extra_plugins=[(p.__name__, p) for p in plugins], only_plugins=["core", *builtins],
                    **overrides)


def described(app, name):
    return {p["name"]: p for p in pulse_of(app).describe_plugins()}[name]


class Thing:
    """A minimal registrable item: anything with a ``slug``."""

    def __init__(self, slug):
        self.slug = slug


# -- register_* ----------------------------------------------------------------------------

def test_hook_register_settings_defaults_env_and_overrides(make_app, monkeypatch):
    p = plugin("ht-settings", register_settings=lambda: [
        Setting("HT_GREETING", "hello", "Greeting."),
        Setting("HT_LIMIT", 10, "Limit."),
        Setting("HT_MODE", "a", "Mode."),
    ])
    monkeypatch.setenv("MOVIEPULSE_HT_LIMIT", "25")  # JSON-parsed: an int
    app = core_app(make_app, p, HT_MODE="b")
    assert app.config["HT_GREETING"] == "hello"          # default fills the key
    assert app.config["HT_LIMIT"] == 25                  # environment beats the default
    assert app.config["HT_MODE"] == "b"                  # explicit override beats both
    assert pulse_of(app).settings.plugin_of("HT_GREETING") == "ht-settings"
    assert described(app, "ht-settings")["registered"]["settings"] == ["HT_GREETING", "HT_LIMIT", "HT_MODE"]


def test_hook_register_settings_secret_blocks_production(make_app, monkeypatch):
    p = plugin("ht-secret", register_settings=lambda: [Setting("HT_API_KEY", "", "Key for the HT API.", secret=True)])
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    with pytest.raises(Exception, match="HT_API_KEY"):
        make_app("production", extra_plugins=[("ht-secret", p)], only_plugins=["core"],
                 SQLALCHEMY_DATABASE_URI="sqlite://")


def test_hook_register_sources_feeds_the_ingestion_pipeline(make_app):
    from moviepulse import Source
    from moviepulse.extensions import db
    from moviepulse.ingestion.pipeline import import_movie
    from moviepulse.models.movie import Movie
    from moviepulse.testing import fake_source

    src = fake_source("ht-source", movies=[{"tmdb_id": 1, "imdb_id": "tt0113277", "original_language": "en",
                                            "title": "Heat", "original_title": "Heat", "runtime": 170}])
    app = core_app(make_app, plugin("ht-sources", register_sources=lambda: [src]), builtins=["ingestion"])
    pulse = pulse_of(app)
    assert pulse.sources.get("ht-source") is src and issubclass(src, Source)
    assert pulse.sources.plugin_of("ht-source") == "ht-sources"
    with app.app_context():
        run = import_movie(app, "1")
        movie = db.session.get(Movie, run["movie_ids"][0])
        assert (run["status"], movie.title, movie.runtime_min, movie.imdb_id) == ("ok", "Heat", 170, "tt0113277")
    assert [ref.tmdb_id for ref in src.calls] == [1]


def _count_views(session, start, end, audience="global"):
    from sqlalchemy import func, select

    from moviepulse.analytics.audiences import resolve_audience
    from moviepulse.models.events import Event

    n = session.scalar(select(func.count()).select_from(Event).where(
        Event.type == "view", *resolve_audience(audience).conditions(Event)))
    return {"state": "ok" if n else "no_data", "views": n}


def _add_views(app, *device_types):
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event

    with app.app_context():
        db.session.add_all([Event(event_id=f"ht{i}", type="view", event_time=utcnow(), device_id=f"d{i}",
                                  movie_id=1, device_type=t) for i, t in enumerate(device_types)])
        db.session.commit()


def test_hook_register_metrics_served_by_the_metrics_api(make_app):
    from moviepulse import Metric
    from moviepulse.testing import admin_client

    metric = Metric("ht-views", "HT views", _count_views, unit="views")
    app = core_app(make_app, plugin("ht-metrics", register_metrics=lambda pulse: [metric]), builtins=["audiences"])
    assert pulse_of(app).metrics.get("ht-views") is metric
    assert described(app, "ht-metrics")["registered"] == {"metrics": ["ht-views"]}
    _add_views(app, "mobile", "desktop", "mobile")
    client = admin_client(app)
    assert client.get("/admin/api/metrics/ht-views").get_json() == {"state": "ok", "views": 3}
    assert "ht-views" in [m["slug"] for m in client.get("/admin/api/metrics").get_json()["metrics"]]


def test_hook_register_audiences_filters_analytics(make_app):
    from moviepulse import Audience, Metric
    from moviepulse.testing import admin_client

    phones = Audience("ht-phones", "HT phones", {"device_type": ["mobile", "tablet"]})
    p = plugin("ht-aud", register_audiences=lambda: [phones],
               register_metrics=lambda: [Metric("ht-views", "HT views", _count_views)])
    app = core_app(make_app, p, builtins=["audiences"])
    assert pulse_of(app).audiences.get("ht-phones") is phones
    _add_views(app, "mobile", "desktop", "tablet", "desktop", "mobile")
    client = admin_client(app)
    assert client.get("/admin/api/metrics/ht-views?audience=ht-phones").get_json()["views"] == 3
    assert client.get("/admin/api/metrics/ht-views?audience=device:desktop").get_json()["views"] == 2
    listed = client.get("/admin/api/audiences").get_json()["audiences"]
    assert {"slug": "ht-phones", "label": "HT phones"}.items() <= next(a for a in listed if a["slug"] == "ht-phones").items()


def _views_widget(slug="ht-widget", page="overview"):
    """A real ``Widget`` subclass drawing one bar per day from an inline query."""
    import plotly.graph_objects as go

    from moviepulse import Widget
    from moviepulse.dash_app.widget import Rendered

    class HtWidget(Widget):
        title = "HT widget"
        order = 1

        def render(self, filters):
            return Rendered(go.Figure(go.Bar(x=[filters.start.isoformat()], y=[42])), status="forty-two")

    HtWidget.slug, HtWidget.page = slug, page
    return HtWidget


def _widget_answer(app, slug, instance, day="2026-11-20"):
    from moviepulse.dash_app.testing import post_widget
    from moviepulse.testing import admin_client

    response = post_widget(admin_client(app), slug, instance, {"start": day, "end": day, "audience": "global"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    parts = {json.loads(k.rsplit(".", 1)[0])["part"]: v for k, v in response.get_json()["response"].items()}
    return parts


def test_hook_register_widgets_shows_the_widget_on_the_dashboard(make_app):
    widget = _views_widget()
    app = make_app(extra_plugins=[("ht-widgets", plugin("ht-widgets", register_widgets=lambda: [widget]))],
                   only_plugins=["core", "dashboard"])
    assert pulse_of(app).widgets.get("ht-widget") is widget
    parts = _widget_answer(app, "ht-widget", "overview")
    assert parts["graph"]["figure"]["data"][0]["y"] == [42]
    assert parts["status"]["children"] == "forty-two"


def test_hook_register_widgets_duplicate_slug_names_both_plugins(make_app):
    a = plugin("ht-wa", register_widgets=lambda: [Thing("same")])
    b = plugin("ht-wb", register_widgets=lambda: [Thing("same")])
    with pytest.raises(StartupError, match="Duplicate widgets slug 'same'") as info:
        core_app(make_app, a, b)
    assert "'ht-wa'" in str(info.value) and "'ht-wb'" in str(info.value)


def test_hook_register_pages_adds_a_dashboard_page(make_app):
    from moviepulse.testing import admin_client

    page = PageSpec("ht-page", "HT page", order=5, description="An extra page.")
    widget = _views_widget("ht-on-page", page="ht-page")
    app = make_app(extra_plugins=[("ht-pages", plugin("ht-pages", register_pages=lambda: [page],
                                                       register_widgets=lambda: [widget]))],
                   only_plugins=["core", "dashboard"])
    assert pulse_of(app).pages.get("ht-page").title == "HT page"
    layout = json.dumps(admin_client(app).get("/admin/_dash-layout").get_json())
    assert "HT page" in layout and "/admin/ht-page" in layout  # in the navigation
    assert _widget_answer(app, "ht-on-page", "ht-page")["graph"]["figure"]["data"][0]["y"] == [42]


def test_hook_register_tasks_runs_in_app_context_with_retries(make_app):
    from flask import current_app

    attempts = []

    def flaky(n):
        attempts.append(n)
        if len(attempts) < 2:
            raise RuntimeError("first attempt fails")
        return n * current_app.config["HT_FACTOR"]

    p = plugin("ht-tasks", register_tasks=lambda: [TaskSpec("ht.flaky", flaky, retries=1)])
    app = core_app(make_app, p, HT_FACTOR=3)
    result = pulse_of(app).enqueue("ht.flaky", 7)
    assert attempts == [7, 7]  # immediate mode runs the retry at once
    assert result.get() == 21


def test_hook_register_tasks_periodic_schedule_from_config(make_app):
    p = plugin("ht-periodic", register_settings=lambda: [Setting("HT_EVERY_SECONDS", 600, "Interval.")],
               register_tasks=lambda: [TaskSpec("ht.tick", lambda: "tick", schedule="HT_EVERY_SECONDS")])
    app = core_app(make_app, p)
    huey = pulse_of(app).huey
    due = {t.name for t in huey.read_periodic(datetime(2026, 11, 27, 10, 20))}
    not_due = {t.name for t in huey.read_periodic(datetime(2026, 11, 27, 10, 21))}
    assert "ht.tick" in due and "ht.tick" not in not_due


def _silent_rule():
    from moviepulse import AlertRule
    from moviepulse.ssr.alerts import AlertResult

    class Silent(AlertRule):
        slug = "ht.silent"
        title = "HT silent"

        def evaluate(self, ctx):
            return [AlertResult("warning", "route-a", 1.0, "too quiet"), AlertResult("ok", "route-b")]

    return Silent()


def _evaluate_alerts(app):
    """Run the built-in ``ssr.evaluate_alerts`` task (immediate Huey) and read the alerts API."""
    from moviepulse.testing import admin_client

    pulse_of(app).enqueue("ssr.evaluate_alerts")
    return admin_client(app).get("/admin/api/ssr/alerts").get_json()["alerts"]


def test_hook_register_playbooks_matches_alerts(make_app):
    from moviepulse import Playbook

    book = Playbook("ht-playbook", "HT playbook", ("alert.ht.*",), ("Make some noise.",))
    p = plugin("ht-pb", register_playbooks=lambda: [book], register_alert_rules=lambda: [_silent_rule()])
    app = core_app(make_app, p, builtins=["ssr"])
    assert pulse_of(app).playbooks.find("ht-playbook") is book
    alerts = {a["subject"]: a for a in _evaluate_alerts(app) if a["rule"] == "ht.silent"}
    assert alerts["route-a"]["playbook"] == "ht-playbook"
    assert alerts["route-b"]["playbook"] is None  # ok states get no playbook


def test_hook_register_alert_rules_are_evaluated(make_app):
    rule = _silent_rule()
    app = core_app(make_app, plugin("ht-rules", register_alert_rules=lambda: [rule]), builtins=["ssr"])
    assert pulse_of(app).alert_rules.get("ht.silent") is rule
    alerts = {a["subject"]: a for a in _evaluate_alerts(app) if a["rule"] == "ht.silent"}
    assert (alerts["route-a"]["state"], alerts["route-a"]["message"]) == ("warning", "too quiet")
    assert alerts["route-b"]["state"] == "ok"


def test_hook_register_blueprints_public_and_guarded_admin(make_app):
    public = Blueprint("ht_public", __name__)
    public.add_url_rule("/ht/hello", "hello", lambda: jsonify({"hello": "world"}))
    admin = admin_api_blueprint("ht_admin", __name__, "/ht")
    admin.add_url_rule("/secret", "secret", lambda: jsonify({"ok": True}))
    app = core_app(make_app, plugin("ht-bp", register_blueprints=lambda: [public, admin]))
    client = app.test_client()
    assert client.get("/ht/hello").get_json() == {"hello": "world"}
    assert client.get("/admin/api/ht/secret").status_code == 401
    from moviepulse.testing import admin_client

    assert admin_client(app).get("/admin/api/ht/secret").get_json() == {"ok": True}
    assert described(app, "ht-bp")["registered"]["blueprints"] == ["ht_public", "ht_admin"]


def test_hook_register_commands_adds_to_the_cli(make_app):
    @click.command("ht-hello")
    @click.argument("name")
    def hello(name):
        click.echo(f"hello {name}")

    app = core_app(make_app, plugin("ht-cmd", register_commands=lambda: [hello]))
    result = app.test_cli_runner().invoke(args=["ht-hello", "pulse"])
    assert result.exit_code == 0 and result.output == "hello pulse\n"
    plugins = app.test_cli_runner().invoke(args=["plugins"]).output
    assert "ht-cmd" in plugins and "commands: ht-hello" in plugins


# -- startup -------------------------------------------------------------------------------

def test_hook_startup_sees_filled_registries_once(make_app):
    seen = []
    p = plugin("ht-startup", register_metrics=lambda: [Thing("ht-m")],
               startup=lambda pulse: seen.append((pulse.metrics.slugs(), pulse.huey is not None)))
    core_app(make_app, p)
    assert seen == [(["ht-m"], True)]


def test_hook_startup_can_refuse_bad_config(make_app):
    def check(pulse):
        if pulse.setting("HT_URL", "").startswith("http://"):
            raise StartupError("ht: HT_URL must use https")

    p = plugin("ht-check", startup=check)
    core_app(make_app, p, HT_URL="https://ok.example")
    with pytest.raises(StartupError, match="must use https"):
        core_app(make_app, p, HT_URL="http://bad.example")


# -- event hooks ---------------------------------------------------------------------------

def test_hook_events_recorded_after_the_beacon_commits(make_app):
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.movie import Movie

    seen = []
    boom = plugin("ht-boom", events_recorded=lambda: 1 / 0)  # a failing plugin breaks nothing
    rec = plugin("ht-rec", events_recorded=lambda pulse, events: seen.append(
        (pulse is pulse_of(app), [(e["event_id"], e["type"], e["movie_id"]) for e in events])))
    app = core_app(make_app, boom, rec, builtins=["events_api"])
    with app.app_context():
        db.session.add(Movie(id=7, original_title="Heat", title="Heat"))
        db.session.commit()
    event = {"event_id": "evt-00000001", "type": "view", "ts": utcnow().isoformat() + "Z",
             "device_id": "device-0001", "movie_id": 7, "placement": "show", "variant": "A", "position": 1,
             "locale": "en"}
    client = app.test_client()
    first = client.post("/api/events", json={"events": [event]})
    assert first.status_code == 200 and first.get_json()["accepted"] == 1
    assert seen == [(True, [("evt-00000001", "view", 7)])]
    again = client.post("/api/events", json={"events": [event]})  # a resend: nothing new, no event
    assert again.get_json()["duplicates"] == 1 and len(seen) == 1


def test_hook_ingestion_completed_after_every_run(make_app):
    from moviepulse.ingestion.pipeline import import_movie
    from moviepulse.testing import fake_source

    runs = []
    src = fake_source("ht-canned", movies=[{"tmdb_id": 2, "original_language": "en", "title": "Alien",
                                            "original_title": "Alien"}])
    p = plugin("ht-ing", register_sources=lambda: [src], ingestion_completed=lambda pulse, run: runs.append(run))
    app = core_app(make_app, p, builtins=["ingestion"])
    with app.app_context():
        import_movie(app, "2")
        import_movie(app, "99")  # unknown to the source: the run still completes
    assert [(r["status"], r["counts"]["movies"].get("stored", 0)) for r in runs][0] == ("ok", 1)
    assert len(runs) == 2 and runs[1]["counts"]["movies"].get("not_found") == 1


def test_hook_upstream_event_from_an_upstream_client_emitter(make_app):
    from moviepulse.ingestion.services import make_emitter

    seen = []
    p = plugin("ht-up", upstream_event=lambda upstream, kind, detail: seen.append((upstream, kind, detail)))
    app = core_app(make_app, p)
    emit = make_emitter(pulse_of(app), "omdb")  # what every UpstreamClient reports through
    emit("budget_exhausted", {"limit": 1000, "used": 1000})
    assert seen == [("omdb", "budget_exhausted", {"limit": 1000, "used": 1000})]
    from moviepulse.core.observability import prom

    assert prom(app).upstream.labels("omdb", "budget_exhausted")._value.get() == 1


def test_hook_drift_detected_by_reconciliation(make_app):
    from datetime import timedelta

    from moviepulse.analytics.reconcile import reconcile
    from moviepulse.analytics.rollups import rollup_day
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event

    drifts = []
    app = core_app(make_app, plugin("ht-drift", drift_detected=lambda drift: drifts.append(drift)),
                   builtins=["reconciliation"])
    day = utcnow().date() - timedelta(days=2)
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)

    def impression(n, received):
        return Event(event_id=f"i{n}", type="impression", event_time=at, received_at=received, device_id="d1",
                     movie_id=1, variant="A", placement="home")

    with app.app_context():
        db.session.add_all([impression(n, at) for n in range(10)])
        db.session.commit()
        rollup_day(db.session(), day)
        reconcile(db.session, days=1, end=day, pulse=pulse_of(app))
        assert drifts == []  # rollups match the raw events
        db.session.add(impression(99, utcnow()))  # a late event after the rollup
        db.session.commit()
        reconcile(db.session, days=1, end=day, pulse=pulse_of(app))
    assert len(drifts) == 1 and drifts[0]["day"] == day.isoformat() and drifts[0]["flagged"] is True


def test_hook_task_event_for_every_queue_signal(make_app):
    seen = []
    p = plugin("ht-q", register_tasks=lambda: [TaskSpec("ht.five", lambda: 5)],
               task_event=lambda signal, task: seen.append((signal, task["name"])))
    app = core_app(make_app, p, builtins=["queue"])
    assert pulse_of(app).enqueue("ht.five").get() == 5
    assert seen == [("enqueued", "ht.five"), ("executing", "ht.five"), ("complete", "ht.five")]


def test_unknown_hook_argument_is_refused_naming_the_plugin(make_app):
    from moviepulse.core.errors import StartupError

    with pytest.raises(StartupError, match="'ht-badarg'.*register_tasks") as info:
        core_app(make_app, plugin("ht-badarg", register_tasks=lambda app: []))
    assert "app" in str(info.value)


def test_hook_event_emit_refuses_non_event_hooks(make_app):
    app = core_app(make_app)
    with pytest.raises(ValueError, match="not an event hook"):
        pulse_of(app).emit("startup")


# -- prepare_figure ------------------------------------------------------------------------

def test_hook_prepare_figure_mutates_in_place(make_app):
    import plotly.graph_objects as go

    def brand(figure, widget):
        figure.update_layout(title_text=f"{widget.slug} · HT")

    app = core_app(make_app, plugin("ht-fig", prepare_figure=brand))
    figure = go.Figure(go.Bar(x=["a"], y=[1]))
    results = pulse_of(app).pm.hook.prepare_figure(figure=figure, widget=Thing("ht-w"), pulse=pulse_of(app))
    assert results == []
    assert figure.layout.title.text == "ht-w · HT"


def test_hook_prepare_figure_restyles_dashboard_widgets(make_app):
    widget = _views_widget("ht-fig-widget")

    def brand(figure, widget):
        if widget.slug == "ht-fig-widget":
            figure.update_layout(title_text="branded")

    p = plugin("ht-fig2", register_widgets=lambda: [widget], prepare_figure=brand)
    app = make_app(extra_plugins=[("ht-fig2", p)], only_plugins=["core", "dashboard"])
    assert _widget_answer(app, "ht-fig-widget", "overview")["graph"]["figure"]["layout"]["title"]["text"] == "branded"


# -- the contract version ------------------------------------------------------------------

def test_plugin_declaring_the_current_hook_api_loads(make_app):
    import moviepulse

    p = plugin("ht-api-ok", register_settings=lambda: [Setting("HT_API_OK", 1, "x")])
    p.MOVIEPULSE_API = moviepulse.HOOK_API_VERSION
    assert core_app(make_app, p).config["HT_API_OK"] == 1


@pytest.mark.parametrize("declared", [0, 2])
def test_plugin_declaring_another_hook_api_major_is_refused_clearly(make_app, declared):
    import moviepulse

    p = plugin("ht-api-old", register_settings=lambda: [])
    p.MOVIEPULSE_API = declared
    with pytest.raises(StartupError) as info:
        core_app(make_app, p)
    message = str(info.value)
    assert "'ht-api-old'" in message
    assert f"hook API {declared}" in message and f"hook API {moviepulse.HOOK_API_VERSION}" in message
    assert "Upgrade" in message
