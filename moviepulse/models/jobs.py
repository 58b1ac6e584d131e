"""The job ledger: one row per Huey task id with its lifecycle, filled from Huey signals.

It serves the queue statistics (wait and run times, failures, retries) and is the
"nothing lost" ledger: a row ``running`` for too long means the worker died (Huey is
at-most-once), and ``sweep_stale_jobs`` re-enqueues it from ``name`` + ``args``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moviepulse.models.base import Base, BigId, utcnow

#: Ledger states. ``pending`` = enqueued, ``scheduled`` = waiting for its eta, ``running``,
#: ``retrying`` (failed, will run again), then a final ``complete``/``error``/``expired``/
#: ``revoked``/``locked``/``canceled``/``interrupted``.
JOB_STATES = ("pending", "scheduled", "running", "retrying", "complete", "error", "expired",
              "revoked", "locked", "canceled", "interrupted")
FINAL_STATES = ("complete", "error", "expired", "revoked", "locked", "canceled", "interrupted")


class JobRecord(Base):
    __tablename__ = "job_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100), default="moviepulse")
    args: Mapped[Any] = mapped_column(JSON)  # {"args": [...], "kwargs": {...}} when JSON-able, else None
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)  # RETRYING signals seen
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime)
    eta: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    wait_seconds: Mapped[float | None] = mapped_column()  # first enqueue (or eta) -> first start
    run_seconds: Mapped[float | None] = mapped_column()  # last start -> finish
    error: Mapped[str | None] = mapped_column(Text)
    retried_as: Mapped[str | None] = mapped_column(String(64))  # task id of a manual retry / sweep
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_job_ledger_state", "state"),
        Index("ix_job_ledger_enqueued", "enqueued_at"),
        Index("ix_job_ledger_finished", "finished_at"),
    )
