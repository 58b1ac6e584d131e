"""Built-in plugin ``ctr``: rollups (task ``ctr.rollup``, command ``rollup``), CTR metrics,
the trends leaderboard, and ``/admin/api/ctr/*`` + ``/admin/api/trends``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import click
from flask.cli import with_appcontext

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("ROLLUP_INTERVAL_SECONDS", 300, "How often ctr.rollup runs (hourly rollup of today, catch-up)."),
        Setting("ROLLUP_CATCHUP_DAYS", 3, "Days before today that ctr.rollup rolls up when missing."),
        Setting("ROLLUP_SETTLE_SECONDS", 7200, "Yesterday is re-rolled until this long after midnight."),
    ]


def run_rollup() -> list[dict[str, Any]]:
    from flask import current_app

    from moviepulse.analytics.rollups import periodic_rollup
    from moviepulse.extensions import db

    cfg = current_app.config
    return periodic_rollup(db.session, catchup_days=int(cfg["ROLLUP_CATCHUP_DAYS"]),
                           settle_seconds=int(cfg["ROLLUP_SETTLE_SECONDS"]))


@hookimpl
def register_tasks() -> list[TaskSpec]:
    return [TaskSpec("ctr.rollup", run_rollup, schedule="ROLLUP_INTERVAL_SECONDS",
                     help="Roll up today by hour (to the last complete minute) and any missing recent day daily.")]


@hookimpl
def register_metrics() -> list[Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.metric import Metric

    return [
        Metric("ctr_daily", "CTR per day and variant", queries.ctr_daily, "%"),
        Metric("ctr_placements", "CTR per placement and variant", queries.ctr_by_placement, "%"),
        Metric("ctr_totals", "CTR per variant", queries.ctr_totals, "%"),
        Metric("trends", "Trends leaderboard", queries.trends, "clicks"),
    ]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import ctr_blueprint

    return [ctr_blueprint()]


@click.command("rollup")
@click.option("--date", "day", default=None, help="One day YYYY-MM-DD (default: yesterday).")
@click.option("--from", "start", default=None, help="First day of a range (alone: that one day).")
@click.option("--to", "end", default=None, help="Last day of a range.")
@click.option("--hourly", is_flag=True, help="Also roll up today by hour (up to the last complete minute).")
@with_appcontext
def rollup_command(day: str | None, start: str | None, end: str | None, hourly: bool) -> None:
    """Recompute daily CTR rollups (idempotent: delete + insert per day)."""
    from moviepulse.analytics.rollups import rollup_hours, rollup_range
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow

    def parse(value: str, name: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint=name) from None

    if day and (start or end):
        raise click.UsageError("use either --date or --from/--to")
    if day:
        first = last = parse(day, "--date")
    elif start or end:
        first = parse(start or end, "--from")  # type: ignore[arg-type]
        last = parse(end, "--to") if end else first
    else:
        first = last = utcnow().date() - timedelta(days=1)
    for r in rollup_range(db.session, first, last):
        click.echo(f"{r['day']}: {r['rows']} rows, {r['events']} events")
    if hourly:
        r = rollup_hours(db.session, utcnow().date())
        if r.get("skipped"):
            click.echo(f"{r['day']} hourly: skipped ({r['skipped']}); covered until {r['covered_until']}")
        else:
            click.echo(f"{r['day']} hourly: {r['rows']} rows until {r['covered_until']}")


@hookimpl
def register_commands() -> list[Any]:
    return [rollup_command]


@hookimpl
def register_widgets() -> list[Any]:
    """Dashboard widgets: CTR line and placement bars (``moviepulse.dash_app.widgets.ctr``)."""
    from moviepulse.dash_app.widgets.ctr import CtrBarsWidget, CtrLineWidget

    return [CtrLineWidget, CtrBarsWidget]
