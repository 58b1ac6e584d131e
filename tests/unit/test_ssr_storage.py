"""Buffer, flush and the read side: numbers checked against values computed another way."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from moviepulse.extensions import db
from moviepulse.models.ssr import SsrAudit, SsrFingerprint, SsrRouteMinute, SsrUpstreamMinute
from moviepulse.ssr import queries
from moviepulse.ssr.buffer import TelemetryBuffer
from moviepulse.ssr.fingerprints import check_hit
from moviepulse.ssr.runtime import flush_now, runtime
from moviepulse.ssr.store import write_snapshot

DAY = date(2026, 11, 20)
ROUTE = "/<locale>/movies/<int:movie_id>"


def epoch_minute(dt: datetime) -> int:
    return int(dt.replace(tzinfo=UTC).timestamp() // 60)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def audit_row(route: str, when: datetime, score: int, failing=()) -> dict:
    return {"recorded_at": when, "route": route, "path": "/en/x", "method": "GET", "status": 200,
            "server_ms": 5.0,
            "locale": "en", "variant": "A", "request_id": "r", "self_crawl": False, "html_bytes": 100,
            "meta_count": 1, "og_count": 3, "ldjson_count": 1, "img_count": 0, "blocking_scripts": 0,
            "score": score, "failing": list(failing)}


@pytest.fixture
def ssr_app(make_app):
    return make_app(only_plugins=["core", "ssr", "playbooks"])


def test_route_stats_match_exact_computation(ssr_app):
    rng = random.Random(5)
    buf = runtime(ssr_app).buffer
    t = 500.0
    samples = []
    for minute in range(30):
        for _ in range(200):
            ms = rng.lognormvariate(5.5, 1.0)
            status = 500 if rng.random() < 0.03 else 200
            samples.append((ms, status))
            buf.record_request(ROUTE, epoch_minute(at(DAY, 10, minute)), ms, status, t)
    flush_now(ssr_app)
    with ssr_app.app_context():
        [stats] = queries.route_stats(db.session, at(DAY, 10), at(DAY, 10, 30))
    n = len(samples)
    ordered = sorted(ms for ms, _ in samples)
    errors = sum(1 for _, s in samples if s >= 500)
    satisfied = sum(1 for ms, s in samples if s < 500 and ms <= t)
    tolerating = sum(1 for ms, s in samples if s < 500 and t < ms <= 4 * t)
    assert stats["requests"] == n and stats["errors"] == errors
    assert stats["error_rate"] == round(errors / n, 4)
    assert stats["rate_per_min"] == round(n / 30, 3)
    assert stats["apdex"] == round((satisfied + tolerating / 2) / n, 3)
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        want = ordered[math.floor(q * (n - 1))]
        assert abs(stats[name] - want) / want <= 0.01, name
    assert stats["mean_ms"] == pytest.approx(sum(ordered) / n, abs=1e-3)
    assert stats["max_ms"] == pytest.approx(ordered[-1], abs=1e-3)
    # a window that excludes half the minutes only counts those
    with ssr_app.app_context():
        [half] = queries.route_stats(db.session, at(DAY, 10, 15), at(DAY, 10, 30))
    assert half["requests"] == 15 * 200


def test_two_workers_flushing_the_same_minute_merge(ssr_app):
    minute = epoch_minute(at(DAY, 9))
    worker_a, worker_b = TelemetryBuffer(), TelemetryBuffer()
    for ms in (10.0, 20.0, 30.0):
        worker_a.record_request(ROUTE, minute, ms, 200, 500, score=90)
    for ms in (40.0, 3000.0):
        worker_b.record_request(ROUTE, minute, ms, 503, 500, score=60)
    worker_b.record_fingerprint(check_hit("low_og", ROUTE, at(DAY, 9), {}))
    worker_a.record_fingerprint(check_hit("low_og", ROUTE, at(DAY, 9, 1), {}))
    with ssr_app.app_context():
        write_snapshot(db.session, worker_a.take())
        write_snapshot(db.session, worker_b.take())
        [row] = db.session.scalars(select(SsrRouteMinute)).all()
        assert (row.requests, row.errors, row.score_count, row.score_sum, row.score_min, row.score_max) == (
            5, 2, 5, 3 * 90 + 2 * 60, 60, 90)
        assert (row.apdex_satisfied, row.apdex_tolerating) == (3, 0)
        [stats] = queries.route_stats(db.session, at(DAY, 9), at(DAY, 9, 1))
        assert stats["p50"] == pytest.approx(30.0, rel=0.01)  # sorted[2] of 10,20,30,40,3000
        [fp] = db.session.scalars(select(SsrFingerprint)).all()
        assert fp.count == 2 and fp.last_seen == at(DAY, 9, 1)


def test_failed_flush_keeps_data_for_the_next_one(ssr_app):
    rt = runtime(ssr_app)
    rt.buffer.record_request(ROUTE, epoch_minute(at(DAY)), 12.0, 200, 500)
    rt.buffer.record_audit(audit_row(ROUTE, at(DAY), 90))
    with ssr_app.app_context():
        db.session.execute(text("ALTER TABLE ssr_route_minutes RENAME TO parked"))
        db.session.commit()
    assert rt.flush() == {}  # logged, not raised
    assert rt.buffer.pending and len(rt.buffer.snap.audits) == 1
    rt.buffer.record_request(ROUTE, epoch_minute(at(DAY)), 14.0, 200, 500)
    with ssr_app.app_context():
        db.session.execute(text("ALTER TABLE parked RENAME TO ssr_route_minutes"))
        db.session.commit()
    written = rt.flush()
    assert written["routes"] == 1 and written["audits"] == 1
    with ssr_app.app_context():
        assert db.session.scalar(select(SsrRouteMinute.requests)) == 2
        assert len(db.session.scalars(select(SsrAudit)).all()) == 1


def test_flush_is_due_by_size(make_app):
    app = make_app(only_plugins=["core", "ssr"], SSR_SAMPLE_RATE=0.0)
    rt = runtime(app)
    rt.flush_max_items = 3

    @app.get("/p")
    def p():
        return "<html><body>x</body></html>"

    client = app.test_client()
    client.get("/p")
    client.get("/p")
    with app.app_context():
        assert db.session.scalars(select(SsrRouteMinute)).all() == []
    client.get("/p")  # the third request crosses SSR_FLUSH_MAX_ITEMS: flushed inline (no thread in tests)
    with app.app_context():
        assert db.session.scalar(select(SsrRouteMinute.requests)) == 3


def _scores(ssr_app, rows):
    buf = runtime(ssr_app).buffer
    for route, when, score in rows:
        buf.record_request(route, epoch_minute(when), 10.0, 200, 500, score=score)
        buf.record_audit(audit_row(route, when, score, ["missing_jsonld"] if score < 100 else []))
    flush_now(ssr_app)


def test_drops_quiet_route_is_no_data_not_a_drop(ssr_app):
    yesterday = DAY - timedelta(days=1)
    _scores(ssr_app, [
        ("/a", at(yesterday), 90), ("/a", at(yesterday, 13), 100), ("/a", at(DAY), 80),  # 95 -> 80
        ("/quiet", at(yesterday), 85),  # no traffic today
        ("/b", at(yesterday), 70), ("/b", at(DAY), 75),  # improved
        ("/c", at(yesterday), 90), ("/c", at(DAY), 90),  # steady
        ("/new", at(DAY), 60),  # nothing yesterday
    ])
    with ssr_app.app_context():
        result = queries.drops(db.session, DAY)
    by_route = {r["route"]: r for r in result}
    assert by_route["/quiet"]["status"] == "no_data" and by_route["/quiet"]["today"] is None
    assert by_route["/quiet"]["delta"] is None
    assert by_route["/a"]["status"] == "drop" and by_route["/a"]["delta"] == -15.0
    assert (by_route["/a"]["today"], by_route["/a"]["yesterday"]) == (80.0, 95.0)
    assert by_route["/a"]["failing_checks"] == {"missing_jsonld": 1}
    assert by_route["/a"]["playbooks"] == ["missing-jsonld"]
    assert by_route["/b"]["status"] == "improved" and by_route["/b"]["delta"] == 5.0
    assert by_route["/c"]["status"] == "steady" and by_route["/new"]["status"] == "new"
    assert result[0]["route"] == "/a"  # drops first
    with ssr_app.app_context():
        assert [r["route"] for r in queries.drops(db.session, DAY, only_drops=True)] == ["/a"]
        assert queries.drops(db.session, DAY, min_points=20)[0]["status"] != "drop"


def test_score_trend_headline_and_latest(ssr_app):
    d1, d2 = DAY - timedelta(days=1), DAY
    _scores(ssr_app, [("/a", at(d1), 90), ("/b", at(d1), 71), ("/a", at(d2), 80), ("/a", at(d2, 14), 100)])
    with ssr_app.app_context():
        trend = queries.score_trend(db.session, at(d1, 0), at(d2 + timedelta(days=1), 0))
        assert trend == [{"day": d1.isoformat(), "avg_score": 80.5, "samples": 2},
                         {"day": d2.isoformat(), "avg_score": 90.0, "samples": 2}]
        assert queries.score_trend(db.session, at(d1, 0), at(d2, 23), route="/b") == [
            {"day": d1.isoformat(), "avg_score": 71.0, "samples": 1}]
        headline = queries.score_headline(db.session, at(d1, 0), at(d2, 23, 59))
        assert headline == {"score": round((100 + 71) / 2, 2), "routes": 2}  # latest per route
        stats = {r["route"]: r for r in queries.route_stats(db.session, at(d1, 0), at(d2, 23, 59))}
        assert stats["/a"]["score_latest"] == 100 and stats["/a"]["score_avg"] == 90.0
        assert stats["/b"]["score_status"] == "warning"  # 71: below passing 80, at/above warning 65


def test_prune_respects_retention(ssr_app):
    now = at(DAY)
    buf = runtime(ssr_app).buffer
    buf.record_request(ROUTE, epoch_minute(now - timedelta(days=100)), 1.0, 200, 500)
    buf.record_request(ROUTE, epoch_minute(now - timedelta(days=30)), 1.0, 200, 500)
    buf.record_audit(audit_row(ROUTE, now - timedelta(days=15), 90))
    buf.record_audit(audit_row(ROUTE, now - timedelta(days=13), 90))
    buf.record_upstream("tmdb", epoch_minute(now - timedelta(days=91)), "retries")
    buf.record_fingerprint(check_hit("low_og", "/old", now - timedelta(days=95), {}))
    buf.record_fingerprint(check_hit("low_og", "/open", now - timedelta(days=95), {}))
    flush_now(ssr_app)
    from moviepulse.ssr.tasks import prune, resolve_fingerprint

    with ssr_app.app_context():
        old_id = db.session.scalar(select(SsrFingerprint.id).where(SsrFingerprint.route == "/old"))
        resolve_fingerprint(db.session, old_id)
        assert prune(now) == {"audits": 1, "route_minutes": 1, "upstream_minutes": 1, "fingerprints": 1}
        assert [f.route for f in db.session.scalars(select(SsrFingerprint))] == ["/open"]  # unresolved: kept
        assert len(db.session.scalars(select(SsrRouteMinute)).all()) == 1
        assert len(db.session.scalars(select(SsrAudit)).all()) == 1
        assert db.session.scalars(select(SsrUpstreamMinute)).all() == []


def test_flusher_thread_and_worker_exit_flush(make_app):
    import time as _time

    from moviepulse.ssr.runtime import gunicorn_worker_exit

    app = make_app(only_plugins=["core", "ssr"], SSR_SAMPLE_RATE=0.0)
    rt = runtime(app)
    rt.use_thread, rt.flush_interval, rt.flush_max_items = True, 0.05, 1
    rt.buffer.record_request(ROUTE, epoch_minute(at(DAY)), 3.0, 200, 500)
    rt.after_record()  # due -> wakes the background flusher
    deadline = _time.monotonic() + 10
    while rt.buffer.pending and _time.monotonic() < deadline:
        _time.sleep(0.02)
    assert rt._thread is not None and rt._thread.name == "moviepulse-ssr-flush"
    with app.app_context():
        for _ in range(200):
            if db.session.scalar(select(SsrRouteMinute.requests)) == 1:
                break
            db.session.rollback()
            _time.sleep(0.02)
        assert db.session.scalar(select(SsrRouteMinute.requests)) == 1
    rt.stop()
    assert rt._thread is None
    # what a gunicorn worker does on exit: flush every runtime of the process
    rt.use_thread = False
    rt.buffer.record_request(ROUTE, epoch_minute(at(DAY)), 4.0, 200, 500)
    gunicorn_worker_exit(None, None)
    assert not rt.buffer.snap
    with app.app_context():
        db.session.rollback()
        assert db.session.scalar(select(SsrRouteMinute.requests)) == 2


@pytest.mark.slow
def test_buffer_is_flushed_when_the_process_exits(tmp_path):
    """What a gunicorn worker relies on: nothing buffered is lost at interpreter exit (atexit)."""
    import os
    import sqlite3
    import subprocess
    import sys
    import textwrap

    db_path = tmp_path / "exit.db"
    script = textwrap.dedent(f"""
        from moviepulse.app import create_app
        from moviepulse.extensions import db
        app = create_app("testing", only_plugins=["core", "ssr"], INSTANCE_PATH="{tmp_path}",
                         SQLALCHEMY_DATABASE_URI="sqlite:///{db_path}", SSR_SAMPLE_RATE=1.0)
        with app.app_context():
            db.create_all()
        app.add_url_rule("/p", "p", lambda: "<html><body><img src=x></body></html>")
        client = app.test_client()
        for _ in range(7):
            client.get("/p")
        # no explicit flush: the process just ends
    """)
    env = {**os.environ, "MOVIEPULSE_ENV": "testing"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True, timeout=120)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT requests FROM ssr_route_minutes").fetchall() == [(7,)]
        assert conn.execute("SELECT count(*) FROM ssr_audits").fetchone() == (7,)


def test_audit_rows_with_different_keys_are_written_together(ssr_app):
    buf = runtime(ssr_app).buffer
    buf.record_audit(audit_row(ROUTE, at(DAY), 90, ["missing_jsonld"]))
    partial = {k: v for k, v in audit_row(ROUTE, at(DAY, 13), 70).items()
               if k not in ("locale", "variant", "request_id", "self_crawl", "failing", "method")}
    buf.record_audit(partial)
    assert flush_now(ssr_app)["audits"] == 2
    with ssr_app.app_context():
        rows = db.session.scalars(select(SsrAudit).order_by(SsrAudit.recorded_at)).all()
        assert [(r.score, r.locale, r.failing, r.self_crawl, r.method) for r in rows] == [
            (90, "en", ["missing_jsonld"], False, "GET"), (70, None, [], False, "GET")]


def test_compaction_keeps_every_statistic_exact(ssr_app):
    from moviepulse.ssr.compact import compact_hours, compact_recent

    rng = random.Random(11)
    buf = runtime(ssr_app).buffer
    for minute in range(0, 150, 3):  # 10:00 .. 12:27, every third minute, two routes
        when = at(DAY, 10) + timedelta(minutes=minute)
        for route in ("/a", "/b"):
            for _ in range(5):
                status = 500 if rng.random() < 0.1 else 200
                buf.record_request(route, epoch_minute(when), rng.lognormvariate(4, 1), status, 500,
                                   score=rng.randint(50, 100))
    flush_now(ssr_app)
    window = (at(DAY, 0), at(DAY, 23, 59))
    with ssr_app.app_context():
        before = queries.route_stats(db.session, *window)
        trend = queries.score_trend(db.session, *window)
        assert len(db.session.scalars(select(SsrRouteMinute)).all()) == 100
        # only finished hours before 12:00 are compacted; 12:xx stays per minute
        assert compact_hours(db.session, at(DAY, 12), at(DAY, 0)) == {"hours": 4, "rows": 80}
        rows = db.session.scalars(select(SsrRouteMinute)).all()
        assert len(rows) == 4 + 20
        assert {r.minute for r in rows if r.minute < at(DAY, 12)} == {at(DAY, 10), at(DAY, 11)}
        assert queries.route_stats(db.session, *window) == before
        assert queries.score_trend(db.session, *window) == trend
        assert compact_hours(db.session, at(DAY, 12), at(DAY, 0))["hours"] == 0  # idempotent
        assert compact_recent(db.session, at(DAY, 15), after_hours=2)["hours"] == 2  # 12:xx now done
        assert queries.route_stats(db.session, *window) == before
