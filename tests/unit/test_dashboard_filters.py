"""Filter state: parsing and validation of the URL query, store round trip, audience checks."""

from __future__ import annotations

from datetime import date, timedelta

from moviepulse.dash_app.filters import MAX_RANGE_DAYS, Filters, recent_cohorts, today


def test_round_trip_through_query_and_store():
    f = Filters(date(2026, 11, 1), date(2026, 11, 7), "cohort:2026-W45")
    assert Filters.from_query(f.to_query()) == f
    assert Filters.from_store(f.to_store()) == f
    assert f.to_query() == "?start=2026-11-01&end=2026-11-07&audience=cohort%3A2026-W45"


def test_default_range_ends_today_and_spans_the_days_asked():
    f = Filters.default(14)
    assert f.end == today() and (f.end - f.start).days == 13 and f.audience == "global"


def test_invalid_parts_fall_back():
    default = Filters.default(7)
    assert Filters.parse("2026-11-09", "2026-11-01", "global", default_days=7) == default  # reversed
    assert Filters.parse("nope", "2026-11-01", "global", default_days=7) == default
    too_long = Filters.parse("2020-01-01", "2026-11-01", "global", default_days=7)
    assert too_long == default
    longest = date(2026, 11, 1) - timedelta(days=MAX_RANGE_DAYS - 1)
    assert Filters.parse(longest, "2026-11-01", "global").start == longest
    assert Filters.parse("2026-11-01", "2026-11-01", "").audience == "global"


def test_audience_checked_by_list_or_predicate():
    assert Filters.parse("2026-11-01", "2026-11-02", "evil", ["global", "device:mobile"]).audience == "global"
    assert Filters.parse("2026-11-01", "2026-11-02", "device:mobile", ["global", "device:mobile"]).audience == \
        "device:mobile"
    assert Filters.parse("2026-11-01", "2026-11-02", "x", lambda s: s == "x").audience == "x"


def test_audience_predicate_accepts_parametrised_slugs(app):
    from moviepulse.dash_app.filters import audience_ok

    ok = audience_ok(app.extensions["moviepulse"])
    assert ok("global") and ok("device:mobile") and ok("cohort:2026-W45")
    assert not ok("cohort:last-week") and not ok("<script>") and not ok("nope:x")


def test_recent_cohorts_are_iso_weeks_newest_first():
    weeks = recent_cohorts(3)
    y, w, _ = today().isocalendar()
    assert weeks[0] == f"{y}-W{w:02d}" and len(set(weeks)) == 3
