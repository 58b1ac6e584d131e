"""Batch validation as pure functions, with Hypothesis over hostile input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from moviepulse.site.beacon import Limits, parse_timestamp, skew_of, validate_events

NOW = datetime(2026, 11, 27, 12, 0, 0)
LOCALES = ["en", "de"]


def validate(events, sent_at=None):
    return validate_events(events, sent_at=sent_at, received_at=NOW, limits=Limits(), locales=LOCALES,
                           movie_exists=lambda ids: {i for i in ids if i <= 10})


def good(i=1, **kw):
    e = {"event_id": f"evt-{i:08d}", "type": "click", "ts": "2026-11-27T11:59:00Z", "device_id": "d_0123456789",
         "movie_id": 3, "placement": "home", "variant": "B", "position": 2, "locale": "de"}
    e.update(kw)
    return e


def test_parse_timestamp_forms():
    assert parse_timestamp("2026-11-27T11:00:00Z") == datetime(2026, 11, 27, 11)
    assert parse_timestamp("2026-11-27t11:00:00z") == datetime(2026, 11, 27, 11)
    assert parse_timestamp("2026-11-27T12:00:00+01:00") == datetime(2026, 11, 27, 11)
    assert parse_timestamp("2026-11-27 11:00:00.250") == datetime(2026, 11, 27, 11, 0, 0, 250000)
    for bad in ("", "yesterday", "2026-13-01T00:00:00", "2026-11-27T23:59:60Z", None, 5, "NaN", "2026\x00-11-27"):
        assert parse_timestamp(bad) is None


def test_skew_threshold():
    limits = Limits()
    assert skew_of(NOW - timedelta(seconds=2), NOW, limits) == timedelta(0)
    assert skew_of(NOW - timedelta(seconds=3), NOW, limits) == timedelta(seconds=3)
    assert skew_of(NOW + timedelta(hours=2), NOW, limits) == timedelta(hours=-2)
    assert skew_of(None, NOW, limits) == timedelta(0)


def test_skew_applies_to_every_event():
    out = validate([good(1, ts="2026-11-27T13:59:00Z")], sent_at=NOW + timedelta(hours=2))
    assert out.rows[0]["event_time"] == datetime(2026, 11, 27, 11, 59)


def test_row_shape():
    out = validate([good()])
    assert out.rejected == []
    assert out.rows == [{"event_id": "evt-00000001", "type": "click", "event_time": datetime(2026, 11, 27, 11, 59),
                         "received_at": NOW, "device_id": "d_0123456789", "movie_id": 3, "placement": "home",
                         "variant": "B", "position": 2, "locale": "de", "origin": "beacon"}]


hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80),
    st.sampled_from(["\x00", "\ud800", "NaN", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "A", "home", "view"]),
)
hostile_values = st.recursive(hostile_scalars, lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
hostile_event = st.one_of(
    hostile_values,
    st.builds(lambda base, patch: {**base, **patch}, st.just(good()),
              st.dictionaries(st.sampled_from(list(good())), hostile_values, max_size=4)),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(hostile_event, max_size=12), st.one_of(st.none(), st.datetimes()))
def test_every_event_is_either_a_row_or_rejected(events, sent_at):
    out = validate(events, sent_at=sent_at)
    assert len(out.rows) + len(out.rejected) == len(events)
    assert sorted(r["index"] for r in out.rejected) == [r["index"] for r in out.rejected]
    for row in out.rows:
        assert "\x00" not in json.dumps(row, default=str)
        assert NOW - timedelta(days=7) <= row["event_time"] <= NOW + timedelta(minutes=5)
        assert isinstance(row["movie_id"], int) and not isinstance(row["movie_id"], bool)
        json.dumps(row, default=str).encode("utf-8")  # storable: no lone surrogates


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_timestamp_normalisation_is_idempotent(moment):
    once = parse_timestamp(moment.isoformat() + "Z")
    assert once == moment
    assert parse_timestamp(once.isoformat()) == once
