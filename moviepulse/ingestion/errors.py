"""Errors raised by upstream clients and sources. Messages never contain API keys."""

from __future__ import annotations


class UpstreamError(Exception):
    """A call to an upstream did not produce data. ``retryable``: try again later (task retry)."""

    retryable = False
    reason = "error"

    def __init__(self, upstream: str, message: str, status: int | None = None) -> None:
        from moviepulse.core.redact import redact

        super().__init__(redact(f"{upstream}: {message}"))
        self.upstream = upstream
        self.status = status


class UpstreamUnavailable(UpstreamError):
    """5xx, timeout, connection reset, truncated or malformed body: an outage symptom."""

    retryable = True
    reason = "unavailable"


class UpstreamRateLimited(UpstreamError):
    """Still 429 after the retries (or the client-side limiter would wait too long)."""

    retryable = True
    reason = "rate_limited"

    def __init__(self, upstream: str, message: str, retry_after: float | None = None, status: int | None = 429) -> None:
        super().__init__(upstream, message, status)
        self.retry_after = retry_after


class UpstreamNotFound(UpstreamError):
    reason = "not_found"


class UpstreamAuthError(UpstreamError):
    """401 for a bad or missing key: a configuration problem, never retried."""

    reason = "auth"


class CircuitOpen(UpstreamError):
    """The breaker refused the call without I/O."""

    retryable = True
    reason = "circuit_open"

    def __init__(self, upstream: str, retry_after: float) -> None:
        super().__init__(upstream, f"circuit open; next probe in {retry_after:.1f}s")
        self.retry_after = retry_after


class BudgetExhausted(UpstreamError):
    """The daily request budget of the key is used up until ``resets_at`` (naive UTC)."""

    retryable = False
    reason = "budget_exhausted"

    def __init__(self, upstream: str, resets_at: object) -> None:
        super().__init__(upstream, f"daily request budget exhausted until {resets_at}")
        self.resets_at = resets_at
