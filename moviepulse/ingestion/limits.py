"""Client-side rate limiter (GCRA reservations) and daily request budgets, in a shared store.

:class:`RateLimiter` keeps one "theoretical arrival time" per upstream: each call reserves the next
slot with a single atomic update and is told how long to wait, so N processes together stay at
``rate`` requests per second with bursts of at most ``burst``. :class:`DailyBudget` counts requests
per UTC day per key (OMDb's 1,000/day) and refuses once the limit is reached; an upstream's own
"limit reached" answer marks it exhausted until the reset. :class:`WindowBudget` allows at most N
uses in any sliding window (the retry budget).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moviepulse.ingestion.errors import UpstreamRateLimited
from moviepulse.ingestion.state import StateStore


class RateLimitedError(UpstreamRateLimited):
    """The client-side limiter would make this call wait longer than allowed."""

    def __init__(self, name: str, wait: float) -> None:
        super().__init__(name, f"client-side rate limit; next slot in {wait:.2f}s", retry_after=wait, status=None)
        self.wait = wait


class RateLimiter:
    """``wait = limiter.reserve()``: seconds to wait before sending (0 when a slot is free)."""

    def __init__(self, name: str, store: StateStore, rate: float, burst: int | None = None,
                 clock: Callable[[], float] = time.time, max_wait: float = 30.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.name = name
        self.store = store
        self.rate = float(rate)
        # default burst: a quarter second of traffic, so the client never empties a server-side
        # bucket of the same rate and clock jitter cannot turn into 429s
        self.burst = max(1, int(burst if burst is not None else round(rate / 4)))
        self.clock = clock
        self.max_wait = max_wait
        self.key = f"limiter:{name}"

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it. Raises if that is over ``max_wait``."""
        interval = 1.0 / self.rate
        tolerance = interval * (self.burst - 1)

        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], float]:
            now = self.clock()
            start = max(float(doc.get("tat", now)), now)
            wait = max(0.0, start - tolerance - now)
            if wait > self.max_wait:
                return doc, -wait
            doc["tat"] = start + interval
            return doc, wait

        wait = self.store.update(self.key, fn)
        if wait < 0:
            raise RateLimitedError(self.name, -wait)
        return wait


class WindowBudget:
    """At most ``limit`` uses in any ``window`` seconds, across processes (a sliding log of the last
    ``limit`` use times in the shared store). Unlike a token bucket of the same burst and rate, which
    lets ``limit`` through at once and refills during the same minute (up to twice ``limit`` per
    minute), this is exactly "``limit`` a minute" for a retry budget."""

    def __init__(self, name: str, store: StateStore, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.store = store
        self.limit = max(1, int(limit))
        self.window = float(window)
        self.clock = clock
        self.key = f"window:{name}"

    def take(self) -> bool:
        """Use one if the window has room (True); otherwise use nothing (False)."""

        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
            now = self.clock()
            used = [t for t in doc.get("used", ()) if now - float(t) < self.window]
            if len(used) >= self.limit:
                doc["used"] = used
                return doc, False
            used.append(now)
            doc["used"] = used
            return doc, True

        return self.store.update(self.key, fn)


def next_utc_midnight(ts: float) -> datetime:
    day = datetime.fromtimestamp(ts, UTC).date()
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


class DailyBudget:
    """A per-key daily request budget that resets at midnight UTC."""

    def __init__(self, name: str, store: StateStore, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.store = store
        self.limit = int(limit)
        self.clock = clock
        self.key = f"budget:{name}"

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).date().isoformat()

    def _fresh(self, doc: dict[str, Any]) -> dict[str, Any]:
        today = self._today()
        if doc.get("day") != today:
            doc = {"day": today, "used": 0, "refused": 0, "exhausted": False}
        return doc

    def consume(self, n: int = 1) -> bool:
        """Take ``n`` requests from today's budget; False (and nothing taken) when it would overrun."""

        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[bool, bool]]:
            doc = self._fresh(doc)
            if doc.get("exhausted") or doc["used"] + n > self.limit:
                first = not doc.get("exhausted")
                doc["exhausted"] = True
                doc["refused"] = doc.get("refused", 0) + 1
                return doc, (False, first)
            doc["used"] += n
            return doc, (True, False)

        ok, _first = self.store.update(self.key, fn)
        return ok

    def mark_exhausted(self) -> bool:
        """The upstream said "limit reached": refuse until the reset. True if this is news."""

        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
            doc = self._fresh(doc)
            news = not doc.get("exhausted")
            doc["exhausted"] = True
            return doc, news

        return self.store.update(self.key, fn)

    def status(self) -> dict[str, Any]:
        """``{"limit", "used", "left", "refused", "exhausted", "resets_at"}``."""
        doc = self.store.get(self.key)
        if doc.get("day") != self._today():
            doc = {"used": 0, "refused": 0, "exhausted": False}
        used = int(doc.get("used", 0))
        exhausted = bool(doc.get("exhausted"))
        return {
            "limit": self.limit,
            "used": used,
            "left": 0 if exhausted else max(0, self.limit - used),
            "refused": int(doc.get("refused", 0)),
            "exhausted": exhausted,
            "resets_at": next_utc_midnight(self.clock()).isoformat(),
        }

    def resets_at(self) -> datetime:
        return next_utc_midnight(self.clock())
