"""Ingestion smoke: queue configuration, retries, breaker open/close, budgets, guardrail metrics.

Runs against ``python -m moviepulse.upstreams`` as a separate process, with the real clock and
real sleeps (kept short by the settings below). Whole file < 60 s.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import func, select, text

from moviepulse.extensions import db
from moviepulse.ingestion.pipeline import import_list, import_movies
from moviepulse.ingestion.queries import ingestion_health
from moviepulse.ingestion.queueing import enqueue_import, run_import_task
from moviepulse.models.ingestion import PendingImport
from moviepulse.models.movie import Movie
from moviepulse.upstreams import set_faults, upstream_stats

pytestmark = pytest.mark.smoke

SMOKE = {
    "TMDB_RATE_LIMIT": 35.0, "OMDB_RATE_LIMIT": 50.0, "TMDB_RETRIES": 2, "OMDB_RETRIES": 1, "UPSTREAM_BACKOFF_BASE": 0.05,
    "UPSTREAM_BACKOFF_MAX": 0.4, "UPSTREAM_RETRY_AFTER_MAX": 1.0, "BREAKER_MIN_CALLS": 4,
    "BREAKER_FAILURE_RATIO": 0.5, "BREAKER_OPEN_SECONDS": 1.0, "BREAKER_WINDOW_SECONDS": 30.0,
    "INGESTION_CONCURRENCY": 4, "TMDB_READ_TIMEOUT": 2.0, "OMDB_READ_TIMEOUT": 2.0,
    "OMDB_MODE": "always",  # exercise OMDb on every movie (the default only fills gaps)
}


@pytest.fixture
def smoke_app(make_app, upstreams):
    def build(**extra):
        return make_app(TMDB_BASE_URL=upstreams.tmdb_url, OMDB_BASE_URL=upstreams.omdb_url, **{**SMOKE, **extra})

    return build


def popular_ids(app, n):
    from moviepulse.ingestion.services import get_source

    return get_source(app, "tmdb").discover("popular", n)


def test_queue_configuration_payloads_and_dedupe(smoke_app, tmp_path):
    app = smoke_app(HUEY_BACKEND="sqlite", HUEY_IMMEDIATE=False, HUEY_SQLITE_PATH=str(tmp_path / "q.db"))
    with app.app_context():
        pulse = app.extensions["moviepulse"]
        for name in ("ingestion.import_movie", "ingestion.import_list"):
            spec = pulse.task_specs.get(name)
            assert spec.retries >= 2 and spec.retry_backoff >= 2 and spec.expires
        refs = popular_ids(app, 3)
        assert all(enqueue_import(app, ref, reason="smoke") for ref in refs)
        assert not enqueue_import(app, refs[0], reason="smoke")  # already pending: not queued twice
        huey = pulse.huey
        assert huey.pending_count() == 3
        raw = b"".join(huey.storage.enqueued_items())
        assert b"demo-tmdb-key" not in raw and b"demo-omdb-key" not in raw and b"http" not in raw
        while huey.pending_count():  # a consumer, in-process
            huey.execute(huey.dequeue())
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 3
        assert db.session.scalar(select(func.count()).select_from(PendingImport)) == 0


def test_guardrails_under_the_rate_limit(smoke_app, upstreams):
    app = smoke_app()
    with app.app_context():
        started = time.perf_counter()
        summary = import_list(app, "popular", 60)
        elapsed = time.perf_counter() - started
        requested = summary["counts"]["movies"]["requested"]
        assert summary["counts"]["movies"].get("stored") == requested  # nothing lost
        stats = upstream_stats(upstreams.tmdb_url)
        ratio_429 = stats.get("status_429", 0) / stats["requests"]
        tmdb_today = ingestion_health(db.session, app)["upstreams"]["tmdb"]["today"]
        retries_per_import = tmdb_today.get("retries", 0) / requested
        print(json.dumps({"movies": requested, "seconds": round(elapsed, 2), "tmdb_requests": stats["requests"],
                          "ratio_429": round(ratio_429, 4), "retries_per_import": round(retries_per_import, 3)}))
        assert ratio_429 <= 0.05
        assert retries_per_import <= 0.2
        assert stats["requests"] <= requested + 5 + tmdb_today.get("retries", 0)  # ~1 call per movie


def test_retries_are_observed(smoke_app, upstreams):
    app = smoke_app()
    with app.app_context():
        ref = popular_ids(app, 1)[0]
        set_faults(upstreams.tmdb_url, fail_next=2, status_5xx_code=503)
        summary = import_movies(app, [ref])
        assert summary["counts"]["movies"]["stored"] == 1
        assert upstream_stats(upstreams.tmdb_url)["status_503"] == 2
        assert ingestion_health(db.session, app)["upstreams"]["tmdb"]["today"]["retries"] == 2


def test_breaker_opens_fails_fast_and_closes_with_nothing_lost(smoke_app, upstreams):
    open_seconds = 3.0
    app = smoke_app(INGESTION_CONCURRENCY=1, TMDB_RETRIES=1, BREAKER_OPEN_SECONDS=open_seconds)
    with app.app_context():
        refs = popular_ids(app, 10)
        set_faults(upstreams.tmdb_url, status_5xx_rate=1.0, status_5xx_code=503)
        before = upstream_stats(upstreams.tmdb_url, reset=True)
        assert before.get("requests", 0) >= 0
        summary = import_movies(app, refs, trigger="task", requeue_failures=True)
        sent = upstream_stats(upstreams.tmdb_url)["requests"]
        health = ingestion_health(db.session, app)["upstreams"]["tmdb"]
        assert health["breaker"]["state"] == "open"
        assert summary["counts"]["movies"]["failed"] == 10
        assert sent <= SMOKE["BREAKER_MIN_CALLS"] * (1 + 1)  # min calls × (1 + retries); the rest failed fast
        assert [e["reason"] for e in summary["errors"]].count("circuit_open") >= 10 - SMOKE["BREAKER_MIN_CALLS"]
        pending = sorted(db.session.scalars(select(PendingImport.key)))
        assert pending == sorted(r.key for r in refs)  # queued for retry: nothing dropped
        for key in pending[:3]:  # retries while still open: no upstream call at all
            with pytest.raises(Exception):  # noqa: B017 - the task raises so Huey retries it
                run_import_task(key)
        assert time.time() - health["breaker"]["opened_at"] < open_seconds  # still inside the open period
        assert upstream_stats(upstreams.tmdb_url)["requests"] == sent
        set_faults(upstreams.tmdb_url, reset=True)  # the outage ends
        time.sleep(max(0.0, health["breaker"]["opened_at"] + open_seconds - time.time()) + 0.1)
        results = [run_import_task(key)["status"] for key in pending]  # the backlog drains
        assert results == ["finished"] * 10
        assert ingestion_health(db.session, app)["upstreams"]["tmdb"]["breaker"]["state"] == "closed"
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 10
        assert db.session.scalar(select(func.count()).select_from(PendingImport)) == 0


def test_omdb_budget_is_enforced(smoke_app, upstreams):
    app = smoke_app(OMDB_DAILY_BUDGET=5)
    with app.app_context():
        summary = import_list(app, "popular", 8)
        assert summary["counts"]["movies"]["stored"] == 8  # TMDB still serves everything
        omdb = upstream_stats(upstreams.omdb_url)
        assert omdb["requests"] == 5
        budget = ingestion_health(db.session, app)["upstreams"]["omdb"]["budget"]
        assert (budget["used"], budget["left"], budget["exhausted"]) == (5, 0, True)
        assert [e["reason"] for e in summary["errors"]].count("budget_exhausted") == 3
    app2 = smoke_app(OMDB_DAILY_BUDGET=1000)
    with app2.app_context():
        set_faults(upstreams.omdb_url, daily_quota=2, reset_quota=True)
        upstream_stats(upstreams.omdb_url, reset=True)
        summary = import_list(app2, "popular", 6)
        sent = upstream_stats(upstreams.omdb_url)["requests"]
        # 2 served, then "Request limit reached!"; calls already in flight on other threads may land too
        assert 3 <= sent <= 2 + SMOKE["INGESTION_CONCURRENCY"]
        budget = ingestion_health(db.session, app2)["upstreams"]["omdb"]["budget"]
        assert budget["exhausted"] and budget["left"] == 0


def test_no_key_in_logs_rows_or_summaries(smoke_app, upstreams, caplog):
    caplog.set_level(logging.DEBUG)
    app = smoke_app(TMDB_RETRIES=1)
    with app.app_context():
        set_faults(upstreams.tmdb_url, reset_connection=True)
        failed = import_list(app, "popular", 2)
        set_faults(upstreams.tmdb_url, reset=True, fail_next=1)
        ok = import_list(app, "popular", 2)
        blob = caplog.text + json.dumps(failed) + json.dumps(ok)
        for table in ("ingestion_runs", "upstream_state", "upstream_validators", "movie_fields"):
            blob += json.dumps([[str(v) for v in row] for row in db.session.execute(text(f"SELECT * FROM {table}"))])
        assert "demo-tmdb-key" not in blob and "demo-omdb-key" not in blob
