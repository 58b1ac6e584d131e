"""Nothing lost in the queue: real ``huey_consumer`` processes killed, interrupted and restarted,
Redis restarted with and without persistence, retry budgets, stale claims and signed payloads.

Huey is at-most-once (a task taken by a consumer that dies is gone), so the job ledger
(``job_ledger``) plus the sweeper are what make the queue lossless; these tests prove it.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest

from tests.reliability.conftest import wait_until

pytestmark = [pytest.mark.slow]


def sweep(env, older_than_s: float = 0.0):
    from moviepulse.analytics.queue import sweep_stale_jobs

    with env.app.app_context():
        return sweep_stale_jobs(env.pulse, older_than_s)


def ledger_states(env, name="reltest.work"):
    return dict(env.rows("SELECT state, count(*) FROM job_ledger WHERE name = :n GROUP BY state", n=name))


def test_kill9_mid_task_loses_nothing_and_reruns_change_nothing(queue_env):
    env = queue_env()
    jobs = 40
    for n in range(jobs):
        env.enqueue("reltest.work", n, 0.4)
    assert ledger_states(env) == {"pending": jobs}
    first = env.start_consumer(workers=4)
    wait_until(lambda: len(env.done()) >= 8, 120, "8 jobs done before the kill")
    # kill -9 while tasks are in flight (started, not done)
    wait_until(lambda: env.scalar("SELECT count(DISTINCT n) FROM rel_started") > len(env.done()), 30,
               "a task in flight")
    first.signal(signal.SIGKILL)
    first.wait(10)
    started = {n for (n,) in env.rows("SELECT DISTINCT n FROM rel_started")}
    lost = started - env.done()
    assert lost, "the kill must interrupt at least one running task"

    second = env.start_consumer(workers=4)
    # the queue still holds everything not yet taken; the interrupted ones come back through the sweeper
    wait_until(lambda: env.done() | lost >= set(range(jobs)), 180, "the rest of the queue")
    assert not (lost & env.done()), "Huey alone must not re-run a killed task (at-most-once)"
    swept = sweep(env, 0)
    assert {s["task"] for s in swept} == {"reltest.work"} and all(s["requeued"] for s in swept)
    wait_until(lambda: env.done() == set(range(jobs)), 120, "every job done after the sweep")
    second.signal(signal.SIGINT)
    second.wait(60)
    # one business row per job; a job whose "complete" signal died with the consumer may run twice,
    # which changes nothing (tasks are idempotent)
    assert env.scalar("SELECT count(*) FROM rel_done") == jobs
    reruns = env.scalar("SELECT count(*) FROM rel_done WHERE runs > 1")
    print(f"\nkill -9: {len(lost)} in flight lost by Huey, {len(swept)} re-enqueued by the sweeper, "
          f"{reruns} ran twice, {jobs}/{jobs} done")
    states = ledger_states(env)
    assert states.get("running", 0) == 0 and states.get("pending", 0) == 0, states
    # every job has a complete ledger row (a row swept while its live worker was still on it may
    # complete as well: the sweep threshold here is 0 s, in production it is an hour)
    assert env.scalar("SELECT count(DISTINCT json_extract(args, '$.args[0]')) FROM job_ledger "
                      "WHERE state = 'complete' AND name = 'reltest.work'") == jobs


def test_sigint_finishes_running_jobs_and_leaves_the_rest_queued(queue_env):
    env = queue_env()
    for n in range(8):
        env.enqueue("reltest.work", n, 2.0)
    consumer = env.start_consumer(workers=3)
    wait_until(lambda: env.scalar("SELECT count(DISTINCT n) FROM rel_started") >= 3, 120, "3 running jobs")
    running = {n for (n,) in env.rows("SELECT DISTINCT n FROM rel_started")}
    consumer.signal(signal.SIGINT)
    assert consumer.wait(90) == 0
    assert running <= env.done(), "SIGINT must let running jobs finish"
    with env.app.app_context():
        left = env.pulse.huey.pending_count()
    assert left + len(env.done()) == 8  # the rest is still queued, nothing lost
    env.start_consumer(workers=3)
    wait_until(lambda: env.done() == set(range(8)), 120, "the rest after a restart")


def test_retry_budget_ends_with_a_recorded_failure(queue_env):
    env = queue_env()
    env.enqueue("reltest.flaky", "flaky", 2)
    env.enqueue("reltest.always_fails", "doomed")
    env.start_consumer(workers=2)

    def finished():
        rows = dict(env.rows("SELECT name, state FROM job_ledger WHERE name LIKE 'reltest.%'"))
        return rows if rows.get("reltest.flaky") == "complete" and rows.get("reltest.always_fails") == "error" \
            else None

    wait_until(finished, 120, "flaky complete and always_fails error")
    time.sleep(1.0)  # a retry that should not exist would show up now
    attempts = dict(env.rows("SELECT k, attempts FROM rel_attempts"))
    assert attempts == {"flaky": 3, "doomed": 3}  # 2 failures + 1 success; 1 try + retries=2
    row = env.rows("SELECT attempts, retries, error FROM job_ledger WHERE name = 'reltest.always_fails'")[0]
    assert row[0] == 3 and row[1] == 2
    assert "planned failure 3" in row[2]
    # retry_delay=1 with retry_backoff=2: the waits are at least 1 s then 2 s (only lower bounds asserted)
    times = [t for (t,) in env.rows("SELECT at FROM rel_attempt_times WHERE k = 'flaky' ORDER BY at")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    print(f"\nretry gaps: {[round(g, 2) for g in gaps]}")
    assert len(gaps) == 2 and gaps[0] >= 0.9 and gaps[1] >= 1.9


def test_stale_import_claim_left_by_a_killed_worker_expires(make_app):
    """The import "lock" is the ``pending_imports`` row; a dead worker's row stops blocking after its TTL."""
    from moviepulse.extensions import db
    from moviepulse.ingestion.queueing import claim_pending, pending_ttl
    from moviepulse.ingestion.source import MovieRef
    from moviepulse.models.base import utcnow
    from moviepulse.models.ingestion import PendingImport

    app = make_app()
    with app.app_context():
        pulse = app.extensions["moviepulse"]
        ref = MovieRef(tmdb_id=603)
        assert claim_pending(pulse, ref, reason="test")  # the worker claims it, then is kill -9'ed
        assert not claim_pending(pulse, ref, reason="test")  # still live: no duplicate import
        row = db.session.get(PendingImport, ref.key)
        row.enqueued_at = utcnow() - pending_ttl(pulse) - timedelta(seconds=1)
        db.session.commit()
        assert claim_pending(pulse, ref, reason="test")  # past the TTL the next run proceeds


def test_no_huey_lock_that_a_killed_consumer_could_leave_behind(queue_env, redis_server):
    """Huey locks have no TTL on SQLite, and on Redis only from 7.4 (this machine runs 7.0): a lock
    held by a kill -9'ed consumer would block its task until someone flushes it, and flushing at
    start-up is unsafe on a Redis shared by several consumers. So MoviePulse takes no Huey lock;
    its one "lock", the pending-import claim, is a database row with an expiry (test above)."""
    from pathlib import Path

    import moviepulse

    sources = [p for p in Path(moviepulse.__file__).parent.rglob("*.py") if "scaffold" not in p.parts]
    assert not [p for p in sources if "lock_task(" in p.read_text() or ".lock_task" in p.read_text()]
    server = redis_server(appendonly=False)
    redis_huey = queue_env(huey_backend="redis", redis_url=server.url).pulse.huey
    sqlite_huey = queue_env().pulse.huey
    for huey in (redis_huey, sqlite_huey):
        held = huey.lock_task("rel-lock")
        held.acquire()  # the holder is then killed: nobody releases it
        assert held.is_locked()
        if not getattr(huey.storage, "supports_hash_ttl", False):
            with pytest.raises(NotImplementedError):
                huey.lock_task("rel-lock-ttl", ttl=1).acquire()
        assert "rel-lock" in huey.flush_locks()  # what ``huey_consumer -f`` does at start-up
        assert not held.is_locked()


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-persistence"])
def test_redis_restart_with_queued_jobs_loses_none(queue_env, redis_server, appendonly):
    server = redis_server(appendonly=appendonly)
    env = queue_env(huey_backend="redis", redis_url=server.url)
    jobs = 100
    for n in range(jobs):
        env.enqueue("reltest.work", n)
    huey = env.pulse.huey
    assert huey.pending_count() == jobs
    server.kill9()
    server.start()
    # With appendonly + fsync the queue survives; without persistence (the shared Redis here keeps
    # nothing on disk) it is empty, and the ledger is the only record of the jobs.
    assert huey.pending_count() == (jobs if appendonly else 0)
    with env.app.app_context():
        from moviepulse.analytics.queue import sweep_stale_jobs

        swept = sweep_stale_jobs(env.pulse, 0)
    assert len(swept) == (0 if appendonly else jobs), "the sweeper re-enqueues exactly the jobs Redis lost"
    assert huey.pending_count() == jobs
    # drain in this process: each message is a job the ledger knows
    with env.app.app_context():
        while huey.pending_count():
            task = huey.dequeue()
            huey.execute(task)
    assert env.done() == set(range(jobs))
    assert env.scalar("SELECT max(runs) FROM rel_done") == 1


def test_huey_payloads_are_signed_and_a_tampered_one_is_refused(queue_env, redis_server):
    server = redis_server(appendonly=False)
    env = queue_env(huey_backend="redis", redis_url=server.url)
    huey = env.pulse.huey
    env.enqueue("reltest.work", 1)
    import redis

    client = redis.Redis.from_url(server.url)
    keys = [k for k in client.keys("*") if client.type(k) == b"list"]
    assert len(keys) == 1
    raw = client.lindex(keys[0], 0)
    body, _, signature = raw.rpartition(b":")
    assert len(signature) == 40 and body  # hex HMAC-SHA1 appended by SignedSerializer
    # a forged message (anyone who can write to Redis) is refused, never unpickled
    client.lpush(keys[0], body[:-1] + bytes([body[-1] ^ 1]) + b":" + signature)
    client.lpush(keys[0], b"\x80\x04K\x01." + b":" + b"0" * 40)
    outcomes = []
    with env.app.app_context():
        for _ in range(3):
            try:
                outcomes.append(huey.execute(huey.dequeue()))
            except ValueError as exc:
                outcomes.append("refused" if "mismatch" in str(exc) else str(exc))
    assert sorted(outcomes, key=str) == [1, "refused", "refused"]  # the genuine one ran, forgeries refused
    assert env.done() == {1}


def test_sigterm_interrupts_running_jobs_and_the_sweeper_brings_them_back(queue_env):
    """Supervisors should stop consumers with SIGINT; a SIGTERM cuts running tasks off
    (``SIGNAL_INTERRUPTED`` or nothing at all) and the sweeper must re-enqueue them."""
    env = queue_env()
    for n in range(6):
        env.enqueue("reltest.work", n, 2.0)
    consumer = env.start_consumer(workers=3)
    wait_until(lambda: env.scalar("SELECT count(DISTINCT n) FROM rel_started") >= 3, 120, "3 running jobs")
    time.sleep(0.5)  # let the ledger learn they run
    consumer.signal(signal.SIGTERM)
    consumer.wait(60)
    cut = {n for (n,) in env.rows("SELECT DISTINCT n FROM rel_started")} - env.done()
    states = ledger_states(env)
    print(f"\nSIGTERM: {len(cut)} running jobs cut off; ledger {states}")
    swept = sweep(env, 0)
    assert len([s for s in swept if s["requeued"]]) >= len(cut)
    env.start_consumer(workers=3)
    wait_until(lambda: env.done() == set(range(6)), 120, "every job after the sweep")


def test_kill9_mid_import_loses_no_movie(queue_env):
    """The check of the issue: kill -9 a consumer in the middle of movie imports, restart it, sweep,
    count the rows — every movie is stored once and no import claim is left behind."""
    from sqlalchemy import select

    from moviepulse.ingestion.queueing import enqueue_import
    from moviepulse.upstreams import set_faults, start_fake_upstreams

    upstreams = start_fake_upstreams(tmdb_rate_limit=0)
    try:
        env = queue_env(plugins=["core", "queue", "tmdb", "omdb", "ingestion"],
                        TMDB_BASE_URL=upstreams.tmdb_url, OMDB_BASE_URL=upstreams.omdb_url, TMDB_RATE_LIMIT=1000.0,
                        OMDB_RATE_LIMIT=1000.0, INGESTION_CONCURRENCY=1)
        from moviepulse.ingestion.services import get_source

        with env.app.app_context():
            refs = get_source(env.app, "tmdb").discover("popular", 30)
            assert len(refs) == 30 and all(enqueue_import(env.app, ref, reason="reliability") for ref in refs)
        set_faults(upstreams.tmdb_url, latency_ms=150)  # an import takes a few calls: the kill lands mid-import
        consumer = env.start_consumer(workers=3)
        wait_until(lambda: env.scalar("SELECT count(*) FROM movies") >= 6, 120, "6 movies imported")
        consumer.signal(signal.SIGKILL)
        consumer.wait(10)
        at_kill = env.scalar("SELECT count(*) FROM movies")
        env.start_consumer(workers=3)
        wait_until(lambda: env.scalar("SELECT count(*) FROM pending_imports") <= 3, 180, "the queue to drain")
        time.sleep(1.0)
        swept = sweep(env, 0)
        wait_until(lambda: env.scalar("SELECT count(*) FROM movies") == 30
                   and env.scalar("SELECT count(*) FROM pending_imports") == 0, 180, "30 movies, no claim left")
        with env.app.app_context():
            from moviepulse.extensions import db
            from moviepulse.models.movie import Movie

            stored = set(db.session.scalars(select(Movie.tmdb_id)))
        assert stored == {r.tmdb_id for r in refs}
        print(f"\nkill -9 mid-import: {at_kill}/30 stored at the kill, {len(swept)} jobs swept, 30/30 after")
    finally:
        upstreams.stop()
