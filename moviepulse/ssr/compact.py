"""Compaction: merge a finished hour's per-minute rows into one row per route and hour.

Sketches merge exactly, counts and sums add, so every statistic over whole hours is unchanged
(the tests compare ``route_stats`` before and after). Windows the dashboard uses are whole days,
so long windows read ~24 rows per route and day instead of 1,440; alert windows (the last minutes)
only read rows that are not compacted yet. The merged row keeps the hour's start as ``minute``.
A late flush into a compacted hour adds a minute row that the next run merges again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from moviepulse.core.db import write_transaction
from moviepulse.models.ssr import SsrRouteMinute
from moviepulse.ssr.sketch import LatencySketch
from moviepulse.ssr.store import real_session

_SUMS = ("requests", "errors", "apdex_satisfied", "apdex_tolerating", "latency_sum_ms", "score_count",
         "score_sum")


def compact_hours(session: Session, before: datetime, since: datetime) -> dict[str, int]:
    """Merge the rows of every hour in ``[since, before)`` (truncated to hours) that has more than
    one row, or a row not at the hour's start. Returns ``{"hours": merged groups, "rows": rows read}``."""
    session = real_session(session)
    start = since.replace(minute=0, second=0, microsecond=0)
    end = before.replace(minute=0, second=0, microsecond=0)
    table = SsrRouteMinute.__table__
    with write_transaction(session):
        conn = session.connection()
        stmt = select(table).where(table.c.minute >= start, table.c.minute < end)
        rows = conn.execute(stmt).mappings().all()
        groups: dict[tuple[str, datetime], list[dict]] = defaultdict(list)
        for row in rows:
            groups[(row["route"], row["minute"].replace(minute=0, second=0, microsecond=0))].append(dict(row))
        merged_rows, stale_ids = [], []
        for (route, hour), members in groups.items():
            if len(members) == 1 and members[0]["minute"] == hour:
                continue
            sketch = LatencySketch()
            out = {"route": route, "minute": hour, **dict.fromkeys(_SUMS, 0), "latency_sum_ms": 0.0,
                   "latency_max_ms": 0.0, "score_min": None, "score_max": None}
            for m in members:
                sketch.merge(LatencySketch.from_bytes(m["sketch"]))
                for name in _SUMS:
                    out[name] += m[name] or 0
                out["latency_max_ms"] = max(out["latency_max_ms"], m["latency_max_ms"] or 0.0)
                for name, pick in (("score_min", min), ("score_max", max)):
                    if m[name] is not None:
                        out[name] = m[name] if out[name] is None else pick(out[name], m[name])
                stale_ids.append(m["id"])
            out["sketch"] = sketch.to_bytes()
            merged_rows.append(out)
        for i in range(0, len(stale_ids), 500):  # delete first: the merged row reuses (route, hour)
            conn.execute(delete(table).where(table.c.id.in_(stale_ids[i:i + 500])))
        if merged_rows:
            conn.execute(insert(table), merged_rows)
    return {"hours": len(merged_rows), "rows": len(rows)}


def compact_recent(session: Session, now: datetime, after_hours: int, lookback_hours: int = 48
                   ) -> dict[str, int]:
    """Compact the hours that ended at least ``after_hours`` ago, looking back ``lookback_hours``."""
    before = now - timedelta(hours=after_hours)
    return compact_hours(session, before, before - timedelta(hours=lookback_hours))
