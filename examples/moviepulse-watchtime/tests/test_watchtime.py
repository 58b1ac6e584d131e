"""moviepulse-watchtime inside a real MoviePulse app: numbers, task, widget, API, start-up checks.

Every expected number is computed a second way: by hand for a small data set, and by a plain
Python recount for a random one.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import moviepulse
import pytest
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event
from moviepulse.models.movie import Movie
from moviepulse.testing import admin_client, make_app, pulse_of

import moviepulse_watchtime
from moviepulse_watchtime import queries
from moviepulse_watchtime.rollup import last_rollup

TODAY = utcnow().date()
D1, D2 = TODAY - timedelta(days=1), TODAY


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


def view(n, device, movie, when, **extra):
    return Event(event_id=f"v{n}", type="view", event_time=when, device_id=device, movie_id=movie, **extra)


#: The built-in plugins this plugin needs (the dashboard, for its page and widget). Testing with
#: only these is fast and immune to the others; drop ``only_plugins`` to test against all of them.
NEEDS = ["core", "dashboard"]


@pytest.fixture
def app(tmp_path):
    return make_app(plugins=[("watchtime", moviepulse_watchtime)], only_plugins=NEEDS, tmp_path=tmp_path)


@pytest.fixture
def seeded(app):
    """Heat (170 min), Alien (117 min), Untitled (no runtime); views over two days."""
    with app.app_context():
        db.session.add_all([
            Movie(id=1, original_title="Heat", title="Heat", runtime_min=170),
            Movie(id=2, original_title="Alien", title="Alien", runtime_min=117),
            Movie(id=3, original_title="Untitled", title="Untitled", runtime_min=None),
        ])
        db.session.add_all([
            view(1, "d1", 1, at(D1, 9)),
            view(2, "d1", 1, at(D1, 21)),                      # same device, movie, day: one watch
            view(3, "d2", 1, at(D1, 10), device_type="mobile"),
            view(4, "d1", 2, at(D1, 11)),
            view(5, "bot", 2, at(D1, 12), is_bot=True),        # bots never count
            view(6, "d3", 3, at(D1, 13)),                      # unknown runtime: a watch, no minutes
            view(7, "d1", 1, at(D2, 1)),                       # next day: a new watch
            Event(event_id="c1", type="click", event_time=at(D1, 9), device_id="d1", movie_id=1),
            view(8, "d1", 2, at(D1 - timedelta(days=1), 23)),  # before the range
        ])
        db.session.commit()
    return app


# -- numbers -------------------------------------------------------------------------------

def test_daily_minutes_by_hand(seeded):
    with seeded.app_context():
        result = queries.watch_minutes_daily(db.session, D1, D2)
    assert result["rows"] == [
        {"day": D1.isoformat(), "watches": 4, "minutes": 170 + 170 + 117, "unknown_runtime": 1},
        {"day": D2.isoformat(), "watches": 1, "minutes": 170, "unknown_runtime": 0},
    ]
    assert (result["total_minutes"], result["total_watches"], result["state"]) == (627, 5, "ok")


def test_audience_filters_the_events(seeded):
    with seeded.app_context():
        mobile = queries.watch_minutes_daily(db.session, D1, D2, "device:mobile")
        viewers = queries.distinct_viewers(db.session, D1, D2)
    assert mobile["total_minutes"] == 170 and mobile["total_watches"] == 1
    assert viewers == 3  # d1, d2, d3 (not the bot)


def test_top_movies_by_hand(seeded):
    with seeded.app_context():
        top = queries.top_movies(db.session, D1, D2)
    assert top == [
        {"movie_id": 1, "title": "Heat", "watches": 3, "minutes": 510},
        {"movie_id": 2, "title": "Alien", "watches": 1, "minutes": 117},
        {"movie_id": 3, "title": "Untitled", "watches": 1, "minutes": 0},
    ]


def test_empty_range_is_no_data(app):
    with app.app_context():
        result = queries.watch_minutes_daily(db.session, D1, D2)
    assert result["state"] == "no_data" and [r["minutes"] for r in result["rows"]] == [0, 0]


def test_random_data_matches_a_python_recount(app):
    rng = random.Random(11)
    runtimes = {m: rng.choice([None, 90, 101, 145]) for m in range(1, 9)}
    events = []
    for n in range(400):
        when = at(TODAY - timedelta(days=rng.randrange(4)), 0) + timedelta(minutes=rng.randrange(1440))
        events.append({"event_id": f"r{n}", "type": rng.choice(["view", "view", "click"]), "event_time": when,
                       "device_id": f"d{rng.randrange(15)}", "movie_id": rng.randrange(1, 9),
                       "is_bot": rng.random() < 0.1})
    start, end = TODAY - timedelta(days=2), TODAY
    watches = {(e["device_id"], e["movie_id"], e["event_time"].date()) for e in events
               if e["type"] == "view" and not e["is_bot"] and start <= e["event_time"].date() <= end}
    expected = sum(runtimes[m] or 0 for _d, m, _day in watches)
    with app.app_context():
        db.session.add_all([Movie(id=m, original_title=f"M{m}", title=f"M{m}", runtime_min=r)
                            for m, r in runtimes.items()])
        db.session.add_all([Event(**e) for e in events])
        db.session.commit()
        result = queries.watch_minutes_daily(db.session, start, end)
        metric = pulse_of(app).metrics.get("watch-time")
        assert metric.compute(db.session, start, end)["total_minutes"] == expected
    assert result["total_watches"] == len(watches)
    assert result["total_minutes"] == expected > 0


# -- task ----------------------------------------------------------------------------------

def test_periodic_rollup_task_runs_and_stores_its_summary(seeded):
    pulse = pulse_of(seeded)
    assert pulse.huey.get(moviepulse_watchtime.rollup.ROLLUP_KEY, peek=True) is None
    pulse.enqueue("watchtime.rollup", 2)  # immediate Huey: runs now
    with seeded.app_context():
        summary = last_rollup()
    assert (summary["from"], summary["to"], summary["days"]) == (D1.isoformat(), D2.isoformat(), 2)
    assert summary["total_minutes"] == 627 and summary["top"][0]["title"] == "Heat"


def test_rollup_is_scheduled_from_its_setting(app):
    huey = pulse_of(app).huey
    hourly = {t.name for t in huey.read_periodic(datetime(2026, 11, 27, 10, 0))}
    off_hour = {t.name for t in huey.read_periodic(datetime(2026, 11, 27, 10, 30))}
    assert "watchtime.rollup" in hourly and "watchtime.rollup" not in off_hour


def test_rollup_command_prints_json(seeded):
    result = seeded.test_cli_runner().invoke(args=["watchtime-rollup", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_minutes"] == 627


# -- widget --------------------------------------------------------------------------------

def test_widget_is_registered_on_its_page_and_the_overview(app):
    from moviepulse.dash_app.pages import widgets_for

    pulse = pulse_of(app)
    assert pulse.widgets.get("watchtime-daily") is moviepulse_watchtime.widget.WatchTimeWidget
    assert pulse.pages.get("watchtime").title == "Watch time"
    for page in ("watchtime", "overview"):
        assert "watchtime-daily" in [w.slug for w, _instance in widgets_for(pulse, page)]


def test_widget_renders_the_daily_minutes(seeded):
    from moviepulse.dash_app.filters import Filters
    from moviepulse.dash_app.widget import Empty

    widget = moviepulse_watchtime.widget.WatchTimeWidget()
    with seeded.app_context():
        rendered = widget.render(Filters(D1, D2))
        nothing = widget.render(Filters(D1 - timedelta(days=30), D1 - timedelta(days=20)))
    assert list(rendered.figure.data[0]["y"]) == [457, 170]
    assert rendered.status == "627 min in 5 watches"
    assert isinstance(nothing.figure, Empty)


# -- API, start-up, contract ---------------------------------------------------------------

def test_metric_is_served_by_the_metrics_endpoint(tmp_path):
    app = make_app(plugins=[("watchtime", moviepulse_watchtime)], only_plugins=[*NEEDS, "audiences"],
                   tmp_path=tmp_path)
    client = admin_client(app)
    listed = client.get("/admin/api/metrics").get_json()["metrics"]
    assert {"slug": "watch-time", "label": "Watch time", "unit": "minutes"}.items() <= next(
        m for m in listed if m["slug"] == "watch-time").items()
    body = client.get(f"/admin/api/metrics/watch-time?from={D1}&to={D2}").get_json()
    assert body["state"] == "no_data" and body["total_minutes"] == 0


def test_summary_api_is_admin_only_and_matches(seeded):
    url = f"/admin/api/watchtime/summary?from={D1}&to={D2}"
    assert seeded.test_client().get(url).status_code == 401
    client = admin_client(seeded)
    body = client.get(url).get_json()
    assert body["total_minutes"] == 627 and body["top"][0]["minutes"] == 510
    assert client.get(url + "&audience=device:mobile").get_json()["total_minutes"] == 170
    assert client.get(url + "&audience=nonsense").status_code == 400


def test_startup_refuses_a_bad_window(tmp_path):
    with pytest.raises(moviepulse.StartupError, match="WATCHTIME_DAYS"):
        make_app(plugins=[moviepulse_watchtime], only_plugins=NEEDS, tmp_path=tmp_path, WATCHTIME_DAYS=0)


def test_targets_the_current_hook_api():
    assert moviepulse_watchtime.MOVIEPULSE_API == moviepulse.HOOK_API_VERSION
