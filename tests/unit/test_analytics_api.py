"""The analytics admin API: every endpoint answers with from/to/audience, 400s on bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from moviepulse.analytics.ctr import pct
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.core.auth import create_token
from moviepulse.extensions import db

START = date(2026, 11, 16)
END = START + timedelta(days=2)


@pytest.fixture
def api(app):
    with app.app_context():
        events, devices = generate_events(START, 3, devices=80, impressions_per_day=200, seed=8)
        insert_events(db.session, events, devices)
        token = create_token("test")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client, events


@pytest.mark.parametrize("path", ["/ctr/daily", "/ctr/placements", "/ctr/totals", "/funnel/placements",
                                  "/funnel/ingestion", "/experiment", "/drift", "/queue/stats", "/queue/failed",
                                  "/trends", "/metrics/ctr_totals"])
def test_endpoints_answer_and_echo_range(api, path):
    client, _ = api
    res = client.get(f"/admin/api{path}?from={START}&to={END}&audience=device:mobile")
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["state"] in ("ok", "no_data", "not_enough_data", "unavailable", "fallback")
    assert body.get("audience") == "device:mobile"
    assert client.get(f"/admin/api{path}?from=2026-02-30").status_code == 400
    bad = client.get(f"/admin/api{path}?audience=cohort:soon")
    assert bad.status_code == 400 and "cohort" in bad.get_json()["reason"]


def test_ctr_totals_by_api_match_raw_events(api):
    client, events = api
    body = client.get(f"/admin/api/ctr/totals?from={START}&to={END}&audience=variant:B").get_json()
    imps = sum(1 for e in events if e["type"] == "impression" and not e["is_bot"] and e["variant"] == "B")
    clicks = sum(1 for e in events if e["type"] == "click" and not e["is_bot"] and e["variant"] == "B")
    assert body["total"]["impressions"] == imps and body["total"]["clicks"] == clicks
    assert body["total"]["ctr"] == pct(clicks, imps)
    assert body["variants"]["A"]["impressions"] == 0


def test_audiences_and_metrics_listing(api):
    client, _ = api
    slugs = [a["slug"] for a in client.get("/admin/api/audiences").get_json()["audiences"]]
    assert {"global", "variant:A", "variant:B", "device:mobile", "visitor:new", "visitor:returning",
            "locale:en"} <= set(slugs)
    metrics = {m["slug"] for m in client.get("/admin/api/metrics").get_json()["metrics"]}
    assert {"ctr_daily", "ctr_placements", "funnel_placements", "experiment", "drift", "queue_stats",
            "trends"} <= metrics
    assert client.get("/admin/api/metrics/nope").status_code == 400


def test_moviepulse_reexports(app):
    import moviepulse

    assert moviepulse.Audience.__module__ == "moviepulse.analytics.audiences"
    assert moviepulse.Metric.__module__ == "moviepulse.analytics.metric"
    pulse = app.extensions["moviepulse"]
    assert {"ctr.rollup", "reconciliation.reconcile", "queue.sweep"} <= set(pulse.tasks)
