"""SSR telemetry tables: per-route-minute aggregates, sampled audits, fingerprints, upstream
signals and alert states.

* ``ssr_route_minutes`` — one row per (route template, minute): request/error counts, Apdex
  counts, latency sum and a mergeable latency sketch, and HTML-score statistics (90 days).
* ``ssr_audits`` — the raw sampled HTML audits (14 days).
* ``ssr_fingerprints`` — grouped exceptions and failing score checks, with lifecycle.
* ``ssr_upstream_minutes`` / ``ssr_upstream_states`` — upstream signals per minute, and each
  upstream's circuit-breaker state, so that alert rules work across processes.
* ``ssr_alert_states`` — the last evaluated state of each alert rule and subject, with since-when.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from moviepulse.models.base import Base, BigId, utcnow


class SsrRouteMinute(Base):
    __tablename__ = "ssr_route_minutes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(255))
    minute: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, truncated to the minute
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)  # status >= 500
    apdex_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    apdex_tolerating: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    sketch: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    score_count: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[int] = mapped_column(Integer, default=0)
    score_min: Mapped[int | None] = mapped_column(SmallInteger)
    score_max: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        UniqueConstraint("route", "minute"),
        Index("ix_ssr_route_minutes_minute", "minute"),
    )


class SsrAudit(Base):
    __tablename__ = "ssr_audits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    route: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(512))
    method: Mapped[str] = mapped_column(String(8), default="GET")
    status: Mapped[int] = mapped_column(SmallInteger)
    server_ms: Mapped[float] = mapped_column(Float)
    locale: Mapped[str | None] = mapped_column(String(16))
    variant: Mapped[str | None] = mapped_column(String(8))
    request_id: Mapped[str | None] = mapped_column(String(64))
    self_crawl: Mapped[bool] = mapped_column(default=False)
    html_bytes: Mapped[int] = mapped_column(Integer)
    meta_count: Mapped[int] = mapped_column(Integer)
    og_count: Mapped[int] = mapped_column(Integer)
    ldjson_count: Mapped[int] = mapped_column(Integer)
    img_count: Mapped[int] = mapped_column(Integer)
    blocking_scripts: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(SmallInteger)
    failing: Mapped[list] = mapped_column(JSON, default=list)  # failing check names

    __table_args__ = (
        Index("ix_ssr_audits_recorded_at", "recorded_at"),
        Index("ix_ssr_audits_route_recorded_at", "route", "recorded_at"),
    )


FINGERPRINT_STATUSES = ("new", "ongoing", "regressed", "resolved")


class SsrFingerprint(Base):
    __tablename__ = "ssr_fingerprints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(64))  # "exception" | "score.<check>"
    route: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    exc_type: Mapped[str | None] = mapped_column(String(255))
    frames: Mapped[list] = mapped_column(JSON, default=list)  # ["module:qualname", ...] (in-app)
    count: Mapped[int] = mapped_column(Integer, default=0)
    days_seen: Mapped[int] = mapped_column(Integer, default=0)
    last_day: Mapped[date | None] = mapped_column(Date)
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="new")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    sample: Mapped[dict] = mapped_column(JSON, default=dict)  # request id, path, locale, message (redacted)

    __table_args__ = (Index("ix_ssr_fingerprints_last_seen", "last_seen"),)


class SsrUpstreamMinute(Base):
    __tablename__ = "ssr_upstream_minutes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    upstream: Mapped[str] = mapped_column(String(64))
    minute: Mapped[datetime] = mapped_column(DateTime)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    budget_exhausted: Mapped[int] = mapped_column(Integer, default=0)
    breaker_opened: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("upstream", "minute"),
        Index("ix_ssr_upstream_minutes_minute", "minute"),
    )


class SsrUpstreamState(Base):
    __tablename__ = "ssr_upstream_states"

    upstream: Mapped[str] = mapped_column(String(64), primary_key=True)
    breaker: Mapped[str] = mapped_column(String(12), default="closed")  # closed | open | half_open
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


ALERT_STATES = ("ok", "warning", "critical")


class SsrAlertState(Base):
    __tablename__ = "ssr_alert_states"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), default="")  # route, upstream or ""
    state: Mapped[str] = mapped_column(String(12), default="ok")
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("rule", "subject"),)
