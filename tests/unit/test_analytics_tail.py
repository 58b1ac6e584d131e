"""The raw part of ``grouped_counts`` inside a cached dashboard call: read once per range
(``raw_fine_counts``, grouped by day and every dimension) and filtered/grouped in Python. It must give
exactly what the filtered SQL ``GROUP BY`` gives, and what an independent count over the generated
events gives, for every audience shape and grouping, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest

from moviepulse.analytics import facts
from moviepulse.analytics.audiences import Audience, resolve_audience
from moviepulse.analytics.ctr import ctr_by_placement, ctr_daily
from moviepulse.analytics.funnels import placement_funnel
from moviepulse.analytics.queries import experiment
from moviepulse.analytics.rollups import rollup_day, rollup_hours
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.core.resultcache import MemoryStore, ResultCache
from moviepulse.extensions import db
from tests.support.services import postgres_schema

START = date(2026, 11, 2)
DAYS = 4
END = START + timedelta(days=DAYS - 1)
BYS = [(), ("day",), ("day", "variant"), ("placement", "variant"), ("placement",),
       ("locale", "device_type", "visitor_type", "first_seen_week")]


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request, make_app):
    """Events over four days: day 0 rolled up daily, day 1 hourly until 09:00, days 2-3 raw only."""
    if request.param == "postgresql":
        with postgres_schema("mp_tail") as url:
            yield from _seed(make_app(SQLALCHEMY_DATABASE_URI=url))
    else:
        yield from _seed(make_app())


def _seed(app):
    with app.app_context():
        events, devices = generate_events(START, DAYS, devices=150, impressions_per_day=300, seed=17)
        # a few events without placement/locale: NULL dimension values
        for e in events[::97]:
            e["placement"] = None
            e["locale"] = None
        insert_events(db.session, events, devices)
        rollup_day(db.session, START)
        rollup_hours(db.session, START + timedelta(days=1), datetime.combine(START, datetime.min.time())
                     + timedelta(days=1, hours=9))
        yield events
        db.session.remove()
        db.engine.dispose()


def audiences(events):
    week = next(e["first_seen_week"] for e in events if not e["is_bot"])
    return [resolve_audience(s) for s in ("global", "variant:A", "device:mobile", "locale:de", "visitor:new",
                                          f"cohort:{week}")] + [
        Audience("multi", "Mobile or tablet, B", {"device_type": ["mobile", "tablet"], "variant": "B"}),
        Audience("no-placement", "No placement", {"placement": None}),
        Audience("custom", "Custom predicate", {}, where=lambda c: c.variant == "A"),  # runs in SQL
    ]


def python_counts(events, audience, by):
    """The same grouping computed from the generated events alone."""
    def keep(e):
        if audience.slug == "custom":
            return e["variant"] == "A"
        for name, want in audience.filters.items():
            got = e.get(name)
            if want is None:
                if got is not None:
                    return False
            elif isinstance(want, list | tuple):
                if got not in want:
                    return False
            elif got != want:
                return False
        return True

    out = defaultdict(lambda: dict.fromkeys(facts.MEASURES, 0))
    for e in events:
        if not keep(e):
            continue
        key = tuple(e["event_time"].date() if b == "day" else e.get(b) for b in by)
        acc = out[key]
        if e["is_bot"]:
            acc["bot_events"] += 1
        else:
            acc[{"impression": "impressions", "click": "clicks", "view": "views"}[e["type"]]] += 1
    if not by and not out:
        out[()] = dict.fromkeys(facts.MEASURES, 0)
    return [{**dict(zip(by, k, strict=True)), **out[k]}
            for k in sorted(out, key=lambda k: tuple("" if v is None else str(v) for v in k))]


def test_shared_raw_rows_give_the_filtered_sql_numbers(seeded, monkeypatch):
    events = seeded
    calls = []
    real = facts.raw_fine_counts
    monkeypatch.setattr(facts, "raw_fine_counts", lambda *a: calls.append(a[1:]) or real(*a))
    cache = ResultCache(60, MemoryStore())
    for i, aud in enumerate(audiences(events)):
        for j, by in enumerate(BYS):
            plain = facts.grouped_counts(db.session, START, END, aud, by)
            shared = cache.call(f"case-{i}-{j}", (), lambda aud=aud, by=by: facts.grouped_counts(
                db.session, START, END, aud, by))
            assert shared == plain, (aud.slug, by)
            assert plain == python_counts(events, aud, by), (aud.slug, by)
    # one read of the raw range (day 1 after 09:00 through day 3) for every audience and grouping
    assert len(calls) == 1
    assert calls[0] == (datetime.combine(START, datetime.min.time()) + timedelta(days=1, hours=9),
                        datetime.combine(END + timedelta(days=1), datetime.min.time()))


def test_dashboard_queries_are_identical_through_the_cache(seeded):
    for slug in ("global", "device:mobile", "variant:B"):
        for fn in (ctr_daily, ctr_by_placement, placement_funnel):
            cache = ResultCache(60, MemoryStore())
            assert cache.call("q", (), lambda fn=fn, slug=slug: fn(db.session, START, END, slug)) == \
                fn(db.session, START, END, slug)
        cache = ResultCache(60, MemoryStore())
        cached = cache.call("e", (), lambda slug=slug: experiment(db.session, START, END, slug, with_cuped=False))
        assert cached == experiment(db.session, START, END, slug, with_cuped=False)


def test_non_string_filters_run_in_sql():
    assert facts.row_filter(Audience("n", "n", {"variant": 1})) is None
    assert facts.row_filter(Audience("w", "w", {}, where=lambda c: c.variant == "A")) is None
    match = facts.row_filter(Audience("l", "l", {"variant": ["A"], "placement": None}))
    row = (date(2026, 1, 1), "A", None, "en", "mobile", "new", "2026-W01", 1, 0, 0, 0)
    assert match(row) and not match((row[0], None, *row[2:])) and not match((row[0], "A", "home", *row[3:]))


def test_per_device_aggregation_equals_count_distinct(seeded):
    """The rollups' two-step (hashable) aggregate gives exactly the ``count(DISTINCT)`` rows: per hour,
    per day and for a whole day, bots and NULL dimensions included."""
    from moviepulse.analytics.rollups import raw_grouped_select
    from moviepulse.analytics.sqlutil import day_bucket, hour_bucket
    from moviepulse.models.events import Event

    lo = datetime.combine(START, datetime.min.time())
    hi = lo + timedelta(days=DAYS)
    for bucket in (hour_bucket(Event.event_time), day_bucket(Event.event_time), None):
        rows = {}
        for per_device in (False, True):
            result = db.session.execute(raw_grouped_select(lo, hi, bucket=bucket, per_device=per_device))
            rows[per_device] = sorted(tuple(str(v) for v in r._mapping.values()) for r in result)
        assert rows[True] == rows[False] and len(rows[True]) > 10
    assert any(e["is_bot"] for e in seeded) and any(e["placement"] is None for e in seeded)
