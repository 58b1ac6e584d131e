"""Circuit breaker state machine with an injected clock (resilience4j-style scripted sequences)."""

from __future__ import annotations

import pytest

from moviepulse.ingestion.breaker import CLOSED, HALF_OPEN, OPEN, BreakerConfig, CircuitBreaker
from moviepulse.ingestion.errors import CircuitOpen
from moviepulse.ingestion.state import MemoryStateStore, SqlStateStore


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make(store=None, clock=None, **cfg):
    config = BreakerConfig(**{"window_seconds": 60, "min_calls": 5, "failure_ratio": 0.6, "open_seconds": 5,
                              "half_open_probes": 2, **cfg})
    transitions = []
    breaker = CircuitBreaker("tmdb", store or MemoryStateStore(), config, clock=clock or Clock(),
                             on_transition=lambda a, b, d: transitions.append((a, b)))
    return breaker, transitions


def call(breaker, ok):
    ticket = breaker.before_call()
    breaker.record(ticket, ok)


def test_opens_exactly_at_threshold_then_fails_fast():
    clock = Clock()
    breaker, transitions = make(clock=clock)
    for ok in (False, False, False, True):
        call(breaker, ok)
        assert breaker.state == CLOSED  # 3/4 failed but fewer than min_calls
    call(breaker, False)  # 4/5 = 80% >= 60% at the fifth call
    assert breaker.state == OPEN
    assert transitions == [(CLOSED, OPEN)]
    with pytest.raises(CircuitOpen) as err:
        breaker.before_call()
    assert err.value.retry_after == pytest.approx(5.0)
    clock.advance(3)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    assert breaker.snapshot()["rejected"] == 2


def test_ratio_below_threshold_stays_closed():
    breaker, transitions = make()
    for ok in (False, True, False, True, True, False, True):  # 3/7 = 43%
        call(breaker, ok)
    assert breaker.state == CLOSED and transitions == []


def test_sliding_window_forgets_old_failures():
    clock = Clock()
    breaker, _ = make(clock=clock, window_seconds=10)
    for _ in range(4):
        call(breaker, False)
    clock.advance(11)  # those four fall out of the window
    call(breaker, False)
    assert breaker.state == CLOSED
    assert breaker.snapshot()["window_calls"] == 1


def test_half_open_permits_exactly_n_probes_and_closes_after_successes():
    clock = Clock()
    breaker, transitions = make(clock=clock)
    for _ in range(5):
        call(breaker, False)
    clock.advance(5.01)
    t1 = breaker.before_call()
    t2 = breaker.before_call()
    assert t1.probe and t2.probe and breaker.state == HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a third concurrent probe is refused
    breaker.record(t1, True)
    assert breaker.state == HALF_OPEN
    breaker.record(t2, True)
    assert breaker.state == CLOSED
    assert transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert breaker.snapshot()["window_calls"] == 0  # metrics reset on closing


def test_failed_probe_reopens_for_a_full_period():
    clock = Clock()
    breaker, transitions = make(clock=clock, half_open_probes=1)
    for _ in range(5):
        call(breaker, False)
    clock.advance(6)
    ticket = breaker.before_call()
    breaker.record(ticket, False)
    assert breaker.state == OPEN
    assert transitions[-1] == (HALF_OPEN, OPEN)
    clock.advance(4.9)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    assert breaker.snapshot()["opens"] == 2


def test_stuck_probe_is_forgotten_and_release_returns_a_slot():
    clock = Clock()
    breaker, _ = make(clock=clock, half_open_probes=1)
    for _ in range(5):
        call(breaker, False)
    clock.advance(6)
    stuck = breaker.before_call()  # this probe's process "dies"
    assert stuck.probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(5.5)  # longer than open_seconds: the probe is presumed lost
    again = breaker.before_call()
    assert again.probe
    breaker.release(again)
    assert breaker.before_call().probe


def test_late_outcome_of_a_call_admitted_before_opening_is_ignored():
    clock = Clock()
    breaker, _ = make(clock=clock)
    early = breaker.before_call()
    for _ in range(5):
        call(breaker, False)
    breaker.record(early, True)  # admitted while closed, answered after the breaker opened
    assert breaker.state == OPEN


def test_state_is_shared_through_the_database_and_new_instances_reset_nothing(app_ctx):
    from moviepulse.extensions import db

    store = SqlStateStore(db.engine)
    clock = Clock()
    worker_a, _ = make(store=store, clock=clock)
    for _ in range(5):
        call(worker_a, False)
    worker_b, _ = make(store=store, clock=clock)  # another process builds its own breaker
    assert worker_b.state == OPEN
    with pytest.raises(CircuitOpen):
        worker_b.before_call()
    clock.advance(5.5)
    probe = worker_b.before_call()  # B moves A's OPEN to half-open (pybreaker #24 cannot bite)
    assert probe.probe and worker_a.state == HALF_OPEN
    worker_b.record(probe, True)
    worker_b.record(worker_b.before_call(), True)
    assert worker_a.state == CLOSED
    other, _ = make(store=store, clock=clock)
    other.name = "omdb"
    other.key = "breaker:omdb"
    assert other.state == CLOSED  # namespaced per upstream (pybreaker #88)


def test_closed_cache_is_refreshed_by_outcomes():
    store = MemoryStateStore()
    clock = Clock()
    cached, _ = make(store=store, clock=clock, closed_cache_seconds=60)
    other, _ = make(store=store, clock=clock)
    call(cached, True)  # reads "closed" and remembers it
    for _ in range(4):
        call(other, False)  # another process opens the shared breaker (4 of 5 calls failed)
    assert other.state == OPEN
    ticket = cached.before_call()  # trusted the cached reading: admitted without a read
    cached.record(ticket, False)  # its outcome returns the shared state: open
    with pytest.raises(CircuitOpen):
        cached.before_call()


def test_failures_in_a_row_open_a_window_full_of_successes():
    """After a healthy spell the ratio would need as many failures as there were successes; N in a
    row open the breaker at once (the staged-outage benchmark found the gap)."""
    clock = Clock()
    breaker, transitions = make(clock=clock, consecutive_failures=5)
    for _ in range(200):
        call(breaker, True)
        clock.advance(0.1)
    for _ in range(4):
        call(breaker, False)
    call(breaker, True)  # a success breaks the streak
    for _ in range(4):
        call(breaker, False)
    assert breaker.state == CLOSED and transitions == []
    call(breaker, False)  # the fifth in a row
    assert breaker.state == OPEN and transitions == [(CLOSED, OPEN)]
    off, _ = make(clock=Clock(), consecutive_failures=0)
    for _ in range(50):
        call(off, True)
    for _ in range(20):
        call(off, False)  # 20/70 = 29% < 60%, and the streak rule is off
    assert off.state == CLOSED
