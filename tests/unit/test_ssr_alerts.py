"""Alert rules: thresholds, since-when, upstream signals across processes, plugin rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import moviepulse
from moviepulse import hookimpl
from moviepulse.extensions import db
from moviepulse.ssr import queries
from moviepulse.ssr.alerts import AlertResult, evaluate_alerts
from moviepulse.ssr.runtime import flush_now, runtime


def evaluate(app, now=None):
    with app.app_context():
        pulse = app.extensions["moviepulse"]
        evaluate_alerts(db.session, list(pulse.alert_rules), app.config, now)
        return {(a["rule"], a["subject"]): a for a in queries.alerts(db.session)}


def emit(app, upstream, kind, **detail):
    with app.app_context():
        app.extensions["moviepulse"].emit("upstream_event", upstream=upstream, kind=kind, detail=detail)


@pytest.fixture
def pair(make_app, tmp_path):
    """Two apps on one database: the 'worker' gets upstream signals, the 'web' process evaluates."""
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    worker = make_app(only_plugins=["core", "ssr", "playbooks"], SQLALCHEMY_DATABASE_URI=uri)
    web = make_app(only_plugins=["core", "ssr", "playbooks"], SQLALCHEMY_DATABASE_URI=uri)
    return worker, web


def test_breaker_open_is_critical_across_processes_with_since(pair):
    worker, web = pair
    emit(worker, "tmdb", "breaker_state", state="open", reason="5 failures")  # flushed at once
    t0 = datetime.now(UTC).replace(tzinfo=None)
    states = evaluate(web, t0)
    alert = states[("upstream.breaker_open", "tmdb")]
    assert alert["state"] == "critical" and alert["since"] == t0.isoformat()
    assert alert["playbook"] == "upstream-breaker-open"
    later = evaluate(web, t0 + timedelta(minutes=5))[("upstream.breaker_open", "tmdb")]
    assert later["since"] == t0.isoformat()  # unchanged while the state holds
    emit(worker, "tmdb", "breaker_state", **{"from": "open", "to": "half_open"})  # the client's own shape
    half = evaluate(web, t0 + timedelta(minutes=6))[("upstream.breaker_open", "tmdb")]
    assert half["state"] == "warning" and half["since"] == (t0 + timedelta(minutes=6)).isoformat()
    emit(worker, "tmdb", "breaker_state", state="closed")
    assert evaluate(web, t0 + timedelta(minutes=7))[("upstream.breaker_open", "tmdb")]["state"] == "ok"


def test_retry_storm_counts_per_minute_across_processes(pair):
    worker, web = pair
    for _ in range(25):
        emit(worker, "omdb", "retry", attempt=1)
    emit(worker, "omdb", "request", status=200)
    emit(worker, "omdb", "rate_limited", status=429)
    flush_now(worker)
    now = datetime.now(UTC).replace(tzinfo=None)
    alert = evaluate(web, now)[("upstream.retry_storm", "omdb")]
    assert alert["state"] == "warning" and alert["value"] == 25.0
    assert "25 retries, 1 requests" in alert["message"]
    for _ in range(80):
        emit(worker, "omdb", "retry", attempt=2)
    flush_now(worker)
    assert evaluate(web, now)[("upstream.retry_storm", "omdb")]["state"] == "critical"
    # outside the window the storm is over
    assert evaluate(web, now + timedelta(minutes=10))[("upstream.retry_storm", "omdb")]["state"] == "ok"


def test_latency_error_and_score_rules(make_app):
    app = make_app(only_plugins=["core", "ssr", "playbooks"], SSR_ALERT_MIN_REQUESTS=10,
                   SSR_ALERT_P95_WARNING_MS=100, SSR_ALERT_P95_CRITICAL_MS=1000)
    buf = runtime(app).buffer
    now = datetime.now(UTC).replace(tzinfo=None)
    minute = int(now.replace(tzinfo=UTC).timestamp() // 60) - 1
    for i in range(100):  # p95 = sorted[94] = 500 ms -> warning; 6 % errors -> critical
        buf.record_request("/slow", minute, 500.0 if i >= 90 else 20.0, 500 if i < 6 else 200, 500)
    for _ in range(5):  # too few requests to judge, however slow
        buf.record_request("/rare", minute, 5000.0, 500, 500)
    buf.record_request("/page", minute, 5.0, 200, 500, score=70)
    buf.record_audit({"recorded_at": now - timedelta(minutes=1), "route": "/page", "path": "/page",
                      "method": "GET",
                      "status": 200, "server_ms": 5.0, "html_bytes": 1, "meta_count": 0, "og_count": 0,
                      "ldjson_count": 0, "img_count": 0, "blocking_scripts": 0, "score": 70, "failing": []})
    flush_now(app)
    states = evaluate(app, now)
    assert states[("ssr.p95_latency", "/slow")]["state"] == "warning"
    assert states[("ssr.p95_latency", "/slow")]["value"] == pytest.approx(500.0, rel=0.01)
    assert states[("ssr.error_rate", "/slow")]["state"] == "critical"
    assert states[("ssr.error_rate", "/slow")]["value"] == 0.06
    assert states[("ssr.p95_latency", "/rare")]["state"] == "ok"
    assert states[("ssr.error_rate", "/rare")]["state"] == "ok"
    assert states[("ssr.score", "/page")]["state"] == "warning"  # 70 < 80 passing, >= 65 warning
    assert states[("ssr.p95_latency", "/slow")]["playbook"] == "slow-route"
    ordered = [a["state"] for a in evaluate(app, now).values()]
    assert "critical" in ordered


class AlwaysWarn(moviepulse.AlertRule):
    slug = "demo.always_warn"
    title = "Demo"

    def evaluate(self, ctx):
        return [AlertResult("warning", "x", 1.0, "demo")]


class Broken(moviepulse.AlertRule):
    slug = "demo.broken"

    def evaluate(self, ctx):
        raise RuntimeError("bug in a plugin rule")


class DemoPlugin:
    @hookimpl
    def register_alert_rules(self):
        return [AlwaysWarn(), Broken()]


def test_plugins_add_rules_and_a_broken_rule_is_skipped(make_app):
    app = make_app(only_plugins=["core", "ssr"], extra_plugins=[("demo", DemoPlugin())])
    assert "demo.always_warn" in app.extensions["moviepulse"].alert_rules
    states = evaluate(app)
    assert states[("demo.always_warn", "x")]["state"] == "warning"
    assert not any(rule == "demo.broken" for rule, _ in states)
    with pytest.raises(ValueError):
        AlertResult("red")


def test_evaluate_task_runs_through_huey(make_app):
    app = make_app(only_plugins=["core", "ssr", "playbooks"])
    emit(app, "tmdb", "breaker_state", state="open")
    with app.app_context():
        app.extensions["moviepulse"].enqueue("ssr.evaluate_alerts")
        assert any(a["state"] == "critical" for a in queries.alerts(db.session))
