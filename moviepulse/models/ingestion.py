"""Ingestion bookkeeping: runs and their summaries, shared upstream state, conditional-request
validators, pending-import dedupe, and backfill notifications.

* ``ingestion_runs``: one row per import (movie, list, catalogue, backfill task) with what was
  asked, counts per outcome / source / locale, and errors with reasons (keys redacted).
* ``upstream_state``: key -> JSON document for the breaker, limiter, budget and counters shared by
  every process when the state backend is the database (``local``); Redis holds them elsewhere.
* ``upstream_validators``: ETag / Last-Modified per upstream resource, for idempotent re-imports.
* ``pending_imports``: one row per movie currently queued, so nothing enqueues it twice.
* ``backfill_notifications`` + ``backfill_items``: what a backfill pass enqueued, and what
  finished or failed (read by the queue widget).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moviepulse.models.base import Base, utcnow

RUN_STATUSES = ("running", "ok", "partial", "failed")


class IngestionRun(Base):
    __tablename__ = "ingestion_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # movie | list | catalogue | backfill
    trigger: Mapped[str] = mapped_column(String(32), default="api")  # cli | task | demo | api | backfill
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    requested: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_ingestion_runs_started", "started_at"),)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "trigger": self.trigger, "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "requested": self.requested or {}, "counts": self.counts or {},
            "errors": self.errors or [], "error_count": self.error_count,
        }


class UpstreamState(Base):
    """A small JSON document per key (``breaker:tmdb``, ``limiter:omdb``, ``budget:omdb`` …)."""

    __tablename__ = "upstream_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UpstreamValidator(Base):
    """ETag / Last-Modified of one upstream resource (path + parameters, never the key)."""

    __tablename__ = "upstream_validators"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PendingImport(Base):
    """A movie import that is queued or running; its key is ``tmdb:<id>`` or ``imdb:<tt…>``."""

    __tablename__ = "pending_imports"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    movie_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(64))
    notification_id: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BackfillNotification(Base):
    """One backfill pass: what it considered, what it enqueued and why it stopped there."""

    __tablename__ = "backfill_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    considered: Mapped[int] = mapped_column(Integer, default=0)
    needing: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    skipped_pending: Mapped[int] = mapped_column(Integer, default=0)
    limited_by: Mapped[str | None] = mapped_column(String(32))  # batch | budget | breaker_open | None
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_backfill_notifications_created", "created_at"),)


class BackfillItem(Base):
    """One movie a backfill pass enqueued, and how its import ended."""

    __tablename__ = "backfill_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("backfill_notifications.id", ondelete="CASCADE"))
    movie_id: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="enqueued")  # enqueued | finished | failed
    detail: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_backfill_items_notification", "notification_id", "status"),)
