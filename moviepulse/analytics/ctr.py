"""CTR per day per variant, per placement × variant, and totals — SQL over rollups.

Results keep raw counts; percentages are derived at presentation only with
:func:`pct` (``100·num/den`` rounded half-up to 2 dp; ``None`` when ``den`` is 0).
Every function returns ``{"state": "ok" | "no_data", …}``.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from moviepulse.analytics.audiences import Audience
from moviepulse.analytics.facts import grouped_counts
from moviepulse.analytics.sqlutil import days_in
from moviepulse.models.events import PLACEMENTS, VARIANTS


def pct(num: int | float, den: int | float, places: int = 2) -> float | None:
    """``100·num/den`` rounded half away from zero (MovieRec/PHP parity); ``None`` if ``den`` is 0."""
    if not den:
        return None
    value = Decimal(num) * 100 / Decimal(den)
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _state(rows: list[dict[str, Any]]) -> str:
    return "ok" if any(r["impressions"] or r["clicks"] or r["views"] for r in rows) else "no_data"


def _range(start: date, end: date, audience: Any) -> dict[str, Any]:
    slug = audience.slug if isinstance(audience, Audience) else (audience or "global")
    return {"from": start.isoformat(), "to": end.isoformat(), "audience": slug}


def ctr_daily(session: Session, start: date, end: date, audience: str | Audience = "global") -> dict[str, Any]:
    """Every day in ``[start, end]`` for variants A and B (zeros where absent).

    ``{"state", "from", "to", "audience", "rows": [{day, variant, impressions, clicks, views, ctr}],
    "series": {"A": [ctr…], "B": [ctr…]}, "days": [iso…]}``
    """
    rows = grouped_counts(session, start, end, audience, by=("day", "variant"))
    index = {(r["day"], r["variant"]): r for r in rows}
    variants = list(VARIANTS) + sorted({r["variant"] for r in rows if r["variant"] and r["variant"] not in VARIANTS})
    out = []
    for day in days_in(start, end):
        for v in variants:
            r = index.get((day, v), {"impressions": 0, "clicks": 0, "views": 0})
            out.append({"day": day.isoformat(), "variant": v, "impressions": r["impressions"],
                        "clicks": r["clicks"], "views": r["views"], "ctr": pct(r["clicks"], r["impressions"])})
    series = {v: [r["ctr"] for r in out if r["variant"] == v] for v in variants}
    return {"state": _state(rows), **_range(start, end, audience), "days": [d.isoformat() for d in days_in(start, end)],
            "rows": out, "series": series}


def ctr_by_placement(session: Session, start: date, end: date,
                     audience: str | Audience = "global") -> dict[str, Any]:
    """Placement × variant: ``rows: [{placement, variant, label, impressions, clicks, views, ctr}]``."""
    rows = grouped_counts(session, start, end, audience, by=("placement", "variant"))
    index = {(r["placement"], r["variant"]): r for r in rows}
    placements = list(PLACEMENTS) + sorted({r["placement"] for r in rows
                                            if r["placement"] and r["placement"] not in PLACEMENTS})
    out = []
    for p in placements:
        for v in VARIANTS:
            r = index.get((p, v), {"impressions": 0, "clicks": 0, "views": 0})
            out.append({"placement": p, "variant": v, "label": f"{p}-{v}", "impressions": r["impressions"],
                        "clicks": r["clicks"], "views": r["views"], "ctr": pct(r["clicks"], r["impressions"])})
    return {"state": _state(rows), **_range(start, end, audience), "rows": out}


def ctr_totals(session: Session, start: date, end: date, audience: str | Audience = "global") -> dict[str, Any]:
    """Per variant and overall: ``{"variants": {A: {...}, B: {...}}, "total": {...}, "bot_events": n}``."""
    rows = grouped_counts(session, start, end, audience, by=("variant",))
    variants: dict[str, dict[str, Any]] = {}
    total = {"impressions": 0, "clicks": 0, "views": 0}
    bots = 0
    for r in rows:
        bots += r["bot_events"]
        key = r["variant"] if r["variant"] is not None else "unknown"
        entry = variants.setdefault(key, {"impressions": 0, "clicks": 0, "views": 0})
        for k in total:
            entry[k] += r[k]
            total[k] += r[k]
    for v in VARIANTS:
        variants.setdefault(v, {"impressions": 0, "clicks": 0, "views": 0})
    for entry in (*variants.values(), total):
        entry["ctr"] = pct(entry["clicks"], entry["impressions"])
    return {"state": _state(rows), **_range(start, end, audience), "variants": variants, "total": total,
            "bot_events": bots}
