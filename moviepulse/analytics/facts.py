"""Grouped event counts over a date range and audience, from the cheapest complete source.

For each day of the range:

* daily-rolled days read the smallest coarse level (``ROLLUP_LEVELS``) whose dimensions cover the
  grouping and the audience's filters, or ``rollup_daily`` (cohort audiences, custom ``where``
  predicates, and days rolled up before the coarse levels existed). The levels are exact sums of
  the fine rows, so every answer is the same whichever table it comes from;
* a day with an hourly rollup reads ``rollup_hourly`` for ``[day, covered_until)`` and raw
  events for the rest of the day;
* any other day reads raw events.

Each source is one SQL ``GROUP BY``; the (few) grouped rows are merged by key. Counts are
non-bot impressions, clicks, views, plus bot events apart. Distinct devices are not
returned here because they do not add across rows/sources.

The raw part is the costly one (today's tail after the hourly rollup's ``covered_until`` holds up
to a rollup interval of events, hundreds of thousands at a high event rate), and every dashboard
query over a range ending today reads the same tail. Inside a cached dashboard call
(``resultcache.active()``) it is therefore read once per range for every query, grouping and
audience: :func:`raw_fine_counts` groups it by day and every rollup dimension (cached like the
call), and the audience's equality filters and the grouping are applied to those rows in Python —
the same sums the filtered SQL ``GROUP BY`` returns. Audiences with a custom ``where`` predicate, and
every call outside the dashboard cache, run the filtered SQL as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, scoped_session

from moviepulse.analytics.audiences import Audience, resolve_audience
from moviepulse.analytics.rollups import DAILY, HOURLY, measure_columns, rollup_state
from moviepulse.analytics.sqlutil import as_date, day_bounds, day_bucket, days_in
from moviepulse.core import resultcache
from moviepulse.models.analytics import ROLLUP_DIMENSIONS, ROLLUP_LEVELS, RollupDaily, RollupHourly
from moviepulse.models.events import Event

MEASURES = ("impressions", "clicks", "views", "bot_events")
GROUPABLE = ("day", *ROLLUP_DIMENSIONS)


def plan_sources(session: Session, start: date, end: date) -> dict[str, Any]:
    """Which days/ranges come from which source: ``{"daily": [days], "hourly": [(a, b)], "raw": [(a, b)]}``."""
    state = rollup_state(session, start, end)
    plan: dict[str, Any] = {"daily": [], "hourly": [], "raw": []}
    for day in days_in(start, end):
        st = state.get(day, {})
        lo, hi = day_bounds(day)
        if st.get(DAILY):
            plan["daily"].append(day)
        elif st.get(HOURLY) and st[HOURLY] > lo:
            covered = min(st[HOURLY], hi)
            plan["hourly"].append((lo, covered))
            if covered < hi:
                plan["raw"].append((covered, hi))
        else:
            plan["raw"].append((lo, hi))
    return plan


def pick_level(by: Sequence[str], audience: Audience) -> Any:
    """The smallest coarse daily model able to answer ``by`` under ``audience``, else ``None``."""
    if audience.where is not None:
        return None
    need = {b for b in by if b != "day"} | set(audience.filters)
    for model, dims in ROLLUP_LEVELS:
        if need <= set(dims):
            return model
    return None


def _day_condition(col: Any, days: list[date]) -> Any:
    contiguous = (max(days) - min(days)).days + 1 == len(days)
    return (col >= min(days)) & (col <= max(days)) if contiguous else col.in_(days)


def _levelled_days(session: Session, days: list[date]) -> set[date]:
    """Days among ``days`` whose coarse levels are written (the smallest level as the marker: all
    levels are written in the same transaction as the fine rows)."""
    marker = ROLLUP_LEVELS[0][0]
    rows = session.execute(select(marker.day).distinct().where(_day_condition(marker.day, days))).scalars()
    return {as_date(d) for d in rows}


def _ranges(col: Any, ranges: list[tuple[datetime, datetime]]) -> Any:
    return or_(*[(col >= a) & (col < b) for a, b in _merge(ranges)])


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


#: Cache name of :func:`raw_fine_counts` (bump the version when its rows change shape).
RAW_FINE_COUNTS = "moviepulse.analytics.facts.raw_fine_counts.v1"


def raw_fine_counts(session: Session, lo: datetime, hi: datetime) -> list[tuple[Any, ...]]:
    """Raw events in ``[lo, hi)`` grouped by day and every rollup dimension: rows
    ``(day, *ROLLUP_DIMENSIONS, impressions, clicks, views, bot_events)`` (no audience filter)."""
    cols = [day_bucket(Event.event_time).label("day"), *[getattr(Event, d) for d in ROLLUP_DIMENSIONS]]
    measures = [c for c in measure_columns() if c.name in MEASURES]
    q = select(*cols, *measures).where(Event.event_time >= lo, Event.event_time < hi).group_by(*cols)
    n = 1 + len(ROLLUP_DIMENSIONS)
    return [(as_date(r[0]), *r[1:n], *(int(v or 0) for v in r[n:])) for r in session.execute(q)]


def row_filter(audience: Audience) -> Any:
    """A predicate on :func:`raw_fine_counts` rows equal to ``audience.conditions`` (``col = value``,
    ``col IN (values)``, ``col IS NULL``), or ``None`` when the audience has a custom ``where`` or a
    filter value that is not a string (those run in SQL)."""
    if audience.where is not None:
        return None
    checks: list[tuple[int, Any]] = []
    for name, value in audience.filters.items():
        index = 1 + ROLLUP_DIMENSIONS.index(name)
        if value is None or isinstance(value, str):
            checks.append((index, value))
        elif isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, str) for v in value):
            checks.append((index, frozenset(value)))
        else:
            return None

    def match(row: tuple[Any, ...]) -> bool:
        for index, want in checks:
            got = row[index]
            if want is None:
                if got is not None:
                    return False
            elif isinstance(want, frozenset):
                if got not in want:  # NULL is in no list, as in SQL
                    return False
            elif got != want:
                return False
        return True

    return match


def grouped_counts(session: Session, start: date, end: date, audience: str | Audience | None = "global",
                   by: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows ``{<by keys>…, impressions, clicks, views, bot_events}`` for the range, sorted by key.

    ``by`` is any subset of ``day`` and the rollup dimensions. Empty ``by`` -> one total row
    (all zeros if there is no data).
    """
    aud = resolve_audience(audience)
    bad = [b for b in by if b not in GROUPABLE]
    if bad:
        raise ValueError(f"cannot group by {bad}; allowed: {list(GROUPABLE)}")
    plan = plan_sources(session, start, end)
    merged: dict[tuple[Any, ...], dict[str, int]] = {}

    def add(rows: Any) -> None:
        for row in rows:
            m = row._mapping
            key = tuple(as_date(m[b]) if b == "day" else m[b] for b in by)
            acc = merged.setdefault(key, dict.fromkeys(MEASURES, 0))
            for k in MEASURES:
                acc[k] += int(m[k] or 0)

    def add_daily(t: Any, days: list[date]) -> None:
        cols = [(t.day if b == "day" else getattr(t, b)).label(b) for b in by]
        q = (select(*cols, *[func.coalesce(func.sum(getattr(t, k)), 0).label(k) for k in MEASURES])
             .where(_day_condition(t.day, days), *aud.conditions(t)))
        add(session.execute(q.group_by(*cols) if cols else q))

    if plan["daily"]:
        days = plan["daily"]
        level = pick_level(by, aud)
        coarse = _levelled_days(session, days) if level is not None else set()
        if coarse:
            add_daily(level, sorted(coarse))
        fine = [d for d in days if d not in coarse]
        if fine:
            add_daily(RollupDaily, fine)
    if plan["hourly"]:
        t = RollupHourly
        cols = [(day_bucket(t.hour) if b == "day" else getattr(t, b)).label(b) for b in by]
        q = (select(*cols, *[func.coalesce(func.sum(getattr(t, k)), 0).label(k) for k in MEASURES])
             .where(_ranges(t.hour, plan["hourly"]), *aud.conditions(t)))
        add(session.execute(q.group_by(*cols) if cols else q))
    cache = resultcache.active()
    match = row_filter(aud) if plan["raw"] and cache is not None else None
    if match is not None:  # the shared, cached fine rows of each raw range (see the module docstring)
        positions = [0 if b == "day" else 1 + ROLLUP_DIMENSIONS.index(b) for b in by]
        n = 1 + len(ROLLUP_DIMENSIONS)
        background = isinstance(session, scoped_session)  # usable from a refresh thread
        for lo, hi in _merge(plan["raw"]):
            for row in cache.call(RAW_FINE_COUNTS, (lo, hi), lambda lo=lo, hi=hi: raw_fine_counts(session, lo, hi),
                                  background=background):
                if match(row):
                    acc = merged.setdefault(tuple(row[i] for i in positions), dict.fromkeys(MEASURES, 0))
                    for k, v in zip(MEASURES, row[n:], strict=True):
                        acc[k] += v
    elif plan["raw"]:
        cols = [(day_bucket(Event.event_time) if b == "day" else getattr(Event, b)).label(b) for b in by]
        measures = [c for c in measure_columns() if c.name in MEASURES]
        q = select(*cols, *measures).where(_ranges(Event.event_time, plan["raw"]), *aud.conditions(Event))
        add(session.execute(q.group_by(*cols) if cols else q))

    if not by and not merged:
        merged[()] = dict.fromkeys(MEASURES, 0)
    out = []
    for key in sorted(merged, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        out.append({**dict(zip(by, key, strict=True)), **merged[key]})
    return out
