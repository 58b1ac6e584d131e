"""Raw tracking events (impression, click, view) and the devices that produced them.

One table for all three event types, with a unique client- or server-minted
``event_id`` so that resends are idempotent. Audience keys (device type, new/returning,
first-seen week) are resolved once, at write time, from the ``devices`` row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from moviepulse.models.base import Base, BigId, utcnow

EVENT_TYPES = ("impression", "click", "view")
PLACEMENTS = ("home", "trends", "show", "search")
VARIANTS = ("A", "B")


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    event_time: Mapped[datetime] = mapped_column(DateTime)  # skew-corrected client time (UTC)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    device_id: Mapped[str] = mapped_column(String(64))
    movie_id: Mapped[int | None] = mapped_column(Integer)
    placement: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(8))
    position: Mapped[int | None] = mapped_column(SmallInteger)
    locale: Mapped[str | None] = mapped_column(String(16))
    device_type: Mapped[str | None] = mapped_column(String(16))  # desktop | mobile | tablet | bot
    visitor_type: Mapped[str | None] = mapped_column(String(12))  # new | returning
    first_seen_week: Mapped[str | None] = mapped_column(String(10))  # ISO week, e.g. 2026-W48
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(12), default="server")  # server | beacon
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_events_time_type", "event_time", "type"),
        Index("ix_events_device_type", "device_id", "type"),
        Index("ix_events_movie_time", "movie_id", "event_time"),
    )


class Device(Base):
    """A browser identified by the ``did`` cookie; the source of audience keys."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    device_type: Mapped[str] = mapped_column(String(16), default="desktop")
    variant: Mapped[str | None] = mapped_column(String(8))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
