"""The traffic simulator, in-process: real pages and beacons, deterministic, B out-clicks A."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from moviepulse.demo.fixtures import sample_entries
from moviepulse.demo.loader import load_catalogue_directly
from moviepulse.demo.traffic import FlaskDriver, Simulation, click_probability, parse_cards, simulate
from moviepulse.extensions import db
from moviepulse.models.events import Event


def test_click_probability_favours_b_and_top_positions():
    for pos in range(1, 13):
        assert click_probability("B", pos, "home") > click_probability("A", pos, "home")
        assert click_probability("A", pos, "home") > click_probability("A", pos + 1, "home")
    assert click_probability("A", 1, "home") == pytest.approx(0.05)
    assert click_probability("B", 3, "show") == pytest.approx(0.08 * 0.6 / 1.6)


def test_parse_cards():
    html = '<a href="/de/movies/7?placement=home&amp;variant=B&amp;pos=3">x</a><a href="/de/movies/8">y</a>'
    assert parse_cards(html) == [{"href": "/de/movies/7?placement=home&variant=B&pos=3", "movie_id": 7,
                                  "placement": "home", "variant": "B", "position": 3}]


def test_simulation_drives_site_and_beacons(make_app):
    app = make_app(AB_SEED="sim-test")
    with app.app_context():
        load_catalogue_directly(db.session, sample_entries(40))
    report = simulate(FlaskDriver(app), days=3, visitors_per_day=20, seed=7)
    data = report.as_dict()
    assert data["visits"] == 60 and data["errors"] == 0 and data["rejected"] == 0
    assert data["beacon_batches"] > 0 and data["accepted"] > 0
    with app.app_context():
        by_origin = dict(db.session.execute(select(Event.origin, func.count()).group_by(Event.origin)).all())
        assert by_origin["server"] > 0 and by_origin["beacon"] == data["accepted"]
        days = db.session.scalar(select(func.count(func.distinct(func.date(Event.event_time)))))
        assert days >= 3
        rows = dict(db.session.execute(
            select(Event.variant, func.count()).where(Event.type == "impression", Event.is_bot.is_(False))
            .group_by(Event.variant)).all())
        clicks = dict(db.session.execute(
            select(Event.variant, func.count()).where(Event.type == "click", Event.is_bot.is_(False))
            .group_by(Event.variant)).all())
        assert set(rows) == {"A", "B"}
        ctr = {v: clicks.get(v, 0) / rows[v] for v in rows}
        assert ctr["B"] > ctr["A"]
        assert db.session.scalar(select(func.count()).where(Event.is_bot.is_(True))) > 0
        assert db.session.scalar(select(func.count(func.distinct(Event.locale)))) >= 3


def test_same_seed_same_choices():
    a, b, c = (Simulation(None, days=1, visitors_per_day=1, seed=s) for s in (5, 5, 6))
    va = [a._new_visitor() for _ in range(20)]
    vb = [b._new_visitor() for _ in range(20)]
    vc = [c._new_visitor() for _ in range(20)]
    assert [(v.device_id, v.user_agent, v.accept_language) for v in va] == \
        [(v.device_id, v.user_agent, v.accept_language) for v in vb]
    assert [v.device_id for v in va] != [v.device_id for v in vc]
    assert {v.device_type for v in va + vc} >= {"desktop", "mobile"}
    assert a._event_id() == b._event_id() != c._event_id()


def test_traffic_command_in_process(make_app):
    app = make_app()
    with app.app_context():
        load_catalogue_directly(db.session, sample_entries(15))
    result = app.test_cli_runner().invoke(args=["demo", "traffic", "--in-process", "--days", "2",
                                          "--visitors-per-day", "3", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "6 visits over 2 days" in result.output
