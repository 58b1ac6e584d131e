"""Funnels: the placement funnel impressions → clicks → views (from rollups), and the
ingestion funnel, delegated to ``moviepulse.ingestion.queries.ingestion_funnel`` when the
ingestion package provides it.

Rates: ``ctr`` = clicks/impressions, ``view_rate`` = views/clicks (click → detail view),
``conversion`` = views/impressions — all in percent, half-up to 2 dp, ``None`` when the
denominator is 0.
"""

from __future__ import annotations

import importlib
import inspect
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from moviepulse.analytics.audiences import Audience
from moviepulse.analytics.ctr import _range, _state, pct
from moviepulse.analytics.facts import grouped_counts
from moviepulse.models.events import PLACEMENTS


def _funnel_row(label: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"placement": label, "impressions": r["impressions"], "clicks": r["clicks"], "views": r["views"],
            "ctr": pct(r["clicks"], r["impressions"]), "view_rate": pct(r["views"], r["clicks"]),
            "conversion": pct(r["views"], r["impressions"])}


def placement_funnel(session: Session, start: date, end: date, audience: str | Audience = "global") -> dict[str, Any]:
    """``{"state", "rows": [{placement, impressions, clicks, views, ctr, view_rate, conversion}], "total": {...}}``."""
    rows = grouped_counts(session, start, end, audience, by=("placement",))
    index = {r["placement"]: r for r in rows}
    zero = {"impressions": 0, "clicks": 0, "views": 0}
    names = list(PLACEMENTS) + sorted({str(p) for p in index if p not in PLACEMENTS and p is not None})
    out = [_funnel_row(p, index.get(p, zero)) for p in names]
    if None in index:
        out.append(_funnel_row("unknown", index[None]))
    total = {k: sum(r[k] for r in rows) for k in ("impressions", "clicks", "views")}
    return {"state": _state(rows), **_range(start, end, audience), "steps": ["impressions", "clicks", "views"],
            "rows": out, "total": _funnel_row("total", total)}


def ingestion_funnel(session: Session, start: date, end: date, audience: str | Audience = "global") -> dict[str, Any]:
    """The ingestion engineer's ``ingestion_funnel`` if present, else ``{"state": "unavailable"}``.

    Audiences do not apply to ingestion (it has no visitors); ``audience`` is accepted for a
    uniform API and echoed back.
    """
    try:
        module = importlib.import_module("moviepulse.ingestion.queries")
        func = module.ingestion_funnel
    except (ImportError, AttributeError):
        return {"state": "unavailable", **_range(start, end, audience),
                "reason": "the ingestion package does not provide ingestion_funnel yet"}
    params = inspect.signature(func).parameters
    kwargs: dict[str, Any] = {}
    if "audience" in params:
        kwargs["audience"] = audience if isinstance(audience, str) else audience.slug
    result = func(session, start, end, **kwargs)
    if isinstance(result, dict):
        result.setdefault("state", "no_data" if result.get("runs") == 0 else "ok")
        return {**_range(start, end, audience), **result}
    return {"state": "ok" if result else "no_data", **_range(start, end, audience), "rows": result}
