"""moviepulse-watchtime: estimated watch time from view events (an example MoviePulse plugin).

What it registers, hook by hook:

* ``register_settings`` — ``WATCHTIME_DAYS`` and ``WATCHTIME_ROLLUP_SECONDS``;
* ``register_metrics`` — ``watch-time``, a ``moviepulse.Metric`` (``/admin/api/metrics/watch-time``);
* ``register_pages`` / ``register_widgets`` — a "Watch time" dashboard page and the
  ``watchtime-daily`` widget (also on the Overview page);
* ``register_tasks`` — ``watchtime.rollup``, periodic, storing its summary in the queue's store;
* ``register_blueprints`` — ``GET /admin/api/watchtime/summary``;
* ``register_commands`` — ``moviepulse watchtime-rollup``;
* ``startup`` — refuses a ``WATCHTIME_DAYS`` outside 1..90.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from moviepulse import PageSpec, Setting, StartupError, TaskSpec, hookimpl

#: The MoviePulse hook API this plugin targets; MoviePulse refuses to start on another major.
MOVIEPULSE_API = 1

__version__ = "0.1.0"


@hookimpl
def register_settings():
    return [
        Setting("WATCHTIME_DAYS", 7, "Days the watch-time rollup covers (1-90)."),
        Setting("WATCHTIME_ROLLUP_SECONDS", 3600, "How often the watch-time rollup runs, in seconds."),
    ]


@hookimpl
def register_metrics():
    from moviepulse_watchtime.metric import WATCH_TIME

    return [WATCH_TIME]


@hookimpl
def register_pages():
    return [PageSpec("watchtime", "Watch time", order=60,
                     description="Estimated minutes watched: runtime of viewed titles, per day.")]


@hookimpl
def register_widgets():
    from moviepulse_watchtime.widget import WatchTimeWidget

    return [WatchTimeWidget]


@hookimpl
def register_tasks():
    from moviepulse_watchtime.rollup import rollup

    return [TaskSpec("watchtime.rollup", rollup, schedule="WATCHTIME_ROLLUP_SECONDS",
                     retries=2, retry_delay=30, help="Summarise the last WATCHTIME_DAYS days of watch time.")]


@hookimpl
def register_blueprints():
    from moviepulse_watchtime.api import api

    return [api]


@click.command("watchtime-rollup")
@click.option("--days", type=int, default=None, help="Days to cover (default WATCHTIME_DAYS).")
@with_appcontext
def rollup_command(days):
    """Run the watch-time rollup now and print its summary as JSON."""
    from moviepulse_watchtime.rollup import rollup

    click.echo(json.dumps(rollup(days), indent=2))


@hookimpl
def register_commands():
    return [rollup_command]


@hookimpl
def startup(pulse):
    days = pulse.setting("WATCHTIME_DAYS")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
        raise StartupError(f"moviepulse-watchtime: WATCHTIME_DAYS must be an integer from 1 to 90, "
                           f"not {days!r}")
