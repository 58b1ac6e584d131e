"""``POST /api/events``: per-event results, idempotency, limits, skew correction, bots."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from moviepulse.core.observability import prom
from moviepulse.extensions import db
from moviepulse.models.events import Device, Event
from moviepulse.models.movie import Movie


@pytest.fixture
def api(make_app):
    app = make_app()
    with app.app_context():
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in (1, 2, 3)])
        db.session.commit()
    return app


def now():
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment):
    return moment.isoformat(timespec="milliseconds") + "Z"


def event(i, **overrides):
    e = {"event_id": f"evt-{i:010d}", "type": "impression", "ts": iso(now()), "device_id": "d_beacon_device_1",
         "movie_id": 1, "placement": "home", "variant": "A", "position": 1, "locale": "en"}
    e.update(overrides)
    return e


def count(app, model=Event):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def post(client, events, sent_at=None, **kwargs):
    return client.post("/api/events", json={"sent_at": sent_at or iso(now()), "events": events}, **kwargs)


def test_acceptance_three_valid_one_duplicate_two_invalid(api):
    client = api.test_client()
    batch = [event(1), event(2, type="click"), event(3, type="view", placement=None, variant=None, position=None),
             event(1), event(4, type="bogus"), event(5, movie_id=999)]
    r = post(client, batch)
    assert r.status_code == 200
    body = r.get_json()
    assert (body["accepted"], body["duplicates"], len(body["rejected"])) == (3, 1, 2)
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [(4, "invalid_field"), (5, "unknown_movie")]
    assert all(x["reason"] and x["detail"] for x in body["rejected"])
    assert count(api) == 3
    again = post(client, batch).get_json()
    assert (again["accepted"], again["duplicates"], len(again["rejected"])) == (0, 4, 2)
    assert count(api) == 3
    text = prom(api).registry.get_sample_value("moviepulse_events_total", {"outcome": "accepted"})
    assert text == 3
    assert prom(api).registry.get_sample_value("moviepulse_events_total", {"outcome": "duplicate"}) == 5
    assert prom(api).registry.get_sample_value("moviepulse_events_total", {"outcome": "rejected"}) == 4


def test_rows_are_stored_with_audience_keys_and_beacon_origin(api):
    client = api.test_client()
    post(client, [event(1, type="click", placement="trends", variant="B", position=7, locale="de")],
         headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148"})
    with api.app_context():
        row = db.session.scalar(select(Event))
        assert (row.type, row.placement, row.variant, row.position, row.locale) == ("click", "trends", "B", 7, "de")
        assert (row.origin, row.device_type, row.visitor_type, row.is_bot) == ("beacon", "mobile", "new", False)
        assert row.first_seen_week == f"{row.event_time.isocalendar()[0]}-W{row.event_time.isocalendar()[1]:02d}"
        assert row.request_id
        device = db.session.get(Device, "d_beacon_device_1")
        assert device.device_type == "mobile"


PER_EVENT_CASES = [
    ("event_id", "short", "invalid_field"), ("event_id", "bad id with spaces", "invalid_field"),
    ("event_id", "x" * 65, "invalid_field"), ("event_id", 12345678, "invalid_field"),
    ("type", "purchase", "invalid_field"), ("ts", "yesterday", "invalid_field"), ("ts", 1700000000, "invalid_field"),
    ("device_id", "d\x00evice-0001", "invalid_field"), ("movie_id", "1", "invalid_field"),
    ("movie_id", True, "invalid_field"), ("movie_id", 10**30, "invalid_field"), ("movie_id", 42, "unknown_movie"),
    ("placement", "sidebar", "invalid_field"), ("variant", "C", "invalid_field"), ("position", 0, "invalid_field"),
    ("position", 101, "invalid_field"), ("position", 1.5, "invalid_field"), ("position", True, "invalid_field"),
    ("locale", "xx", "invalid_field"),
]


def test_per_event_rejections(api):
    batch = [event(i, **{field: value}) for i, (field, value, _reason) in enumerate(PER_EVENT_CASES)]
    r = post(api.test_client(), [*batch, event(999)])
    body = r.get_json()
    assert r.status_code == 200 and body["accepted"] == 1 and body["duplicates"] == 0
    got = [(x["index"], x["reason"], x["field"]) for x in body["rejected"]]
    assert got == [(i, reason, field) for i, (field, _v, reason) in enumerate(PER_EVENT_CASES)]


def test_missing_field_and_non_objects(api):
    e = event(1)
    del e["locale"]
    body = post(api.test_client(), [e, "x", None, [1], event(2)]).get_json()
    assert body["accepted"] == 1
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [
        (0, "missing_field"), (1, "not_an_object"), (2, "not_an_object"), (3, "not_an_object")]
    assert body["rejected"][0]["field"] == "locale"


def test_event_too_large_is_rejected_alone(make_app):
    app = make_app(EVENTS_MAX_EVENT_BYTES=400)
    with app.app_context():
        db.session.add(Movie(id=1, title="M", original_title="M"))
        db.session.commit()
    body = post(app.test_client(), [event(1, padding="x" * 500), event(2)]).get_json()
    assert body["accepted"] == 1 and body["rejected"] == [
        {"index": 0, "reason": "too_large", "field": None, "detail": body["rejected"][0]["detail"]}]


def test_views_may_omit_attribution_but_impressions_may_not(api):
    body = post(api.test_client(), [
        event(1, type="view", placement=None, variant=None, position=None),
        event(2, type="impression", placement=None),
        event(3, type="click", position=None),
    ]).get_json()
    assert body["accepted"] == 1 and [x["index"] for x in body["rejected"]] == [1, 2]


def test_oversized_body_is_413_and_writes_nothing(api):
    client = api.test_client()
    events = [event(i, padding="x" * 1500) for i in range(400)]  # > 512 KiB
    payload = json.dumps({"sent_at": iso(now()), "events": events})
    assert len(payload) > 512 * 1024
    r = client.post("/api/events", data=payload, content_type="application/json")
    assert r.status_code == 413 and r.get_json()["error"] == "payload_too_large"
    assert count(api) == 0 and count(api, Device) == 0


def test_body_limit_is_enforced_while_reading_without_content_length(make_app):
    app = make_app(EVENTS_MAX_BODY_BYTES=1000)
    body = json.dumps({"events": [event(i) for i in range(20)]}).encode()
    assert len(body) > 1000
    environ = EnvironBuilder(path="/api/events", method="POST", data=body,
                             content_type="application/json").get_environ()
    del environ["CONTENT_LENGTH"]  # as with chunked transfer encoding
    environ["wsgi.input_terminated"] = True
    _body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert count(app) == 0


def test_too_many_events_is_413(make_app):
    app = make_app(EVENTS_MAX_BATCH=5)
    r = post(app.test_client(), [event(i) for i in range(6)])
    assert r.status_code == 413 and r.get_json()["error"] == "too_many_events"
    assert count(app) == 0


ENVELOPE_CASES = [
    ({"data": "{}", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": '{"events": [NaN]}', "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": b"\xff\xfe{", "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": "[" * 100000 + "]" * 100000, "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": "[]", "content_type": "application/json"}, 422, "invalid_envelope"),
    ({"data": '{"events": {}}', "content_type": "application/json"}, 422, "invalid_envelope"),
    ({"data": '{"sent_at": 5, "events": []}', "content_type": "application/json"}, 422, "invalid_envelope"),
    ({"data": "{}", "content_type": "application/json"}, 422, "invalid_envelope"),
]


def test_envelope_errors(api):
    client = api.test_client()
    for kwargs, status, error in ENVELOPE_CASES:
        r = client.post("/api/events", **kwargs)
        assert (r.status_code, r.get_json()["error"]) == (status, error), kwargs
    assert count(api) == 0


def test_wrong_method_is_405_with_allow(api):
    for method in ("get", "put", "delete", "patch"):
        r = getattr(api.test_client(), method)("/api/events")
        assert r.status_code == 405 and "POST" in r.headers["Allow"]


def test_clock_skew_is_corrected_from_sent_at(api):
    client = api.test_client()
    skew = timedelta(hours=2)
    client_now = now() + skew  # the client's clock runs 2 h fast
    ts = client_now - timedelta(minutes=10)
    post(client, [event(1, ts=iso(ts))], sent_at=iso(client_now))
    with api.app_context():
        row = db.session.scalar(select(Event))
        expected = row.received_at - timedelta(minutes=10)
        assert abs((row.event_time - expected).total_seconds()) < 1.0


def test_small_skew_is_left_alone(api):
    client = api.test_client()
    ts = now() - timedelta(minutes=3)
    post(client, [event(1, ts=iso(ts))], sent_at=iso(now() + timedelta(seconds=1)))
    with api.app_context():
        assert abs((db.session.scalar(select(Event.event_time)) - ts).total_seconds()) < 0.01


def test_too_old_and_future_events_are_rejected(api):
    client = api.test_client()
    body = post(client, [event(1, ts=iso(now() - timedelta(days=8))), event(2, ts=iso(now() + timedelta(hours=1))),
                         event(3, ts=iso(now() - timedelta(days=6))), event(4, ts="9999-12-31T23:59:59Z"),
                         event(5, ts="1970-01-01T00:00:00Z")]).get_json()
    assert body["accepted"] == 1
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [
        (0, "too_old"), (1, "in_future"), (3, "in_future"), (4, "too_old")]


def test_unparseable_sent_at_means_no_correction(api):
    ts = now() - timedelta(minutes=1)
    body = post(api.test_client(), [event(1, ts=iso(ts))], sent_at="not a date").get_json()
    assert body["accepted"] == 1


def test_bots_are_stored_flagged(api):
    post(api.test_client(), [event(1)], headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    with api.app_context():
        row = db.session.scalar(select(Event))
        assert row.is_bot and row.device_type == "bot"


def test_concurrent_identical_batches_never_fail(api):
    batch = [event(i) for i in range(50)]
    results = []

    def send():
        r = post(api.test_client(), batch)
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * 5
    assert sum(b["accepted"] for _, b in results) == 50
    assert sum(b["duplicates"] for _, b in results) == 200
    assert count(api) == 50


def test_empty_batch(api):
    assert post(api.test_client(), []).get_json() == {"accepted": 0, "duplicates": 0, "rejected": []}


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_api(make_app):
    """The API on a throw-away PostgreSQL database (skipped when PostgreSQL is not reachable)."""
    import uuid

    psycopg = pytest.importorskip("psycopg")
    name = "mp_events_" + uuid.uuid4().hex[:10]
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=2)
    except Exception:  # noqa: BLE001
        pytest.skip("PostgreSQL is not reachable")
    admin.execute(f"CREATE DATABASE {name}")
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql://postgres@127.0.0.1:5432/{name}")
    with app.app_context():
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in (1, 2, 3)])
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.mark.parity
def test_postgresql_counts_duplicates_and_survives_concurrent_batches(pg_api):
    client = pg_api.test_client()
    batch = [event(1), event(2), event(3), event(1), event(4, type="bogus"), event(5, movie_id=999),
             event(6, device_id="bad\x00device")]
    body = post(client, batch).get_json()
    assert (body["accepted"], body["duplicates"], len(body["rejected"])) == (3, 1, 3)
    assert post(client, batch).get_json()["accepted"] == 0
    big = [event(100 + i) for i in range(100)]
    results = []

    def send():
        r = post(pg_api.test_client(), big)
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * 5
    assert sorted(b["accepted"] for _, b in results) == [0, 0, 0, 0, 100]
    assert count(pg_api) == 103


@pytest.mark.parity
def test_postgresql_device_upsert_in_one_statement_keeps_existing_facts(pg_api):
    """New and known devices in one batch: the known keep their facts, the new take the hints,
    and every event gets its device's keys (the one-round-trip CTE path of ``ensure_devices``)."""
    from moviepulse.site.tracking import DEVICE_CACHE_KEY, record_events

    day = datetime(2026, 11, 20, 10, 0)
    with pg_api.app_context():
        record_events(db.session, [{"event_id": "pg-dev-0001", "type": "view", "device_id": "d_known_0001",
                                    "movie_id": 1, "event_time": day, "device_type": "tablet"}])
        pg_api.extensions[DEVICE_CACHE_KEY].clear()  # force the database path for the known device
        outcome = record_events(db.session, [
            {"event_id": "pg-dev-0002", "type": "view", "device_id": "d_known_0001", "movie_id": 2,
             "event_time": day + timedelta(days=1), "device_type": "mobile"},
            {"event_id": "pg-dev-0003", "type": "view", "device_id": "d_new_00001", "movie_id": 3,
             "event_time": day + timedelta(days=1), "device_type": "bot", "is_bot": True},
        ])
        assert (outcome.accepted, outcome.duplicates) == (2, 0)
        db.session.expire_all()
        known, new = db.session.get(Device, "d_known_0001"), db.session.get(Device, "d_new_00001")
        assert (known.device_type, known.first_seen_at, known.is_bot) == ("tablet", day, False)
        assert (new.device_type, new.first_seen_at, new.is_bot) == ("bot", day + timedelta(days=1), True)
        rows = {e.event_id: e for e in db.session.scalars(select(Event))}
        assert (rows["pg-dev-0002"].device_type, rows["pg-dev-0002"].visitor_type) == ("tablet", "returning")
        assert (rows["pg-dev-0003"].visitor_type, rows["pg-dev-0003"].is_bot) == ("new", True)
        assert db.session.scalar(select(func.count()).select_from(Device)) == 2
