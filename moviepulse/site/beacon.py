"""Validation of ``POST /api/events`` batches: envelope, per-event checks, clock-skew correction.

Pure functions over parsed JSON (no Flask, no database) so they can be property-tested.
Each event either becomes a row for :func:`moviepulse.site.tracking.record_events` or a
``{"index", "reason", "field", "detail"}`` rejection; nothing raises on bad input.

Clock skew (PostHog/Segment style): ``skew = received_at − sent_at``; when ``|skew| > 2 s``
every ``ts`` is shifted by ``skew``. Corrected times more than ``EVENTS_MAX_AGE_DAYS`` in the
past (``too_old``) or more than ``EVENTS_MAX_FUTURE_SECONDS`` in the future (``in_future``) are
rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moviepulse.models.events import EVENT_TYPES, PLACEMENTS, VARIANTS

EVENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REQUIRED_FIELDS = ("event_id", "type", "ts", "device_id", "movie_id", "placement", "variant", "position", "locale")
REQUIRED_SET = frozenset(REQUIRED_FIELDS)
MAX_POSITION = 100
MAX_MOVIE_ID = 2**31 - 1


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int = 2048
    max_age: timedelta = timedelta(days=7)
    max_future: timedelta = timedelta(minutes=5)
    skew_threshold: timedelta = timedelta(seconds=2)


@dataclass
class Validated:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


class Rejection(Exception):
    def __init__(self, reason: str, field: str | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.field, self.detail = reason, field, detail


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 / RFC 3339 string as naive UTC (a zone-less one is taken as UTC); None if invalid."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40 or not value.isascii():
        return None
    if value[-1] == "Z" and value[10:11] == "T":  # the common form: naive parse of the UTC wall time
        try:
            moment = datetime.fromisoformat(value[:-1])
        except ValueError:
            return None
        return moment if moment.tzinfo is None else None
    text = value.strip().upper()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    return moment


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _size_bound(event: dict[str, Any]) -> int | None:
    """A cheap upper bound of ``event_size``: 4 × the length of the event's ``repr`` (None if it fails).

    For parsed JSON values every character of the ``repr`` becomes at most 4 bytes of compact UTF-8
    JSON (``\\x00`` → ``\\u0000``, one astral character → 4 bytes), so a small bound proves a small event
    without encoding it.
    """
    try:
        return 4 * len(repr(event))
    except (ValueError, RecursionError):
        return None


def event_size(event: Any) -> int:
    """Bytes of the event as compact UTF-8 JSON (-1 when it cannot be encoded, e.g. a lone surrogate)."""
    try:
        return len(_COMPACT.encode(event).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return -1


def skew_of(sent_at: datetime | None, received_at: datetime, limits: Limits) -> timedelta:
    """The correction to add to every ``ts``: ``received_at − sent_at`` when beyond the threshold, else 0."""
    if sent_at is None:
        return timedelta(0)
    skew = received_at - sent_at
    return skew if abs(skew) > limits.skew_threshold else timedelta(0)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_PLACEMENTS = frozenset(PLACEMENTS)
_VARIANTS = frozenset(VARIANTS)
_TYPES = frozenset(EVENT_TYPES)


def _check_event(event: Any, *, received_at: datetime, skew: timedelta, limits: Limits,
                 locales: Sequence[str] | frozenset[str], oldest: datetime | None = None,
                 newest: datetime | None = None) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise Rejection("not_an_object", None, "each event must be a JSON object")
    bound = _size_bound(event)
    size = bound if bound is not None and bound <= limits.max_event_bytes else event_size(event)
    if size < 0:
        raise Rejection("invalid_encoding", None, "event is not encodable as UTF-8 JSON")
    if size > limits.max_event_bytes:
        raise Rejection("too_large", None, f"event is {size} bytes; the limit is {limits.max_event_bytes}")
    if not REQUIRED_SET <= event.keys():
        name = next(n for n in REQUIRED_FIELDS if n not in event)
        raise Rejection("missing_field", name, f"'{name}' is required")
    event_id, etype, device_id = event["event_id"], event["type"], event["device_id"]
    if not isinstance(event_id, str) or not EVENT_ID_PATTERN.match(event_id):
        raise Rejection("invalid_field", "event_id", "8-64 characters of A-Z a-z 0-9 _ -")
    if etype.__class__ is not str or etype not in _TYPES:
        raise Rejection("invalid_field", "type", f"one of {', '.join(EVENT_TYPES)}")
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.match(device_id):
        raise Rejection("invalid_field", "device_id", "8-64 characters of A-Z a-z 0-9 _ -")
    movie_id = event["movie_id"]
    if not _is_int(movie_id) or not 1 <= movie_id <= MAX_MOVIE_ID:
        raise Rejection("invalid_field", "movie_id", "a positive integer id of a movie")
    placement, variant, position = event["placement"], event["variant"], event["position"]
    attributed = etype in ("impression", "click")
    if (attributed or placement is not None) and (placement.__class__ is not str or placement not in _PLACEMENTS):
        raise Rejection("invalid_field", "placement", f"one of {', '.join(PLACEMENTS)}"
                        + ("" if attributed else " or null for a view"))
    if (attributed or variant is not None) and (variant.__class__ is not str or variant not in _VARIANTS):
        raise Rejection("invalid_field", "variant", "A or B" + ("" if attributed else " or null for a view"))
    if (attributed or position is not None) and not (_is_int(position) and 1 <= position <= MAX_POSITION):
        raise Rejection("invalid_field", "position", f"an integer 1..{MAX_POSITION}"
                        + ("" if attributed else " or null for a view"))
    locale = event["locale"]
    if locale.__class__ is not str or locale not in locales:
        raise Rejection("invalid_field", "locale", f"one of {', '.join(sorted(locales))}")
    ts = parse_timestamp(event["ts"])
    if ts is None:
        raise Rejection("invalid_field", "ts", "an ISO 8601 date-time, e.g. 2026-11-27T09:30:00Z")
    try:
        event_time = ts + skew
    except OverflowError:
        raise Rejection("invalid_field", "ts", "out of range") from None
    if event_time < (oldest or received_at - limits.max_age):
        raise Rejection("too_old", "ts", f"more than {limits.max_age.days} days in the past")
    if event_time > (newest or received_at + limits.max_future):
        raise Rejection("in_future", "ts", f"more than {int(limits.max_future.total_seconds())} s in the future")
    return {"event_id": event_id, "type": etype, "event_time": event_time, "received_at": received_at,
            "device_id": device_id, "movie_id": movie_id, "placement": placement, "variant": variant,
            "position": position, "locale": locale, "origin": "beacon"}


def validate_events(events: list[Any], *, sent_at: datetime | None, received_at: datetime, limits: Limits,
                    locales: Sequence[str], movie_exists: Callable[[set[int]], set[int]]) -> Validated:
    """Split ``events`` into rows to write and rejections (``movie_exists`` checks ids in one go)."""
    out = Validated()
    skew = skew_of(sent_at, received_at, limits)
    candidates: list[tuple[int, dict[str, Any]]] = []
    allowed = frozenset(locales)
    oldest, newest = received_at - limits.max_age, received_at + limits.max_future
    for index, event in enumerate(events):
        try:
            candidates.append((index, _check_event(event, received_at=received_at, skew=skew, limits=limits,
                                                   locales=allowed, oldest=oldest, newest=newest)))
        except Rejection as exc:
            out.rejected.append({"index": index, "reason": exc.reason, "field": exc.field, "detail": exc.detail})
    known = movie_exists({row["movie_id"] for _, row in candidates}) if candidates else set()
    for index, row in candidates:
        if row["movie_id"] in known:
            out.rows.append(row)
        else:
            out.rejected.append({"index": index, "reason": "unknown_movie", "field": "movie_id",
                                 "detail": f"no movie with id {row['movie_id']}"})
    out.rejected.sort(key=lambda r: r["index"])
    return out
