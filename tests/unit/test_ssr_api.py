"""Admin API: /admin/api/ssr/{routes,fingerprints,drops,alerts} with from/to and the admin guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from moviepulse.core.auth import create_token
from moviepulse.ssr.fingerprints import check_hit
from moviepulse.ssr.runtime import flush_now, runtime


@pytest.fixture
def api(make_app):
    app = make_app(only_plugins=["core", "ssr", "playbooks"])
    with app.app_context():
        token = create_token("tests")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return app, client


def _seed(app):
    now = datetime.now(UTC).replace(tzinfo=None)
    minute = int(now.replace(tzinfo=UTC).timestamp() // 60)
    buf = runtime(app).buffer
    for ms in (10.0, 20.0, 30.0, 40.0):
        buf.record_request("/<locale>/", minute, ms, 200, 500, score=85)
    buf.record_fingerprint(check_hit("blocking_scripts", "/<locale>/", now, {"request_id": "abc"}))
    flush_now(app)
    return now


def test_guard_requires_admin(make_app):
    app = make_app(only_plugins=["core", "ssr"])
    for path in ("routes", "fingerprints", "drops", "alerts"):
        response = app.test_client().get(f"/admin/api/ssr/{path}")
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


def test_routes_endpoint(api):
    app, client = api
    now = _seed(app)
    body = client.get("/admin/api/ssr/routes").get_json()
    assert body["to"] == now.date().isoformat()
    assert body["from"] == (now.date() - timedelta(days=6)).isoformat()
    [route] = body["routes"]
    assert route["route"] == "/<locale>/" and route["requests"] == 4
    assert route["p50"] == pytest.approx(20.0, rel=0.01) and route["apdex"] == 1.0
    assert route["score_avg"] == 85.0
    assert body["trend"] == [{"day": now.date().isoformat(), "avg_score": 85.0, "samples": 4}]
    old = client.get("/admin/api/ssr/routes?from=2020-01-01&to=2020-01-02").get_json()
    assert old["routes"] == [] and old["from"] == "2020-01-01"


def test_fingerprints_endpoint_has_flag_and_playbook(api):
    app, client = api
    _seed(app)
    [fp] = client.get("/admin/api/ssr/fingerprints").get_json()["fingerprints"]
    assert fp["kind"] == "score.blocking_scripts" and fp["repeat_offender"] is False
    assert fp["playbook"] == "blocking-scripts" and fp["playbook_detail"]["steps"]
    assert fp["sample"]["request_id"] == "abc"


def test_drops_and_alerts_endpoints(api):
    app, client = api
    now = _seed(app)
    drops = client.get("/admin/api/ssr/drops").get_json()
    assert drops["day"] == now.date().isoformat()
    assert drops["routes"][0]["status"] == "new"
    app.extensions["moviepulse"].emit("upstream_event", upstream="tmdb", kind="breaker_state",
                                      detail={"state": "open"})
    with app.app_context():
        app.extensions["moviepulse"].enqueue("ssr.evaluate_alerts")
    body = client.get("/admin/api/ssr/alerts").get_json()
    assert body["alerts"][0]["state"] == "critical" and body["alerts"][0]["rule"] == "upstream.breaker_open"
    assert body["upstreams"][0]["breaker"] == "open"


def test_bad_dates_are_400(api):
    _, client = api
    response = client.get("/admin/api/ssr/routes?from=2026-13-01")
    assert response.status_code == 400 and "from" in response.get_json()["reason"]
    response = client.get("/admin/api/ssr/drops?from=2026-02-01&to=2026-01-01")
    assert response.status_code == 400
