"""The dashboard's short-lived result cache (``moviepulse.core.resultcache`` behind
``moviepulse.dash_app.data``): hits and misses, expiry, 0 = off, keys that include every argument,
values identical to uncached ones, single flight, signed values, the Redis store shared by
processes, and the "as of" status line."""

from __future__ import annotations

import contextvars
import re
import threading
import time
from datetime import date, datetime, timedelta

import pytest

from moviepulse.analytics.audiences import Audience
from moviepulse.core import resultcache
from moviepulse.core.resultcache import MemoryStore, RedisStore, ResultCache, Uncacheable, key_part
from moviepulse.dash_app import data
from moviepulse.dash_app.widget import with_age

D1, D2 = date(2026, 11, 20), date(2026, 11, 26)


class Counter:
    """A query stand-in that counts its calls and returns a fresh object each time."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
        plain = [a for a in args if isinstance(a, str | int | date)]  # not the session
        return {"args": plain, "kwargs": kwargs, "rows": [{"n": self.calls}]}


def test_hit_then_miss_after_expiry():
    cache = ResultCache(1.5, MemoryStore(), secret="s")
    f = Counter()
    first = cache.call("q", (D1, D2, "global"), lambda: f(D1, D2, "global"))
    again = cache.call("q", (D1, D2, "global"), lambda: f(D1, D2, "global"))
    assert f.calls == 1 and again == first
    assert cache.stats["hits"] == 1 and cache.stats["misses"] == 1
    time.sleep(1.6)
    later = cache.call("q", (D1, D2, "global"), lambda: f(D1, D2, "global"))
    assert f.calls == 2 and later["rows"] == [{"n": 2}]


def test_zero_seconds_turns_the_cache_off():
    cache = ResultCache(0, MemoryStore())
    f = Counter()
    for _ in range(3):
        cache.call("q", (D1,), lambda: f(D1))
    assert not cache.enabled and f.calls == 3 and cache.stats["misses"] == 0


def test_the_key_includes_every_argument():
    cache = ResultCache(60, MemoryStore())
    f = Counter()
    calls = [
        ("q", ((D1, D2, "global"), {})),
        ("q", ((D1, D2, "device:mobile"), {})),  # audience
        ("q", ((D1 - timedelta(days=1), D2, "global"), {})),  # start
        ("q", ((D1, D2 - timedelta(days=1), "global"), {})),  # end
        ("q", ((D1, D2, "global"), {"limit": 3})),  # keyword
        ("q", ((D1, D2, "global"), {"limit": 4})),
        ("other", ((D1, D2, "global"), {})),  # function name
        ("q", ((datetime(2026, 11, 20), D2, "global"), {})),  # a datetime is not a date
        ("q", ([D1, D2, "global"], {})),  # a list is not a tuple
    ]
    results = [cache.call(name, key_args, lambda: f()) for name, key_args in calls]
    assert f.calls == len(calls)
    assert len({r["rows"][0]["n"] for r in results}) == len(calls)
    assert len({cache.key(name, key_args) for name, key_args in calls}) == len(calls)
    # the same arguments again are all hits
    assert [cache.call(name, key_args, lambda: f()) for name, key_args in calls] == results
    assert f.calls == len(calls)


def test_key_parts_are_stable_and_refuse_unknown_types():
    assert key_part({"b": 1, "a": [D1, None]}) == key_part({"a": [D1, None], "b": 1})
    assert key_part(Audience("device:mobile", "Mobile", {"device_type": "mobile"})) != key_part(
        Audience("device:mobile", "Mobile", {"device_type": "tablet"}))
    with pytest.raises(Uncacheable):
        key_part(object())
    with pytest.raises(Uncacheable):  # a custom predicate has no stable key
        key_part(Audience("custom", "Custom", {}, where=lambda c: c.variant == "A"))
    cache = ResultCache(60, MemoryStore())
    f = Counter()
    cache.call("q", (object(),), lambda: f())
    cache.call("q", (object(),), lambda: f())
    assert f.calls == 2 and cache.stats["uncacheable"] == 2


def test_readers_get_their_own_copy():
    cache = ResultCache(60, MemoryStore())
    first = cache.call("q", (), lambda: {"rows": [1, 2]})
    first["rows"].append(3)
    assert cache.call("q", (), lambda: {"rows": []}) == {"rows": [1, 2]}


def test_concurrent_misses_compute_once():
    cache = ResultCache(60, MemoryStore())
    calls = []
    gate = threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return {"value": 42}

    out: list = []
    threads = [threading.Thread(target=lambda: out.append(cache.call("slow", (D1,), slow))) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and out == [{"value": 42}] * 6
    assert cache.stats["coalesced"] == 5


def test_a_failing_computation_is_not_cached():
    cache = ResultCache(60, MemoryStore())
    with pytest.raises(ZeroDivisionError):
        cache.call("q", (), lambda: 1 / 0)
    assert cache.call("q", (), lambda: 7) == 7


def test_fresh_recomputes_and_stores():
    cache = ResultCache(60, MemoryStore())
    f = Counter()
    cache.call("q", (), lambda: f())
    with resultcache.fresh():
        refreshed = cache.call("q", (), lambda: f())
    assert f.calls == 2
    assert cache.call("q", (), lambda: f()) == refreshed and f.calls == 2


def test_values_with_a_bad_signature_are_misses():
    store = MemoryStore()
    ResultCache(60, store, secret="ours").call("q", (), lambda: "ours")
    theirs = ResultCache(60, store, secret="someone else")
    assert theirs.call("q", (), lambda: "recomputed") == "recomputed"
    assert theirs.stats["errors"] == 1


def test_a_value_built_from_cached_parts_is_as_old_as_they_are():
    cache = ResultCache(60, MemoryStore())
    part = cache.call("part", (), lambda: 1)
    time.sleep(0.05)
    with resultcache.track() as seen:
        whole = cache.call("whole", (), lambda: cache.call("part", (), lambda: 99) + 1)
    assert (part, whole) == (1, 2)
    assert seen.hits == 1 and seen.oldest is not None and time.time() - seen.oldest >= 0.05
    with resultcache.track() as again:
        cache.call("whole", (), lambda: 0)
    assert again.oldest == seen.oldest  # stored with the age of its oldest part


def test_lower_layers_see_the_cache_only_inside_a_cached_call():
    cache = ResultCache(60, MemoryStore())
    assert resultcache.active() is None
    assert cache.call("q", (), resultcache.active) is cache
    assert ResultCache(0).call("q", (), resultcache.active) is None


def test_a_failing_store_only_costs_the_caching():
    class Broken:
        def get(self, key):
            raise ConnectionError("down")

        def set(self, key, blob, ttl):
            raise ConnectionError("down")

    cache = ResultCache(60, Broken())
    f = Counter()
    assert cache.call("q", (), lambda: f())["rows"] == [{"n": 1}]
    assert cache.call("q", (), lambda: f())["rows"] == [{"n": 2}]
    assert cache.stats["errors"] >= 2


def test_status_line_says_when_numbers_were_computed():
    now = datetime(2026, 11, 27, 12, 0, 5).timestamp()
    assert with_age("", None, now) == ""
    assert with_age("3 drifted day(s)", now - 0.2, now) == "3 drifted day(s)"
    computed = datetime(2026, 11, 27, 12, 0, 1)
    epoch = (computed - datetime(1970, 1, 1)).total_seconds()
    assert with_age("", epoch, epoch + 4) == "as of 12:00:01 UTC"
    assert with_age("3 drifted day(s)", epoch, epoch + 4) == "3 drifted day(s) · as of 12:00:01 UTC"


# -- the Redis store: shared by processes --------------------------------------------------
@pytest.fixture
def redis_url():
    from tests.support.services import REDIS_URL, port_open

    host_port = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    if not port_open(host, int(port or 6379)):
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    from tests.support.services import fresh_redis_url

    return fresh_redis_url()


def test_redis_store_is_shared_and_expires(redis_url):
    a = ResultCache(1.5, RedisStore(redis_url), secret="k", namespace="t:")
    b = ResultCache(1.5, RedisStore(redis_url), secret="k", namespace="t:")  # another process
    f = Counter()
    first = a.call("q", (D1, "global"), lambda: f())
    assert b.call("q", (D1, "global"), lambda: f()) == first and f.calls == 1
    assert b.call("q", (D1, "device:mobile"), lambda: f()) != first and f.calls == 2
    time.sleep(1.6)
    b.call("q", (D1, "global"), lambda: f())
    assert f.calls == 3


def test_redis_lock_makes_other_processes_wait_for_one_computation(redis_url):
    caches = [ResultCache(30, RedisStore(redis_url), secret="k", namespace="lock:") for _ in range(3)]
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.4)
        return "v"

    out: list = []
    threads = [threading.Thread(target=lambda c=c: out.append(c.call("q", (), slow))) for c in caches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert out == ["v"] * 3 and len(calls) == 1
    assert not caches[0].store.locked(caches[0].key("q", ()))


def test_unreachable_redis_computes():
    from tests.support.stack import free_port

    cache = ResultCache(60, RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2))
    f = Counter()
    cache.call("q", (), lambda: f())
    cache.call("q", (), lambda: f())
    assert f.calls == 2


# -- the dashboard's data layer ---------------------------------------------------------------
def test_backend_and_ttl_from_settings(make_app):
    assert make_app().config["DASHBOARD_CACHE_SECONDS"] == 0  # testing: fresh numbers
    cfg = {"DASHBOARD_CACHE_SECONDS": 5, "HUEY_BACKEND": "redis", "REDIS_URL": "redis://127.0.0.1:1/0",
           "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "postgresql://db/a"}
    assert isinstance(data.make_cache(cfg).store, RedisStore)
    assert isinstance(data.make_cache({**cfg, "HUEY_BACKEND": "sqlite"}).store, MemoryStore)
    assert isinstance(data.make_cache({**cfg, "DASHBOARD_CACHE_BACKEND": "memory"}).store, MemoryStore)
    assert data.make_cache(cfg).namespace != data.make_cache({**cfg, "SQLALCHEMY_DATABASE_URI": "postgresql://db/b"}).namespace
    with pytest.raises(ValueError):
        data.make_cache({**cfg, "DASHBOARD_CACHE_BACKEND": "disk"})


@pytest.fixture
def cached_app(make_app):
    return make_app(DASHBOARD_CACHE_SECONDS=30, DASHBOARD_CACHE_BACKEND="memory")


def test_data_calls_are_cached_per_function_and_arguments(cached_app, monkeypatch):
    from moviepulse.dash_app.filters import Filters

    f = Counter()
    monkeypatch.setattr(data, "resolve", lambda module, *names: f)
    with cached_app.app_context():
        week = Filters(D1, D2, "global")
        a = data.query("m", "q", week)
        assert data.query("m", "q", week) == a and f.calls == 1
        assert data.query("m", "q", Filters(D1, D2, "device:mobile")) != a
        assert data.query("m", "q", Filters(D1 - timedelta(days=23), D2, "global")) != a
        assert data.query("m", "q", week, limit=3) != a
        assert f.calls == 4
        assert data.call("m", "q", data.session(), D1) == data.call("m", "q", data.session(), D1)
        assert f.calls == 5
        with data.fresh():
            data.query("m", "q", week)
        assert f.calls == 6
    with cached_app.test_request_context():  # another request's session is the same key
        data.query("m", "q", week)
        assert f.calls == 6


def test_widget_numbers_are_identical_cached_and_not(cached_app, make_app):
    """Every built-in widget's callback answers the same through the cache (a miss, then a hit) as
    without it, on a seeded data set (raw events, hourly and daily rollups)."""
    from moviepulse.analytics.rollups import rollup_hours, rollup_range
    from moviepulse.analytics.seed import generate_events, insert_events
    from moviepulse.dash_app.pages import widgets_for
    from moviepulse.dash_app.testing import post_widget, response_parts
    from moviepulse.extensions import db
    from moviepulse.testing import admin_client

    today = date.today()
    uri = cached_app.config["SQLALCHEMY_DATABASE_URI"]
    plain = make_app(SQLALCHEMY_DATABASE_URI=uri)
    with cached_app.app_context():
        events, devices = generate_events(today - timedelta(days=5), 6, devices=80, impressions_per_day=200, seed=9)
        insert_events(db.session, events, devices)
        rollup_range(db.session, today - timedelta(days=5), today - timedelta(days=3))
        rollup_hours(db.session, today, datetime.combine(today, datetime.min.time()) + timedelta(hours=9))
        pulse = cached_app.extensions["moviepulse"]
        widgets = {w.slug: inst for page in ("overview", "ctr", "experiments", "queue")
                   for w, inst in widgets_for(pulse, page)}
    cached_client, plain_client = admin_client(cached_app), admin_client(plain)

    def parts(client, slug, inst, filters):
        out = response_parts(post_widget(client, slug, inst, filters))
        if isinstance(out.get("status.children"), str):  # the age of cached numbers is not a number
            out["status.children"] = re.sub(r"(^| · )as of \d\d:\d\d:\d\d UTC$", "", out["status.children"])
        return out

    for days, audience in ((7, "global"), (7, "device:mobile"), (30, "variant:B")):
        filters = {"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat(),
                   "audience": audience}
        for slug, inst in widgets.items():
            want = parts(plain_client, slug, inst, filters)
            assert parts(cached_client, slug, inst, filters) == want, (slug, filters)
            assert parts(cached_client, slug, inst, filters) == want, (slug, filters)
    stats = cached_app.extensions[data.CACHE_KEY].stats
    assert stats["hits"] > 0 and stats["misses"] > 0


def test_widget_status_shows_the_age_of_cached_numbers(cached_app):
    from moviepulse.dash_app.testing import post_widget, response_parts
    from moviepulse.testing import admin_client

    client = admin_client(cached_app)
    filters = {"start": D1.isoformat(), "end": D2.isoformat(), "audience": "global"}
    first = response_parts(post_widget(client, "ctr-bars", "ctr", filters))
    assert "as of" not in first["status.children"]
    time.sleep(1.1)
    again = response_parts(post_widget(client, "ctr-bars", "ctr", filters))
    assert again["status.children"].startswith("as of ") and again["status.children"].endswith(" UTC")
    assert again["graph.figure"] == first["graph.figure"]


class FakeTime:
    """The clock of ``resultcache`` in these tests: it moves only when a test (or a computation that
    stands for a slow one) advances it, so no test depends on how fast this machine is."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    monotonic = perf_counter = time

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Deferred:
    """A runner that keeps background work until the test runs it (``run()``), each function in an
    empty context, as in a new thread."""

    def __init__(self) -> None:
        self.pending: list = []

    def __call__(self, fn) -> None:
        self.pending.append(fn)

    def run(self) -> int:
        done = 0
        while self.pending:
            contextvars.Context().run(self.pending.pop(0))
            done += 1
        return done


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(resultcache, "time", fake)
    return fake


def test_costly_values_are_refreshed_ahead_of_expiry(clock):
    """A hit on a costly value in the last part of its life returns the valid value at once and
    recomputes it in the background: no reader waits for the slow computation, and no value is
    older than the ttl."""
    runner = Deferred()
    cache = ResultCache(0.8, MemoryStore(), runner=runner)
    calls = []

    def slow():
        calls.append(1)
        clock.sleep(0.15)  # a computation that takes 0.15 s
        return len(calls)

    assert cache.call("slow", (), slow, background=True) == 1
    clock.sleep(0.5)  # due: age >= ttl - 1.2 * cost
    assert cache.call("slow", (), slow, background=True) == 1  # the valid value, without computing
    assert len(calls) == 1 and len(runner.pending) == 1  # the refresh waits in the background
    assert cache.call("slow", (), slow, background=True) == 1  # one refresh per key at a time
    assert len(runner.pending) == 1
    assert runner.run() == 1 and len(calls) == 2 and cache.stats["refreshed"] == 1
    assert cache.call("slow", (), slow, background=True) == 2  # the refreshed value, no computation
    assert len(calls) == 2
    # cheap values, and callers that cannot run in the background, are not refreshed ahead
    cheap = ResultCache(0.4, MemoryStore(), runner=runner)
    cheap.call("cheap", (), lambda: 1, background=True)
    clock.sleep(0.3)
    assert cheap.call("cheap", (), lambda: 2, background=True) == 1
    clock.sleep(0.5)  # the refreshed slow value is due again, but this caller cannot run in the background
    cache.call("slow", (), slow)
    assert runner.pending == [] and cheap.stats["refreshed"] == 0


def test_a_refresh_recomputes_the_costly_parts_it_reads(clock):
    """A cheap value built from a costly cached part is as costly to refresh: the refresh recomputes
    the part too (it is as old as the whole), so the refreshed whole is fresh."""
    runner = Deferred()
    cache = ResultCache(0.8, MemoryStore(), runner=runner)
    parts = []

    def part():
        parts.append(1)
        clock.sleep(0.15)
        return len(parts)

    def whole():
        return 10 * cache.call("part", (), part, background=True)

    assert cache.call("whole", (), whole, background=True) == 10
    clock.sleep(0.5)
    assert cache.call("whole", (), whole, background=True) == 10  # due: refreshed in the background
    runner.run()
    with resultcache.track() as seen:
        assert cache.call("whole", (), whole, background=True) == 20
    assert len(parts) == 2 and clock.now - seen.oldest < 0.5


def test_refresh_ahead_only_for_values_costly_but_not_too_costly():
    cache = ResultCache(6)
    assert not cache.due(0.0, 0.05, now=5.9)  # cheap: recomputed on a miss
    assert not cache.due(0.0, 2.5, now=5.9)  # over a third of the ttl: readers wait, no repeated work
    assert not cache.due(0.0, 1.0, now=4.7) and cache.due(0.0, 1.0, now=4.8)  # ttl - 1.2 × cost
