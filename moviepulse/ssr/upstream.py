"""Upstream signals (from the ingestion HTTP clients) turned into per-minute counts and breaker states.

``upstream_event(pulse, upstream, kind, detail)`` lands here. Counts go through the buffer (one
row per upstream and minute); a breaker transition is buffered too and flushed at once (by the
flusher thread when there is one), because the "breaker open" alert must see it from another
process soon.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from moviepulse.models.base import utcnow
from moviepulse.ssr.runtime import runtime

BREAKER_STATES = ("closed", "open", "half_open")
_COUNTER_OF_KIND = {"request": "requests", "retry": "retries", "rate_limited": "rate_limited",
                    "budget_exhausted": "budget_exhausted"}


def breaker_state_of(detail: dict[str, Any]) -> str | None:
    """``detail["state"]`` (or the client's ``detail["to"]``), normalised; None when unknown."""
    raw = detail.get("state") or detail.get("to")
    if raw is None:
        return None
    value = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
    return value if value in BREAKER_STATES else None


def record_upstream_event(app: Flask, upstream: str, kind: str, detail: dict[str, Any] | None) -> None:
    rt = runtime(app)
    detail = detail or {}
    minute = int(time.time() // 60)
    counter = _COUNTER_OF_KIND.get(kind)
    if counter is not None:
        rt.buffer.record_upstream(upstream, minute, counter)
        rt.after_record()
        return
    if kind == "breaker_state":
        state = breaker_state_of(detail)
        if state is None:
            return
        if state == "open":
            rt.buffer.record_upstream(upstream, minute, "breaker_opened")
        rt.buffer.record_breaker(upstream, state, utcnow())
        rt.request_flush()  # not inline in a request or task thread when a flusher thread exists
