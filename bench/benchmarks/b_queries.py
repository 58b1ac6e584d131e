"""Dashboard queries at 10,000,000 events: each widget's query p50/p95, vs the naive raw GROUP BY (issue 5).

On the seeded data set (``--quick``: 200,000 events), with every day rolled up first:

* case "CTR line, 30 days": baseline = the naive query a dashboard without rollups would run
  (raw ``GROUP BY day, variant`` over 30 days of events); candidate = ``queries.ctr_daily``;
* case "widget queries": every function of ``moviepulse.analytics.queries`` the dashboard calls,
  over the last 30 days, for the global audience and a cohort (``device:mobile``), one call per
  sample; baseline = a ``SELECT 1`` round trip through the same session (the floor). Targets:
  each query's p95 ≤ 50 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

from bench import common
from bench.benchmarks.b_rollup import dataset_days, dataset_size, day_text
from bench.harness import Case, Context, Plan, Target, Variant, benchmark

NAIVE_CTR_SQL = ("SELECT substr(event_time, 1, 10) AS day, variant, "
                 "sum(CASE WHEN type = 'impression' THEN 1 ELSE 0 END), "
                 "sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END) "
                 "FROM events WHERE event_time >= ? AND event_time < ? AND is_bot = 0 GROUP BY day, variant")

WIDGET_QUERIES = ("ctr_daily", "ctr_by_placement", "ctr_totals", "placement_funnel", "ingestion_funnel",
                  "experiment", "drift", "queue", "failed", "trends")


def ensure_rollups(ctx: Context, app, path: str) -> None:
    """Roll up every day of the data set that has no daily rollup yet (kept in the cached file)."""
    from moviepulse.analytics.rollups import rollup_day, rollup_levels, rollup_state
    from moviepulse.extensions import db
    from moviepulse.models.analytics import ROLLUP_LEVELS, RollupMovieWeekly

    first, last = dataset_days(path)
    with app.app_context():
        state = rollup_state(db.session, first, last)
        missing = [first + timedelta(days=i) for i in range((last - first).days + 1)
                   if not state.get(first + timedelta(days=i), {}).get("daily")]
        if missing:
            ctx.log(f"queries: rolling up {len(missing)} day(s) once (kept in the cached data set)")
            t = time.perf_counter()
            for d in missing:
                rollup_day(db.session, d)
            ctx.log(f"rolled up in {time.perf_counter() - t:.1f} s")
        empty = [m for m in (ROLLUP_LEVELS[0][0], RollupMovieWeekly)
                 if db.session.scalar(db.select(db.func.count()).select_from(m)) == 0]
        if empty:
            ctx.log("queries: writing the coarse rollup levels and weekly movie rows of the days rolled up "
                    "before they existed")
            rollup_levels(db.session, first, last)
        db.session.remove()


def widget_cases(ctx: Context, queries, app, start: date, end: date, naive: Callable[[], float],
                 notes: list[str]) -> tuple[list[Case], list[Target], dict[str, str]]:
    """The two cases and the targets of this benchmark for ``app`` (whichever database it is on);
    ``naive()`` times one naive raw GROUP BY. Returns ``(cases, targets, states)``, ``states`` filled
    while the cases run (each widget's reported ``state``)."""
    from moviepulse.extensions import db

    def call(name: str, audience: str):
        func = getattr(queries, name)

        def run() -> float:
            with app.app_context():
                t = time.perf_counter()
                out = func(db.session, start, end, audience)
                dt = time.perf_counter() - t
                db.session.remove()
            state = out.get("state") if isinstance(out, dict) else None
            if state is not None:
                states.setdefault(f"{name}[{audience}]", state)
            return dt * 1000

        return run

    def floor() -> float:
        with app.app_context():
            t = time.perf_counter()
            db.session.execute(db.text("SELECT 1")).all()
            dt = time.perf_counter() - t
            db.session.remove()
        return dt * 1000

    states: dict[str, str] = {}
    line = Case("CTR line, 30 days", "ms",
                [Variant("naive raw GROUP BY day, variant", naive, baseline=True),
                 Variant("moviepulse ctr_daily (rollups)", call("ctr_daily", "global"))],
                rounds=ctx.rounds or ctx.pick(3, 5))
    present = [q for q in WIDGET_QUERIES if hasattr(queries, q)]
    missing = [q for q in WIDGET_QUERIES if q not in present]
    if missing:
        notes.append(f"not available: queries.{', queries.'.join(missing)}")
    variants = [Variant("SELECT 1 round trip", floor, baseline=True)]
    for audience in ("global", "device:mobile"):
        for q in present:
            variants.append(Variant(f"{q} [{audience}]", call(q, audience)))
    widgets = Case("widget queries, 30 days", "ms", variants, rounds=ctx.rounds or ctx.pick(3, 10))
    targets = [Target("naive raw GROUP BY / ctr_daily (how much the rollups save)",
                      lambda r: r[line.name]["naive raw GROUP BY day, variant"].median
                      / r[line.name]["moviepulse ctr_daily (rollups)"].median, 1.0, ">=", "context")]
    for v in variants[1:]:
        targets.append(Target(f"{v.name} p95 (ms)", lambda r, n=v.name: r[widgets.name][n].p95, 50.0, "<=",
                              "issue 5"))
    return [line, widgets], targets, states


@benchmark("queries", title="Dashboard queries vs the naive raw GROUP BY", issue="issue 5")
def build(ctx: Context) -> Plan:
    queries = common.require("moviepulse.analytics.queries", what="moviepulse.analytics.queries")
    common.require("moviepulse.analytics.rollups", "rollup_state", "moviepulse.analytics.rollups.rollup_state")
    n = dataset_size(ctx)
    path = common.dataset(ctx, n)
    app = common.make_app(path)
    ensure_rollups(ctx, app, path)

    first, last = dataset_days(path)
    end = last - timedelta(days=1)
    start = end - timedelta(days=29)
    con = common.app_connection(path)
    notes = [f"data set: {n:,} events {first} .. {last}; window {start} .. {end} (30 days)"]

    def naive() -> float:
        t = time.perf_counter()
        con.execute(NAIVE_CTR_SQL, (day_text(start), day_text(end + timedelta(days=1)))).fetchall()
        return (time.perf_counter() - t) * 1000

    cases, targets, states = widget_cases(ctx, queries, app, start, end, naive, notes)

    def cleanup() -> None:
        con.close()
        common.dispose_app(app)
        if states:
            notes.append("states: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items())))

    notes.append("the same on PostgreSQL: the queries_pg benchmark")
    return Plan(cases=cases, targets=targets, cleanup=cleanup, notes=notes,
                params={"dataset_events": n, "from": str(start), "to": str(end)})
