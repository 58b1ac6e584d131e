"""Built-in plugin ``reconciliation``: daily task ``reconciliation.reconcile`` and command
``reconcile`` comparing rollups with raw events; ``/admin/api/drift``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from flask.cli import with_appcontext

from moviepulse import hookimpl
from moviepulse.core.types import Setting, TaskSpec


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("RECONCILE_DAYS", 7, "Days (ending yesterday) that reconciliation recomputes from raw events."),
        Setting("RECONCILE_THRESHOLD", 0.005, "Relative drift above which a day is flagged (0.005 = 0.5 %)."),
        Setting("RECONCILE_LATE_SECONDS", 3600, "An event received this long after its event time is 'late'."),
        Setting("RECONCILE_REBUILD", False, "Rebuild flagged days automatically in the daily task."),
        Setting("RECONCILE_HOUR", 2, "UTC hour at which the daily reconciliation runs (minute 30)."),
    ]


def run_reconcile(days: int | None = None, rebuild: bool | None = None) -> dict[str, Any]:
    from flask import current_app

    from moviepulse.analytics.reconcile import reconcile
    from moviepulse.core.pulse import current_pulse
    from moviepulse.extensions import db

    cfg = current_app.config
    return reconcile(db.session, days=int(days or cfg["RECONCILE_DAYS"]), threshold=float(cfg["RECONCILE_THRESHOLD"]),
                     late_seconds=float(cfg["RECONCILE_LATE_SECONDS"]),
                     rebuild=bool(cfg["RECONCILE_REBUILD"] if rebuild is None else rebuild), pulse=current_pulse())


@hookimpl
def register_tasks(pulse: Any) -> list[TaskSpec]:
    app = pulse.app

    def daily(dt: datetime) -> bool:
        return dt.hour == int(app.config.get("RECONCILE_HOUR", 2)) and dt.minute == 30

    return [TaskSpec("reconciliation.reconcile", run_reconcile, schedule=daily,
                     help="Compare recent rollups with raw events; store drift; flag days.")]


@hookimpl
def register_metrics() -> list[Any]:
    from moviepulse.analytics import queries
    from moviepulse.analytics.metric import Metric

    return [Metric("drift", "Rollup drift", queries.drift)]


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import reconciliation_blueprint

    return [reconciliation_blueprint()]


@click.command("reconcile")
@click.option("--days", type=int, default=None, help="Days to recompute, ending yesterday (default RECONCILE_DAYS).")
@click.option("--rebuild", is_flag=True, help="Rebuild flagged (and never rolled up) days.")
@with_appcontext
def reconcile_command(days: int | None, rebuild: bool) -> None:
    """Recompute recent days from raw events and report drift against the stored rollups."""
    summary = run_reconcile(days, rebuild)
    for d in summary["days"]:
        line = f"{d['day']}: {d['status']}"
        if d.get("metrics"):
            worst = max(d["metrics"].items(), key=lambda kv: kv[1]["rel_diff"])
            line += f" (worst {worst[0]}: {worst[1]['rel_diff'] * 100:.3f}%)"
        if d.get("likely_cause"):
            line += f" — {d['likely_cause']}"
        click.echo(line)
    click.echo(f"flagged: {', '.join(summary['flagged_days']) or 'none'}; rebuilt: "
               f"{', '.join(summary['rebuilt']) or 'none'}; run {summary['run_id']}")


@hookimpl
def register_commands() -> list[Any]:
    return [reconcile_command]
