"""Login throttling from ``LoginAttempt`` rows (failed logins by e-mail and by client address).

An e-mail with ``LOGIN_MAX_FAILURES_PER_EMAIL`` failures within ``LOGIN_THROTTLE_WINDOW_SECONDS``
is throttled whatever the client address (rotating IPs do not help), and so is an address with
``LOGIN_MAX_FAILURES_PER_ADDR`` failures. Unknown e-mails are counted exactly like known ones,
so the answers never reveal whether an account exists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select

from moviepulse.models.base import utcnow
from moviepulse.models.users import LoginAttempt


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _limits(config: Any) -> tuple[timedelta, int, int]:
    return (timedelta(seconds=int(config.get("LOGIN_THROTTLE_WINDOW_SECONDS", 900))),
            int(config.get("LOGIN_MAX_FAILURES_PER_EMAIL", 5)),
            int(config.get("LOGIN_MAX_FAILURES_PER_ADDR", 20)))


def is_throttled(session: Any, config: Any, email: str, remote_addr: str) -> bool:
    window, per_email, per_addr = _limits(config)
    since = utcnow() - window
    by_email = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == normalise_email(email), LoginAttempt.attempted_at >= since))
    if by_email >= per_email:
        return True
    by_addr = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote_addr == remote_addr[:64], LoginAttempt.attempted_at >= since))
    return by_addr >= per_addr


def record_failure(session: Any, email: str, remote_addr: str) -> None:
    session.add(LoginAttempt(email=normalise_email(email), remote_addr=(remote_addr or "?")[:64],
                             attempted_at=utcnow()))
    session.commit()


def clear_failures(session: Any, config: Any, email: str) -> None:
    """After a successful login: forget this e-mail's failures and prune expired rows."""
    window, _, _ = _limits(config)
    session.execute(delete(LoginAttempt).where(or_(
        LoginAttempt.email == normalise_email(email), LoginAttempt.attempted_at < utcnow() - 4 * window)))
    session.commit()
