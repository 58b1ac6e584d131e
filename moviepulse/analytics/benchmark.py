"""Measure rollup and reconciliation cost against a raw GROUP BY of the same days.

``python -m moviepulse.analytics.benchmark [--url URL] [--days 8] [--per-day 100000]`` seeds a
fresh database with the deterministic generator, then reports (median of ``--repeat`` runs):

* ``raw_group_by_day`` — the rollup's own aggregate ``SELECT … GROUP BY`` over one day, fetched;
* ``rollup_day`` — the full recompute of that day (delete + insert-select + per-movie clicks);
* ``raw_group_by_7d`` / ``reconcile_7d``;
* dashboard queries over rollups (CTR line, bars, funnel, experiment, trends).

The ratios are what the issue budgets: rollup ≤ 1.5× and reconcile ≤ 2× the raw GROUP BY.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any


def _paired(base: Callable[[], Any], other: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median times of ``base`` and ``other``, run alternately so that load drifts hit both alike."""
    a, b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        base()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        other()
        b.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def run(url: str | None = None, days: int = 8, per_day: int = 100_000, repeat: int = 3,
        reuse: bool = False) -> dict[str, Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.reconcile import reconcile
    from moviepulse.analytics.rollups import raw_grouped_select, rollup_day, rollup_range
    from moviepulse.analytics.seed import generate_events, insert_events
    from moviepulse.analytics.sqlutil import day_bounds, day_bucket
    from moviepulse.app import create_app
    from moviepulse.extensions import db
    from moviepulse.models.events import Event

    tmp = tempfile.mkdtemp(prefix="mp-bench-")
    url = url or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=tmp)
    start = date(2026, 10, 1)
    end = start + timedelta(days=days - 1)
    out: dict[str, Any] = {"url": url.split("@")[-1], "days": days}
    with app.app_context():
        from sqlalchemy import func, select

        db.create_all()
        existing = db.session.scalar(select(func.count()).select_from(Event)) if reuse else 0
        if not existing:
            db.drop_all()
            db.create_all()
        t0 = time.perf_counter()
        total = existing or 0
        for i in range(0 if existing else days):  # one day at a time keeps memory flat
            events, devices = generate_events(start + timedelta(days=i), 1, devices=20_000,
                                              impressions_per_day=per_day, seed=100 + i, prefix=f"b{i}-")
            total += insert_events(db.session, events, devices if i == 0 else ())
        out["events"] = total
        out["seed_seconds"] = round(time.perf_counter() - t0, 1)
        day = start + timedelta(days=days // 2)
        lo, hi = day_bounds(day)

        def raw_day() -> Any:
            return db.session.execute(raw_grouped_select(lo, hi)).all()

        def raw_7d() -> Any:
            a, b = day_bounds(end - timedelta(days=6))[0], day_bounds(end)[1]
            return db.session.execute(raw_grouped_select(a, b, bucket=day_bucket(Event.event_time))).all()

        raw_day()  # warm the page cache
        out["raw_group_by_day_s"], out["rollup_day_s"] = _paired(raw_day, lambda: rollup_day(db.session, day), repeat)
        out["rollup_ratio"] = round(out["rollup_day_s"] / out["raw_group_by_day_s"], 2)
        rollup_range(db.session, start, end)
        out["raw_group_by_7d_s"], out["reconcile_7d_s"] = _paired(
            raw_7d, lambda: reconcile(db.session, days=7, end=end), repeat)
        out["reconcile_ratio"] = round(out["reconcile_7d_s"] / out["raw_group_by_7d_s"], 2)
        s30 = max(start, end - timedelta(days=29))
        s7 = end - timedelta(days=6)
        dash = {
            "ctr_daily_30d": lambda: queries.ctr_daily(db.session, s30, end),
            "ctr_placements_7d": lambda: queries.ctr_by_placement(db.session, s7, end),
            "funnel_7d": lambda: queries.placement_funnel(db.session, s7, end),
            "experiment_7d_no_cuped": lambda: queries.experiment(db.session, s7, end, with_cuped=False),
            "experiment_7d_cuped": lambda: queries.experiment(db.session, s7, end),
            "trends_7d": lambda: queries.trends(db.session, s7, end),
            "queue_stats_1d": lambda: queries.queue(db.session, end, end),
        }
        out["dashboard_s"] = {}
        for name, fn in dash.items():
            runs = []
            for _ in range(max(5, repeat)):
                t0 = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - t0)
            runs.sort()
            out["dashboard_s"][name] = {"median": round(statistics.median(runs), 4),
                                        "p95": round(runs[min(len(runs) - 1, int(len(runs) * 0.95))], 4)}
        for k in ("raw_group_by_day_s", "rollup_day_s", "raw_group_by_7d_s", "reconcile_7d_s"):
            out[k] = round(out[k], 4)
        if not url.startswith("sqlite") and not reuse:
            db.drop_all()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="Database URL (default: a fresh SQLite file).")
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--per-day", type=int, default=100_000, help="Impressions per day (~1.1x events).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="Keep the events already in --url (same --days).")
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.days, args.per_day, args.repeat, args.reuse), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
