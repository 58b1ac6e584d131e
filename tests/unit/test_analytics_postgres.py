"""The same analytics SQL on PostgreSQL (its own schema, dropped afterwards); skipped when no server."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from moviepulse.analytics.ctr import ctr_by_placement, ctr_daily, pct
from moviepulse.analytics.experiment import experiment_summary
from moviepulse.analytics.queue import QueueEvent, apply_events, queue_stats
from moviepulse.analytics.reconcile import reconcile
from moviepulse.analytics.rollups import rollup_hours, rollup_range
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.analytics.trends import leaderboard
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event
from moviepulse.models.movie import Movie
from tests.support.services import postgres_schema

START = date(2026, 11, 3)


@pytest.fixture
def pg_app(make_app):
    with postgres_schema("mp_analytics") as url:
        app = make_app(SQLALCHEMY_DATABASE_URI=url)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_rollups_ctr_trends_reconcile_experiment_on_postgresql(pg_app):
    with pg_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        events, devices = generate_events(START, 4, devices=150, impressions_per_day=400, seed=12)
        insert_events(db.session, events, devices)
        for i in range(1, 31):
            m = Movie(id=i, title=f"M{i}", original_title=f"M{i}", year=2000 + i, genres=["Drama"],
                      imdb_rating=7.0, imdb_votes=100 * i)
            m.refresh_weighted_score()
            db.session.add(m)
        db.session.commit()
        end = START + timedelta(days=3)
        raw = ctr_daily(db.session, START, end)
        rollup_range(db.session, START, end - timedelta(days=1))
        rollup_hours(db.session, end, until=datetime.combine(end, datetime.min.time()) + timedelta(hours=11))
        assert ctr_daily(db.session, START, end)["rows"] == raw["rows"]
        human = [e for e in events if not e["is_bot"]]
        placements = ctr_by_placement(db.session, START, end)["rows"]
        home_a = [r for r in placements if r["label"] == "home-A"][0]
        imps = sum(1 for e in human if e["type"] == "impression" and e["placement"] == "home" and e["variant"] == "A")
        clicks = sum(1 for e in human if e["type"] == "click" and e["placement"] == "home" and e["variant"] == "A")
        assert (home_a["impressions"], home_a["clicks"], home_a["ctr"]) == (imps, clicks, pct(clicks, imps))
        counts = Counter(e["movie_id"] for e in human if e["type"] == "click")
        board = leaderboard(db.session, days=4, today=end)
        assert {r["movie_id"]: r["clicks"] for r in board} == dict(counts)
        assert [r["movie_id"] for r in leaderboard(db.session, days=4, today=end, genre="Drama")] == \
            [r["movie_id"] for r in board]

        t = datetime.combine(START + timedelta(days=1), datetime.min.time()) + timedelta(hours=3)
        db.session.add_all([Event(event_id=f"pg-late-{i}", type="impression", event_time=t,
                                  received_at=t + timedelta(hours=5), device_id="late", placement="home",
                                  variant="B", is_bot=False) for i in range(20)])
        db.session.commit()
        summary = reconcile(db.session, days=3, end=end - timedelta(days=1), late_seconds=3600)
        assert summary["flagged_days"] == [(START + timedelta(days=1)).isoformat()]
        assert summary["late_events"] == 20

        res = experiment_summary(db.session, START, end, min_impressions=100, cuped_pre_days=1)
        assert res["state"] == "ok" and res["ztest"]["p_value"] is not None
        assert res["cuped"]["state"] in ("ok", "no_pre_period")
        t0 = utcnow() - timedelta(minutes=5)
        apply_events(db.session, [
            QueueEvent("enqueued", "pg1", "x.y", {"args": [1], "kwargs": {}}, 0, None, t0, None),
            QueueEvent("executing", "pg1", "x.y", None, 0, None, t0 + timedelta(seconds=3), None),
            QueueEvent("error", "pg1", "x.y", None, 0, None, t0 + timedelta(seconds=4), "ValueError: pg"),
        ])
        stats = queue_stats(db.session, t0.date(), utcnow().date())
        assert stats["window"]["failed"] == 1 and stats["wait_seconds"]["p50"] == 3.0
        assert sum(h["failed"] for h in stats["per_hour"]) == 1 and sum(h["enqueued"] for h in stats["per_hour"]) == 1


def test_coarse_levels_and_srm_on_postgresql(pg_app):
    """The coarse levels, their use by every query and the SRM count give the raw answers on PostgreSQL."""
    from sqlalchemy import delete, func, select, update

    from moviepulse.analytics.audiences import resolve_audience
    from moviepulse.analytics.ctr import ctr_totals
    from moviepulse.analytics.experiment import srm_counts
    from moviepulse.analytics.facts import grouped_counts
    from moviepulse.analytics.funnels import placement_funnel
    from moviepulse.analytics.rollups import rollup_levels
    from moviepulse.models.analytics import ROLLUP_LEVELS
    from moviepulse.models.events import Device

    with pg_app.app_context():
        events, devices = generate_events(START, 3, devices=120, impressions_per_day=300, seed=5)
        insert_events(db.session, events, devices)
        end = START + timedelta(days=2)
        slugs = ["global", "variant:B", "device:mobile", "locale:de", f"cohort:{events[0]['first_seen_week']}"]

        def answers():
            out = []
            for slug in slugs:
                out += [f(db.session, START, end, slug) for f in (ctr_daily, ctr_by_placement, ctr_totals,
                                                                   placement_funnel)]
                out += [grouped_counts(db.session, START, end, slug, by=by)
                        for by in (("day", "variant"), ("placement", "variant"), ("device_type",))]
                out.append(experiment_summary(db.session, START, end, slug, with_cuped=False,
                                              min_impressions=10)["ztest"])
            return out

        raw = answers()
        rollup_range(db.session, START, end)
        assert db.session.scalar(select(func.count()).select_from(ROLLUP_LEVELS[0][0])) > 0
        assert answers() == raw
        for model, _ in ROLLUP_LEVELS:
            db.session.execute(delete(model).where(model.day == START))
        db.session.commit()
        assert answers() == raw
        assert rollup_levels(db.session, START, end) == 3
        assert answers() == raw
        assert reconcile(db.session, days=3, end=end)["flagged_days"] == []

        def reference():
            lo = datetime.combine(START, datetime.min.time())
            hi = lo + timedelta(days=3)
            q = (select(Device.variant, func.count())
                 .where(Device.first_seen_at >= lo, Device.first_seen_at < hi, Device.is_bot.is_not(True),
                        Device.variant.is_not(None)).group_by(Device.variant))
            return dict(db.session.execute(q).all())

        assert srm_counts(db.session, START, end, resolve_audience("global", registry=None))[0] == reference()

        # A whole rolled-up week read from rollup_movie_weekly ranks exactly as the raw clicks do.
        monday = date(2026, 11, 9)
        more, more_devices = generate_events(monday, 8, devices=40, impressions_per_day=80, seed=6, prefix="w")
        insert_events(db.session, more, more_devices)
        for i in range(1, 31):
            m = Movie(id=i, title=f"M{i}", original_title=f"M{i}", year=2000 + i, genres=["Drama"],
                      imdb_rating=7.0, imdb_votes=100 * i)
            m.refresh_weighted_score()
            db.session.add(m)
        db.session.commit()
        windows = [(7, monday + timedelta(days=6)), (8, monday + timedelta(days=7)), (12, monday + timedelta(days=7))]
        raw_boards = [leaderboard(db.session, days=n, today=t, limit=500) for n, t in windows]
        rollup_range(db.session, monday, monday + timedelta(days=6))
        assert [leaderboard(db.session, days=n, today=t, limit=500) for n, t in windows] == raw_boards
        assert raw_boards[0] and raw_boards[0][0]["clicks"]

        some = db.session.scalar(select(Device.device_id).where(Device.is_bot.is_not(True)).limit(1))
        db.session.execute(update(Device).where(Device.device_id == some).values(variant="AB"))
        db.session.commit()
        assert srm_counts(db.session, START, end, resolve_audience("global", registry=None))[0] == reference()


def test_hourly_rollup_skips_while_another_rollup_of_the_day_runs(pg_app):
    """A recompute finding the day's lock taken returns at once with the coverage that stands,
    instead of queueing behind the running one (and recomputing the whole day after it)."""
    from sqlalchemy import text

    day = START
    midnight = datetime.combine(day, datetime.min.time())
    with pg_app.app_context():
        events, devices = generate_events(day, 1, devices=40, impressions_per_day=200, seed=31)
        insert_events(db.session, events, devices)
        first = rollup_hours(db.session, day, midnight + timedelta(hours=10))
        assert not first.get("skipped") and first["rows"] > 0
        with db.engine.connect() as other:
            tx = other.begin()
            other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x4D50_0000 + day.toordinal()})
            busy = rollup_hours(db.session, day, midnight + timedelta(hours=12))
            tx.rollback()
        assert busy["skipped"] and busy["rows"] is None
        assert busy["covered_until"] == first["covered_until"] == (midnight + timedelta(hours=10)).isoformat()
        again = rollup_hours(db.session, day, midnight + timedelta(hours=12))
        assert not again.get("skipped") and again["covered_until"] == (midnight + timedelta(hours=12)).isoformat()
