"""The ``POST /api/events`` contract over a real threaded server: limits, per-event results that add
up, idempotency under concurrent resends (rows counted), clock skew, bots, methods and media types."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from moviepulse.extensions import db
from moviepulse.models.events import Event
from moviepulse.models.movie import Movie

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def event(i: int, **overrides):
    e = {"event_id": f"rel-{i:012d}", "type": "impression", "ts": iso(now()), "device_id": "dev_reliability_1",
         "movie_id": 1 + i % 3, "placement": "home", "variant": "AB"[i % 2], "position": 1 + i % 10, "locale": "en"}
    e.update(overrides)
    return e


@pytest.fixture
def api(make_app, live_server):
    app = make_app()
    with app.app_context():
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in (1, 2, 3)])
        db.session.commit()
    server = live_server(app)
    session = requests.Session()
    session.headers["User-Agent"] = BROWSER_UA
    return app, server.url + "/api/events", session


def rows(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Event))
        db.session.remove()
        return n


def post(session, url, events, sent_at=None, **kwargs):
    return session.post(url, json={"sent_at": sent_at or iso(now()), "events": events}, timeout=60, **kwargs)


def adds_up(body, sent: int) -> bool:
    return body["accepted"] + body["duplicates"] + len(body["rejected"]) == sent


def test_body_limit_is_413_before_the_handler_even_when_chunked(api):
    app, url, session = api
    limit = app.config["EVENTS_MAX_BODY_BYTES"]
    body = json.dumps({"events": [event(0)], "pad": "x" * limit}).encode()
    assert len(body) > limit
    r = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # no Content-Length: the limit is enforced while reading
    r = session.post(url, data=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                     headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413
    exact = json.dumps({"events": [], "pad": "x" * (limit - 25)}).encode()
    assert len(exact) == limit
    assert session.post(url, data=exact, headers={"Content-Type": "application/json"}, timeout=60).status_code == 200
    assert rows(app) == 0


def test_batch_limit_names_the_limit_and_event_limit_rejects_only_that_event(api):
    app, url, session = api
    max_batch = app.config["EVENTS_MAX_BATCH"]
    r = post(session, url, [event(i) for i in range(max_batch + 1)])
    assert r.status_code == 413 and str(max_batch) in r.json()["reason"]
    assert rows(app) == 0
    big = event(1, padding="é" * app.config["EVENTS_MAX_EVENT_BYTES"])
    r = post(session, url, [event(0), big, event(2)])
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [(1, "too_large")]
    assert rows(app) == 2


def test_per_event_results_add_up(api):
    app, url, session = api
    batch = [event(0), event(1), event(2)]
    batch.append({k: v for k, v in event(3).items() if k != "event_id"})
    batch.append(event(4, position="first"))
    batch.append(event(5, device_id="dev\x00nul"))
    r = post(session, url, batch)
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 3 and adds_up(body, 6)
    assert [(x["index"], x["reason"], x["field"]) for x in body["rejected"]] == [
        (3, "missing_field", "event_id"), (4, "invalid_field", "position"), (5, "invalid_field", "device_id")]
    assert rows(app) == 3


def test_concurrent_resends_store_each_event_once(api):
    """5 threads each send the same 3 overlapping batches 3 times; rows == unique ids."""
    app, url, _ = api
    batches = [[event(i) for i in range(k * 50, k * 50 + 100)] for k in range(3)]  # overlapping by 50
    unique = {e["event_id"] for b in batches for e in b}
    results: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def client():
        s = requests.Session()
        s.headers["User-Agent"] = BROWSER_UA
        try:
            barrier.wait(30)
            for _ in range(3):
                for b in batches:
                    r = post(s, url, b)
                    results.append((r.status_code, r.json()))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert len(results) == 45 and {code for code, _ in results} == {200}
    assert all(adds_up(body, 100) and not body["rejected"] for _, body in results)
    assert sum(body["accepted"] for _, body in results) == len(unique) == 200
    assert rows(app) == len(unique)
    # a later resend is all duplicates
    body = post(requests.Session(), url, batches[0]).json()
    assert (body["accepted"], body["duplicates"]) == (0, 100)


def test_clock_skew_is_corrected_from_sent_at(api):
    app, url, session = api
    client_now = now() + timedelta(hours=2)  # the device clock is 2 h ahead
    before = now()
    r = post(session, url, [event(0, ts=iso(client_now - timedelta(seconds=30)))], sent_at=iso(client_now))
    after = now()
    assert r.json()["accepted"] == 1
    with app.app_context():
        stored = db.session.scalar(select(Event))
        # event_time = received_at + (ts - sent_at) = received_at - 30 s
        assert abs((stored.event_time - (stored.received_at - timedelta(seconds=30))).total_seconds()) <= 1
        assert before - timedelta(seconds=1) <= stored.received_at <= after + timedelta(seconds=1)
    # an unparseable sent_at disables the correction: a ts 2 h in the future is then refused, not stored
    r = post(session, url, [event(1, ts=iso(now() + timedelta(hours=2)))], sent_at="yesterday-ish")
    assert [x["reason"] for x in r.json()["rejected"]] == ["in_future"]
    # more than a day ahead even after correction is refused as well
    r = post(session, url, [event(2, ts=iso(now() + timedelta(hours=30)))], sent_at=iso(now()))
    assert [x["reason"] for x in r.json()["rejected"]] == ["in_future"]


def test_bots_are_flagged_kept_visible_and_excluded_from_ctr(api):
    app, url, session = api
    human = [event(i, type="impression") for i in range(4)] + [event(4, type="click")]
    bot = [event(10 + i, device_id="dev_googlebot_01", type=t) for i, t in enumerate(["impression", "click"] * 3)]
    assert post(session, url, human).json()["accepted"] == 5
    r = post(session, url, bot, headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; "
                                                        "+http://www.google.com/bot.html)"})
    assert r.json()["accepted"] == 6
    from moviepulse.analytics.ctr import ctr_totals

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.is_bot.is_(True))) == 6
        totals = ctr_totals(db.session, date.today() - timedelta(days=1), date.today() + timedelta(days=1))
    assert totals["total"]["impressions"] == 4 and totals["total"]["clicks"] == 1
    assert totals["bot_events"] == 6


def test_wrong_method_and_content_type_get_precise_answers(api):
    app, url, session = api
    r = session.get(url, timeout=30)
    assert r.status_code == 405 and "POST" in r.headers["Allow"] and r.json()["error"] == "method_not_allowed"
    r = session.put(url, json={"events": []}, timeout=30)
    assert r.status_code == 405
    r = session.post(url, data=json.dumps({"events": [event(0)]}), headers={"Content-Type": "text/plain"},
                     timeout=30)
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    r = session.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400
    r = session.post(url, data=b'{"events": [NaN]}', headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400
    assert rows(app) == 0


def test_a_client_that_dies_mid_body_writes_nothing(api):
    app, url, _ = api
    host, port = url.split("//")[1].split("/")[0].split(":")
    body = json.dumps({"sent_at": iso(now()), "events": [event(i) for i in range(20)]}).encode()
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
    r = post(requests.Session(), url, [event(99)])  # the server is still healthy
    assert r.json()["accepted"] == 1
    assert rows(app) == 1
