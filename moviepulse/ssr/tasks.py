"""The SSR background jobs: evaluate alerts, self-crawl, compact, prune. Each runs in an app context.

* :func:`evaluate_alerts_task` flushes this process's buffer, auto-resolves fingerprints not seen
  for ``SSR_RESOLVE_AFTER_DAYS`` and evaluates every registered alert rule.
* :func:`self_crawl` requests ``SSR_SELF_CRAWL_PATHS`` through the app (``test_client``), marked
  so that the middleware audits every one of them, then flushes: quiet routes keep fresh numbers.
* :func:`compact` merges the per-minute rows of hours that ended ``SSR_COMPACT_AFTER_HOURS`` ago
  into one row per route and hour (exact: sketches merge), so long windows stay fast.
* :func:`prune` deletes raw audits older than ``SSR_RAW_RETENTION_DAYS`` and minute aggregates
  and upstream counts older than ``SSR_AGGREGATE_RETENTION_DAYS``, and resolved fingerprints last
  seen before that.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from moviepulse.core.db import write_transaction
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.ssr import SsrAudit, SsrFingerprint, SsrRouteMinute, SsrUpstreamMinute
from moviepulse.ssr.alerts import evaluate_alerts
from moviepulse.ssr.middleware import SELF_CRAWL_KEY
from moviepulse.ssr.runtime import flush_now
from moviepulse.ssr.store import real_session

SELF_CRAWL_USER_AGENT = "MoviePulse-SelfCrawl/1.0 (+bot)"


def resolve_quiet_fingerprints(session: Session, days: int, now: datetime | None = None) -> int:
    """Mark fingerprints not seen for ``days`` days as resolved; returns how many."""
    now = now or utcnow()
    session = real_session(session)
    with write_transaction(session):
        result = session.execute(update(SsrFingerprint)
                                 .where(SsrFingerprint.status != "resolved",
                                        SsrFingerprint.last_seen < now - timedelta(days=days))
                                 .values(status="resolved", resolved_at=now))
    return int(result.rowcount or 0)


def resolve_fingerprint(session: Session, fingerprint_id: int, now: datetime | None = None) -> bool:
    """Resolve one fingerprint by hand (it becomes ``regressed`` if seen again)."""
    session = real_session(session)
    with write_transaction(session):
        result = session.execute(update(SsrFingerprint).where(SsrFingerprint.id == fingerprint_id)
                                 .values(status="resolved", resolved_at=now or utcnow()))
    return bool(result.rowcount)


def evaluate_alerts_task(now: datetime | None = None) -> list[dict[str, Any]]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    flush_now(app)
    pulse = app.extensions["moviepulse"]
    resolve_quiet_fingerprints(db.session, int(app.config.get("SSR_RESOLVE_AFTER_DAYS", 7)), now)
    return evaluate_alerts(db.session, list(pulse.alert_rules), app.config, now)


def self_crawl(paths: list[str] | None = None) -> list[dict[str, Any]]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    paths = list(paths if paths is not None else app.config.get("SSR_SELF_CRAWL_PATHS") or [])
    client = app.test_client()
    out = []
    for path in paths:
        response = client.get(path, headers={"User-Agent": SELF_CRAWL_USER_AGENT},
                              environ_overrides={SELF_CRAWL_KEY: True})
        out.append({"path": path, "status": response.status_code})
        response.close()
    flush_now(app)
    return out


def compact(now: datetime | None = None) -> dict[str, int]:
    """Merge finished hours' minute rows (``SSR_COMPACT_AFTER_HOURS`` old) into hour rows."""
    from moviepulse.ssr.compact import compact_recent

    after_hours = int(current_app.config.get("SSR_COMPACT_AFTER_HOURS", 2))
    return compact_recent(db.session, now or utcnow(), after_hours)


def prune(now: datetime | None = None) -> dict[str, int]:
    cfg = current_app.config
    now = now or utcnow()
    raw_cutoff = now - timedelta(days=int(cfg.get("SSR_RAW_RETENTION_DAYS", 14)))
    agg_cutoff = now - timedelta(days=int(cfg.get("SSR_AGGREGATE_RETENTION_DAYS", 90)))
    session = db.session()
    with write_transaction(session):
        audits = session.execute(delete(SsrAudit).where(SsrAudit.recorded_at < raw_cutoff)).rowcount
        minutes = session.execute(delete(SsrRouteMinute).where(SsrRouteMinute.minute < agg_cutoff)).rowcount
        upstream = session.execute(
            delete(SsrUpstreamMinute).where(SsrUpstreamMinute.minute < agg_cutoff)).rowcount
        fingerprints = session.execute(delete(SsrFingerprint).where(
            SsrFingerprint.status == "resolved", SsrFingerprint.last_seen < agg_cutoff)).rowcount
    return {"audits": int(audits or 0), "route_minutes": int(minutes or 0),
            "upstream_minutes": int(upstream or 0), "fingerprints": int(fingerprints or 0)}
