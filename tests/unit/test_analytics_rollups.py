"""Rollups, CTR, funnels, audiences and the trends leaderboard on a seeded data set whose
answers are computed independently from the generated raw events in Python."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from moviepulse.analytics.audiences import UnknownAudience, resolve_audience
from moviepulse.analytics.ctr import ctr_by_placement, ctr_daily, ctr_totals, pct
from moviepulse.analytics.funnels import placement_funnel
from moviepulse.analytics.rollups import periodic_rollup, rollup_day, rollup_hours, rollup_range
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.analytics.trends import leaderboard
from moviepulse.extensions import db
from moviepulse.models.analytics import RollupDaily, RollupState
from moviepulse.models.events import Event
from moviepulse.models.movie import Movie

START = date(2026, 11, 2)
DAYS = 4


@pytest.fixture
def seeded(app_ctx):
    events, devices = generate_events(START, DAYS, devices=150, impressions_per_day=300, seed=3)
    insert_events(db.session, events, devices)
    for i in range(1, 31):
        m = Movie(id=i, title=f"Movie {i}", original_title=f"Movie {i}", year=1990 + i,
                  type="movie" if i % 2 else "series", genres=["Drama"] if i % 3 else ["Comedy", "Drama"],
                  imdb_rating=6 + (i % 4) / 2, imdb_votes=500 * i)
        m.refresh_weighted_score()
        db.session.add(m)
    db.session.commit()
    return events


def expected(events, key=lambda e: (), where=lambda e: True):
    out = defaultdict(lambda: {"impressions": 0, "clicks": 0, "views": 0})
    for e in events:
        if e["is_bot"] or not where(e):
            continue
        out[key(e)][e["type"] + "s" if e["type"] != "impression" else "impressions"] += 1
    return out


def test_pct_rounds_half_up_and_handles_zero():
    assert pct(1, 800) == 0.13  # 0.125 -> 0.13 (banker's rounding would give 0.12)
    assert pct(1, 3) == 33.33
    assert pct(2, 3) == 66.67
    assert pct(5, 0) is None


def test_rollup_day_matches_raw_and_is_idempotent(seeded):
    day = START + timedelta(days=1)
    first = rollup_day(db.session, day)
    again = rollup_day(db.session, day)
    assert first["rows"] == again["rows"] > 0
    n_rows = db.session.scalar(select(func.count()).select_from(RollupDaily).where(RollupDaily.day == day))
    assert n_rows == first["rows"]
    exp = expected(seeded, key=lambda e: (e["variant"], e["placement"]), where=lambda e: e["event_time"].date() == day)
    got = db.session.execute(select(RollupDaily.variant, RollupDaily.placement, func.sum(RollupDaily.impressions),
                                    func.sum(RollupDaily.clicks), func.sum(RollupDaily.views))
                             .where(RollupDaily.day == day)
                             .group_by(RollupDaily.variant, RollupDaily.placement)).all()
    assert {(v, p): {"impressions": i, "clicks": c, "views": w} for v, p, i, c, w in got} == dict(exp)
    bots = sum(1 for e in seeded if e["is_bot"] and e["event_time"].date() == day)
    assert bots > 0
    assert db.session.scalar(select(func.sum(RollupDaily.bot_events)).where(RollupDaily.day == day)) == bots


def test_recompute_is_complete_after_new_events(seeded):
    day = START
    rollup_day(db.session, day)
    before = ctr_totals(db.session, day, day)["total"]["clicks"]
    t = datetime.combine(day, datetime.min.time()) + timedelta(hours=5)
    db.session.add(Event(event_id="late-1", type="click", event_time=t, received_at=t, device_id="x", movie_id=1,
                         placement="home", variant="A", is_bot=False))
    db.session.commit()
    assert ctr_totals(db.session, day, day)["total"]["clicks"] == before  # rollup is stale until recomputed
    rollup_day(db.session, day)
    assert ctr_totals(db.session, day, day)["total"]["clicks"] == before + 1


def test_ctr_daily_same_from_raw_hourly_and_daily_sources(seeded):
    end = START + timedelta(days=DAYS - 1)
    raw = ctr_daily(db.session, START, end)
    exp = expected(seeded, key=lambda e: (e["event_time"].date().isoformat(), e["variant"]))
    for row in raw["rows"]:
        e = exp[(row["day"], row["variant"])]
        assert (row["impressions"], row["clicks"], row["views"]) == (e["impressions"], e["clicks"], e["views"])
        assert row["ctr"] == pct(e["clicks"], e["impressions"])
    rollup_range(db.session, START, end - timedelta(days=1))
    until = datetime.combine(end, datetime.min.time()) + timedelta(hours=13, minutes=20, seconds=41)
    done = rollup_hours(db.session, end, until=until)
    assert done["covered_until"] == until.replace(second=0).isoformat()  # the last complete minute
    mixed = ctr_daily(db.session, START, end)  # 13:00–13:20 from the partial hourly row, the rest raw
    assert mixed["rows"] == raw["rows"]
    assert raw["state"] == "ok" and len(raw["series"]["A"]) == DAYS


def test_ctr_by_placement_and_totals_match_python(seeded):
    end = START + timedelta(days=DAYS - 1)
    rollup_range(db.session, START, end)
    exp = expected(seeded, key=lambda e: (e["placement"], e["variant"]))
    res = ctr_by_placement(db.session, START, end)
    for row in res["rows"]:
        e = exp[(row["placement"], row["variant"])]
        assert row["impressions"] == e["impressions"] and row["clicks"] == e["clicks"]
        assert row["ctr"] == pct(e["clicks"], e["impressions"])
        assert row["label"] == f"{row['placement']}-{row['variant']}"
    totals = ctr_totals(db.session, START, end)
    exp_v = expected(seeded, key=lambda e: e["variant"])
    for v in ("A", "B"):
        assert totals["variants"][v]["clicks"] == exp_v[v]["clicks"]
        assert totals["variants"][v]["impressions"] == exp_v[v]["impressions"]
    assert totals["bot_events"] == sum(1 for e in seeded if e["is_bot"])


def test_placement_funnel_rates(seeded):
    end = START + timedelta(days=DAYS - 1)
    rollup_range(db.session, START, end)
    res = placement_funnel(db.session, START, end)
    exp = expected(seeded, key=lambda e: e["placement"])
    rows = {r["placement"]: r for r in res["rows"]}
    for p, e in exp.items():
        assert rows[p]["ctr"] == pct(e["clicks"], e["impressions"])
        assert rows[p]["view_rate"] == pct(e["views"], e["clicks"])
        assert rows[p]["conversion"] == pct(e["views"], e["impressions"])
    assert res["total"]["impressions"] == sum(e["impressions"] for e in exp.values())


def test_audiences_filter_raw_and_rollups_alike(seeded):
    end = START + timedelta(days=DAYS - 1)
    week = seeded[0]["first_seen_week"]
    cases = [("device:mobile", lambda e: e["device_type"] == "mobile"),
             ("visitor:new", lambda e: e["visitor_type"] == "new"),
             ("locale:de", lambda e: e["locale"] == "de"),
             (f"cohort:{week}", lambda e: e["first_seen_week"] == week)]
    raw = {slug: ctr_totals(db.session, START, end, slug) for slug, _ in cases}
    rollup_range(db.session, START, end)
    for slug, where in cases:
        exp = expected(seeded, where=where)[()]
        rolled = ctr_totals(db.session, START, end, slug)
        assert rolled["total"]["clicks"] == raw[slug]["total"]["clicks"] == exp["clicks"], slug
        assert rolled["total"]["impressions"] == exp["impressions"], slug
    with pytest.raises(UnknownAudience):
        resolve_audience("cohort:last-year")
    with pytest.raises(UnknownAudience):
        resolve_audience("nonsense")


def test_no_data_is_a_state(app_ctx):
    assert ctr_daily(db.session, START, START)["state"] == "no_data"
    assert placement_funnel(db.session, START, START)["state"] == "no_data"


def test_periodic_rollup_catches_up_and_rolls_today_hourly(seeded):
    now = datetime.combine(START + timedelta(days=3), datetime.min.time()) + timedelta(hours=10, minutes=5)
    done = periodic_rollup(db.session, now=now, catchup_days=3)
    assert [d["granularity"] for d in done] == ["daily", "daily", "daily", "hourly"]
    states = db.session.execute(select(RollupState.day, RollupState.granularity)).all()
    assert len(states) == 4
    again = periodic_rollup(db.session, now=now + timedelta(hours=5), catchup_days=3)
    assert [d["granularity"] for d in again] == ["hourly"]  # yesterday settled (now > midnight + 2 h)


def test_leaderboard_rollups_equal_raw_and_filters(seeded):
    today = START + timedelta(days=DAYS - 1)
    raw = leaderboard(db.session, days=DAYS, today=today)
    rollup_range(db.session, START, today - timedelta(days=1))
    rolled = leaderboard(db.session, days=DAYS, today=today)
    assert rolled == raw
    counts = Counter(e["movie_id"] for e in seeded if e["type"] == "click" and not e["is_bot"])
    assert {r["movie_id"]: r["clicks"] for r in rolled} == dict(counts)
    assert [r["clicks"] for r in rolled] == sorted((r["clicks"] for r in rolled), reverse=True)
    comedy = leaderboard(db.session, days=DAYS, today=today, genre="Comedy", type="series", year_from=2000)
    assert comedy and all("Comedy" in r["genres"] and r["type"] == "series" and r["year"] >= 2000 for r in comedy)
    one_day = leaderboard(db.session, days=1, today=today)
    day_counts = Counter(e["movie_id"] for e in seeded
                         if e["type"] == "click" and not e["is_bot"] and e["event_time"].date() == today)
    assert {r["movie_id"]: r["clicks"] for r in one_day} == dict(day_counts)


def test_leaderboard_falls_back_to_weighted_score(seeded):
    later = START + timedelta(days=60)
    items = leaderboard(db.session, days=7, today=later, limit=5)
    assert len(items) == 5 and all(i["clicks"] is None for i in items)
    scores = [i["weighted_score"] for i in items]
    assert scores == sorted(scores, reverse=True)
