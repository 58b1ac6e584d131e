"""Rolling up one day and reconciling 7 days vs the raw GROUP BY of the same days (issue 5).

On the seeded data set (10,000,000 events over 90 days; ``--quick``: 300,000):

* case "one day": baseline = one raw ``GROUP BY`` of the day's events by the rollup dimensions
  with the rollup's measures (plain sqlite3, result fetched); candidate = ``rollup_day``
  (delete + insert…select of the day, per-movie clicks, state row — everything it does);
* case "7 days": baseline = the raw ``GROUP BY day, dimensions`` of those 7 days; candidate =
  ``reconcile(days=7)`` (raw recompute, comparison with stored rollups, drift rows).

Both write into the cached data set (rollup tables only; recomputing is idempotent).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from bench import common
from bench.harness import Case, Context, Plan, Target, Variant, benchmark


def raw_group_sql(dims: tuple[str, ...], by_day: bool) -> str:
    cols = ", ".join(dims)
    day = "substr(event_time, 1, 10) AS day, " if by_day else ""
    group = ("day, " if by_day else "") + cols
    return (f"SELECT {day}{cols}, "
            "sum(CASE WHEN is_bot = 0 AND type = 'impression' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN is_bot = 0 AND type = 'click' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN is_bot = 0 AND type = 'view' THEN 1 ELSE 0 END), "
            "count(DISTINCT CASE WHEN is_bot = 0 THEN device_id END), "
            "sum(CASE WHEN is_bot = 1 THEN 1 ELSE 0 END) "
            f"FROM events WHERE event_time >= ? AND event_time < ? GROUP BY {group}")


def day_text(d: date) -> str:
    return d.isoformat() + " 00:00:00.000000"


def dataset_size(ctx: Context) -> int:
    return ctx.events or ctx.pick(200_000, 10_000_000)


def dataset_days(path: str) -> tuple[date, date]:
    con = common.app_connection(path)
    lo, hi = con.execute("SELECT min(event_time), max(event_time) FROM events").fetchone()
    con.close()
    return date.fromisoformat(lo[:10]), date.fromisoformat(hi[:10])


@benchmark("rollup", title="Rollup of one day and reconciliation of 7 days vs raw GROUP BY", issue="issue 5")
def build(ctx: Context) -> Plan:
    rollups = common.require("moviepulse.analytics.rollups", "rollup_day", "moviepulse.analytics.rollups.rollup_day")
    reconcile = common.require("moviepulse.analytics.reconcile", "reconcile",
                               "moviepulse.analytics.reconcile.reconcile")
    dims = common.require("moviepulse.models.analytics", "ROLLUP_DIMENSIONS")
    n = dataset_size(ctx)
    path = common.dataset(ctx, n)
    first, last = dataset_days(path)
    day = last - timedelta(days=1)  # a complete, busy day
    app = common.make_app(path)
    from moviepulse.extensions import db

    con = common.app_connection(path)
    one_sql = raw_group_sql(tuple(dims), by_day=False)
    week_sql = raw_group_sql(tuple(dims), by_day=True)
    week_start = day - timedelta(days=6)
    with app.app_context():
        ctx.log("rollup: rolling up the 7 reconciled days first")
        for i in range(7):
            rollups(db.session, week_start + timedelta(days=i))
        db.session.remove()
    day_events = con.execute("SELECT count(*) FROM events WHERE event_time >= ? AND event_time < ?",
                             (day_text(day), day_text(day + timedelta(days=1)))).fetchone()[0]

    def raw_one() -> float:
        t = time.perf_counter()
        rows = con.execute(one_sql, (day_text(day), day_text(day + timedelta(days=1)))).fetchall()
        dt = time.perf_counter() - t
        raw_v.info["groups"] = len(rows)
        return dt * 1000

    def mp_one() -> float:
        with app.app_context():
            t = time.perf_counter()
            out = rollups(db.session, day)
            dt = time.perf_counter() - t
            db.session.remove()
        mp_v.info["rows"] = out.get("rows")
        mp_v.info["events_rolled"] = out.get("events")
        return dt * 1000

    def raw_week() -> float:
        t = time.perf_counter()
        con.execute(week_sql, (day_text(week_start), day_text(day + timedelta(days=1)))).fetchall()
        return (time.perf_counter() - t) * 1000

    def mp_week() -> float:
        with app.app_context():
            t = time.perf_counter()
            out = reconcile(db.session, days=7, end=day)
            dt = time.perf_counter() - t
            db.session.remove()
        flagged = [d for d in out.get("days", []) if d.get("flagged")] if isinstance(out, dict) else []
        rec_v.info["flagged_days"] = len(flagged)
        return dt * 1000

    raw_v = Variant("raw GROUP BY of the day (sqlite3)", raw_one, baseline=True)
    mp_v = Variant("moviepulse rollup_day", mp_one)
    rec_v = Variant("moviepulse reconcile(days=7)", mp_week)
    rounds = ctx.rounds or ctx.pick(2, 7)
    one = Case(f"one day ({day}, {day_events:,} events)", "ms", [raw_v, mp_v], rounds=rounds)
    week = Case(f"7 days ({week_start} .. {day})", "ms",
                [Variant("raw GROUP BY day of the 7 days (sqlite3)", raw_week, baseline=True), rec_v], rounds=rounds)

    def cleanup() -> None:
        con.close()
        common.dispose_app(app)

    return Plan(
        cases=[one, week],
        targets=[Target("rollup_day / raw GROUP BY of the day", lambda r: r[one.name]["moviepulse rollup_day"].ratio,
                        1.5, "<=", "issue 5"),
                 Target("reconcile 7 days / raw GROUP BY of the 7 days",
                        lambda r: r[week.name]["moviepulse reconcile(days=7)"].ratio, 2.0, "<=", "issue 5")],
        cleanup=cleanup, params={"dataset_events": n, "data_from": str(first), "data_to": str(last)},
        notes=[f"data set: {n:,} events {first} .. {last} (bench/.data, cached)"],
    )
