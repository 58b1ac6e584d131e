"""Reconciliation: recompute recent days from raw events, compare with stored daily rollups
per day and dimension, store drift rows, flag days, emit ``drift_detected``, optionally rebuild.

One raw ``GROUP BY day, dimensions`` over the whole range (exactly the rollup's aggregate) and
one read of the stored rows: about one raw scan in total. Late events are counted afterwards,
only for the days that differ (usually none), so that the common case pays nothing for them.

Day drift for a metric is the L1 difference over all dimension rows divided by the raw
total (``Σ|stored − raw| / raw``), so events moved between rows are caught as well as events
missing from the day. A day is flagged when any metric's drift exceeds the threshold.

The coarse levels (``ROLLUP_LEVELS``) must equal the sums of the day's fine rows exactly: any
difference is reported as drift (dimension ``level:<table>|…``, stored = coarse, raw = the sum
of the fine rows) and flags the day. A day rolled up before the levels existed has none; that is
reported (``coarse: missing``), not flagged, since queries then read the fine rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Float

from moviepulse.analytics.rollups import DAILY, batch_settings, rollup_day, rollup_state
from moviepulse.analytics.sqlutil import as_date, day_bounds, day_bucket, days_in, real_session
from moviepulse.core.db import write_transaction
from moviepulse.models.analytics import (
    ROLLUP_DIMENSIONS,
    ROLLUP_LEVELS,
    ROLLUP_MEASURES,
    DriftRow,
    ReconcileRun,
    RollupDaily,
    RollupState,
)
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event

METRICS = ("impressions", "clicks", "views", "devices", "bot_events")
MAX_DIMENSION_ROWS_PER_DAY = 200


class seconds_between(FunctionElement):  # noqa: N801
    """``a − b`` in seconds (both DATETIME)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _sb_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(a, **kw)} - {compiler.process(b, **kw)}))"


@compiles(seconds_between, "sqlite")
def _sb_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"((julianday({compiler.process(a, **kw)}) - julianday({compiler.process(b, **kw)})) * 86400.0)"


def dimension_key(row: Any) -> str:
    return "|".join(f"{d}={'' if row[d] is None else row[d]}" for d in ROLLUP_DIMENSIONS)


def _raw_by_day(session: Any, start: date, end: date) -> dict[date, dict[str, dict[str, int]]]:
    """The rollup aggregate recomputed from raw events for every day of the range (one GROUP BY)."""
    from moviepulse.analytics.rollups import per_device_rollups, raw_grouped_select

    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    rows: dict[date, dict[str, dict[str, int]]] = {}
    for r in session.execute(raw_grouped_select(lo, hi, bucket=day_bucket(Event.event_time),
                                                per_device=per_device_rollups(session))):
        m = r._mapping
        rows.setdefault(as_date(m["bucket"]), {})[dimension_key(m)] = {k: int(m[k] or 0) for k in METRICS}
    return rows


def _late_counts(session: Any, days: list[date], late_seconds: float,
                 rolled_at: dict[date, datetime]) -> dict[date, dict[str, int]]:
    """Late events (received more than ``late_seconds`` after their event time) and events received
    after the day's rollup, for the given days only (the ones that differ)."""
    if not days:
        return {}
    late = func.coalesce(func.sum(case((seconds_between(Event.received_at, Event.event_time) > late_seconds, 1),
                                       else_=0)), 0).label("late")
    after_conds = [((Event.event_time >= day_bounds(d)[0]) & (Event.event_time < day_bounds(d)[1])
                    & (Event.received_at > rolled_at[d]), 1) for d in days if d in rolled_at]
    after = (func.coalesce(func.sum(case(*after_conds, else_=0)), 0) if after_conds else literal(0)).label("after")
    bucket = day_bucket(Event.event_time)
    ranges = or_(*[(Event.event_time >= day_bounds(d)[0]) & (Event.event_time < day_bounds(d)[1]) for d in days])
    out: dict[date, dict[str, int]] = {}
    for r in session.execute(select(bucket.label("day"), late, after).where(ranges).group_by(bucket)):
        out[as_date(r.day)] = {"late": int(r.late or 0), "after_rollup": int(r.after or 0)}
    return out


def _stored_by_day(session: Any, start: date, end: date,
                   levels: dict[str, dict[date, dict[tuple[Any, ...], dict[str, int]]]] | None = None,
                   ) -> dict[date, dict[str, dict[str, int]]]:
    """Stored fine rows per day and dimension key; also sums them into ``levels`` (per coarse table,
    day and dimension tuple) when given, in the same pass."""
    t = RollupDaily
    q = select(t.day, *[getattr(t, d) for d in ROLLUP_DIMENSIONS], *[getattr(t, k) for k in METRICS]).where(
        t.day >= start, t.day <= end)
    out: dict[date, dict[str, dict[str, int]]] = {}
    for r in session.execute(q):
        m = r._mapping
        key = dimension_key(m)
        day = as_date(m["day"])
        acc = out.setdefault(day, {}).setdefault(key, dict.fromkeys(METRICS, 0))
        for k in METRICS:
            acc[k] += int(m[k] or 0)
        if levels is not None:
            for model, dims in ROLLUP_LEVELS:
                lacc = levels.setdefault(model.__tablename__, {}).setdefault(day, {}).setdefault(
                    tuple(m[d] for d in dims), dict.fromkeys(ROLLUP_MEASURES, 0))
                for k in ROLLUP_MEASURES:
                    lacc[k] += int(m[k] or 0)
    return out


def _coarse_by_day(session: Any, start: date, end: date) -> dict[str, dict[date, dict[tuple[Any, ...], dict[str, int]]]]:
    """The stored coarse rows per table, day and dimension tuple."""
    out: dict[str, dict[date, dict[tuple[Any, ...], dict[str, int]]]] = {}
    for model, dims in ROLLUP_LEVELS:
        t = model.__table__
        per_table = out.setdefault(model.__tablename__, {})
        q = select(t.c.day, *[t.c[d] for d in dims], *[t.c[k] for k in ROLLUP_MEASURES]).where(
            t.c.day >= start, t.c.day <= end)
        for r in session.execute(q):
            m = r._mapping
            acc = per_table.setdefault(as_date(m["day"]), {}).setdefault(tuple(m[d] for d in dims),
                                                                         dict.fromkeys(ROLLUP_MEASURES, 0))
            for k in ROLLUP_MEASURES:
                acc[k] += int(m[k] or 0)
    return out


def _coarse_diffs(day: date, fine_sums: dict[str, Any], coarse: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """``(status, differences)`` of the coarse levels of ``day`` against the sums of its fine rows:
    ``ok``, ``missing`` (no coarse rows at all: rolled up before the levels existed) or ``drift``."""
    diffs: list[dict[str, Any]] = []
    any_rows = False
    for model, dims in ROLLUP_LEVELS:
        name = model.__tablename__
        want = fine_sums.get(name, {}).get(day, {})
        have = coarse.get(name, {}).get(day, {})
        any_rows = any_rows or bool(have)
        for key in set(want) | set(have):
            for k in ROLLUP_MEASURES:
                sv, rv = have.get(key, {}).get(k, 0), want.get(key, {}).get(k, 0)
                if sv != rv:
                    label = "|".join(f"{d}={'' if v is None else v}" for d, v in zip(dims, key, strict=True))
                    diffs.append({"dimension": f"level:{name}|{label}", "metric": k, "stored": sv, "raw": rv})
    if not any_rows and any(fine_sums.get(m.__tablename__, {}).get(day) for m, _ in ROLLUP_LEVELS):
        return "missing", []
    return ("drift" if diffs else "ok"), diffs


def reconcile(session: Any, *, days: int = 7, end: date | None = None, threshold: float = 0.005,
              late_seconds: float = 3600, rebuild: bool = False, pulse: Any = None) -> dict[str, Any]:
    """Reconcile the ``days`` days ending ``end`` (default: yesterday). Returns the run summary."""
    session = real_session(session)
    end = end or (utcnow().date() - timedelta(days=1))
    start = end - timedelta(days=max(1, int(days)) - 1)
    session.commit()
    batch_settings(session)  # for the reads below (one transaction, committed before the writes)
    state = rollup_state(session, start, end)
    rolled_at = {d: session.scalar(select(RollupState.rolled_up_at).where(RollupState.day == d,
                                                                          RollupState.granularity == DAILY))
                 for d, st in state.items() if st.get(DAILY)}
    raw = _raw_by_day(session, start, end)
    fine_sums: dict[str, Any] = {}
    stored = _stored_by_day(session, start, end, fine_sums)
    coarse = _coarse_by_day(session, start, end)
    differing = [d for d in days_in(start, end) if d in rolled_at and raw.get(d, {}) != stored.get(d, {})]
    lates = _late_counts(session, differing, late_seconds, rolled_at)
    session.commit()

    day_reports: list[dict[str, Any]] = []
    drift_rows: list[dict[str, Any]] = []
    for d in days_in(start, end):
        late = lates.get(d, {"late": 0, "after_rollup": 0})  # only counted on days that differ
        if d not in rolled_at:
            day_reports.append({"day": d.isoformat(), "status": "not_rolled_up", "flagged": False,
                                "late_events": None, "metrics": {}})
            continue
        r_rows, s_rows = raw.get(d, {}), stored.get(d, {})
        metrics: dict[str, Any] = {}
        flagged = False
        dim_diffs: list[dict[str, Any]] = []
        for k in METRICS:
            raw_total = sum(v[k] for v in r_rows.values())
            stored_total = sum(v[k] for v in s_rows.values())
            l1 = 0
            for key in set(r_rows) | set(s_rows):
                rv = r_rows.get(key, {}).get(k, 0)
                sv = s_rows.get(key, {}).get(k, 0)
                if rv != sv:
                    l1 += abs(sv - rv)
                    dim_diffs.append({"dimension": key, "metric": k, "stored": sv, "raw": rv})
            # Distinct devices per row are not additive; their drift is reported, never flagged alone.
            rel = (l1 / raw_total) if raw_total else (1.0 if l1 else 0.0)
            over = rel > threshold and k != "devices"
            flagged = flagged or over
            metrics[k] = {"stored": stored_total, "raw": raw_total, "abs_diff": l1, "rel_diff": rel, "flagged": over}
            drift_rows.append({"day": d, "dimension": "*", "metric": k, "stored": stored_total, "raw": raw_total,
                               "abs_diff": l1, "rel_diff": rel, "flagged": over, "late_events": late["late"]})
        dim_diffs.sort(key=lambda x: -abs(x["stored"] - x["raw"]))
        for item in dim_diffs[:MAX_DIMENSION_ROWS_PER_DAY]:
            diff = abs(item["stored"] - item["raw"])
            drift_rows.append({"day": d, **item, "abs_diff": diff,
                               "rel_diff": diff / item["raw"] if item["raw"] else 1.0,
                               "flagged": False, "late_events": 0})
        coarse_status, coarse_diffs = _coarse_diffs(d, fine_sums, coarse)
        coarse_diffs.sort(key=lambda x: -abs(x["stored"] - x["raw"]))
        for item in coarse_diffs[:MAX_DIMENSION_ROWS_PER_DAY]:
            diff = abs(item["stored"] - item["raw"])
            drift_rows.append({"day": d, **item, "abs_diff": diff,
                               "rel_diff": diff / item["raw"] if item["raw"] else 1.0,
                               "flagged": True, "late_events": 0})
        cause = None
        if coarse_status == "drift" and not flagged:
            flagged = True
            cause = ("the coarse rollup levels differ from the sums of the day's fine rollup rows "
                     "(rows changed after the rollup): rebuild the day")
        elif flagged:
            if late["late"] or late["after_rollup"]:
                cause = (f"{late['late']} late event(s) (received more than {late_seconds:.0f}s after their event "
                         f"time), {late['after_rollup']} arrived after this day's rollup at "
                         f"{rolled_at[d].isoformat()}: late events are the likely cause")
            else:
                cause = "no late arrivals: rollup rows were changed or events deleted/altered after the rollup"
        day_reports.append({"day": d.isoformat(), "status": "drift" if flagged else "ok", "flagged": flagged,
                            "metrics": metrics, "late_events": late["late"],
                            "arrived_after_rollup": late["after_rollup"], "likely_cause": cause,
                            "coarse": {"status": coarse_status,
                                       "rows_differing": len({x["dimension"] for x in coarse_diffs})},
                            "dimensions_differing": len({x["dimension"] for x in dim_diffs})})

    flagged_days = [r["day"] for r in day_reports if r["flagged"]]
    rebuilt: list[str] = []
    if rebuild:
        for r in day_reports:
            if r["flagged"] or r["status"] == "not_rolled_up":
                rollup_day(session, date.fromisoformat(r["day"]))
                rebuilt.append(r["day"])
    summary = {"from": start.isoformat(), "to": end.isoformat(), "threshold": threshold,
               "late_seconds": late_seconds, "flagged_days": flagged_days, "rebuilt": rebuilt,
               "late_events": sum(r["late_events"] or 0 for r in day_reports), "days": day_reports}
    with write_transaction(session):
        run = ReconcileRun(start_day=start, end_day=end, threshold=threshold, flagged_days=flagged_days,
                           late_events=summary["late_events"], rebuilt=bool(rebuilt), finished_at=utcnow(),
                           summary={k: v for k, v in summary.items() if k != "days"})
        session.add(run)
        session.flush()
        if drift_rows:
            session.execute(insert(DriftRow), [{**row, "run_id": run.id} for row in drift_rows])
        run_id = run.id
    summary["run_id"] = run_id
    if pulse is not None:
        for r in day_reports:
            if r["flagged"]:
                pulse.emit("drift_detected", drift={**r, "run_id": run_id, "threshold": threshold,
                                                    "rebuilt": r["day"] in rebuilt})
    return summary


def drift_report(session: Any, start: date, end: date, audience: str = "global") -> dict[str, Any]:
    """The latest stored drift per day in ``[start, end]`` (day-level rows, plus the worst dimensions)."""
    latest = session.scalar(select(func.max(ReconcileRun.id)).where(ReconcileRun.start_day <= end,
                                                                    ReconcileRun.end_day >= start))
    if latest is None:
        return {"state": "no_data", "from": start.isoformat(), "to": end.isoformat(), "audience": audience,
                "reason": "no reconciliation run covers this range yet", "days": []}
    run = session.get(ReconcileRun, latest)
    rows = session.scalars(select(DriftRow).where(DriftRow.run_id == latest, DriftRow.day >= start,
                                                  DriftRow.day <= end)
                           .order_by(DriftRow.day, DriftRow.dimension, DriftRow.metric)).all()
    days: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = days.setdefault(as_date(r.day).isoformat(), {"day": as_date(r.day).isoformat(), "flagged": False,
                                                         "metrics": {}, "dimensions": [], "late_events": 0})
        if r.dimension == "*":
            d["metrics"][r.metric] = {"stored": r.stored, "raw": r.raw, "abs_diff": r.abs_diff,
                                      "rel_diff": r.rel_diff, "flagged": r.flagged}
            d["flagged"] = d["flagged"] or r.flagged
            d["late_events"] = max(d["late_events"], r.late_events)
        elif len(d["dimensions"]) < 20:
            d["dimensions"].append({"dimension": r.dimension, "metric": r.metric, "stored": r.stored, "raw": r.raw,
                                    "abs_diff": r.abs_diff, "rel_diff": r.rel_diff})
    return {"state": "ok", "from": start.isoformat(), "to": end.isoformat(), "audience": audience,
            "run": {"id": run.id, "started_at": run.started_at.isoformat(), "threshold": run.threshold,
                    "flagged_days": run.flagged_days, "late_events": run.late_events, "rebuilt": run.rebuilt},
            "days": sorted(days.values(), key=lambda d: d["day"])}
