"""Alert rules (the SSR insights card's badges): evaluated periodically, state kept with since-when.

A rule is an :class:`AlertRule` (``moviepulse.AlertRule``) with a ``slug`` and an
``evaluate(ctx)`` returning one :class:`AlertResult` per subject (a route, an upstream, or ``""``
for a global rule). :func:`evaluate_alerts` runs every registered rule and upserts
``ssr_alert_states``: ``since`` changes only when a subject's state changes. Subjects a rule no
longer reports are set back to ``ok``. A failing rule is logged and skipped.

Built-in rules: ``ssr.p95_latency``, ``ssr.error_rate``, ``ssr.score``, ``upstream.breaker_open``,
``upstream.retry_storm`` (thresholds in settings, see :mod:`moviepulse.ssr.settings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moviepulse.core.db import write_transaction
from moviepulse.models.base import utcnow
from moviepulse.models.ssr import SsrAlertState, SsrUpstreamMinute, SsrUpstreamState

log = logging.getLogger("moviepulse.ssr")
STATES = ("ok", "warning", "critical")


@dataclass(frozen=True)
class AlertResult:
    state: str  # ok | warning | critical
    subject: str = ""
    value: float | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"alert state must be one of {STATES}, got {self.state!r}")


@dataclass
class AlertContext:
    """What a rule sees: a session, 'now', the app config."""

    session: Session
    now: datetime
    config: Any
    cache: dict[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: Any = None) -> Any:
        return self.config.get(name, default)

    def route_stats(self, minutes: int) -> list[dict[str, Any]]:
        """Route stats over the last ``minutes`` (cached per evaluation)."""
        key = f"route_stats:{minutes}"
        if key not in self.cache:
            from moviepulse.ssr.queries import route_stats

            self.cache[key] = route_stats(self.session, self.now - timedelta(minutes=minutes), self.now)
        return self.cache[key]


class AlertRule:
    """Base class: set ``slug`` and ``title``, implement ``evaluate``."""

    slug: str = ""
    title: str = ""
    description: str = ""

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:  # pragma: no cover - abstract
        raise NotImplementedError


def _grade(value: float, warning: float, critical: float) -> str:
    if value > critical:
        return "critical"
    return "warning" if value > warning else "ok"


class P95LatencyRule(AlertRule):
    slug = "ssr.p95_latency"
    title = "Slow route (p95)"
    description = "p95 server time of a route over the alert window above SSR_ALERT_P95_WARNING/CRITICAL_MS."

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:
        warn, crit = float(ctx.setting("SSR_ALERT_P95_WARNING_MS", 800)), float(ctx.setting(
            "SSR_ALERT_P95_CRITICAL_MS", 2000))
        min_n = int(ctx.setting("SSR_ALERT_MIN_REQUESTS", 20))
        out = []
        for r in ctx.route_stats(int(ctx.setting("SSR_ALERT_WINDOW_MINUTES", 15))):
            if r["requests"] < min_n or r["p95"] is None:
                message = f"{r['requests']} requests: too few to judge"
                out.append(AlertResult("ok", r["route"], r["p95"], message))
                continue
            state = _grade(r["p95"], warn, crit)
            message = f"p95 {r['p95']:.0f} ms over {r['requests']} requests"
            out.append(AlertResult(state, r["route"], r["p95"], message))
        return out


class ErrorRateRule(AlertRule):
    slug = "ssr.error_rate"
    title = "Server errors"
    description = "Share of 5xx responses of a route over the alert window."

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:
        warn = float(ctx.setting("SSR_ALERT_ERROR_RATE_WARNING", 0.02))
        crit = float(ctx.setting("SSR_ALERT_ERROR_RATE_CRITICAL", 0.05))
        min_n = int(ctx.setting("SSR_ALERT_MIN_REQUESTS", 20))
        out = []
        for r in ctx.route_stats(int(ctx.setting("SSR_ALERT_WINDOW_MINUTES", 15))):
            rate = r["error_rate"] or 0.0
            state = _grade(rate, warn, crit) if r["requests"] >= min_n else "ok"
            message = f"{r['errors']} of {r['requests']} requests failed"
            out.append(AlertResult(state, r["route"], rate, message))
        return out


class ScoreRule(AlertRule):
    slug = "ssr.score"
    title = "HTML score"
    description = "Latest sampled score of a route below passing (warning) or below warning (critical)."

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:
        passing = float(ctx.setting("SSR_SCORE_PASSING", 80))
        warning = float(ctx.setting("SSR_SCORE_WARNING", 65))
        out = []
        for r in ctx.route_stats(int(ctx.setting("SSR_ALERT_SCORE_WINDOW_MINUTES", 1440))):
            score = r["score_latest"]
            if score is None:
                continue
            state = "ok" if score >= passing else ("warning" if score >= warning else "critical")
            out.append(AlertResult(state, r["route"], score, f"latest score {score}"))
        return out


class BreakerOpenRule(AlertRule):
    slug = "upstream.breaker_open"
    title = "Upstream circuit breaker"
    description = "An upstream's circuit breaker is open (critical) or half-open (warning)."

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:
        out = []
        for s in ctx.session.scalars(select(SsrUpstreamState)):
            state = {"open": "critical", "half_open": "warning"}.get(s.breaker, "ok")
            message = f"breaker {s.breaker} since {s.since:%Y-%m-%d %H:%M}"
            out.append(AlertResult(state, s.upstream, None, message))
        return out


class RetryStormRule(AlertRule):
    slug = "upstream.retry_storm"
    title = "Retry storm"
    description = "Retries of one upstream within SSR_ALERT_RETRY_WINDOW_MINUTES above the thresholds."

    def evaluate(self, ctx: AlertContext) -> list[AlertResult]:
        minutes = int(ctx.setting("SSR_ALERT_RETRY_WINDOW_MINUTES", 5))
        warn = float(ctx.setting("SSR_ALERT_RETRY_WARNING", 20))
        crit = float(ctx.setting("SSR_ALERT_RETRY_CRITICAL", 100))
        start = ctx.now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
        rows = ctx.session.execute(
            select(SsrUpstreamMinute.upstream, func.sum(SsrUpstreamMinute.retries),
                   func.sum(SsrUpstreamMinute.requests))
            .where(SsrUpstreamMinute.minute >= start, SsrUpstreamMinute.minute <= ctx.now)
            .group_by(SsrUpstreamMinute.upstream))
        out = []
        for upstream, retries, requests in rows:
            retries = int(retries or 0)
            state = "critical" if retries >= crit else ("warning" if retries >= warn else "ok")
            out.append(AlertResult(state, upstream, float(retries),
                                   f"{retries} retries, {int(requests or 0)} requests in {minutes} min"))
        return out


BUILTIN_RULES: tuple[type[AlertRule], ...] = (P95LatencyRule, ErrorRateRule, ScoreRule, BreakerOpenRule,
                                              RetryStormRule)


def evaluate_alerts(session: Session, rules: list[AlertRule], config: Any, now: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """Evaluate ``rules`` and persist their states; returns the non-ok results as dicts."""
    from moviepulse.ssr.store import real_session

    now = now or utcnow()
    session = real_session(session)
    ctx = AlertContext(session, now, config)
    results: dict[tuple[str, str], AlertResult] = {}
    evaluated: set[str] = set()
    for rule in rules:
        try:
            found = rule.evaluate(ctx) or []
        except Exception:  # noqa: BLE001 - one broken rule must not silence the others
            log.exception("alert rule %s failed", rule.slug)
            continue
        evaluated.add(rule.slug)
        if isinstance(found, AlertResult):
            found = [found]
        for result in found:
            results[(rule.slug, result.subject)] = result
    session.rollback()  # end the read transaction before the immediate write one
    with write_transaction(session):
        existing = {(a.rule, a.subject): a for a in session.scalars(select(SsrAlertState))}
        for key, result in results.items():
            row = existing.get(key)
            if row is None:
                session.add(SsrAlertState(rule=key[0], subject=key[1], state=result.state, since=now,
                                          evaluated_at=now, value=result.value, message=result.message))
                continue
            if row.state != result.state:
                row.state = result.state
                row.since = now
            row.evaluated_at = now
            row.value = result.value
            row.message = result.message
        for key, row in existing.items():
            if key not in results and key[0] in evaluated and row.state != "ok":
                row.state, row.since, row.evaluated_at, row.message = "ok", now, now, "no longer reported"
    return [{"rule": r, "subject": s, "state": res.state, "value": res.value, "message": res.message}
            for (r, s), res in results.items() if res.state != "ok"]
