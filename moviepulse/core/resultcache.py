"""Short-lived results shared by concurrent readers (the dashboard's query results).

``ResultCache.call(name, key_args, compute)`` returns ``compute()``'s value, computed at most once
per ``ttl`` seconds for the same ``name`` and arguments: ten admins looking at the same page and
filters read one computation instead of ten. ``ttl`` = 0 turns the cache off (every call computes;
the ``testing`` configuration does that, so tests always read fresh numbers).

* **Keys** are the function's name plus every argument (dates, strings, numbers, tuples, dicts,
  audiences); an argument of any other type makes the call uncached rather than risk two different
  calls sharing a key. A namespace (the database the app reads) keeps apps sharing a Redis apart.
* **Stores**: in-process (a dict with expiry times) or Redis (shared by every gunicorn worker and
  host of a deployment; ``SET … PX``). Values are pickles — each read unpickles its own copy, so
  a caller mutating a result cannot change what others read — signed with an HMAC keyed by
  ``SECRET_KEY`` (like the Huey messages): a value written to Redis by anyone without the key is a
  miss, never unpickled. A store that fails (Redis down) only costs the caching: the value is computed.
* **Single flight**: concurrent misses of one key in one process wait for the first caller's
  computation instead of starting their own; with Redis, a short lock key (``SET NX PX``) makes the
  other processes wait for it too (polling for the value; they compute themselves if the lock goes
  away without one).
* **Age**: every value remembers when it was computed. A computation that itself read cached values
  (``active()`` gives lower layers the cache while a cached call computes) is as old as the oldest of
  them, and expires ``ttl`` after that, so nesting never serves anything older than ``ttl``.
  ``track()`` collects the age of what a block of code read (the widget status line shows it).
* ``fresh()``: inside it, calls recompute (and store the new value) instead of reading the cache —
  after an action that changes what a widget shows (the queue widget's retry button).
* **Refresh ahead**: with a ``runner`` (the dashboard gives one that runs a function in a thread
  with the app context), a hit on a costly value (its computation took ``REFRESH_MIN_COST``
  seconds or more, and at most a third of ``ttl``) that will expire before it could be recomputed
  (age ≥ ``ttl`` − 1.2 × its cost) recomputes it in the background, once per process (and,
  with Redis, once per deployment while its lock is held). Readers keep getting the valid value
  meanwhile, so no request waits for the slow computation, and no value served is ever older than
  ``ttl``. A value built from costly cached parts counts their cost, and its refresh recomputes the
  parts that are due too (else it would be as old as they are).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
SIGNING_SALT = b"moviepulse.resultcache.v1"
#: How long a caller waits for another thread's or process's computation of the same key before
#: computing itself.
WAIT_SECONDS = 30.0
#: How often a process waiting for another process's computation polls the store.
POLL_SECONDS = 0.05
#: Only values that took at least this long to compute are refreshed ahead of their expiry.
REFRESH_MIN_COST = 0.1


class Uncacheable(TypeError):
    """An argument has no stable key representation: the call is computed, not cached."""


def key_part(value: Any) -> str:
    """A stable, type-tagged text for one argument (the same in every process)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return repr(value)
    if isinstance(value, datetime):
        return f"dt({value.isoformat()})"
    if isinstance(value, date):
        return f"d({value.isoformat()})"
    if isinstance(value, list | tuple):
        tag = "L" if isinstance(value, list) else "T"
        return f"{tag}(" + ",".join(key_part(v) for v in value) + ")"
    if isinstance(value, set | frozenset):
        return "S(" + ",".join(sorted(key_part(v) for v in value)) + ")"
    if isinstance(value, dict):
        return "D(" + ",".join(f"{key_part(k)}:{key_part(v)}"
                               for k, v in sorted(value.items(), key=lambda kv: key_part(kv[0]))) + ")"
    slug, filters, where = (getattr(value, "slug", None), getattr(value, "filters", None),
                            getattr(value, "where", "missing"))
    if isinstance(slug, str) and filters is not None and where is None:  # an Audience without a custom predicate
        return f"A({slug!r},{key_part(dict(filters))})"
    raise Uncacheable(f"no cache key for a {type(value).__name__}")


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, blob: bytes, ttl: float) -> None: ...


class MemoryStore:
    """This process only: a dict of ``key -> (expires_at, blob)`` (expired entries pruned as it grows)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max(16, int(max_entries))
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            with self._lock:
                if self._data.get(key) is entry:
                    del self._data[key]
            return None
        return entry[1]

    def set(self, key: str, blob: bytes, ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self.max_entries:
                for k in [k for k, (exp, _) in self._data.items() if exp <= now]:
                    del self._data[k]
                while len(self._data) >= self.max_entries:  # still full: drop the oldest insertions
                    del self._data[next(iter(self._data))]
            self._data[key] = (now + ttl, blob)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisStore:
    """Shared by every process using the same Redis: ``SET key blob PX ttl``."""

    def __init__(self, url_or_client: Any, *, timeout: float = 1.0) -> None:
        if isinstance(url_or_client, str):
            import redis

            self.redis = redis.Redis.from_url(url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout)
        else:
            self.redis = url_or_client

    def get(self, key: str) -> bytes | None:
        return self.redis.get(key)

    def set(self, key: str, blob: bytes, ttl: float) -> None:
        self.redis.set(key, blob, px=max(1, int(ttl * 1000)))

    def acquire(self, key: str, token: str, ttl: float) -> bool:
        """Take the computation lock of ``key`` (expires by itself after ``ttl`` seconds)."""
        return bool(self.redis.set(key + ":lock", token, nx=True, px=max(1, int(ttl * 1000))))

    def locked(self, key: str) -> bool:
        return bool(self.redis.exists(key + ":lock"))

    def release(self, key: str, token: str) -> None:
        """Drop the lock if it is still ours (compare and delete in one step)."""
        self.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
                        "return 0", 1, key + ":lock", token)


@dataclass
class Frame:
    """What one block read: the computation time of the oldest value (epoch seconds), how many values
    were cache hits, and what the hits directly inside it had cost to compute."""

    oldest: float | None = None
    hits: int = 0
    calls: int = 0
    hit_cost: float = 0.0

    def saw(self, computed_at: float, hit: bool) -> None:
        self.calls += 1
        self.hits += hit
        if self.oldest is None or computed_at < self.oldest:
            self.oldest = computed_at


@dataclass
class _Flight:
    owner: int
    done: threading.Event = field(default_factory=threading.Event)
    blob: bytes | None = None


_FRAMES: ContextVar[tuple[Frame, ...]] = ContextVar("moviepulse_resultcache_frames", default=())
_ACTIVE: ContextVar[ResultCache | None] = ContextVar("moviepulse_resultcache_active", default=None)
_FRESH: ContextVar[bool] = ContextVar("moviepulse_resultcache_fresh", default=False)
#: True in a background refresh: values due for a refresh are recomputed there, not read.
_REFRESHING: ContextVar[bool] = ContextVar("moviepulse_resultcache_refreshing", default=False)
#: Store locks this context holds: ``(key, token)``.
_LOCKS: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("moviepulse_resultcache_locks", default=())


@contextmanager
def track() -> Iterator[Frame]:
    """Collect the age of every cached value read inside the block (also through nested calls)."""
    frame = Frame()
    token = _FRAMES.set((*_FRAMES.get(), frame))
    try:
        yield frame
    finally:
        _FRAMES.reset(token)


@contextmanager
def fresh() -> Iterator[None]:
    """Inside the block, cached calls recompute and store their value instead of reading it."""
    token = _FRESH.set(True)
    try:
        yield
    finally:
        _FRESH.reset(token)


def active() -> ResultCache | None:
    """The cache of the cached call being computed (``None`` elsewhere): lower layers memoize
    shared parts of a computation with it, and only inside such a call."""
    return _ACTIVE.get()


def _record(computed_at: float, hit: bool, cost: float = 0.0) -> None:
    frames = _FRAMES.get()
    for frame in frames:
        frame.saw(computed_at, hit)
    if hit and frames:
        frames[-1].hit_cost += cost


class ResultCache:
    """See the module docstring. ``secret`` signs the stored pickles; ``namespace`` prefixes keys;
    ``runner(fn)`` runs ``fn`` in the background (refresh ahead; none: no refresh ahead)."""

    def __init__(self, ttl: float, store: Store | None = None, *, secret: str | bytes = b"",
                 namespace: str = "moviepulse:results:",
                 runner: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.ttl = max(0.0, float(ttl or 0))
        self.store: Store = store if store is not None else MemoryStore()
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        self._key = hashlib.sha256(SIGNING_SALT + b"|" + key).digest()
        self.namespace = namespace
        self.runner = runner
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self._last_error_log = 0.0
        self.stats = {"hits": 0, "misses": 0, "coalesced": 0, "uncacheable": 0, "errors": 0, "refreshed": 0}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def key(self, name: str, key_args: Any) -> str:
        """The store key of ``name`` called with ``key_args`` (raises :class:`Uncacheable`)."""
        digest = hashlib.sha256(key_part(key_args).encode()).hexdigest()[:40]
        return f"{self.namespace}{name}:{digest}"

    def due(self, computed_at: float, cost: float, now: float | None = None) -> bool:
        """Whether a value computed at ``computed_at`` in ``cost`` seconds should be recomputed now
        to be ready before it expires: costly values only, and only those costing at most a third of
        ``ttl`` (refreshing a value every ``ttl - cost`` seconds repeats work; for costlier values,
        readers wait for the recomputation instead, as on a plain miss)."""
        if not REFRESH_MIN_COST <= cost <= self.ttl / 3:
            return False
        return (now if now is not None else time.time()) - computed_at >= self.ttl - 1.2 * cost

    # -- signed pickles -----------------------------------------------------------------
    def _dumps(self, computed_at: float, cost: float, value: Any) -> bytes:
        payload = pickle.dumps((computed_at, cost, value), protocol=pickle.HIGHEST_PROTOCOL)
        return hmac.new(self._key, payload, hashlib.sha256).digest() + payload

    def _loads(self, blob: bytes) -> tuple[float, float, Any] | None:
        sig, payload = blob[:32], blob[32:]
        if len(sig) < 32 or not hmac.compare_digest(sig, hmac.new(self._key, payload, hashlib.sha256).digest()):
            self._error("a cached value has a bad signature; ignored", None)
            return None
        return pickle.loads(payload)  # noqa: S301 - signed by this deployment's SECRET_KEY

    def _error(self, message: str, exc: BaseException | None) -> None:
        self.stats["errors"] += 1
        now = time.monotonic()
        if now - self._last_error_log > 60:  # a Redis outage must not flood the log
            self._last_error_log = now
            log.warning("result cache: %s%s", message, f": {type(exc).__name__}: {exc}" if exc else "")

    def _get(self, key: str) -> tuple[float, float, Any] | None:
        try:
            blob = self.store.get(key)
            return self._loads(blob) if blob else None
        except Exception as exc:  # noqa: BLE001 - a failing store only costs the caching
            self._error("read failed; computing instead", exc)
            return None

    def _set(self, key: str, blob: bytes, computed_at: float) -> None:
        remaining = computed_at + self.ttl - time.time()
        if remaining <= 0:
            return
        try:
            self.store.set(key, blob, remaining)
        except Exception as exc:  # noqa: BLE001
            self._error("write failed", exc)

    # -- the call -----------------------------------------------------------------------
    def call(self, name: str, key_args: Any, compute: Callable[[], T], *, background: bool = False) -> T:
        """``compute()``, or the value it returned for the same ``name`` and ``key_args`` less than
        ``ttl`` seconds ago. ``background``: ``compute`` may run in another thread (it uses nothing
        bound to the caller's thread), so a costly value may be refreshed ahead of its expiry."""
        if not self.enabled:
            return compute()
        try:
            key = self.key(name, key_args)
        except Uncacheable:
            self.stats["uncacheable"] += 1
            return compute()
        refresh = _FRESH.get()
        seen: float | None = None  # a valid value this background refresh recomputes (it is due)
        if not refresh:
            entry = self._get(key)
            if entry is not None:
                computed_at, cost, value = entry
                due = self.due(computed_at, cost)
                if not (due and _REFRESHING.get()):
                    self.stats["hits"] += 1
                    _record(computed_at, True, cost)
                    if due and background and self.runner is not None:
                        self._refresh_ahead(key, compute)
                    return value
                seen = computed_at
        me = threading.get_ident()
        mine: _Flight | None = None
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = mine = self._flights[key] = _Flight(owner=me)
        if mine is None and flight.owner != me and not refresh:  # another thread computes this key: wait
            if flight.done.wait(WAIT_SECONDS) and flight.blob is not None:
                entry = self._loads(flight.blob)
                if entry is not None:
                    self.stats["coalesced"] += 1
                    _record(entry[0], False)
                    return entry[2]
            # the other computation failed or took too long: compute alone
        elif mine is not None and not refresh and hasattr(self.store, "acquire"):
            entry = self._await_other_process(key, newer_than=seen)
            if entry is not None:
                self._land(key, mine, blob=self._dumps(*entry))
                self.stats["coalesced"] += 1
                _record(entry[0], False)
                return entry[2]
        return self._compute(key, compute, mine)

    def _await_other_process(self, key: str, newer_than: float | None = None) -> tuple[float, float, Any] | None:
        """Take the store's computation lock of ``key`` (``None``: compute now, holding it), or wait
        while another process holds it and return what that process stored (computed after
        ``newer_than`` when given)."""
        token = uuid.uuid4().hex
        store: Any = self.store
        deadline = time.monotonic() + WAIT_SECONDS

        def stored() -> tuple[float, float, Any] | None:
            entry = self._get(key)
            return entry if entry is not None and (newer_than is None or entry[0] > newer_than) else None

        try:
            while True:
                if store.acquire(key, token, WAIT_SECONDS):
                    _LOCKS.set((*_LOCKS.get(), (key, token)))
                    entry = stored()  # stored by a process that released the lock just now?
                    if entry is not None:
                        self._unlock(key)
                    return entry
                time.sleep(POLL_SECONDS)
                entry = stored()
                if entry is not None:
                    return entry
                if time.monotonic() > deadline:
                    return None
        except Exception as exc:  # noqa: BLE001 - no lock, no waiting: compute
            self._error("lock failed; computing", exc)
            return None

    def _unlock(self, key: str) -> None:
        held = _LOCKS.get()
        for k, token in held:
            if k == key:
                _LOCKS.set(tuple(x for x in held if x[0] != key))
                try:
                    self.store.release(key, token)  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001 - it expires by itself
                    self._error("unlock failed", exc)
                return

    def _refresh_ahead(self, key: str, compute: Callable[[], Any]) -> None:
        """Recompute ``key`` in the background unless this process (or, holding the store's lock,
        another one) already does."""
        with self._lock:
            if key in self._flights:
                return
            flight = self._flights[key] = _Flight(owner=-1)
        token = uuid.uuid4().hex
        store: Any = self.store
        try:
            if hasattr(store, "acquire") and not store.acquire(key, token, WAIT_SECONDS):
                self._land(key, flight)
                return
        except Exception as exc:  # noqa: BLE001
            self._error("lock failed; no refresh", exc)
            self._land(key, flight)
            return
        locks = ((key, token),) if hasattr(store, "acquire") else ()

        def refresh() -> None:
            _LOCKS.set(locks)
            _REFRESHING.set(True)
            try:
                self._compute(key, compute, flight)
                self.stats["refreshed"] += 1
            except Exception as exc:  # noqa: BLE001 - the value expires; the next reader computes it
                self._error("refresh failed", exc)

        try:
            self.runner(refresh)  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001
            self._error("cannot start a refresh", exc)
            _LOCKS.set((*_LOCKS.get(), *locks))
            self._unlock(key)
            self._land(key, flight)

    def _compute(self, key: str, compute: Callable[[], T], flight: _Flight | None) -> T:
        self.stats["misses"] += 1
        started = time.time()
        clock = time.perf_counter()
        inner = Frame()
        frames = _FRAMES.set((*_FRAMES.get(), inner))
        act = _ACTIVE.set(self)
        try:
            value = compute()
        except BaseException:
            self._unlock(key)
            if flight is not None:
                self._land(key, flight)
            raise
        finally:
            _ACTIVE.reset(act)
            _FRAMES.reset(frames)
        computed_at = min(started, inner.oldest) if inner.oldest is not None else started
        # what computing it from scratch costs: this computation plus the cached parts it read
        cost = time.perf_counter() - clock + inner.hit_cost
        try:
            blob = self._dumps(computed_at, cost, value)
        except Exception as exc:  # noqa: BLE001 - an unpicklable value is returned, not cached
            self._error(f"cannot store a {type(value).__name__}", exc)
            blob = None
        if blob is not None:
            self._set(key, blob, computed_at)
        self._unlock(key)
        if flight is not None:
            self._land(key, flight, blob=blob)
        _record(computed_at, False)
        return value

    def _land(self, key: str, flight: _Flight, blob: bytes | None = None) -> None:
        flight.blob = blob
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.done.set()
