"""``record_events``: idempotent writes, device upserts, audience keys, hook and metrics."""

from __future__ import annotations

import types
from datetime import datetime, timedelta

from sqlalchemy import select

from moviepulse import hookimpl
from moviepulse.core.observability import prom
from moviepulse.extensions import db
from moviepulse.models.events import Device, Event
from moviepulse.site.tracking import BatchOutcome, audience_keys, iso_week, mint_event_id, record_events


def test_audience_keys_by_hand():
    first = datetime(2026, 11, 23, 23, 59)  # Monday of ISO week 48
    assert audience_keys(first, datetime(2026, 11, 23, 0, 1)) == ("new", "2026-W48")
    assert audience_keys(first, datetime(2026, 11, 24, 0, 0)) == ("returning", "2026-W48")
    assert iso_week(datetime(2027, 1, 1)) == "2026-W53"  # 2027-01-01 is in ISO week 53 of 2026
    assert iso_week(datetime(2024, 12, 30)) == "2025-W01"


def test_minted_ids_are_unique_and_time_ordered():
    ids = [mint_event_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(8 <= len(i) <= 64 for i in ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # the millisecond prefix never goes back


def test_record_events_dedupes_and_fills_audience_keys(make_app):
    seen = []
    plugin = types.SimpleNamespace(__name__="spy", events_recorded=hookimpl(lambda events: seen.append(events)))
    app = make_app(extra_plugins=[("spy", plugin)])
    day1 = datetime(2026, 11, 20, 10, 0)
    with app.app_context():
        outcome = record_events(db.session, [
            {"event_id": "e-00000001", "type": "view", "device_id": "d_dev_00001", "movie_id": 1,
             "event_time": day1, "device_type": "tablet"},
            {"event_id": "e-00000002", "type": "view", "device_id": "d_dev_00001", "movie_id": 1,
             "event_time": day1 + timedelta(days=2)},
            {"event_id": "e-00000001", "type": "view", "device_id": "d_dev_00001", "movie_id": 1,
             "event_time": day1},
        ])
        assert outcome == BatchOutcome(accepted=2, duplicates=1)
        rows = {e.event_id: e for e in db.session.execute(select(Event)).scalars()}
        assert rows["e-00000001"].visitor_type == "new" and rows["e-00000002"].visitor_type == "returning"
        assert {r.first_seen_week for r in rows.values()} == {"2026-W47"}
        assert {r.device_type for r in rows.values()} == {"tablet"}
        assert rows["e-00000001"].event_time == day1 and rows["e-00000001"].origin == "server"
        device = db.session.get(Device, "d_dev_00001")
        assert device.first_seen_at == day1 and device.device_type == "tablet"
        # an earlier back-dated event moves first_seen back; the old rows keep their keys
        record_events(db.session, [{"event_id": "e-00000003", "type": "view", "device_id": "d_dev_00001",
                                    "movie_id": 1, "event_time": day1 - timedelta(days=1)}])
        db.session.expire_all()
        assert db.session.get(Device, "d_dev_00001").first_seen_at == day1 - timedelta(days=1)
        assert db.session.scalar(select(Event.visitor_type).where(Event.event_id == "e-00000003")) == "new"
        # resend: nothing new, the hook only ever sees accepted rows
        assert record_events(db.session, [{"event_id": "e-00000002", "type": "view", "device_id": "d_dev_00001",
                                           "movie_id": 1, "event_time": day1}]) == BatchOutcome(0, 1)
        partial = record_events(db.session, [
            {"event_id": "e-00000002", "type": "view", "device_id": "d_dev_00001", "movie_id": 1},
            {"event_id": "e-00000004", "type": "view", "device_id": "d_dev_00001", "movie_id": 1}])
        assert partial == BatchOutcome(1, 1)
    assert [[e["event_id"] for e in batch] for batch in seen] == [
        ["e-00000001", "e-00000002"], ["e-00000003"], ["e-00000004"]]
    assert prom(app).registry.get_sample_value("moviepulse_events_total", {"outcome": "accepted"}) == 4
    assert prom(app).registry.get_sample_value("moviepulse_events_total", {"outcome": "duplicate"}) == 3


def test_bot_hint_and_device_flag(app_ctx):
    record_events(db.session, [{"type": "view", "device_id": "d_bot_00001", "movie_id": 1, "is_bot": True,
                                "device_type": "bot"}])
    record_events(db.session, [{"type": "view", "device_id": "d_bot_00001", "movie_id": 2}])  # flag from device
    assert [e.is_bot for e in db.session.execute(select(Event)).scalars()] == [True, True]


def test_empty_batch_writes_nothing(app_ctx):
    assert record_events(db.session, []) == BatchOutcome(0, 0)
    assert db.session.execute(select(Device)).first() is None
