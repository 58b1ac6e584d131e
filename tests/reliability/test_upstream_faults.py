"""Upstream fault matrix against the fake TMDB/OMDb (real sockets, real clock, real sleeps):
latency above the read timeout, hung connections, resets, truncated and malformed bodies, 503s,
429 with Retry-After, OMDb quota exhausted. For each: no worker waits past its timeout, the breaker
opens within its window, the number of upstream calls stays bounded (no retry storm), nothing is
dropped (failures stay queued) and everything recovers once the fault is gone.

The breaker's state machine itself is tested with an injected clock in
``tests/unit/test_ingestion_breaker.py``.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from moviepulse.extensions import db
from moviepulse.ingestion.pipeline import import_movies
from moviepulse.ingestion.queries import ingestion_health
from moviepulse.ingestion.queueing import run_import_task
from moviepulse.models.ingestion import PendingImport
from moviepulse.models.movie import Movie
from moviepulse.upstreams import reset_faults, set_faults, start_fake_upstreams, upstream_stats

REFS = 24
SETTINGS = {
    "TMDB_RATE_LIMIT": 1000.0, "OMDB_RATE_LIMIT": 1000.0, "TMDB_RETRIES": 1, "OMDB_RETRIES": 1,
    "UPSTREAM_BACKOFF_BASE": 0.05, "UPSTREAM_BACKOFF_MAX": 0.2, "UPSTREAM_RETRY_AFTER_MAX": 1.0,
    "BREAKER_MIN_CALLS": 4, "BREAKER_FAILURE_RATIO": 0.5, "BREAKER_OPEN_SECONDS": 2.0,
    "BREAKER_WINDOW_SECONDS": 30.0, "INGESTION_CONCURRENCY": 4, "TMDB_READ_TIMEOUT": 1.0,
    "TMDB_CONNECT_TIMEOUT": 1.0, "OMDB_READ_TIMEOUT": 1.0, "OMDB_CONNECT_TIMEOUT": 1.0, "OMDB_MODE": "always",
}
#: A fault longer than this test could ever wait: a missing timeout would show as a hang.
HANG = 60.0

FAULTS = {
    "latency_over_timeout": {"latency_ms": int(HANG * 1000)},
    "hung_connection": {"timeout": True, "hang_seconds": HANG},
    "connection_reset": {"reset_connection": True},
    "truncated_body": {"truncate": True},
    "malformed_json": {"malformed": True},
    "status_503": {"status_5xx_rate": 1.0, "status_5xx_code": 503},
    "cdn_html_502": {"status_5xx_rate": 1.0, "status_5xx_code": 502, "html_5xx": True},
}


@pytest.fixture(scope="module")
def upstreams():
    handle = start_fake_upstreams(tmdb_rate_limit=0)
    yield handle
    handle.stop()


@pytest.fixture
def fault_app(make_app, upstreams):
    for url in (upstreams.tmdb_url, upstreams.omdb_url):
        reset_faults(url)
        upstream_stats(url, reset=True)
    set_faults(upstreams.omdb_url, reset_quota=True)
    app = make_app(TMDB_BASE_URL=upstreams.tmdb_url, OMDB_BASE_URL=upstreams.omdb_url, **SETTINGS)
    with app.app_context():
        yield app
    for url in (upstreams.tmdb_url, upstreams.omdb_url):
        reset_faults(url)


def refs_for(app, n):
    from moviepulse.ingestion.services import get_source

    return get_source(app, "tmdb").discover("popular", n)


def breaker(app):
    db.session.remove()
    return ingestion_health(db.session, app)["upstreams"]["tmdb"]["breaker"]


def drain(app, open_seconds):
    """Recovery: wait out the open period, then run the queued retries like the worker would."""
    opened_at = breaker(app).get("opened_at") or time.time()
    time.sleep(max(0.0, opened_at + open_seconds - time.time()) + 0.2)
    keys = sorted(db.session.scalars(select(PendingImport.key)))
    return keys, [run_import_task(k)["status"] for k in keys]


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_is_bounded_opens_the_breaker_and_recovers(fault_app, upstreams, fault):
    app = fault_app
    refs = refs_for(app, REFS)
    upstream_stats(upstreams.tmdb_url, reset=True)
    set_faults(upstreams.tmdb_url, **FAULTS[fault])
    started = time.monotonic()
    summary = import_movies(app, refs, trigger="task", requeue_failures=True)
    elapsed = time.monotonic() - started
    sent = upstream_stats(upstreams.tmdb_url)["requests"]
    retries = SETTINGS["TMDB_RETRIES"]
    state = breaker(app)
    print(f"\n{fault}: {REFS} imports failed in {elapsed:.1f}s with {sent} upstream calls; breaker {state['state']}")
    # no worker waited for the 60 s fault: every call was cut at its timeout
    assert elapsed < HANG / 2
    assert summary["counts"]["movies"]["failed"] == REFS
    assert state["state"] == "open" and state["opens"] >= 1
    # no storm: calls stop once the breaker opens (min calls, plus calls already in flight, each with retries)
    assert sent <= (SETTINGS["BREAKER_MIN_CALLS"] + SETTINGS["INGESTION_CONCURRENCY"]) * (1 + retries)
    assert sent < REFS * (1 + retries)
    # nothing dropped: every failed movie is queued for a retry
    assert db.session.scalar(select(func.count()).select_from(PendingImport)) == REFS
    reset_faults(upstreams.tmdb_url)
    keys, results = drain(app, SETTINGS["BREAKER_OPEN_SECONDS"])
    assert results == ["finished"] * REFS and len(keys) == REFS
    assert breaker(app)["state"] == "closed"
    assert db.session.scalar(select(func.count()).select_from(Movie)) == REFS


@pytest.mark.slow
def test_429_with_retry_after_is_honoured_without_a_storm(fault_app, upstreams):
    app = fault_app
    refs = refs_for(app, 12)
    upstream_stats(upstreams.tmdb_url, reset=True)
    set_faults(upstreams.tmdb_url, rate_limit=4.0, rate_burst=2, retry_after=True)
    started = time.monotonic()
    summary = import_movies(app, refs, trigger="task", requeue_failures=True)
    elapsed = time.monotonic() - started
    stats = upstream_stats(upstreams.tmdb_url)
    limited = stats.get("429", stats.get("status_429", 0))
    print(f"\n429: {summary['counts']['movies']} in {elapsed:.1f}s, {stats}")
    # the offered rate never exceeds what Retry-After allows by much: no hammering
    assert stats["requests"] <= 4.0 * elapsed + 2 + SETTINGS["INGESTION_CONCURRENCY"] * 2
    assert limited <= stats["requests"]
    movies = summary["counts"]["movies"]
    assert movies.get("stored", 0) + movies.get("failed", 0) == 12
    reset_faults(upstreams.tmdb_url)
    _, results = drain(app, SETTINGS["BREAKER_OPEN_SECONDS"])
    assert set(results) <= {"finished"}
    assert db.session.scalar(select(func.count()).select_from(Movie)) == 12


@pytest.mark.slow
def test_omdb_quota_exhausted_stops_omdb_calls_and_tmdb_still_serves(fault_app, upstreams):
    app = fault_app
    refs = refs_for(app, 10)
    set_faults(upstreams.omdb_url, daily_quota=3, reset_quota=True)
    upstream_stats(upstreams.omdb_url, reset=True)
    summary = import_movies(app, refs, trigger="task")
    first = upstream_stats(upstreams.omdb_url)["requests"]
    assert summary["counts"]["movies"]["stored"] == 10  # TMDB data stored for every movie
    assert first <= 3 + 1 + SETTINGS["INGESTION_CONCURRENCY"]  # quota, the refusal, calls in flight
    budget = ingestion_health(db.session, app)["upstreams"]["omdb"]["budget"]
    assert budget["exhausted"]
    import_movies(app, refs_for(app, 14)[10:], trigger="task")
    assert upstream_stats(upstreams.omdb_url)["requests"] == first  # exhausted: no further OMDb call today
