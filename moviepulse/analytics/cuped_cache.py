"""CUPED off the request path: results cached in ``experiment_snapshots``.

CUPED needs a per-device aggregation of the window and of the pre-period (hundreds of
thousands of rows at production volume) — far too slow for a dashboard request. The
experiment read-out therefore serves the cached snapshot when it is fresh
(``EXPERIMENT_CUPED_TTL_SECONDS``); otherwise it enqueues ``experiments.cuped`` (at most once per
``REQUEST_DEDUPE_SECONDS``) and answers ``{"state": "pending", "previous": <stale result or None>}``.
With an immediate Huey (tests, ``inline=True``) it computes in the request.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from moviepulse.analytics.audiences import Audience, resolve_audience
from moviepulse.analytics.experiment import cuped_moments_sql
from moviepulse.analytics.sqlutil import real_session
from moviepulse.analytics.stats import cuped
from moviepulse.core.db import write_transaction
from moviepulse.models.analytics import ExperimentSnapshot
from moviepulse.models.base import utcnow

REQUEST_DEDUPE_SECONDS = 600
TASK_NAME = "experiments.cuped"


def cuped_key(start: date, end: date, audience: str, pre_days: int, control: str = "A", treatment: str = "B") -> str:
    return f"cuped|{start.isoformat()}|{end.isoformat()}|{audience}|{pre_days}|{control}|{treatment}"


def compute_and_store(session: Any, start: date, end: date, audience: str | Audience, pre_days: int, *,
                      control: str = "A", treatment: str = "B", confidence: float = 0.95) -> dict[str, Any]:
    """Compute CUPED for the window and store it as the snapshot (delete + insert)."""
    session = real_session(session)
    aud = resolve_audience(audience)
    result = cuped(cuped_moments_sql(session, start, end, aud, pre_days), control=control, treatment=treatment,
                   confidence=confidence)
    result["pre_period"] = {"from": (start - timedelta(days=pre_days)).isoformat(),
                            "to": (start - timedelta(days=1)).isoformat()}
    result = json.loads(json.dumps(result))  # tuples -> lists, exactly what the cache will return
    key = cuped_key(start, end, aud.slug, pre_days, control, treatment)
    now = utcnow()
    session.commit()
    for attempt in (1, 2, 3):
        try:
            with write_transaction(session):
                session.execute(delete(ExperimentSnapshot).where(ExperimentSnapshot.key == key))
                session.execute(insert(ExperimentSnapshot).values(
                    key=key, kind="cuped", start_day=start, end_day=end, audience=aud.slug,
                    params={"pre_days": pre_days, "control": control, "treatment": treatment}, result=result,
                    computed_at=now, requested_at=None))
            break
        except IntegrityError:
            # Another transaction inserted the key after our delete (on PostgreSQL's READ COMMITTED: a
            # concurrent run of the same window, e.g. one the queue sweeper re-enqueued, or a dashboard
            # request marking it requested): its row is committed now, so delete + insert again.
            if attempt == 3:
                raise
    return {**result, "computed_at": now.isoformat(), "cached": False}


def cuped_section(session: Any, start: date, end: date, audience: str | Audience, pre_days: int, *,
                  ttl_seconds: float = 3600, inline: bool = False, enqueue: Any = None, control: str = "A",
                  treatment: str = "B", confidence: float = 0.95) -> dict[str, Any]:
    """The ``cuped`` part of the experiment read-out: cached, computed inline, or pending."""
    aud = resolve_audience(audience)
    key = cuped_key(start, end, aud.slug, pre_days, control, treatment)
    snap = session.execute(select(ExperimentSnapshot.result, ExperimentSnapshot.computed_at,
                                  ExperimentSnapshot.requested_at).where(ExperimentSnapshot.key == key)).first()
    now = utcnow()
    if snap is not None and snap.computed_at is not None and snap.result is not None \
            and (now - snap.computed_at).total_seconds() <= ttl_seconds:
        return {**snap.result, "computed_at": snap.computed_at.isoformat(), "cached": True}
    if inline or enqueue is None:
        return compute_and_store(session, start, end, aud, pre_days, control=control, treatment=treatment,
                                 confidence=confidence)
    recently = snap is not None and snap.requested_at is not None and \
        (now - snap.requested_at).total_seconds() < REQUEST_DEDUPE_SECONDS
    if not recently:
        s = real_session(session)
        s.commit()
        try:
            with write_transaction(s):
                if snap is None:
                    s.execute(insert(ExperimentSnapshot).values(
                        key=key, kind="cuped", start_day=start, end_day=end, audience=aud.slug,
                        params={"pre_days": pre_days, "control": control, "treatment": treatment},
                        requested_at=now))
                else:
                    s.execute(update(ExperimentSnapshot).where(ExperimentSnapshot.key == key)
                              .values(requested_at=now))
        except IntegrityError:  # a concurrent request asked first; it enqueued the task
            pass
        else:
            enqueue(TASK_NAME, start.isoformat(), end.isoformat(), aud.slug, pre_days)
    return {"state": "pending", "reason": "CUPED is being computed in the background; reload shortly",
            "previous": snap.result if snap is not None else None,
            "previous_computed_at": snap.computed_at.isoformat() if snap is not None and snap.computed_at else None}
