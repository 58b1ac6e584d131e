"""The HTTP layer every source uses: one ``requests`` session per upstream, guarded.

A logical ``get`` goes: circuit breaker (fail fast, no I/O, when open) → daily budget (if any) →
client-side rate limiter (shared GCRA; waits for its slot) → ``requests`` with a urllib3 ``Retry``
(429 and 5xx and connect/read errors, GET/HEAD only, exponential backoff with jitter and a cap,
``Retry-After`` honoured up to a cap) → classification of the final answer.

Each retry attempt also passes the limiter, the daily budget and a per-upstream *retry budget*
(at most ``retry_budget_per_min`` retries a minute across all processes) and stops early when
another process opened the breaker, so an outage never becomes a retry storm.

Signals go to ``emit(kind, detail)``: ``request``, ``retry``, ``rate_limited``, ``breaker_state``,
``budget_exhausted``. Counters per upstream and UTC day live in the shared store for the health
view. Keys travel as query parameters or a bearer header and are never logged or raised: every
message passes :func:`moviepulse.core.redact.redact` and urllib3's loggers are filtered.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from moviepulse.core.redact import redact
from moviepulse.ingestion.breaker import BreakerConfig, CircuitBreaker
from moviepulse.ingestion.errors import (
    BudgetExhausted,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from moviepulse.ingestion.limits import DailyBudget, RateLimitedError, RateLimiter, WindowBudget
from moviepulse.ingestion.state import StateStore, incr_fields

log = logging.getLogger("moviepulse.ingestion.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
QUOTA_MESSAGES = ("request limit reached",)


class _RedactFilter(logging.Filter):
    """Scrub keys from urllib3's debug lines (they include the request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact(record.getMessage())
            record.args = None
        except Exception:  # noqa: BLE001 - never break logging
            pass
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.response"):
    logging.getLogger(_name).addFilter(_RedactFilter())


@dataclass(frozen=True)
class ClientConfig:
    """Everything an :class:`UpstreamClient` needs; built from settings by ``services``."""

    name: str
    base_url: str
    api_key: str | None = None
    key_param: str = "api_key"  # query parameter carrying the key
    bearer: bool = False  # send the key as ``Authorization: Bearer`` instead
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    retries: int = 2
    backoff_base: float = 0.25
    backoff_max: float = 4.0
    retry_after_max: float = 10.0
    rate_per_s: float = 35.0
    burst: int | None = None
    max_limiter_wait: float = 30.0
    retry_budget_per_min: int = 60
    daily_budget: int | None = None
    pool_size: int = 8
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    user_agent: str = "MoviePulse/ingestion"


@dataclass
class UpstreamResponse:
    status: int
    data: Any
    headers: dict[str, str]
    attempts: int
    elapsed: float
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass
class _CallContext:
    attempts: int = 1
    retries: int = 0
    rate_limited: int = 0
    stopped: str | None = None


class _HookedRetry(Retry):
    """urllib3 ``Retry`` that reports each retry to its client and sleeps through it."""

    client: UpstreamClient | None = None

    def new(self, **kw: Any) -> _HookedRetry:
        retry = super().new(**kw)
        retry.client = self.client
        return retry

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> _HookedRetry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.client is not None:
            reason = self.client._before_retry(new, response, error)
            if reason is not None:
                raise MaxRetryError(_pool, redact(url or ""), ResponseError(f"retry stopped: {reason}"))
        return new

    def sleep(self, response: Any = None) -> None:
        if self.client is not None:
            self.client._sleep_before_retry(self, response)
        else:  # pragma: no cover - not used without a client
            super().sleep(response)


def parse_retry_after(value: str | None, now: float, cap: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return min(cap, float(value))
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return min(cap, max(0.0, email.utils.mktime_tz(parsed) - now))


def backoff_delay(retry_number: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above ``cap``.

    retry 1 → [base/2, base], retry 2 → [base, 2·base], … capped at ``cap``.
    """
    ceiling = min(cap, base * (2 ** max(0, retry_number - 1)))
    return ceiling / 2 + rng.random() * ceiling / 2


class UpstreamClient:
    """``client.get(path, params)`` → :class:`UpstreamResponse` or an :class:`UpstreamError`."""

    def __init__(self, config: ClientConfig, store: StateStore, *,
                 emit: Callable[[str, dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, session: requests.Session | None = None) -> None:
        self.config = config
        self.name = config.name
        self.store = store
        self.clock = clock
        self._sleep = sleep
        self.rng = rng or random.Random()
        self._emit = emit
        self._local = threading.local()
        self.breaker = CircuitBreaker(config.name, store, config.breaker, clock=clock,
                                      on_transition=self._on_transition)
        self.limiter = RateLimiter(config.name, store, config.rate_per_s, config.burst, clock=clock,
                                   max_wait=config.max_limiter_wait)
        self.retry_budget = WindowBudget(f"{config.name}:retries", store, config.retry_budget_per_min, 60.0,
                                         clock=clock)
        self.budget = (DailyBudget(config.name, store, config.daily_budget, clock=clock)
                       if config.daily_budget else None)
        self.session = session or self._make_session()

    # -- setup --------------------------------------------------------------------------------
    def _make_session(self) -> requests.Session:
        cfg = self.config
        retry = _HookedRetry(
            total=cfg.retries, connect=cfg.retries, read=cfg.retries, status=cfg.retries, other=0, redirect=2,
            allowed_methods=frozenset({"GET", "HEAD"}), status_forcelist=RETRY_STATUSES,
            backoff_factor=cfg.backoff_base, backoff_max=cfg.backoff_max, respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.client = self
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=cfg.pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": cfg.user_agent})
        return session

    def close(self) -> None:
        self.session.close()

    # -- signals ------------------------------------------------------------------------------
    def emit(self, kind: str, **detail: Any) -> None:
        if self._emit is None:
            return
        try:
            self._emit(kind, detail)
        except Exception:  # noqa: BLE001 - instrumentation never breaks a call
            log.exception("upstream event handler failed")

    def _on_transition(self, before: str, after: str, detail: dict[str, Any]) -> None:
        log.warning("circuit %s: %s -> %s (%s)", self.name, before, after, detail.get("reason"))
        self.emit("breaker_state", **{"from": before, "to": after, **detail})

    def _stats_key(self) -> str:
        return f"stats:{self.name}:{datetime.fromtimestamp(self.clock(), UTC).date().isoformat()}"

    def _count(self, **amounts: int) -> None:
        amounts = {k: v for k, v in amounts.items() if v}
        if amounts:
            try:
                incr_fields(self.store, self._stats_key(), amounts)
            except Exception:  # noqa: BLE001
                log.exception("could not record upstream counters")

    # -- retry hooks (called from urllib3 inside ``session.get``) -------------------------------
    def _before_retry(self, retry: Retry, response: Any, error: Exception | None) -> str | None:
        ctx: _CallContext | None = getattr(self._local, "ctx", None)
        status = getattr(response, "status", None)
        if ctx is not None:
            ctx.retries += 1
            ctx.attempts += 1
            if status == 429:
                ctx.rate_limited += 1
        number = len(retry.history)
        if status == 429:
            retry_after = response.headers.get("Retry-After") if response is not None else None
            self.emit("rate_limited", status=429, retry_after=retry_after, attempt=number)
        self.emit("retry", attempt=number, status=status, error=type(error).__name__ if error else None)
        reason = None
        if self.breaker.snapshot()["state"] != "closed":  # opened elsewhere, or this call is a probe
            reason = "breaker_open"
        else:
            if not self.retry_budget.take():
                reason = "retry_budget"
        if reason is None and self.budget is not None and not self.budget.consume():
            reason = "daily_budget"
        if reason is not None and ctx is not None:
            ctx.stopped = reason
            ctx.retries -= 1
            ctx.attempts -= 1
        return reason

    def _sleep_before_retry(self, retry: Retry, response: Any) -> None:
        delay = None
        if response is not None:
            delay = parse_retry_after(response.headers.get("Retry-After"), self.clock(), self.config.retry_after_max)
        if delay is None:
            delay = backoff_delay(len(retry.history), self.config.backoff_base, self.config.backoff_max, self.rng)
        try:
            slot = self.limiter.reserve()
        except RateLimitedError as exc:
            slot = exc.wait
        wait = max(delay, slot)
        if wait > 0:
            self._sleep(wait)

    # -- the call -----------------------------------------------------------------------------
    def url_for(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    def get(self, path: str, params: dict[str, Any] | None = None, *, etag: str | None = None,
            last_modified: str | None = None) -> UpstreamResponse:
        ticket = self.breaker.before_call()
        if self.budget is not None and not self.budget.consume():
            self.breaker.release(ticket)
            self._count(budget_refused=1)
            raise self._budget_error(first_news=False)
        try:
            wait = self.limiter.reserve()
        except RateLimitedError:
            self.breaker.release(ticket)
            self._count(limiter_refused=1)
            raise
        if wait > 0:
            self._sleep(wait)

        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        headers: dict[str, str] = {}
        if self.config.api_key:
            if self.config.bearer:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
            else:
                query[self.config.key_param] = self.config.api_key
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        ctx = _CallContext()
        self._local.ctx = ctx
        started = time.perf_counter()
        try:
            resp = self.session.get(self.url_for(path), params=query, headers=headers,
                                    timeout=(self.config.connect_timeout, self.config.read_timeout))
            body = resp.content
        except requests.RequestException as exc:
            elapsed = time.perf_counter() - started
            self._finish(path, None, ctx, elapsed, error=type(exc).__name__, ticket=ticket, ok=False)
            raise UpstreamUnavailable(self.name, f"{type(exc).__name__} on {path}: {_short(exc)}") from None
        finally:
            self._local.ctx = None
        elapsed = time.perf_counter() - started
        status = resp.status_code
        if status == 429:
            ctx.rate_limited += 1
        header_map = {k.lower(): v for k, v in resp.headers.items()}
        try:
            return self._classify(path, ticket, ctx, status, body, header_map, elapsed)
        finally:
            resp.close()

    def _classify(self, path: str, ticket: Any, ctx: _CallContext, status: int, body: bytes,
                  headers: dict[str, str], elapsed: float) -> UpstreamResponse:
        if status == 304:
            self._finish(path, status, ctx, elapsed, not_modified=1, ticket=ticket, ok=True)
            return UpstreamResponse(status, None, headers, ctx.attempts, elapsed, not_modified=True)
        if 200 <= status < 300:
            try:
                import json

                data = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._finish(path, status, ctx, elapsed, error="malformed", ticket=ticket, ok=False)
                raise UpstreamUnavailable(self.name, f"malformed JSON from {path} ({len(body)} bytes)", status) from None
            self._finish(path, status, ctx, elapsed, ticket=ticket, ok=True)
            return UpstreamResponse(status, data, headers, ctx.attempts, elapsed)
        text = body[:300].decode("utf-8", "replace")
        if status == 401 and any(m in text.lower() for m in QUOTA_MESSAGES) and self.budget is not None:
            news = self.budget.mark_exhausted()
            self._finish(path, status, ctx, elapsed, error="quota", ticket=ticket, ok=None)
            raise self._budget_error(first_news=news)
        if status in (401, 403):
            self._finish(path, status, ctx, elapsed, error="auth", ticket=ticket, ok=None)
            raise UpstreamAuthError(self.name, f"HTTP {status} on {path}: {_message(text)}", status)
        if status == 404:
            self._finish(path, status, ctx, elapsed, ticket=ticket, ok=True)
            raise UpstreamNotFound(self.name, f"HTTP 404 on {path}: {_message(text)}", status)
        if status == 429:
            self._finish(path, status, ctx, elapsed, error="rate_limited", ticket=ticket, ok=None)
            retry_after = parse_retry_after(headers.get("retry-after"), self.clock(), 3600)
            self.emit("rate_limited", status=429, retry_after=retry_after, attempt=ctx.attempts, final=True)
            raise UpstreamRateLimited(self.name, f"HTTP 429 on {path} after {ctx.attempts} attempts", retry_after)
        if status >= 500:
            self._finish(path, status, ctx, elapsed, error="server", ticket=ticket, ok=False)
            raise UpstreamUnavailable(self.name, f"HTTP {status} on {path} after {ctx.attempts} attempts", status)
        self._finish(path, status, ctx, elapsed, error="client", ticket=ticket, ok=True)
        raise UpstreamError(self.name, f"HTTP {status} on {path}: {_message(text)}", status)

    def _finish(self, path: str, status: int | None, ctx: _CallContext, elapsed: float, *,
                error: str | None = None, not_modified: int = 0, ticket: Any = None, ok: bool | None = None) -> None:
        """Settle the breaker (``ok`` None = no verdict) and count the call: one shared-state write."""
        counters = {"requests": 1, "attempts": ctx.attempts, "retries": ctx.retries, "rate_limited": ctx.rate_limited,
                    "errors": 1 if error and error != "client" else 0, "not_modified": not_modified}
        try:
            if ok is None:
                self.breaker.release(ticket, counters)
            else:
                self.breaker.record(ticket, ok, counters)
        except Exception:  # noqa: BLE001 - state trouble must not hide the call's own outcome
            log.exception("could not record the outcome of a %s call", self.name)
        self.emit("request", path=_path_only(path), status=status, attempts=ctx.attempts,
                  elapsed_ms=round(elapsed * 1000, 1), error=error, stopped=ctx.stopped)

    def _budget_error(self, first_news: bool) -> BudgetExhausted:
        assert self.budget is not None
        status = self.budget.status()
        if first_news or status["refused"] <= 1:
            self.emit("budget_exhausted", limit=status["limit"], used=status["used"], resets_at=status["resets_at"])
        return BudgetExhausted(self.name, status["resets_at"])

    # -- health ---------------------------------------------------------------------------------
    def counters(self, day: str | None = None) -> dict[str, int]:
        """Today's (or ``day``'s) calls: requests, attempts, retries, rate_limited, errors, refusals …"""
        day = day or datetime.fromtimestamp(self.clock(), UTC).date().isoformat()
        out = {k: int(v) for k, v in self.breaker.counters(day).items()}
        for key, value in self.store.get(f"stats:{self.name}:{day}").items():
            out[key] = out.get(key, 0) + int(value)
        return out

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"upstream": self.name, "breaker": self.breaker.snapshot(), "today": self.counters()}
        if self.budget is not None:
            out["budget"] = self.budget.status()
        return out


def _short(exc: Exception) -> str:
    return redact(str(exc))[:200]


def _message(text: str) -> str:
    return redact(text.strip().replace("\n", " "))[:160]


def _path_only(path: str) -> str:
    return redact(path.split("?", 1)[0])
