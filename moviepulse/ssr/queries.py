"""Read side of the SSR telemetry: plain functions of a session and a window (dashboard, admin API).

Windows are half-open ``[start, end)`` naive-UTC datetimes over minute rows; days are UTC dates.
Latencies are milliseconds. Percentiles merge the per-minute sketches of the window (relative
error ≤ 1 %); Apdex uses the exact satisfied/tolerating counts taken at record time
(``(satisfied + tolerating / 2) / requests``, 5xx counted frustrated).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moviepulse.models.ssr import SsrAlertState, SsrAudit, SsrFingerprint, SsrRouteMinute, SsrUpstreamState
from moviepulse.ssr.audit import ScoreRules
from moviepulse.ssr.fingerprints import is_repeat_offender, match_key
from moviepulse.ssr.playbooks import matching
from moviepulse.ssr.sketch import LatencySketch

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min)
    return start, start + timedelta(days=1)


def _config() -> Any:
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}


def _playbooks() -> list[Any]:
    from flask import current_app, has_app_context

    if not has_app_context() or "moviepulse" not in current_app.extensions:
        return []
    return list(current_app.extensions["moviepulse"].playbooks)


def route_stats(session: Session, start: datetime, end: datetime, *, routes: Iterable[str] | None = None,
                rules: ScoreRules | None = None) -> list[dict[str, Any]]:
    """Per route template over ``[start, end)``: requests, rate, errors, percentiles, Apdex, score.

    Keys: route, requests, errors, error_rate, rate_per_min, p50, p90, p95, p99, mean_ms, max_ms, apdex,
    apdex_t_ms, score_avg, score_min, score_samples, score_latest, score_latest_at, score_status.
    Sorted by requests, busiest first. Routes with no request in the window are absent.
    """
    rules = rules or ScoreRules.from_config(_config())
    stmt = select(SsrRouteMinute).where(SsrRouteMinute.minute >= start, SsrRouteMinute.minute < end)
    if routes is not None:
        stmt = stmt.where(SsrRouteMinute.route.in_(list(routes)))
    merged: dict[str, dict[str, Any]] = {}
    for row in session.scalars(stmt):
        m = merged.get(row.route)
        if m is None:
            m = merged[row.route] = {"sketch": LatencySketch(), "requests": 0, "errors": 0, "sat": 0,
                                     "tol": 0, "sum": 0.0, "max": 0.0, "score_count": 0, "score_sum": 0,
                                     "score_min": None}
        m["sketch"].merge(LatencySketch.from_bytes(row.sketch))
        m["requests"] += row.requests
        m["errors"] += row.errors
        m["sat"] += row.apdex_satisfied
        m["tol"] += row.apdex_tolerating
        m["sum"] += row.latency_sum_ms
        m["max"] = max(m["max"], row.latency_max_ms or 0.0)
        m["score_count"] += row.score_count
        m["score_sum"] += row.score_sum
        if row.score_min is not None:
            m["score_min"] = row.score_min if m["score_min"] is None else min(m["score_min"], row.score_min)
    latest = latest_scores(session, start, end)
    minutes = max((end - start).total_seconds() / 60.0, 1e-9)
    out = []
    for route, m in merged.items():
        n = m["requests"]
        qs = m["sketch"].quantiles(q for _, q in PERCENTILES)
        score_avg = m["score_sum"] / m["score_count"] if m["score_count"] else None
        last = latest.get(route)
        item = {
            "route": route, "requests": n, "errors": m["errors"],
            "error_rate": _r(m["errors"] / n, 4) if n else None,
            "rate_per_min": _r(n / minutes, 3),
            **{name: _r(v) for (name, _), v in zip(PERCENTILES, qs, strict=True)},
            "mean_ms": _r(m["sum"] / n) if n else None, "max_ms": _r(m["max"]),
            "apdex": _r((m["sat"] + m["tol"] / 2) / n, 3) if n else None,
            "apdex_t_ms": _config().get("SSR_APDEX_T_MS", 500),
            "score_avg": _r(score_avg, 2), "score_min": m["score_min"], "score_samples": m["score_count"],
            "score_latest": last[0] if last else None,
            "score_latest_at": last[1].isoformat() if last else None,
            "score_status": rules.status(last[0] if last else score_avg),
        }
        out.append(item)
    out.sort(key=lambda r: (-r["requests"], r["route"]))
    return out


def latest_scores(session: Session, start: datetime, end: datetime) -> dict[str, tuple[int, datetime]]:
    """route -> (score, recorded_at) of the latest sampled audit in ``[start, end)``."""
    newest = (select(SsrAudit.route, func.max(SsrAudit.id).label("id"))
              .where(SsrAudit.recorded_at >= start, SsrAudit.recorded_at < end)
              .group_by(SsrAudit.route).subquery())
    rows = session.execute(select(SsrAudit.route, SsrAudit.score, SsrAudit.recorded_at)
                           .join(newest, SsrAudit.id == newest.c.id))
    return {route: (score, at) for route, score, at in rows}


def score_headline(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """One number for the card: the mean of each route's latest score (MovieRec had two definitions)."""
    latest = latest_scores(session, start, end)
    if not latest:
        return {"score": None, "routes": 0}
    return {"score": round(sum(s for s, _ in latest.values()) / len(latest), 2), "routes": len(latest)}


def _daily_scores(session: Session, start: datetime, end: datetime) -> dict[tuple[str, date], list[int]]:
    rows = session.execute(select(SsrRouteMinute.route, SsrRouteMinute.minute, SsrRouteMinute.score_count,
                                  SsrRouteMinute.score_sum)
                           .where(SsrRouteMinute.minute >= start, SsrRouteMinute.minute < end,
                                  SsrRouteMinute.score_count > 0))
    out: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for route, minute, count, total in rows:
        acc = out[(route, minute.date())]
        acc[0] += count
        acc[1] += total
    return out


def score_trend(session: Session, start: datetime, end: datetime, *, route: str | None = None
                ) -> list[dict[str, Any]]:
    """Average sampled score per UTC day in ``[start, end)``, ascending: {day, avg_score, samples}."""
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for (r, day), (count, total) in _daily_scores(session, start, end).items():
        if route is None or r == route:
            per_day[day][0] += count
            per_day[day][1] += total
    return [{"day": day.isoformat(), "avg_score": round(total / count, 2), "samples": count}
            for day, (count, total) in sorted(per_day.items())]


def failing_checks(session: Session, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """route -> {check: number of sampled audits failing it} in ``[start, end)``."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for route, failing in session.execute(select(SsrAudit.route, SsrAudit.failing).where(
            SsrAudit.recorded_at >= start, SsrAudit.recorded_at < end)):
        for check in failing or ():
            out[route][check] = out[route].get(check, 0) + 1
    return dict(out)


def drops(session: Session, day: date, *, min_points: float | None = None, only_drops: bool = False,
          playbooks: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    """Day-over-day score change per route: ``day`` against the day before (UTC).

    Every route with samples on either day is listed with ``status``: ``drop`` (today's mean is
    more than ``min_points`` below yesterday's), ``improved``, ``steady``, ``no_data`` (no samples
    today: *not* a drop to 0) or ``new`` (no samples yesterday). Keys: route, day, today,
    yesterday, delta, samples_today, samples_yesterday, status, failing_checks (today's counts),
    playbooks (slugs matching today's failing checks). Drops come first, worst first.
    """
    if min_points is None:
        min_points = float(_config().get("SSR_DROP_MIN_POINTS", 0.0))
    start, end = day_bounds(day)
    daily = _daily_scores(session, start - timedelta(days=1), end)
    checks = failing_checks(session, start, end)
    books = list(playbooks) if playbooks is not None else _playbooks()
    yesterday = day - timedelta(days=1)
    routes = sorted({r for r, _ in daily})
    out = []
    for route in routes:
        t = daily.get((route, day))
        y = daily.get((route, yesterday))
        today_avg = round(t[1] / t[0], 2) if t else None
        y_avg = round(y[1] / y[0], 2) if y else None
        delta = round(today_avg - y_avg, 2) if t and y else None
        if t is None:
            status = "no_data"
        elif y is None:
            status = "new"
        elif delta < -min_points:  # type: ignore[operator]
            status = "drop"
        elif delta > min_points:  # type: ignore[operator]
            status = "improved"
        else:
            status = "steady"
        route_checks = checks.get(route, {})
        out.append({
            "route": route, "day": day.isoformat(), "today": today_avg, "yesterday": y_avg, "delta": delta,
            "samples_today": t[0] if t else 0, "samples_yesterday": y[0] if y else 0, "status": status,
            "failing_checks": route_checks,
            "playbooks": _matching_slugs(books, (f"score.{c}" for c in route_checks)),
        })
    if only_drops:
        out = [r for r in out if r["status"] == "drop"]
    order = {"drop": 0, "new": 1, "steady": 2, "improved": 3, "no_data": 4}
    out.sort(key=lambda r: (order[r["status"]], r["delta"] if r["delta"] is not None else 0, r["route"]))
    return out


def _matching_slugs(books: list[Any], keys: Iterable[str], message: str = "") -> list[str]:
    slugs: list[str] = []
    for key in keys:
        for book in matching(books, key, message):
            if book.slug not in slugs:
                slugs.append(book.slug)
    return slugs


def fingerprints(session: Session, start: datetime, end: datetime, *, min_days: int | None = None,
                 min_count: int | None = None, playbooks: Iterable[Any] | None = None
                 ) -> list[dict[str, Any]]:
    """Fingerprints last seen in ``[start, end)``, most frequent first.

    Keys: id, fingerprint, kind, route, title, exc_type, frames, count, days_seen, first_seen, last_seen,
    status (new | ongoing | regressed | resolved), repeat_offender, sample, playbook (best match slug or
    None), playbooks (every matching slug).
    """
    cfg = _config()
    min_days = int(cfg.get("SSR_REPEAT_MIN_DAYS", 3)) if min_days is None else min_days
    min_count = int(cfg.get("SSR_REPEAT_MIN_COUNT", 10)) if min_count is None else min_count
    books = list(playbooks) if playbooks is not None else _playbooks()
    rows = session.scalars(select(SsrFingerprint).where(SsrFingerprint.last_seen >= start,
                                                        SsrFingerprint.last_seen < end)
                           .order_by(SsrFingerprint.count.desc(), SsrFingerprint.id))
    out = []
    for fp in rows:
        message = str((fp.sample or {}).get("message") or "")
        slugs = _matching_slugs(books, [match_key(fp.kind, fp.exc_type)], message)
        out.append({
            "id": fp.id, "fingerprint": fp.fingerprint, "kind": fp.kind, "route": fp.route, "title": fp.title,
            "exc_type": fp.exc_type, "frames": fp.frames, "count": fp.count, "days_seen": fp.days_seen,
            "first_seen": fp.first_seen.isoformat(), "last_seen": fp.last_seen.isoformat(),
            "status": fp.status,
            "repeat_offender": is_repeat_offender(fp.days_seen, fp.count, min_days, min_count),
            "sample": fp.sample, "playbook": slugs[0] if slugs else None, "playbooks": slugs,
        })
    return out


def alerts(session: Session, *, playbooks: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    """Current state of every evaluated alert rule and subject: worst first.

    Keys: rule, subject, state (ok | warning | critical), since, evaluated_at, value, message, playbook.
    """
    books = list(playbooks) if playbooks is not None else _playbooks()
    order = {"critical": 0, "warning": 1, "ok": 2}
    out = []
    for a in session.scalars(select(SsrAlertState)):
        slugs = _matching_slugs(books, [f"alert.{a.rule}"]) if a.state != "ok" else []
        out.append({"rule": a.rule, "subject": a.subject, "state": a.state, "since": a.since.isoformat(),
                    "evaluated_at": a.evaluated_at.isoformat(), "value": a.value, "message": a.message,
                    "playbook": slugs[0] if slugs else None})
    out.sort(key=lambda a: (order.get(a["state"], 3), a["rule"], a["subject"]))
    return out


def upstream_states(session: Session) -> list[dict[str, Any]]:
    return [{"upstream": s.upstream, "breaker": s.breaker, "since": s.since.isoformat(),
             "updated_at": s.updated_at.isoformat()}
            for s in session.scalars(select(SsrUpstreamState).order_by(SsrUpstreamState.upstream))]
