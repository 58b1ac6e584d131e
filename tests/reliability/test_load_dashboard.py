"""The dashboard under ingestion load: a logged-in admin keeps refreshing the CTR and experiment
widgets (real Dash callbacks) while beacon batches arrive at a fixed rate over a real server.
Pass: no 5xx on either side, every accepted event stored; callback latency is reported (the target,
p95 < 1 s, is for a quiet machine; here only a generous bound is asserted)."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from moviepulse.dash_app.testing import post_widget, response_parts
from moviepulse.extensions import db
from moviepulse.testing import admin_client

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1"
SECONDS = float(os.environ.get("RELIABILITY_DASH_LOAD_SECONDS", "10"))
WIDGETS = [("ctr-line", "ctr"), ("ctr-bars", "ctr"), ("placement-funnel", "ctr"), ("experiment-ztest", "experiments")]


def iso_now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@pytest.mark.slow
def test_dashboard_callbacks_stay_healthy_under_ingestion_load(make_app, live_server):
    from moviepulse.models.movie import Movie

    app = make_app()
    with app.app_context():
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in range(1, 6)])
        db.session.commit()
    url = live_server(app).url + "/api/events"
    admin = admin_client(app)
    today = date.today()
    filters = {"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat(), "audience": "global"}
    deadline = time.monotonic() + SECONDS
    ingest = {"sent": 0, "accepted": 0, "bad": 0}
    callbacks: list[tuple[int, float]] = []

    def beacons() -> None:
        s = requests.Session()
        s.headers["User-Agent"] = UA
        i = 0
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += 0.125  # 8 batches/s
            events = [{"event_id": f"dash-{i}-{j}", "type": "click" if j % 10 == 0 else "impression",
                       "ts": iso_now(), "device_id": f"dev_dash_{j % 7}", "movie_id": 1 + j % 5,
                       "placement": "home", "variant": "AB"[j % 2], "position": 1 + j % 10, "locale": "en"}
                      for j in range(25)]
            i += 1
            r = s.post(url, json={"sent_at": iso_now(), "events": events}, timeout=60)
            ingest["sent"] += len(events)
            if r.status_code == 200:
                ingest["accepted"] += r.json()["accepted"]
            else:
                ingest["bad"] += 1

    thread = threading.Thread(target=beacons)
    thread.start()
    k = 0
    while time.monotonic() < deadline:
        slug, instance = WIDGETS[k % len(WIDGETS)]
        k += 1
        started = time.monotonic()
        r = post_widget(admin, slug, instance, filters)
        callbacks.append((r.status_code, time.monotonic() - started))
    thread.join(120)
    with app.app_context():
        from sqlalchemy import func, select

        from moviepulse.models.events import Event

        stored = db.session.scalar(select(func.count()).select_from(Event))
    times = sorted(t for _, t in callbacks)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"\ndashboard under load: {len(callbacks)} callbacks, p50 {times[len(times) // 2]:.3f}s p95 {p95:.3f}s; "
          f"ingestion {ingest}, stored {stored}")
    assert {code for code, _ in callbacks} == {200}
    assert ingest["bad"] == 0 and ingest["accepted"] == ingest["sent"] == stored
    assert len(callbacks) >= 4 and p95 < 15.0
    parts = response_parts(post_widget(admin, "ctr-bars", "ctr", filters))  # real figures, with the new data
    figure = next(v for k, v in parts.items() if k.endswith(".figure"))
    assert sum(sum(y for y in trace.get("y", []) if isinstance(y, (int, float))) for trace in figure["data"]) > 0
