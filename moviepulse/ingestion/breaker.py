"""A small circuit breaker whose state lives in a shared :class:`StateStore`.

States: ``closed`` → ``open`` when, over a sliding time window of ``window_seconds``, at least
``min_calls`` calls were recorded and the failure ratio reached ``failure_ratio``; ``open`` fails
fast (no network I/O) for ``open_seconds``; then ``half_open`` lets ``half_open_probes`` probe
calls through; all probes succeeding closes it, any probe failing reopens it. A probe that never
reports back (its process died) is forgotten after ``open_seconds``.

The clock is injected (``clock() -> seconds``) so tests script exact sequences without sleeping.
Why not pybreaker: its Redis storage overwrites ``opened_at`` so another worker's OPEN never moves
to half-open (#24), a new breaker resets shared counters (#26), and breakers share state without
namespaces (#88). Here every transition is one atomic read-modify-write of ``breaker:<name>``,
creating a breaker writes nothing, and the key carries the upstream name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moviepulse.ingestion.errors import CircuitOpen
from moviepulse.ingestion.state import StateStore

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    window_seconds: float = 30.0
    min_calls: int = 5
    failure_ratio: float = 0.5
    open_seconds: float = 30.0
    half_open_probes: int = 1
    #: Also open after this many failures in a row, whatever the window holds (0 = off): a window
    #: full of successes would otherwise need as many failures before it reaches the ratio.
    consecutive_failures: int = 5
    #: Trust a "closed" reading for this long (monotonic seconds) before reading the store again.
    #: Every recorded outcome refreshes the reading, so an opening elsewhere is seen within this time.
    closed_cache_seconds: float = 0.0


#: The breaker refused the call without any I/O; ``retry_after`` seconds until a probe.
CircuitOpenError = CircuitOpen


@dataclass(frozen=True)
class Ticket:
    """Handed out by :meth:`CircuitBreaker.before_call`; give it back to :meth:`record`."""

    probe: bool
    state: str


Transition = tuple[str, str, dict[str, Any]]  # (from, to, detail)


class CircuitBreaker:
    """``before_call()`` → do the call → ``record(ticket, ok)``. Transitions go to ``on_transition``."""

    def __init__(self, name: str, store: StateStore, config: BreakerConfig | None = None,
                 clock: Callable[[], float] = time.time,
                 on_transition: Callable[[str, str, dict[str, Any]], None] | None = None) -> None:
        self.name = name
        self.store = store
        self.config = config or BreakerConfig()
        self.clock = clock
        self.on_transition = on_transition
        self.key = f"breaker:{name}"
        self._closed_until = 0.0

    # -- reading ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The state as other processes see it (``state``, ``opened_at``, window counts …)."""
        doc = self.store.get(self.key)
        now = self.clock()
        window = [w for w in doc.get("window", []) if w[0] > now - self.config.window_seconds]
        state = doc.get("state", CLOSED)
        out = {
            "state": state,
            "opened_at": doc.get("opened_at"),
            "changed_at": doc.get("changed_at"),
            "opens": doc.get("opens", 0),
            "window_calls": len(window),
            "window_failures": sum(1 for w in window if not w[1]),
            "rejected": doc.get("rejected", 0),
        }
        if state == OPEN:
            out["retry_after"] = max(0.0, doc.get("opened_at", now) + self.config.open_seconds - now)
        return out

    @property
    def state(self) -> str:
        return self.snapshot()["state"]

    # -- the protocol ---------------------------------------------------------------------
    def before_call(self) -> Ticket:
        """Permit a call (maybe as a half-open probe) or raise :class:`CircuitOpenError`."""
        if self.config.closed_cache_seconds and time.monotonic() < self._closed_until:
            return Ticket(probe=False, state=CLOSED)
        doc = self.store.get(self.key)
        if doc.get("state", CLOSED) == CLOSED:  # fast path: a read, no write
            self._remember(CLOSED)
            return Ticket(probe=False, state=CLOSED)
        self._remember(doc.get("state", CLOSED))
        ticket, transition, retry_after = self.store.update(self.key, self._admit)
        self._notify(transition)
        if ticket is None:
            raise CircuitOpenError(self.name, retry_after)
        return ticket

    def record(self, ticket: Ticket, ok: bool, counters: dict[str, int] | None = None) -> None:
        """Report a call's outcome; may open or close the circuit. ``counters`` are added to today's
        call counters in the same atomic write (one shared-state round trip per call)."""
        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[Transition | None, str]]:
            doc, transition = self._record(self._count(doc, counters), ticket, ok)
            return doc, (transition, doc.get("state", CLOSED))

        transition, state = self.store.update(self.key, fn)
        self._remember(state)
        self._notify(transition)

    def release(self, ticket: Ticket | None, counters: dict[str, int] | None = None) -> None:
        """No verdict on the call (never reached the network, or 401/429): give a probe slot back."""
        if (ticket is None or not ticket.probe) and not counters:
            return

        def fn(doc: dict[str, Any]) -> tuple[dict[str, Any], None]:
            doc = self._count(doc, counters)
            if ticket is not None and ticket.probe and doc.get("state") == HALF_OPEN:
                doc["probes"] = max(0, doc.get("probes", 0) - 1)
            return doc, None

        self.store.update(self.key, fn)

    def _remember(self, state: str) -> None:
        self._closed_until = time.monotonic() + self.config.closed_cache_seconds if state == CLOSED else 0.0

    def counters(self, day: str) -> dict[str, int]:
        stats = self.store.get(self.key).get("stats") or {}
        return {k: v for k, v in stats.items() if k != "day"} if stats.get("day") == day else {}

    def _count(self, doc: dict[str, Any], counters: dict[str, int] | None) -> dict[str, Any]:
        if counters:
            day = datetime.fromtimestamp(self.clock(), UTC).date().isoformat()
            stats = doc.get("stats") or {}
            if stats.get("day") != day:
                stats = {"day": day}
            for name, amount in counters.items():
                if amount:
                    stats[name] = stats.get(name, 0) + amount
            doc["stats"] = stats
        return doc

    def reset(self) -> None:
        """Force closed (an operator action)."""
        transition = self.store.update(self.key, lambda doc: self._move(doc, CLOSED, self.clock(), "manual reset"))
        self._remember(CLOSED)
        self._notify(transition)

    # -- state functions (pure, run inside the store's atomic update) ---------------------
    def _admit(self, doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[Ticket | None, Transition | None, float]]:
        now = self.clock()
        cfg = self.config
        state = doc.get("state", CLOSED)
        transition = None
        if state == CLOSED:
            return doc, (Ticket(False, CLOSED), None, 0.0)
        if state == OPEN:
            wait = doc.get("opened_at", now) + cfg.open_seconds - now
            if wait > 0:
                doc["rejected"] = doc.get("rejected", 0) + 1
                return doc, (None, None, wait)
            doc, transition = self._move(doc, HALF_OPEN, now, "open time elapsed")
            state = HALF_OPEN
        # half-open: a stuck probe (its process died) is forgotten after open_seconds
        if doc.get("probes", 0) and now - doc.get("changed_at", now) > cfg.open_seconds:
            doc["probes"] = 0
            doc["changed_at"] = now
        if doc.get("probes", 0) < cfg.half_open_probes:
            doc["probes"] = doc.get("probes", 0) + 1
            return doc, (Ticket(True, HALF_OPEN), transition, 0.0)
        doc["rejected"] = doc.get("rejected", 0) + 1
        return doc, (None, transition, cfg.open_seconds)

    def _record(self, doc: dict[str, Any], ticket: Ticket, ok: bool) -> tuple[dict[str, Any], Transition | None]:
        now = self.clock()
        cfg = self.config
        state = doc.get("state", CLOSED)
        if state == CLOSED and not ticket.probe:
            window = [w for w in doc.get("window", []) if w[0] > now - cfg.window_seconds]
            window.append([now, bool(ok)])
            doc["window"] = window
            failures = sum(1 for w in window if not w[1])
            streak = 0  # the failures in a row at the window's end
            for _at, call_ok in reversed(window):
                if call_ok:
                    break
                streak += 1
            if not ok and len(window) >= cfg.min_calls and failures / len(window) >= cfg.failure_ratio:
                return self._move(doc, OPEN, now, f"{failures}/{len(window)} calls failed in {cfg.window_seconds:g}s",
                                  calls=len(window), failures=failures)
            if cfg.consecutive_failures and streak >= cfg.consecutive_failures:
                return self._move(doc, OPEN, now, f"{streak} calls failed in a row", calls=len(window),
                                  failures=failures)
            return doc, None
        if state == HALF_OPEN and ticket.probe:
            doc["probes"] = max(0, doc.get("probes", 0) - 1)
            if not ok:
                return self._move(doc, OPEN, now, "probe failed")
            doc["probe_successes"] = doc.get("probe_successes", 0) + 1
            if doc["probe_successes"] >= cfg.half_open_probes:
                return self._move(doc, CLOSED, now, "probes succeeded")
            return doc, None
        return doc, None  # a call admitted under another state: its outcome is stale

    @staticmethod
    def _move(doc: dict[str, Any], to: str, now: float, reason: str, **extra: Any) -> tuple[dict[str, Any], Transition | None]:
        before = doc.get("state", CLOSED)
        if before == to:
            return doc, None
        doc["state"] = to
        doc["changed_at"] = now
        doc["window"] = []
        doc["probes"] = 0
        doc["probe_successes"] = 0
        if to == OPEN:
            doc["opened_at"] = now
            doc["opens"] = doc.get("opens", 0) + 1
        return doc, (before, to, {"reason": reason, **extra})

    def _notify(self, transition: Transition | None) -> None:
        if transition is None or self.on_transition is None:
            return
        before, after, detail = transition
        self.on_transition(before, after, detail)
