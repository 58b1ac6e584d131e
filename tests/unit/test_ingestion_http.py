"""The resilient client against the fake servers over real sockets (sleeps and clock injected)."""

from __future__ import annotations

import logging
import random

import pytest

from moviepulse.core.redact import register_secret
from moviepulse.ingestion.breaker import BreakerConfig
from moviepulse.ingestion.errors import (
    BudgetExhausted,
    CircuitOpen,
    UpstreamAuthError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from moviepulse.ingestion.http import ClientConfig, UpstreamClient, backoff_delay, parse_retry_after
from moviepulse.ingestion.state import MemoryStateStore
from moviepulse.upstreams import reset_faults, set_faults, start_fake_upstreams, upstream_stats

TMDB_KEY = "demo-tmdb-key"
OMDB_KEY = "demo-omdb-key"


@pytest.fixture(scope="module")
def servers():
    handle = start_fake_upstreams(fixture=True, tmdb_rate_limit=0)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def clean(servers):
    reset_faults(servers.tmdb_url)
    reset_faults(servers.omdb_url)
    set_faults(servers.omdb_url, reset_quota=True)
    upstream_stats(servers.tmdb_url, reset=True)
    upstream_stats(servers.omdb_url, reset=True)


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def client_for(servers, upstream="tmdb", **overrides):
    clock = Clock()
    sleeps: list[float] = []
    events: list[tuple[str, dict]] = []
    base = {"tmdb": dict(name="tmdb", base_url=servers.tmdb_url, api_key=TMDB_KEY, key_param="api_key"),
            "omdb": dict(name="omdb", base_url=servers.omdb_url, api_key=OMDB_KEY, key_param="apikey")}[upstream]
    config = ClientConfig(**{**base, "retries": 2, "rate_per_s": 1000, "read_timeout": 2.0,
                             "breaker": BreakerConfig(window_seconds=30, min_calls=3, failure_ratio=0.5,
                                                      open_seconds=10, half_open_probes=1), **overrides})
    client = UpstreamClient(config, MemoryStateStore(), clock=clock, sleep=sleeps.append,
                            emit=lambda kind, detail: events.append((kind, detail)), rng=random.Random(7))
    return client, clock, sleeps, events


def kinds(events):
    return [k for k, _ in events]


def test_retries_5xx_then_succeeds(servers):
    client, _, sleeps, events = client_for(servers)
    set_faults(servers.tmdb_url, fail_next=2, status_5xx_code=503)
    response = client.get("/movie/603", {"language": "en-US"})
    assert response.status == 200 and response.data["id"] == 603
    assert response.attempts == 3
    assert upstream_stats(servers.tmdb_url)["requests"] == 3
    assert kinds(events).count("retry") == 2 and kinds(events)[-1] == "request"
    assert len(sleeps) == 2 and 0.125 <= sleeps[0] <= 0.25 and 0.25 <= sleeps[1] <= 0.5  # equal jitter
    assert client.counters()["retries"] == 2 and client.counters()["attempts"] == 3


def test_gives_up_after_retries_and_reports_unavailable(servers):
    client, _, _, events = client_for(servers, retries=1)
    set_faults(servers.tmdb_url, status_5xx_rate=1.0, status_5xx_code=500)
    with pytest.raises(UpstreamUnavailable) as err:
        client.get("/movie/603")
    assert err.value.retryable and err.value.status == 500
    assert upstream_stats(servers.tmdb_url)["requests"] == 2


def test_retry_after_is_honoured_and_final_429_raises(servers):
    client, _, sleeps, events = client_for(servers)
    set_faults(servers.tmdb_url, rate_limit=1, rate_burst=1)
    client.get("/configuration")
    with pytest.raises(UpstreamRateLimited):
        client.get("/configuration")
    assert sleeps == [1.0, 1.0]  # Retry-After: 1 (the fake clock never moves, so every try is refused)
    assert kinds(events).count("rate_limited") == 3  # two retries + the final answer
    assert client.counters()["rate_limited"] == 3
    assert client.breaker.state == "closed"  # throttling is not an outage


def test_missing_retry_after_falls_back_to_backoff(servers):
    client, _, sleeps, _ = client_for(servers)
    set_faults(servers.tmdb_url, rate_limit=1, rate_burst=1, retry_after=False)
    client.get("/configuration")
    with pytest.raises(UpstreamRateLimited):
        client.get("/configuration")
    assert len(sleeps) == 2 and all(s < 1.0 for s in sleeps)


def test_breaker_opens_fails_fast_without_io_and_recovers(servers):
    client, clock, _, events = client_for(servers, retries=0)
    set_faults(servers.tmdb_url, status_5xx_rate=1.0)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            client.get("/movie/603")
    assert client.breaker.state == "open"
    sent = upstream_stats(servers.tmdb_url)["requests"]
    for _ in range(5):
        with pytest.raises(CircuitOpen):
            client.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["requests"] == sent  # no I/O while open
    reset_faults(servers.tmdb_url)
    clock.t += 10.5
    assert client.get("/movie/603").status == 200  # the half-open probe
    assert client.breaker.state == "closed"
    changes = [(d["from"], d["to"]) for k, d in events if k == "breaker_state"]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_retries_stop_when_another_process_opens_the_breaker(servers):
    client, _, _, events = client_for(servers, retries=3)
    set_faults(servers.tmdb_url, status_5xx_rate=1.0)

    def other_worker_opens(kind, detail):
        events.append((kind, detail))
        if kind == "retry" and detail["attempt"] == 1:
            client.breaker.store.update("breaker:tmdb", lambda d: ({**d, "state": "open", "opened_at": client.clock()}, None))

    client._emit = other_worker_opens
    with pytest.raises(UpstreamUnavailable):
        client.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["requests"] == 1  # the 3 retries were not sent
    assert [d["stopped"] for k, d in events if k == "request"] == ["breaker_open"]


def test_a_half_open_probe_is_a_single_attempt(servers):
    client, clock, _, _ = client_for(servers, retries=3)
    set_faults(servers.tmdb_url, status_5xx_rate=1.0)
    for _ in range(3):
        client.breaker.record(client.breaker.before_call(), False)
    clock.t += 10.5
    with pytest.raises(UpstreamUnavailable):
        client.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["requests"] == 1
    assert client.breaker.state == "open"


def test_retry_budget_caps_retries_across_calls(servers):
    client, _, _, _ = client_for(servers, retries=2, retry_budget_per_min=3,
                                 breaker=BreakerConfig(min_calls=100))
    set_faults(servers.tmdb_url, status_5xx_rate=1.0)
    for _ in range(4):
        with pytest.raises(UpstreamUnavailable):
            client.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["requests"] == 4 + 3  # 4 first tries + the 3-retry budget


def test_not_found_and_auth_errors_are_not_retried(servers):
    client, _, _, _ = client_for(servers)
    with pytest.raises(UpstreamNotFound):
        client.get("/movie/1")
    bad, _, _, _ = client_for(servers, api_key="wrong-key-123")
    with pytest.raises(UpstreamAuthError):
        bad.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["requests"] == 2
    assert client.breaker.state == "closed"


def test_malformed_and_truncated_bodies_are_outage_symptoms(servers):
    client, _, _, _ = client_for(servers)
    set_faults(servers.tmdb_url, malformed=True)
    with pytest.raises(UpstreamUnavailable, match="malformed"):
        client.get("/movie/603")
    set_faults(servers.tmdb_url, reset=True, truncate=True)
    with pytest.raises(UpstreamUnavailable):
        client.get("/movie/603")
    assert client.breaker.snapshot()["window_failures"] == 2


def test_connection_reset_and_read_timeout_are_retried(servers):
    client, _, _, _ = client_for(servers, retries=1, read_timeout=0.2)
    set_faults(servers.tmdb_url, reset_connection=True)
    with pytest.raises(UpstreamUnavailable):
        client.get("/movie/603")
    assert upstream_stats(servers.tmdb_url)["reset"] == 2
    set_faults(servers.tmdb_url, reset=True, timeout=True, hang_seconds=1.0)
    with pytest.raises(UpstreamUnavailable):
        client.get("/movie/603")
    reset_faults(servers.tmdb_url)  # releases the hung handlers
    assert upstream_stats(servers.tmdb_url)["hung"] == 2


def test_etag_round_trip_gives_not_modified(servers):
    client, _, _, _ = client_for(servers)
    first = client.get("/movie/603", {"language": "en-US"})
    again = client.get("/movie/603", {"language": "en-US"}, etag=first.etag)
    assert again.not_modified and again.status == 304 and again.data is None


def test_omdb_budget_refuses_without_io_and_quota_answer_exhausts_it(servers):
    client, _, _, events = client_for(servers, "omdb", daily_budget=2)
    client.get("/", {"i": "tt0133093"})
    client.get("/", {"i": "tt0211915"})
    with pytest.raises(BudgetExhausted):
        client.get("/", {"i": "tt0133093"})
    assert upstream_stats(servers.omdb_url)["requests"] == 2
    assert kinds(events).count("budget_exhausted") == 1
    status = client.budget.status()
    assert status["used"] == 2 and status["left"] == 0 and status["resets_at"].endswith("T00:00:00")

    server_side, _, _, events2 = client_for(servers, "omdb", daily_budget=1000)
    set_faults(servers.omdb_url, daily_quota=1, reset_quota=True)
    server_side.get("/", {"i": "tt0133093"})
    with pytest.raises(BudgetExhausted):
        server_side.get("/", {"i": "tt0133093"})  # 401 "Request limit reached!"
    assert server_side.budget.status()["exhausted"] is True
    with pytest.raises(BudgetExhausted):
        server_side.get("/", {"i": "tt0133093"})
    assert upstream_stats(servers.omdb_url)["requests"] == 4  # the last call never left the process
    assert server_side.breaker.state == "closed"


def test_keys_never_reach_logs_or_exceptions(servers, caplog):
    register_secret(TMDB_KEY)
    client, _, _, events = client_for(servers, retries=1)
    caplog.set_level(logging.DEBUG)
    set_faults(servers.tmdb_url, reset_connection=True)
    with pytest.raises(UpstreamUnavailable) as err:
        client.get("/movie/603")
    assert TMDB_KEY not in str(err.value) and TMDB_KEY not in repr(err.value.args)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    set_faults(servers.tmdb_url, reset=True, fail_next=1)
    client.get("/movie/603")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/3/movie/603" in text  # urllib3 did log the request lines …
    assert TMDB_KEY not in text  # … without the key
    assert TMDB_KEY not in repr(events)


def test_bearer_token_is_sent_as_header(servers):
    token = "demo-tmdb-read-access-token-0123456789abcdef"
    client, _, _, _ = client_for(servers, api_key=token, bearer=True)
    assert client.get("/movie/603").status == 200


def test_backoff_and_retry_after_parsing():
    rng = random.Random(1)
    for n, (lo, hi) in {1: (0.125, 0.25), 2: (0.25, 0.5), 3: (0.5, 1.0), 6: (2.0, 4.0), 9: (2.0, 4.0)}.items():
        delays = [backoff_delay(n, 0.25, 4.0, rng) for _ in range(50)]
        assert all(lo <= d <= hi for d in delays), n
    assert parse_retry_after("3", 0, 10) == 3.0
    assert parse_retry_after("120", 0, 10) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", 1445412480.0, 100) == pytest.approx(5.0)
    assert parse_retry_after("soon", 0, 10) is None and parse_retry_after(None, 0, 10) is None
