"""The coarse rollup levels and the fast SRM count: every query answers exactly what the fine
rollup (and the raw events) answer, whichever table it reads; reconciliation checks the levels."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from moviepulse.analytics.audiences import Audience, resolve_audience
from moviepulse.analytics.ctr import ctr_by_placement, ctr_daily, ctr_totals
from moviepulse.analytics.experiment import experiment_summary, srm_counts
from moviepulse.analytics.facts import grouped_counts, pick_level
from moviepulse.analytics.funnels import placement_funnel
from moviepulse.analytics.reconcile import reconcile
from moviepulse.analytics.rollups import rollup_day, rollup_levels, rollup_range
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.extensions import db
from moviepulse.models.analytics import (
    ROLLUP_LEVELS,
    ROLLUP_MEASURES,
    RollupDaily,
    RollupDailyPlacement,
    RollupDailySegment,
)
from moviepulse.models.events import Device

START = date(2026, 11, 2)
DAYS = 4
END = START + timedelta(days=DAYS - 1)


@pytest.fixture
def seeded(app_ctx):
    events, devices = generate_events(START, DAYS, devices=150, impressions_per_day=300, seed=11)
    insert_events(db.session, events, devices)
    return events


def audiences(events):
    week = sorted({e["first_seen_week"] for e in events if e["first_seen_week"]})[0]
    return ["global", "variant:A", "variant:B", "placement:home", "device:mobile", "visitor:new", "locale:de",
            f"cohort:{week}", Audience("custom", "custom", {}, where=lambda c: c.placement == "trends")]


def every_answer(aud):
    """Every level-backed query's output for ``aud`` over the seeded range."""
    out = [f(db.session, START, END, aud) for f in (ctr_daily, ctr_by_placement, ctr_totals, placement_funnel)]
    out.append(experiment_summary(db.session, START, END, aud, with_cuped=False, min_impressions=10))
    for by in ((), ("day",), ("variant",), ("placement",), ("day", "variant"), ("placement", "variant"),
               ("locale", "device_type"), ("visitor_type", "variant", "day")):
        out.append(grouped_counts(db.session, START, END, aud, by=by))
    return out


def test_levels_are_exact_sums_of_the_fine_rows(seeded):
    rollup_range(db.session, START, END)
    for model, dims in ROLLUP_LEVELS:
        t = RollupDaily
        fine = db.session.execute(
            select(t.day, *[getattr(t, d) for d in dims], *[func.sum(getattr(t, m)) for m in ROLLUP_MEASURES])
            .group_by(t.day, *[getattr(t, d) for d in dims])).all()
        coarse = db.session.execute(
            select(model.day, *[getattr(model, d) for d in dims], *[getattr(model, m) for m in ROLLUP_MEASURES])
        ).all()
        assert sorted(map(tuple, fine), key=repr) == sorted(map(tuple, coarse), key=repr)
        assert len(coarse) == len(set(tuple(r[:1 + len(dims)]) for r in coarse))  # one row per key
    n_fine = db.session.scalar(select(func.count()).select_from(RollupDaily))
    n_seg = db.session.scalar(select(func.count()).select_from(RollupDailySegment))
    n_pl = db.session.scalar(select(func.count()).select_from(RollupDailyPlacement))
    assert n_fine >= n_seg > n_pl > 0


def test_pick_level_only_when_the_level_has_the_dimensions():
    g = resolve_audience("global", registry=None)
    assert pick_level(("day", "variant"), g) is RollupDailyPlacement
    assert pick_level(("placement",), resolve_audience("variant:B", registry=None)) is RollupDailyPlacement
    assert pick_level(("variant",), resolve_audience("device:mobile", registry=None)) is RollupDailySegment
    assert pick_level(("locale",), g) is RollupDailySegment
    assert pick_level(("first_seen_week",), g) is None
    assert pick_level((), resolve_audience("cohort:2026-W45", registry=None)) is None
    assert pick_level((), Audience("x", "x", {}, where=lambda c: c.variant == "A")) is None


def test_queries_identical_from_raw_fine_and_coarse(seeded):
    slugs = audiences(seeded)
    raw = {str(a): every_answer(a) for a in slugs}  # nothing rolled up: raw events
    rollup_range(db.session, START, END)
    coarse = {str(a): every_answer(a) for a in slugs}
    for model, _ in ROLLUP_LEVELS:  # as if rolled up before the levels existed: the fine rows answer
        db.session.execute(delete(model))
    db.session.commit()
    fine = {str(a): every_answer(a) for a in slugs}
    for key in raw:
        assert coarse[key] == fine[key] == raw[key], key
    assert coarse["global"][2]["total"]["impressions"] > 0


def test_mixed_days_and_backfill(seeded):
    slugs = audiences(seeded)
    rollup_range(db.session, START, END)
    want = {str(a): every_answer(a) for a in slugs}
    for model, _ in ROLLUP_LEVELS:  # two days lose their levels: those days come from the fine rows
        db.session.execute(delete(model).where(model.day.in_([START, START + timedelta(days=2)])))
    db.session.commit()
    assert {str(a): every_answer(a) for a in slugs} == want
    assert rollup_levels(db.session, START, END) == DAYS
    assert {str(a): every_answer(a) for a in slugs} == want
    assert db.session.scalar(select(func.count()).select_from(RollupDailyPlacement)
                             .where(RollupDailyPlacement.day == START)) > 0


def test_rollup_day_rewrites_the_levels_idempotently(seeded):
    rollup_day(db.session, START)
    first = db.session.execute(select(RollupDailySegment.variant, RollupDailySegment.placement,
                                      RollupDailySegment.locale, RollupDailySegment.device_type,
                                      RollupDailySegment.visitor_type, RollupDailySegment.impressions,
                                      RollupDailySegment.clicks).order_by(RollupDailySegment.id)).all()
    rollup_day(db.session, START)
    again = db.session.execute(select(RollupDailySegment.variant, RollupDailySegment.placement,
                                      RollupDailySegment.locale, RollupDailySegment.device_type,
                                      RollupDailySegment.visitor_type, RollupDailySegment.impressions,
                                      RollupDailySegment.clicks).order_by(RollupDailySegment.id)).all()
    assert sorted(first, key=repr) == sorted(again, key=repr) and first


def srm_reference(start, end, device_type=None):
    lo = date_time(start)
    hi = date_time(end + timedelta(days=1))
    q = (select(Device.variant, func.count()).where(Device.first_seen_at >= lo, Device.first_seen_at < hi,
                                                    Device.is_bot.is_not(True), Device.variant.is_not(None))
         .group_by(Device.variant))
    if device_type:
        q = q.where(Device.device_type == device_type)
    return {v: n for v, n in db.session.execute(q).all()}


def date_time(d):
    from datetime import datetime

    return datetime.combine(d, datetime.min.time())


def test_srm_counts_equal_a_group_by_including_unknown_variants(seeded):
    for slug, dtype in (("global", None), ("device:mobile", "mobile"), ("locale:de", None)):
        got, _ = srm_counts(db.session, START, END, resolve_audience(slug, registry=None))
        assert got == srm_reference(START, END, dtype) and sum(got.values()) > 0, slug
    # A variant outside A/B (and one sorting between them) is counted exactly like the GROUP BY does.
    ids = db.session.scalars(select(Device.device_id).where(Device.is_bot.is_not(True)).limit(3)).all()
    db.session.execute(update(Device).where(Device.device_id == ids[0]).values(variant="C"))
    db.session.execute(update(Device).where(Device.device_id == ids[1]).values(variant="AB"))
    db.session.commit()
    got, _ = srm_counts(db.session, START, END, resolve_audience("global", registry=None))
    assert got == srm_reference(START, END)
    assert "C" in got or "AB" in got


def test_reconcile_reports_coarse_drift_and_missing_levels(seeded):
    rollup_range(db.session, START, END)
    clean = reconcile(db.session, days=DAYS, end=END)
    assert clean["flagged_days"] == []
    assert all(d["coarse"]["status"] == "ok" for d in clean["days"])
    # Tamper one coarse row: that day (only) is flagged, with level drift rows; the fine rows are intact.
    row_id = db.session.scalar(select(RollupDailyPlacement.id).where(RollupDailyPlacement.day == START + timedelta(1))
                               .order_by(RollupDailyPlacement.id).limit(1))
    db.session.execute(update(RollupDailyPlacement).where(RollupDailyPlacement.id == row_id)
                       .values(clicks=RollupDailyPlacement.clicks + 5))
    db.session.commit()
    run = reconcile(db.session, days=DAYS, end=END)
    assert run["flagged_days"] == [(START + timedelta(1)).isoformat()]
    day = next(d for d in run["days"] if d["flagged"])
    assert day["coarse"] == {"status": "drift", "rows_differing": 1}
    assert all(m["abs_diff"] == 0 for m in day["metrics"].values())
    assert "coarse" in day["likely_cause"]
    # A day without levels (rolled up before they existed) is reported, not flagged; rebuild fixes drift.
    for model, _ in ROLLUP_LEVELS:
        db.session.execute(delete(model).where(model.day == START))
    db.session.commit()
    run = reconcile(db.session, days=DAYS, end=END, rebuild=True)
    status = {d["day"]: d["coarse"]["status"] for d in run["days"]}
    assert status[START.isoformat()] == "missing" and status[(START + timedelta(1)).isoformat()] == "drift"
    assert run["rebuilt"] == [(START + timedelta(1)).isoformat()]
    after = reconcile(db.session, days=DAYS, end=END)
    assert after["flagged_days"] == []


def test_leaderboard_identical_from_weekly_daily_and_raw(app_ctx):
    from moviepulse.analytics.trends import leaderboard
    from moviepulse.models.analytics import RollupMovieWeekly
    from moviepulse.models.movie import Movie

    monday = date(2026, 11, 2)
    events, devices = generate_events(monday, 16, devices=60, impressions_per_day=120, seed=21)
    insert_events(db.session, events, devices)
    for i in range(1, 31):
        m = Movie(id=i, title=f"M{i}", original_title=f"M{i}", year=2000 + i, genres=["Drama"], imdb_rating=7.0,
                  imdb_votes=10 * i)
        m.refresh_weighted_score()
        db.session.add(m)
    db.session.commit()
    windows = [(7, monday + timedelta(days=6)), (10, monday + timedelta(days=10)), (15, monday + timedelta(days=15)),
               (14, monday + timedelta(days=13)), (3, monday + timedelta(days=4))]

    def boards():
        return [leaderboard(db.session, days=n, today=end, limit=500) for n, end in windows]

    raw = boards()
    assert all(b and b[0]["clicks"] for b in raw)
    rollup_range(db.session, monday, monday + timedelta(days=14))  # the last day stays raw
    weeks = db.session.execute(select(RollupMovieWeekly.week, func.min(RollupMovieWeekly.days))
                               .group_by(RollupMovieWeekly.week)).all()
    assert sorted((w, n) for w, n in weeks) == [(monday, 7), (monday + timedelta(days=7), 7),
                                                (monday + timedelta(days=14), 1)]
    assert boards() == raw
    db.session.execute(delete(RollupMovieWeekly))  # rolled up before the weekly rows existed: daily rows
    db.session.commit()
    assert boards() == raw
    assert rollup_levels(db.session, monday, monday + timedelta(days=14)) == 15
    assert db.session.scalar(select(func.count()).select_from(RollupMovieWeekly)) > 0
    assert boards() == raw
    # A weekly row that lost a day's rollup is not used: the day then reads raw events.
    from moviepulse.models.analytics import RollupState

    db.session.execute(delete(RollupState).where(RollupState.day == monday + timedelta(days=3)))
    db.session.commit()
    assert boards() == raw
