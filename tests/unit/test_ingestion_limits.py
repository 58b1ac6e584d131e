"""Rate limiter (GCRA reservations), daily budget, and the state stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from moviepulse.ingestion.limits import DailyBudget, RateLimitedError, RateLimiter
from moviepulse.ingestion.state import MemoryStateStore, RedisStateStore, SqlStateStore


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_limiter_allows_a_burst_then_spaces_calls_at_the_rate():
    clock = Clock(100.0)
    limiter = RateLimiter("tmdb", MemoryStateStore(), rate=10, burst=3, clock=clock)
    waits = [limiter.reserve() for _ in range(6)]
    # slots at t = 100.0, 100.1, 100.2 ... ; the first 3 are free (burst), then 0.1 s apart
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3])
    clock.t += 1.0  # a quiet second refills the burst
    assert limiter.reserve() == pytest.approx(0)


def test_limiter_throughput_matches_rate_over_many_calls():
    clock = Clock(0.0)
    limiter = RateLimiter("x", MemoryStateStore(), rate=40, burst=1, clock=clock, max_wait=1000)
    last = 0.0
    for _ in range(400):
        last = limiter.reserve()
    assert last == pytest.approx(399 / 40)  # 400 calls need 399 intervals of 25 ms


def test_two_limiters_on_one_store_share_the_rate():
    store = MemoryStateStore()
    clock = Clock(0.0)
    a = RateLimiter("tmdb", store, rate=5, burst=1, clock=clock)
    b = RateLimiter("tmdb", store, rate=5, burst=1, clock=clock)
    assert [a.reserve(), b.reserve(), a.reserve()] == pytest.approx([0, 0.2, 0.4])


def test_limiter_refuses_a_wait_over_max_and_takes_no_slot():
    clock = Clock(0.0)
    limiter = RateLimiter("x", MemoryStateStore(), rate=1, burst=1, clock=clock, max_wait=1.5)
    limiter.reserve()
    limiter.reserve()  # wait 1
    with pytest.raises(RateLimitedError):
        limiter.reserve()  # would wait 2
    clock.t = 2.0
    assert limiter.reserve() == pytest.approx(0)


def test_budget_counts_refuses_and_resets_at_utc_midnight():
    t = datetime(2026, 11, 27, 23, 59, tzinfo=UTC).timestamp()
    clock = Clock(t)
    budget = DailyBudget("omdb", MemoryStateStore(), limit=3, clock=clock)
    assert [budget.consume() for _ in range(4)] == [True, True, True, False]
    status = budget.status()
    assert status["used"] == 3 and status["left"] == 0 and status["exhausted"]
    assert status["resets_at"] == "2026-11-28T00:00:00"
    clock.t += 120  # past midnight UTC
    assert budget.status()["left"] == 3
    assert budget.consume()


def test_budget_marked_exhausted_by_the_upstream_refuses_until_reset():
    clock = Clock(datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp())
    budget = DailyBudget("omdb", MemoryStateStore(), limit=1000, clock=clock)
    budget.consume()
    assert budget.mark_exhausted() is True
    assert budget.mark_exhausted() is False
    assert budget.consume() is False
    assert budget.status()["left"] == 0


def test_sql_store_is_atomic_across_sessions(app_ctx):
    from moviepulse.extensions import db

    store = SqlStateStore(db.engine)
    clock = Clock(datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp())
    one = DailyBudget("omdb", store, limit=5, clock=clock)
    two = DailyBudget("omdb", SqlStateStore(db.engine), limit=5, clock=clock)
    results = [b.consume() for b in (one, two) * 4]
    assert results.count(True) == 5
    assert two.status()["used"] == 5
    store.delete("budget:omdb")
    assert store.get("budget:omdb") == {}


def test_redis_store_when_available():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        client.ping()
    except Exception:  # noqa: BLE001
        pytest.skip("no Redis on 127.0.0.1:6379")
    store = RedisStateStore(client, prefix=f"mp-test-{uuid.uuid4().hex}:")
    clock = Clock(0.0)
    limiter = RateLimiter("tmdb", store, rate=10, burst=1, clock=clock)
    assert [limiter.reserve(), limiter.reserve()] == pytest.approx([0, 0.1])
    assert store.update("k", lambda d: ({**d, "n": d.get("n", 0) + 1}, d.get("n", 0) + 1)) == 1
    from moviepulse.ingestion.breaker import BreakerConfig, CircuitBreaker

    a = CircuitBreaker("tmdb", store, BreakerConfig(min_calls=2, open_seconds=5), clock=clock)
    for _ in range(2):
        a.record(a.before_call(), False)
    b = CircuitBreaker("tmdb", RedisStateStore(client, prefix=store.prefix), BreakerConfig(min_calls=2), clock=clock)
    assert b.state == "open"  # another process sees it through Redis
    for key in ("k", "limiter:tmdb", "breaker:tmdb"):
        store.delete(key)


def test_window_budget_allows_at_most_limit_in_any_window():
    """A retry budget of 60 a minute: never more than 60 in any 60 s, shared by every process
    (a token bucket of burst 60 refilling 1/s would let 119 through in the first minute)."""
    from moviepulse.ingestion.limits import WindowBudget

    clock = Clock(1_000.0)
    store = MemoryStateStore()
    one, two = (WindowBudget("tmdb:retries", store, 60, 60.0, clock=clock) for _ in range(2))
    taken: list[float] = []
    for i in range(6000):  # ten minutes, each process asking every 0.1 s
        if (one if i % 2 else two).take():
            taken.append(clock.t)
        clock.t += 0.1
    assert max(sum(1 for t in taken if s <= t < s + 60) for s in taken) == 60
    assert 60 <= sum(1 for t in taken if t < 1_060.0) <= 60  # the first minute: exactly the budget
    assert len(taken) >= 9 * 60  # and the budget is used again every minute
