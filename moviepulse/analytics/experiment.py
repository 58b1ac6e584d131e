"""The A/B experiment read-out: z-test on rollup counts, SRM on assignments, CUPED from per-device
SQL moments, and the always-valid sequential test over daily cumulative counts.

* Counts (impressions, clicks per variant) come from :func:`grouped_counts` (rollups).
* SRM counts devices *assigned* in the window: ``devices`` rows first seen in ``[start, end]``,
  not bots, by variant (audiences that filter on ``device_type`` apply; other audience
  filters do not exist on ``devices``, so SRM is then reported for all assignments and
  ``srm.scope`` says so).
* CUPED: pre-period = the ``pre_days`` days before ``start``; per device the window
  impressions ``w``, clicks ``c`` and pre-period CTR ``x`` — aggregated to moments by SQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from moviepulse.analytics.audiences import Audience, resolve_audience
from moviepulse.analytics.ctr import _range, pct
from moviepulse.analytics.facts import grouped_counts
from moviepulse.analytics.rollups import human_expr
from moviepulse.analytics.sqlutil import day_bounds, days_in
from moviepulse.analytics.stats import CupedMoments, cuped, msprt_path, srm_check, two_proportion_ztest
from moviepulse.models.events import VARIANTS, Device, Event


def srm_counts(session: Session, start: date, end: date, audience: Audience) -> tuple[dict[str, int], str]:
    """Devices first seen in the window, not bots, by variant (``{variant: n}``, variants with n > 0).

    Index seeks on the covering index ``ix_devices_variant_first_seen`` (variant, first_seen_at, …):
    one ``count(*)`` per known variant over its window range, and one over the key ranges between
    and around the known variants (normally empty). Only when that finds devices with another
    variant does it run the plain ``GROUP BY variant`` (which sorts every device of the window).
    """
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    conds = [Device.first_seen_at >= lo, Device.first_seen_at < hi, Device.is_bot.is_not(True)]
    scope = "devices first seen in the window"
    extra = {k: v for k, v in audience.filters.items() if k != "device_type"}
    if "device_type" in audience.filters:
        value = audience.filters["device_type"]
        conds.append(Device.device_type.in_(list(value)) if isinstance(value, list | tuple) else
                     Device.device_type == value)
        scope += f", device_type={value}"
    if extra or audience.where is not None:
        scope += " (audience filters other than device_type do not apply to assignments)"
    known = sorted(VARIANTS)
    others = [Device.variant < known[0], Device.variant > known[-1]]
    others += [and_(Device.variant > a, Device.variant < b) for a, b in zip(known, known[1:], strict=False)]
    counts = [select(func.count()).where(Device.variant == v, *conds).scalar_subquery() for v in known]
    other = select(func.count()).where(or_(*others), *conds).scalar_subquery()
    row = session.execute(select(*counts, other)).one()
    if int(row[-1]):  # devices with a variant outside VARIANTS: count every variant by GROUP BY
        q = (select(Device.variant, func.count()).where(Device.variant.is_not(None), *conds)
             .group_by(Device.variant))
        return {v: int(n) for v, n in session.execute(q).all()}, scope
    return {v: int(n) for v, n in zip(known, row[:-1], strict=True) if n}, scope


def cuped_moments_sql(session: Session, start: date, end: date, audience: Audience,
                      pre_days: int) -> dict[str, tuple[CupedMoments, CupedMoments]]:
    """Per-variant CUPED moments (devices with / without a pre-period) computed in SQL.

    One pass over ``[start − pre_days, end]`` grouped by device (no join, so no nested-loop risk):
    window impressions/clicks under the audience filter, pre-period impressions/clicks (all
    placements, no audience filter), and the device's variant in the window. The outer query
    aggregates the moments per variant and ``has_pre``.
    """
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    pre_lo = lo - timedelta(days=pre_days)
    in_window = and_(Event.event_time >= lo, *audience.conditions(Event))
    in_pre = Event.event_time < lo
    is_imp = Event.type == "impression"
    is_clk = Event.type == "click"
    per_device = (
        select(
            func.max(case((and_(in_window, Event.variant.is_not(None)), Event.variant), else_=None)).label("variant"),
            func.sum(case((and_(in_window, is_imp), 1), else_=0)).label("w"),
            func.sum(case((and_(in_window, is_clk), 1), else_=0)).label("c"),
            func.sum(case((and_(in_pre, is_imp), 1), else_=0)).label("pw"),
            func.sum(case((and_(in_pre, is_clk), 1), else_=0)).label("pc"),
        )
        .where(Event.event_time >= pre_lo, Event.event_time < hi, human_expr(),
               Event.type.in_(("impression", "click")))
        .group_by(Event.device_id)
        .subquery()
    )
    d = per_device.c
    w = cast(d.w, Float)
    c = cast(d.c, Float)
    x = case((d.pw > 0, cast(d.pc, Float) / cast(d.pw, Float)), else_=0.0)
    has_pre = case((d.pw > 0, 1), else_=0)
    rows = session.execute(
        select(d.variant, has_pre.label("has_pre"), func.count().label("units"), func.sum(w).label("w"),
               func.sum(c).label("c"), func.sum(w * x).label("wx"), func.sum(w * x * x).label("wxx"),
               func.sum(c * x).label("cx"), func.sum(w * w).label("w2"), func.sum(c * c).label("c2"),
               func.sum(w * c).label("wc"), func.sum(w * c * x).label("wcx"), func.sum(w * w * x).label("w2x"),
               func.sum(w * w * x * x).label("w2xx"))
        .where(d.w > 0, d.variant.is_not(None))
        .group_by(d.variant, has_pre)
    ).all()
    out: dict[str, tuple[CupedMoments, CupedMoments]] = {}
    for row in rows:
        m = row._mapping
        moments = CupedMoments(**{k: float(m[k] or 0) for k in CupedMoments.__dataclass_fields__ if k != "units"},
                               units=int(m["units"]))
        pre_m, nopre_m = out.get(m["variant"], (CupedMoments(), CupedMoments()))
        out[m["variant"]] = (moments, nopre_m) if m["has_pre"] else (pre_m, moments)
    return out


def experiment_summary(session: Session, start: date, end: date, audience: str | Audience = "global", *,
                       control: str = "A", treatment: str = "B", min_impressions: int = 1000,
                       split: dict[str, float] | None = None, srm_threshold: float = 0.001,
                       with_cuped: bool = True, cuped_pre_days: int = 14, sequential: bool = True,
                       tau_relative: float = 0.1, confidence: float = 0.95) -> dict[str, Any]:
    """The whole read-out. ``state``: ``ok``, ``not_enough_data`` (guard) or ``no_data``."""
    aud = resolve_audience(audience)
    rows = grouped_counts(session, start, end, aud, by=("day", "variant"))
    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        t = totals.setdefault(r["variant"], {"impressions": 0, "clicks": 0, "views": 0})
        for k in t:
            t[k] += r[k]
    a = totals.get(control, {"impressions": 0, "clicks": 0, "views": 0})
    b = totals.get(treatment, {"impressions": 0, "clicks": 0, "views": 0})
    z = two_proportion_ztest(a["clicks"], a["impressions"], b["clicks"], b["impressions"],
                             min_n=min_impressions, confidence=confidence)
    result: dict[str, Any] = {
        **_range(start, end, aud), "control": control, "treatment": treatment,
        "variants": {v: {**t, "ctr": pct(t["clicks"], t["impressions"])} for v, t in ((control, a), (treatment, b))},
        "ztest": z,
    }
    if not a["impressions"] and not b["impressions"]:
        result["state"] = "no_data"
    else:
        result["state"] = z["state"]
    observed, scope = srm_counts(session, start, end, aud)
    srm = srm_check(observed, split or {control: 0.5, treatment: 0.5}, threshold=srm_threshold)
    srm["scope"] = scope
    result["srm"] = srm
    if with_cuped:
        result["cuped"] = cuped(cuped_moments_sql(session, start, end, aud, cuped_pre_days),
                                control=control, treatment=treatment, confidence=confidence)
        result["cuped"]["pre_period"] = {"from": (start - timedelta(days=cuped_pre_days)).isoformat(),
                                         "to": (start - timedelta(days=1)).isoformat()}
    if sequential:
        by_day = {(r["day"], r["variant"]): r for r in rows}
        cum, path = [0, 0, 0, 0], []
        for d in days_in(start, end):
            ra = by_day.get((d, control), {"clicks": 0, "impressions": 0})
            rb = by_day.get((d, treatment), {"clicks": 0, "impressions": 0})
            cum = [cum[0] + ra["clicks"], cum[1] + ra["impressions"], cum[2] + rb["clicks"], cum[3] + rb["impressions"]]
            path.append(tuple(cum))
        result["sequential"] = msprt_path(path, tau_relative=tau_relative, alpha=1 - confidence)
    return result
