"""Queue statistics: the Huey signal recorder, the job ledger, failed jobs and their retry,
statistics and the stale-job sweeper."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from moviepulse import hookimpl
from moviepulse.analytics.queue import (
    QueueEvent,
    apply_events,
    percentile,
    queue_stats,
    sweep_stale_jobs,
)
from moviepulse.core.auth import create_admin, create_token
from moviepulse.core.types import TaskSpec
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.jobs import JobRecord


class Jobs:
    """A test plugin with a task that fails until told otherwise."""

    def __init__(self):
        self.fail = True
        self.calls = []

    def flaky(self, n, label="x"):
        self.calls.append((n, label))
        if self.fail:
            raise ValueError(f"boom {n}")
        return n * 2

    @hookimpl
    def register_tasks(self):
        return [TaskSpec("qtest.flaky", self.flaky, retries=2), TaskSpec("qtest.ok", lambda n: n)]


@pytest.fixture
def jobs():
    return Jobs()


@pytest.fixture
def qapp(make_app, jobs):
    return make_app(extra_plugins=[("qtest", jobs)])


def _admin_client(app):
    client = app.test_client()
    with app.app_context():
        user = create_admin("ops@example.com", "correct horse battery")
        uid = user.id
    with client.session_transaction() as sess:
        sess["_user_id"] = str(uid)
        sess["_fresh"] = True
    return client


def test_failed_task_recorded_with_error_and_retried_via_api(qapp, jobs):
    pulse = qapp.extensions["moviepulse"]
    with qapp.app_context():
        pulse.enqueue("qtest.flaky", 21, label="y")
        rec = db.session.scalar(select(JobRecord).where(JobRecord.name == "qtest.flaky"))
        assert rec.state == "error"
        assert rec.error == "ValueError: boom 21"
        assert rec.attempts == 3 and rec.retries == 2  # 1 run + 2 retries
        assert rec.args == {"args": [21], "kwargs": {"label": "y"}}
        assert rec.wait_seconds is not None and rec.run_seconds is not None
        job_id = rec.id
        token = create_token("ro")
    client = qapp.test_client()
    res = client.get("/admin/api/queue/failed", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200
    failed = res.get_json()["jobs"]
    assert [(j["id"], j["task"], j["error"]) for j in failed] == [(job_id, "qtest.flaky", "ValueError: boom 21")]
    # Tokens are read-only: the retry needs an admin session.
    assert client.post(f"/admin/api/queue/failed/{job_id}/retry", json={},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 403
    admin = _admin_client(qapp)
    assert admin.post(f"/admin/api/queue/failed/{job_id}/retry", data="x").status_code == 415
    jobs.fail = False
    res = admin.post(f"/admin/api/queue/failed/{job_id}/retry", json={})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["retried"] and body["task"] == "qtest.flaky"
    assert jobs.calls[-1] == (21, "y")
    with qapp.app_context():
        rows = db.session.scalars(select(JobRecord).where(JobRecord.name == "qtest.flaky")
                                  .order_by(JobRecord.id)).all()
        assert [r.state for r in rows] == ["error", "complete"]
        assert rows[0].retried_as == rows[1].task_id
    assert admin.post("/admin/api/queue/failed/9999/retry", json={}).status_code == 404


def test_queue_stats_counts_and_percentiles(qapp, jobs):
    pulse = qapp.extensions["moviepulse"]
    with qapp.app_context():
        for i in range(5):
            pulse.enqueue("qtest.ok", i)
        pulse.enqueue("qtest.flaky", 1)
        today = utcnow().date()
        stats = queue_stats(db.session, today, today, long_wait_seconds=60)
        assert stats["state"] == "ok"
        assert stats["window"] == {"jobs": 6, "completed": 5, "failed": 1, "retries": 2}
        assert sum(h["completed"] for h in stats["per_hour"]) == 5
        assert sum(h["failed"] for h in stats["per_hour"]) == 1
        assert {t["task"]: t["completed"] for t in stats["tasks"]} == {"qtest.ok": 5, "qtest.flaky": 0}
        assert stats["snapshot"]["failed"] == 1 and stats["snapshot"]["pending"] == 0
        assert stats["long_wait"]["alert"] is False
        # A job pending for two minutes raises the long-wait alert.
        db.session.add(JobRecord(task_id="old", name="qtest.ok", args={"args": [1], "kwargs": {}}, state="pending",
                                 enqueued_at=utcnow() - timedelta(seconds=120), updated_at=utcnow()))
        db.session.commit()
        stats = queue_stats(db.session, today, today, long_wait_seconds=60)
        assert stats["long_wait"]["alert"] is True
        assert stats["long_wait"]["tasks"] == [{"task": "qtest.ok", "pending": 1}]
    client = _admin_client(qapp)
    res = client.get("/admin/api/queue/stats?audience=global")
    assert res.status_code == 200 and res.get_json()["window"]["jobs"] >= 6


def test_percentile_is_linear_interpolation():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)  # numpy.percentile(range(1, 101), 95)


def test_out_of_order_signals_merge_to_the_latest_state(app_ctx):
    t0 = datetime(2026, 11, 27, 8, 0, 0)
    events = [
        QueueEvent("executing", "t1", "qtest.ok", None, 0, None, t0 + timedelta(seconds=5), None),
        QueueEvent("complete", "t1", "qtest.ok", None, 0, None, t0 + timedelta(seconds=7), None),
    ]
    apply_events(db.session, events)
    # The web process flushes its ENQUEUED later than the consumer flushed the rest.
    apply_events(db.session, [QueueEvent("enqueued", "t1", "qtest.ok", {"args": [3], "kwargs": {}}, 0, None, t0,
                                         None)])
    rec = db.session.scalar(select(JobRecord).where(JobRecord.task_id == "t1"))
    assert rec.state == "complete"
    assert rec.wait_seconds == 5.0 and rec.run_seconds == 2.0
    assert rec.args == {"args": [3], "kwargs": {}}


def test_sweeper_reenqueues_jobs_started_but_never_finished(qapp, jobs):
    pulse = qapp.extensions["moviepulse"]
    jobs.fail = False
    with qapp.app_context():
        t = utcnow() - timedelta(hours=2)
        db.session.add(JobRecord(task_id="lost", name="qtest.flaky", args={"args": [7], "kwargs": {}},
                                 state="running", attempts=1, enqueued_at=t, started_at=t, updated_at=t))
        db.session.add(JobRecord(task_id="fresh", name="qtest.flaky", args={"args": [8], "kwargs": {}},
                                 state="running", attempts=1, enqueued_at=utcnow(), started_at=utcnow(),
                                 updated_at=utcnow()))
        db.session.commit()
        swept = sweep_stale_jobs(pulse, 3600)
        assert [s["id"] for s in swept if s["requeued"]] == [1]
        assert jobs.calls == [(7, "x")]
        lost = db.session.scalar(select(JobRecord).where(JobRecord.task_id == "lost"))
        assert lost.state == "interrupted" and lost.retried_as
        fresh = db.session.scalar(select(JobRecord).where(JobRecord.task_id == "fresh"))
        assert fresh.state == "running"
        assert db.session.scalar(select(JobRecord).where(JobRecord.task_id == lost.retried_as)).state == "complete"


def test_queue_api_rejects_bad_input(qapp):
    client = _admin_client(qapp)
    assert client.get("/admin/api/queue/stats?from=yesterday").status_code == 400
    res = client.get("/admin/api/queue/failed?from=2026-11-10&to=2026-11-01")
    assert res.status_code == 400 and "after" in res.get_json()["reason"]
    assert client.get("/admin/api/queue/stats?audience=martians").status_code == 400
    assert qapp.test_client().get("/admin/api/queue/stats").status_code == 401
    _ = date.today()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_recorder_with_real_huey_storage(make_app, jobs, tmp_path, backend):
    """Enqueue in the 'web' role, execute as a consumer would; the buffered recorder flushes later."""
    import uuid

    overrides = {"HUEY_BACKEND": backend, "HUEY_IMMEDIATE": False, "QUEUE_STATS_FLUSH_SECONDS": 3600,
                 "HUEY_NAME": f"mp-test-{uuid.uuid4().hex[:8]}", "HUEY_SQLITE_PATH": str(tmp_path / "huey.db")}
    if backend == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            pytest.skip("Redis not reachable")
    app = make_app(extra_plugins=[("qtest", jobs)], **overrides)
    pulse = app.extensions["moviepulse"]
    recorder = app.extensions["moviepulse.queue_recorder"]
    huey = pulse.huey
    try:
        with app.app_context():
            pulse.enqueue("qtest.ok", 5)
            pulse.enqueue("qtest.flaky", 6)
            assert len(recorder.buffer) == 2  # buffered, nothing written yet
            assert db.session.scalar(select(JobRecord.id)) is None
            for _ in range(10):  # the consumer loop, by hand (flaky retries re-enqueue)
                task = huey.dequeue()
                if task is None:
                    break
                huey.execute(task)
            assert recorder.flush() > 0
            rows = {r.name: r for r in db.session.scalars(select(JobRecord))}
            assert rows["qtest.ok"].state == "complete" and rows["qtest.ok"].wait_seconds is not None
            assert rows["qtest.flaky"].state == "error" and rows["qtest.flaky"].attempts == 3
            assert rows["qtest.flaky"].error == "ValueError: boom 6"
            stats = queue_stats(db.session, utcnow().date(), utcnow().date(), huey=huey)
            assert stats["snapshot"]["queue"] == {"pending": 0, "scheduled": 0}
    finally:
        huey.flush()


def test_the_sweepers_replacement_is_in_the_ledger_before_the_old_row_names_it(make_app, jobs, tmp_path):
    """A consumer killed right after a sweep must not leave the replacement unknown: its ledger row is
    written before the swept row points at it, not at the recorder's next periodic flush."""
    import uuid

    app = make_app(extra_plugins=[("qtest", jobs)], HUEY_BACKEND="sqlite", HUEY_IMMEDIATE=False,
                   QUEUE_STATS_FLUSH_SECONDS=3600, HUEY_NAME=f"mp-test-{uuid.uuid4().hex[:8]}",
                   HUEY_SQLITE_PATH=str(tmp_path / "huey.db"))
    pulse = app.extensions["moviepulse"]
    recorder = app.extensions["moviepulse.queue_recorder"]
    with app.app_context():
        t = utcnow() - timedelta(hours=2)
        db.session.add(JobRecord(task_id="killed", name="qtest.ok", args={"args": [4], "kwargs": {}},
                                 state="running", attempts=1, enqueued_at=t, started_at=t, updated_at=t))
        db.session.commit()
        [swept] = sweep_stale_jobs(pulse, 3600)
        assert swept["requeued"] and len(recorder.buffer) == 0  # nothing left waiting for a later flush
        old = db.session.scalar(select(JobRecord).where(JobRecord.task_id == "killed"))
        new = db.session.scalar(select(JobRecord).where(JobRecord.task_id == old.retried_as))
        assert old.state == "interrupted" and new is not None and new.state == "pending"
