"""The plugin guide's code works: the walkthrough package is written out and its tests run,
and the base-class examples are loaded as plugins into a real app.

Blocks whose first line is ``# file: <path>`` make up the walkthrough package; every other
``python`` block must at least compile.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import json
import re
import sys
import types
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins" / "guide.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(lang: str | None = None) -> list[str]:
    return [body for kind, body in FENCE.findall(GUIDE.read_text()) if lang is None or kind == lang]


def block_containing(text: str) -> str:
    found = [b for b in blocks("python") if text in b]
    assert len(found) == 1, f"expected one python block containing {text!r}, found {len(found)}"
    return found[0]


def as_module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<guide:{name}>", "exec"), module.__dict__)  # noqa: S102 - our own docs
    return module


@pytest.fixture
def walkthrough(tmp_path, monkeypatch):
    """The ``# file:`` blocks written to disk and importable; returns the package folder."""
    for body in blocks():
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            target = tmp_path / first[len("# file: "):].strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rest)
    root = tmp_path / "moviepulse-latenight"
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(root / "tests"))
    yield root
    for name in [n for n in sys.modules if n.startswith(("moviepulse_latenight", "test_latenight"))]:
        del sys.modules[name]


def test_every_python_block_compiles():
    found = blocks("python")
    assert len(found) >= 15
    for body in found:
        ast.parse(body)


def test_walkthrough_package_declares_its_entry_point(walkthrough):
    cfg = configparser.ConfigParser()
    cfg.read(walkthrough / "setup.cfg")
    assert cfg["options.entry_points"]["moviepulse"].strip() == "latenight = moviepulse_latenight"
    assert (walkthrough / "pyproject.toml").is_file()
    assert (walkthrough / "moviepulse_latenight" / "widget.py").is_file()


def test_walkthrough_tests_pass(walkthrough):
    module = importlib.import_module("test_latenight")
    tests = [getattr(module, n) for n in dir(module) if n.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()


def test_testing_section_example_runs(walkthrough):
    code = block_containing("def test_everything_at_once")
    as_module("guide_testing_example", code).test_everything_at_once()


def test_widget_example_registers_a_page_and_renders(walkthrough):
    from moviepulse.dash_app.filters import Filters
    from moviepulse.dash_app.pages import widgets_for
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event
    from moviepulse.testing import make_app, pulse_of

    moviepulse_latenight = importlib.import_module("moviepulse_latenight")
    plugin = as_module("guide_widget_example", block_containing("class LateNightShareWidget"))
    app = make_app(plugins=[moviepulse_latenight, plugin], only_plugins=["core", "dashboard"])
    pulse = pulse_of(app)
    assert pulse.pages.get("late-night").title == "Late night"
    assert [w.slug for w, _ in widgets_for(pulse, "late-night")] == ["latenight-share"]
    day = utcnow().date() - timedelta(days=1)
    with app.app_context():
        base = utcnow().replace(year=day.year, month=day.month, day=day.day, minute=0, second=0, microsecond=0)
        db.session.add_all([Event(event_id=f"g{h}", type="view", event_time=base.replace(hour=h),
                                  device_id="d", movie_id=1) for h in (1, 12, 23, 13)])
        db.session.commit()
        rendered = plugin.LateNightShareWidget().render(Filters(day, day))
    assert list(rendered.figure.data[0]["y"]) == [0.5]  # 01:00 and 23:00 of four views
    assert rendered.status == "2 late views"


def test_source_example_looks_up_a_file(tmp_path):
    from moviepulse.ingestion.source import MovieRef
    from moviepulse.testing import make_app, pulse_of

    plugin = as_module("guide_source_example", block_containing("class LocalOverviewsSource"))
    path = tmp_path / "overviews.json"
    path.write_text(json.dumps({"tt0133093": {"de": "Ein Hacker erfährt …", "fr": "Un pirate …"}}))
    app = make_app(plugins=[plugin], only_plugins=["core"], LOCAL_OVERVIEWS_PATH=str(path))
    pulse = pulse_of(app)
    source = pulse.sources.get("local-overviews")(pulse)
    record = source.lookup(MovieRef(imdb_id="tt133093"))
    assert record.localized["de"]["overview"] == "Ein Hacker erfährt …"
    assert source.lookup(MovieRef(imdb_id="tt0000001")) is None
    assert source.role == "fallback" and source.health()["enabled"] is True


def test_audience_example_filters_events(tmp_path):
    from sqlalchemy import func, select

    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event
    from moviepulse.testing import make_app, pulse_of

    plugin = as_module("guide_audience_example", block_containing("MOBILE_NEWCOMERS = Audience("))
    app = make_app(plugins=[plugin], only_plugins=["core"])
    pulse = pulse_of(app)
    rows = [("mobile", "new", "de", "home", "A"), ("mobile", "returning", "de-AT", "home", "B"),
            ("desktop", "new", "fr", "search", "B"), ("mobile", "new", "en", "home", "B")]
    with app.app_context():
        db.session.add_all([Event(event_id=f"a{i}", type="view", event_time=utcnow(), device_id=f"d{i}",
                                  device_type=d, visitor_type=v, locale=loc, placement=p, variant=var)
                            for i, (d, v, loc, p, var) in enumerate(rows)])
        db.session.commit()

        def count(slug):
            conditions = pulse.audiences.get(slug).conditions(Event)
            return db.session.scalar(select(func.count()).select_from(Event).where(*conditions))

        assert (count("mobile-newcomers"), count("german-speakers"), count("homepage-b")) == (2, 2, 2)


def test_metric_example_is_served_by_the_metrics_endpoint(walkthrough):
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event
    from moviepulse.testing import admin_client, make_app

    moviepulse_latenight = importlib.import_module("moviepulse_latenight")
    plugin = as_module("guide_metric_example", block_containing("LATE_NIGHT_SHARE = Metric("))
    app = make_app(plugins=[moviepulse_latenight, plugin], only_plugins=["core", "audiences"])
    day = utcnow().date() - timedelta(days=1)
    with app.app_context():
        base = utcnow().replace(year=day.year, month=day.month, day=day.day, minute=0, second=0, microsecond=0)
        db.session.add_all([Event(event_id=f"m{h}", type="view", event_time=base.replace(hour=h),
                                  device_id="d", movie_id=1) for h in (0, 3, 12, 15, 18, 22, 23, 9)])
        db.session.commit()
    body = admin_client(app).get(f"/admin/api/metrics/late-night-share?from={day}&to={day}").get_json()
    assert body == {"state": "ok", "late": 4, "views": 8, "share": 0.5}


def test_alert_rule_and_playbook_examples_reach_the_ssr_api(tmp_path):
    from moviepulse.testing import admin_client, make_app, pulse_of

    rule = as_module("guide_alert_example", block_containing("class NoViewsRule"))
    books = as_module("guide_playbook_example", block_containing("TRACKING_SILENT = Playbook("))
    app = make_app(plugins=[rule, books], only_plugins=["core", "ssr", "playbooks"])
    pulse = pulse_of(app)
    assert pulse.alert_rules.get("latenight.no_views") is not None
    pulse.enqueue("ssr.evaluate_alerts")  # the built-in periodic task, run now (immediate Huey)
    alerts = admin_client(app).get("/admin/api/ssr/alerts").get_json()["alerts"]
    ours = next(a for a in alerts if a["rule"] == "latenight.no_views")
    assert ours["state"] == "critical" and ours["message"] == "0 views in the last 60 min"
    assert ours["playbook"] == "latenight-tracking-silent"

    from moviepulse.ssr.playbooks import best

    assert best(pulse.playbooks, "exception:jinja2.exceptions.UndefinedError",
                "'latenight_rows' is undefined").slug == "latenight-undefined-in-template"
    other = best(pulse.playbooks, "exception:jinja2.exceptions.UndefinedError", "'x' is undefined")
    assert other is None or other.slug != "latenight-undefined-in-template"
