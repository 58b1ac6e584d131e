"""Queue statistics: a Huey signal recorder feeding the job ledger, the statistics read from
it, the stale-job sweeper and the retry action.

Recording costs the worker one tuple and one ``deque.append`` per signal; a daemon thread
flushes the buffer to ``job_ledger`` every ``QUEUE_STATS_FLUSH_SECONDS`` (or when it holds
``QUEUE_STATS_BATCH`` events), merging events per Huey task id. With an immediate Huey
(tests) every event is flushed synchronously. Plugins get each event through the
``task_event`` hook at flush time, never on the worker's hot path.

Merging is order-tolerant: the web process (``enqueued``) and the consumer (everything
else) flush independently, so a row's state only moves to an event at least as recent as
the last one applied.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import threading
import weakref
from collections import deque
from datetime import UTC, date, datetime, timedelta
from time import time as _time
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from moviepulse.analytics.sqlutil import as_datetime, day_bounds, hour_bucket, real_session
from moviepulse.core.db import write_transaction
from moviepulse.models.base import utcnow
from moviepulse.models.jobs import FINAL_STATES, JobRecord

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

    from moviepulse.core.pulse import MoviePulse

log = logging.getLogger(__name__)

#: Huey signal -> ledger state for signals that end an attempt without success.
_TERMINAL = {"expired": "expired", "revoked": "revoked", "locked": "locked", "canceled": "canceled",
             "interrupted": "interrupted", "timeout": "error", "rate-limited": "retrying"}


class QueueEvent(NamedTuple):
    signal: str
    task_id: str
    name: str
    args: Any
    retries_left: int
    eta: datetime | None
    at: datetime
    error: str | None


def _to_event(signal: str, task: Any, retries: int, eta: Any, at: float, exc: BaseException | None) -> QueueEvent:
    """Build the ledger event from a buffered signal (at flush time, off the hot path)."""
    return QueueEvent(signal, str(task.id), str(task.name),
                      _json_args(task) if signal in ("enqueued", "scheduled") else None, retries or 0,
                      eta.replace(tzinfo=None) if isinstance(eta, datetime) else None,
                      datetime.fromtimestamp(at, UTC).replace(tzinfo=None),
                      f"{type(exc).__name__}: {exc}"[:4000] if exc is not None else None)


def _json_args(task: Any) -> Any:
    payload = {"args": list(getattr(task, "args", ()) or ()), "kwargs": dict(getattr(task, "kwargs", {}) or {})}
    try:
        json.dumps(payload)
    except (TypeError, ValueError):
        return None
    return payload


class QueueRecorder:
    """Buffers Huey signals and writes them to the ledger in batches."""

    def __init__(self, app: Flask, *, batch_size: int = 200, flush_seconds: float = 2.0,
                 synchronous: bool = False, queue_name: str = "moviepulse") -> None:
        self.app = app
        self.batch_size = max(1, int(batch_size))
        self.flush_seconds = float(flush_seconds)
        self.synchronous = synchronous
        self.queue_name = queue_name
        self.buffer: deque[tuple[Any, ...]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushed = 0
        self.failed_flushes = 0

    # -- hot path ------------------------------------------------------------------------
    def handle(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        """The Huey signal receiver: one tuple appended, no I/O, no formatting (unless synchronous)."""
        self.buffer.append((signal, task, task.retries, task.eta, _time(), exc))
        if self.synchronous:
            self.flush()
            return
        if len(self.buffer) >= self.batch_size:
            self._wake.set()

    # -- background ----------------------------------------------------------------------
    def install(self, huey: Any) -> None:
        huey.signal()(self.handle)
        if not self.synchronous:
            self._start_thread()
            # Process workers fork after start-up: the flusher thread does not survive a fork.
            os.register_at_fork(after_in_child=functools.partial(_restart_after_fork, weakref.ref(self)))
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _start_thread(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=_flush_loop, args=(weakref.ref(self), self._wake, self.flush_seconds),
                                        name="moviepulse-queue-stats", daemon=True)
        self._thread.start()

    def flush(self) -> int:
        """Write buffered events to the ledger; returns how many were written."""
        with self._lock:
            raw: list[tuple[Any, ...]] = []
            while self.buffer:
                raw.append(self.buffer.popleft())
            if not raw:
                return 0
            events = [_to_event(*item) for item in raw]
            try:
                with self.app.app_context():
                    from moviepulse.extensions import db

                    apply_events(db.session, events, queue=self.queue_name)
                    pulse = self.app.extensions.get("moviepulse")
                    if pulse is not None:
                        for ev in events:
                            pulse.emit("task_event", signal=ev.signal, task=ev._asdict())
                self.flushed += len(events)
                return len(events)
            except Exception:  # noqa: BLE001 - statistics must never break a worker
                self.failed_flushes += 1
                log.exception("queue statistics: could not flush %d events", len(events))
                if len(self.buffer) < 50_000:  # keep them for the next attempt
                    self.buffer.extendleft(reversed(raw))
                return 0


def _flush_loop(ref: Any, wake: threading.Event, every: float) -> None:
    while True:
        wake.wait(max(0.05, every))
        wake.clear()
        recorder = ref()
        if recorder is None:
            return
        recorder.flush()
        del recorder


def _restart_after_fork(ref: Any) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.buffer.clear()  # the parent flushes its own events
        recorder._start_thread()


def _flush_at_exit(ref: Any) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.flush()


# -- merging into the ledger -----------------------------------------------------------
def apply_events(session: Any, events: list[QueueEvent], *, queue: str = "moviepulse") -> None:
    """Merge signal events into ``job_ledger`` rows (one write transaction; retried once on a race)."""
    session = real_session(session)
    for attempt in (1, 2):
        try:
            with write_transaction(session):
                ids = list({e.task_id for e in events})
                rows = {r.task_id: r for r in session.scalars(select(JobRecord).where(JobRecord.task_id.in_(ids)))}
                for ev in events:
                    rec = rows.get(ev.task_id)
                    if rec is None:
                        rec = JobRecord(task_id=ev.task_id, name=ev.name, queue=queue, args=ev.args, state="pending",
                                        attempts=0, retries=0, updated_at=datetime.min)
                        session.add(rec)
                        rows[ev.task_id] = rec
                    _apply(rec, ev)
            return
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise


def _apply(rec: JobRecord, ev: QueueEvent) -> None:
    newer = rec.updated_at is None or ev.at >= rec.updated_at
    if rec.args is None and ev.args is not None:
        rec.args = ev.args
    s = ev.signal
    if s == "enqueued":
        if rec.enqueued_at is None or ev.at < rec.enqueued_at:
            rec.enqueued_at = ev.at
        if newer:
            rec.state = "pending"
    elif s == "scheduled":
        rec.eta = ev.eta
        if rec.enqueued_at is None:
            rec.enqueued_at = ev.at
        if newer:
            rec.state = "scheduled"
    elif s == "executing":
        rec.attempts = (rec.attempts or 0) + 1
        if rec.started_at is None or newer:
            rec.started_at = ev.at
        if newer:
            rec.state = "running"
            rec.finished_at = None
    elif s == "complete":
        rec.finished_at = ev.at
        if newer:
            rec.state = "complete"
    elif s == "error":
        rec.error = ev.error
        rec.finished_at = ev.at
        if newer:
            rec.state = "error" if ev.retries_left == 0 else "retrying"
    elif s == "retrying":
        rec.retries = (rec.retries or 0) + 1
        if newer:
            rec.state = "retrying"
    elif s in _TERMINAL:
        if newer:
            rec.state = _TERMINAL[s]
            rec.finished_at = ev.at
    if rec.wait_seconds is None and rec.started_at is not None and rec.enqueued_at is not None:
        base = rec.eta if rec.eta is not None and rec.eta > rec.enqueued_at else rec.enqueued_at
        rec.wait_seconds = max(0.0, (rec.started_at - base).total_seconds())
    if rec.finished_at is not None and rec.started_at is not None and rec.finished_at >= rec.started_at:
        rec.run_seconds = (rec.finished_at - rec.started_at).total_seconds()
    if newer:
        rec.updated_at = ev.at


# -- statistics -------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), ``None`` for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _pcts(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q) for q in (50, 90, 95, 99)} | {"max": max(values) if values else None}


def queue_stats(session: Any, start: date, end: date, audience: str = "global", *, long_wait_seconds: float = 60,
                now: datetime | None = None, huey: Any = None) -> dict[str, Any]:
    """Ledger statistics for jobs enqueued or finished in ``[start, end]`` plus the current snapshot.

    ``audience`` is accepted for a uniform API (jobs have no visitors) and echoed back.
    """
    now = now or utcnow()
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    counts = dict(session.execute(select(JobRecord.state, func.count()).group_by(JobRecord.state)).all())
    in_window = (JobRecord.enqueued_at >= lo) & (JobRecord.enqueued_at < hi)
    finished_window = (JobRecord.finished_at >= lo) & (JobRecord.finished_at < hi)
    hourly_rows = session.execute(
        select(hour_bucket(JobRecord.finished_at).label("hour"), JobRecord.state, func.count())
        .where(finished_window, JobRecord.state.in_(("complete", "error")))
        .group_by(hour_bucket(JobRecord.finished_at), JobRecord.state)
    ).all()
    per_hour: dict[str, dict[str, int]] = {}
    for hour, state, n in hourly_rows:
        key = as_datetime(hour).strftime("%Y-%m-%dT%H:00:00")
        slot = per_hour.setdefault(key, {"enqueued": 0, "completed": 0, "failed": 0})
        slot["completed" if state == "complete" else "failed"] += n
    for hour, n in session.execute(select(hour_bucket(JobRecord.enqueued_at), func.count()).where(in_window)
                                   .group_by(hour_bucket(JobRecord.enqueued_at))).all():
        key = as_datetime(hour).strftime("%Y-%m-%dT%H:00:00")
        per_hour.setdefault(key, {"enqueued": 0, "completed": 0, "failed": 0})["enqueued"] += n
    timing = session.execute(
        select(JobRecord.name, JobRecord.state, JobRecord.wait_seconds, JobRecord.run_seconds, JobRecord.retries)
        .where(in_window | finished_window)
    ).all()
    waits = [w for _, _, w, _, _ in timing if w is not None]
    runs = [r for _, state, _, r, _ in timing if r is not None and state == "complete"]
    by_task: dict[str, dict[str, Any]] = {}
    for name, state, w, r, retries in timing:
        t = by_task.setdefault(name, {"task": name, "jobs": 0, "completed": 0, "failed": 0, "retries": 0,
                                      "_w": [], "_r": []})
        t["jobs"] += 1
        t["completed"] += state == "complete"
        t["failed"] += state == "error"
        t["retries"] += retries or 0
        if w is not None:
            t["_w"].append(w)
        if r is not None and state == "complete":
            t["_r"].append(r)
    tasks = []
    for t in sorted(by_task.values(), key=lambda t: t["task"]):
        w, r = t.pop("_w"), t.pop("_r")
        tasks.append({**t, "wait": _pcts(w), "run": _pcts(r)})
    oldest_pending = session.scalar(select(func.min(JobRecord.enqueued_at)).where(JobRecord.state == "pending"))
    oldest_wait = (now - as_datetime(oldest_pending)).total_seconds() if oldest_pending else None
    long_waiting = session.execute(
        select(JobRecord.name, func.count()).where(JobRecord.state == "pending",
                                                   JobRecord.enqueued_at < now - timedelta(seconds=long_wait_seconds))
        .group_by(JobRecord.name)).all()
    live: dict[str, Any] = {}
    if huey is not None:
        try:
            live = {"pending": huey.pending_count(), "scheduled": huey.scheduled_count()}
        except Exception as exc:  # noqa: BLE001
            live = {"error": type(exc).__name__}
    total_jobs = len(timing)
    return {
        "backfill": backfill_passes(session, lo, hi),
        "state": "ok" if total_jobs or counts else "no_data",
        "from": start.isoformat(), "to": end.isoformat(), "audience": audience,
        "snapshot": {"pending": counts.get("pending", 0), "scheduled": counts.get("scheduled", 0),
                     "running": counts.get("running", 0), "retrying": counts.get("retrying", 0),
                     "failed": counts.get("error", 0), "completed": counts.get("complete", 0),
                     "by_state": counts, "queue": live},
        "window": {"jobs": total_jobs, "completed": sum(1 for row in timing if row[1] == "complete"),
                   "failed": sum(1 for row in timing if row[1] == "error"),
                   "retries": sum(row[4] or 0 for row in timing)},
        "per_hour": [{"hour": h, **v} for h, v in sorted(per_hour.items())],
        "wait_seconds": _pcts(waits), "run_seconds": _pcts(runs), "tasks": tasks,
        "long_wait": {"threshold_seconds": long_wait_seconds, "oldest_pending_seconds": oldest_wait,
                      "alert": bool(oldest_wait is not None and oldest_wait > long_wait_seconds),
                      "tasks": [{"task": n, "pending": c} for n, c in long_waiting]},
    }


def backfill_passes(session: Any, lo: datetime, hi: datetime, limit: int = 10) -> dict[str, Any]:
    """The ingestion engineer's backfill passes in the window (read-only; ``unavailable`` without them)."""
    try:
        from moviepulse.models.ingestion import BackfillItem, BackfillNotification
    except ImportError:
        return {"state": "unavailable", "passes": []}
    rows = session.scalars(select(BackfillNotification)
                           .where(BackfillNotification.created_at >= lo, BackfillNotification.created_at < hi)
                           .order_by(BackfillNotification.created_at.desc()).limit(limit)).all()
    ids = [r.id for r in rows]
    statuses: dict[int, dict[str, int]] = {}
    if ids:
        for nid, status, n in session.execute(
                select(BackfillItem.notification_id, BackfillItem.status, func.count())
                .where(BackfillItem.notification_id.in_(ids))
                .group_by(BackfillItem.notification_id, BackfillItem.status)).all():
            statuses.setdefault(nid, {})[status] = n
    return {"state": "ok" if rows else "no_data", "passes": [
        {"id": r.id, "created_at": r.created_at.isoformat(), "dry_run": r.dry_run, "considered": r.considered,
         "needing": r.needing, "enqueued": r.enqueued, "skipped_pending": r.skipped_pending,
         "limited_by": r.limited_by, "items": statuses.get(r.id, {})} for r in rows]}


def failed_jobs(session: Any, start: date | None = None, end: date | None = None, audience: str = "global", *,
                limit: int = 100) -> dict[str, Any]:
    """Jobs whose final state is ``error`` (newest first), with their error and stored args."""
    q = select(JobRecord).where(JobRecord.state == "error")
    if start is not None:
        q = q.where(JobRecord.finished_at >= day_bounds(start)[0])
    if end is not None:
        q = q.where(JobRecord.finished_at < day_bounds(end)[1])
    rows = session.scalars(q.order_by(JobRecord.finished_at.desc(), JobRecord.id.desc()).limit(limit)).all()
    return {"state": "ok" if rows else "no_data", "audience": audience,
            "jobs": [job_dict(r) for r in rows]}


def job_dict(r: JobRecord) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {"id": r.id, "task_id": r.task_id, "task": r.name, "queue": r.queue, "state": r.state, "args": r.args,
            "attempts": r.attempts, "retries": r.retries, "enqueued_at": iso(r.enqueued_at),
            "started_at": iso(r.started_at), "finished_at": iso(r.finished_at), "wait_seconds": r.wait_seconds,
            "run_seconds": r.run_seconds, "error": r.error, "retried_as": r.retried_as,
            "retryable": r.args is not None}


class RetryError(ValueError):
    """The job cannot be retried (unknown id, unknown task, arguments not stored)."""


def _reenqueue(pulse: MoviePulse, rec: JobRecord) -> str:
    if rec.args is None:
        raise RetryError(f"job {rec.id} ({rec.name}) has no stored JSON arguments; cannot re-enqueue")
    if not pulse.has_task(rec.name):
        raise RetryError(f"job {rec.id}: no task named {rec.name!r} is registered")
    result = pulse.enqueue(rec.name, *rec.args.get("args", []), **rec.args.get("kwargs", {}))
    new_id = getattr(result, "id", None)
    if new_id is None:  # immediate mode or results disabled: find the newest ledger row of that task
        return ""
    return str(new_id)


def retry_job(pulse: MoviePulse, job_id: int) -> dict[str, Any]:
    """Re-enqueue a failed job by task name + stored args; returns the updated job dict."""
    from moviepulse.extensions import db

    session = real_session(db.session)
    rec = session.get(JobRecord, job_id)
    if rec is None:
        raise RetryError(f"no job with id {job_id}")
    if rec.state not in FINAL_STATES:
        raise RetryError(f"job {job_id} is {rec.state}, not finished; only finished jobs can be retried")
    name, args = rec.name, rec.args
    session.commit()  # end the read transaction before the task (and the recorder) write
    new_id = _reenqueue(pulse, rec)
    flush_recorder(pulse)  # the replacement's ledger row exists before anything points at it
    with write_transaction(session):
        rec = session.get(JobRecord, job_id)
        rec.retried_as = new_id or "enqueued"
    return {"retried": True, "job": job_dict(rec), "task": name, "args": args, "new_task_id": new_id or None}


def sweep_stale_jobs(pulse: MoviePulse, older_than_s: float, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Re-enqueue every job Huey lost (it is at-most-once): started more than ``older_than_s`` ago and never
    finished (the worker died), cut off by a SIGTERM (``interrupted``, not yet re-enqueued), or
    ``pending``/``retrying`` since before that while its message is in no queue (a broker restart without
    persistence, or a worker killed before its ``executing`` signal was recorded). The row becomes
    ``interrupted`` and names its replacement in ``retried_as``."""
    from moviepulse.extensions import db

    flush_recorder(pulse)
    session = real_session(db.session)
    now = now or utcnow()
    limit = now - timedelta(seconds=older_than_s)
    stale = session.scalars(select(JobRecord).where(JobRecord.state == "running",
                                                    JobRecord.started_at < limit)).all()
    items = [(r.id, r.name) for r in stale]
    items += interrupted_jobs(session)
    items += lost_queued_jobs(pulse, session, limit)
    session.commit()
    out = []
    for job_id, name in items:
        rec = session.get(JobRecord, job_id)
        try:
            new_id = _reenqueue(pulse, rec)
        except RetryError as exc:
            out.append({"id": job_id, "task": name, "requeued": False, "reason": str(exc)})
            continue
        # Write the replacement's ledger row now: were this process killed before its recorder's
        # next flush, the old row would name a job nothing knows about and no later sweep could
        # recover it (found by the soak benchmark: one job in 78 lost that way).
        flush_recorder(pulse)
        with write_transaction(session):
            rec = session.get(JobRecord, job_id)
            if rec.state in ("running", "pending", "retrying"):
                lost = "no finish signal" if rec.state == "running" else "its message is in no queue"
                rec.state = "interrupted"
                rec.finished_at = now
                rec.error = (rec.error or "") + f"stale: {lost} after {older_than_s:.0f}s; re-enqueued"
            rec.retried_as = new_id or "enqueued"
        out.append({"id": job_id, "task": name, "requeued": True, "new_task_id": new_id or None})
    return out


def interrupted_jobs(session: Any) -> list[tuple[int, str]]:
    """Jobs a consumer cut off (``SIGNAL_INTERRUPTED``: stopped with SIGTERM) and nobody re-enqueued."""
    return [(job_id, name) for job_id, name in session.execute(select(JobRecord.id, JobRecord.name).where(
        JobRecord.state == "interrupted", JobRecord.retried_as.is_(None))).all()]


def queued_task_ids(huey: Any) -> set[str]:
    """Ids of the messages still in Huey's queue or schedule (raises when the storage is unreachable)."""
    return {str(t.id) for t in huey.pending()} | {str(t.id) for t in huey.scheduled()}


def lost_queued_jobs(pulse: Any, session: Any, limit: datetime) -> list[tuple[int, str]]:
    """Rows ``pending``/``retrying`` since before ``limit`` whose message is in no queue any more.

    Two ways to get there, both losing the job under plain Huey: the broker lost the message (a
    Redis restart without persistence), or a consumer took it and was killed before its
    ``executing`` signal reached the ledger. Nothing is swept when the queue cannot be read.
    """
    rows = session.execute(select(JobRecord.id, JobRecord.name, JobRecord.task_id).where(
        JobRecord.state.in_(("pending", "retrying")), JobRecord.enqueued_at < limit)).all()
    if not rows or getattr(pulse, "huey", None) is None:
        return []
    try:
        queued = queued_task_ids(pulse.huey)
    except Exception:  # noqa: BLE001 - broker down: the next sweep decides
        log.warning("queue sweep: cannot read the queue; lost-message check skipped", exc_info=True)
        return []
    return [(job_id, name) for job_id, name, task_id in rows if task_id not in queued]


def flush_recorder(pulse: Any) -> None:
    recorder = getattr(pulse, "queue_recorder", None) or (pulse.app.extensions.get("moviepulse.queue_recorder")
                                                          if hasattr(pulse, "app") else None)
    if recorder is not None:
        recorder.flush()


def install_recorder(pulse: MoviePulse) -> QueueRecorder | None:
    """Connect a recorder to ``pulse.huey`` (called from the ``queue`` plugin's ``startup``)."""
    if pulse.huey is None:
        return None
    app = pulse.app
    recorder = QueueRecorder(
        app,
        batch_size=int(app.config.get("QUEUE_STATS_BATCH", 200)),
        flush_seconds=float(app.config.get("QUEUE_STATS_FLUSH_SECONDS", 2.0)),
        synchronous=bool(app.config.get("QUEUE_STATS_SYNC") or app.config.get("HUEY_IMMEDIATE")),
        queue_name=str(getattr(pulse.huey, "name", "moviepulse")),
    )
    recorder.install(pulse.huey)
    app.extensions["moviepulse.queue_recorder"] = recorder
    return recorder
