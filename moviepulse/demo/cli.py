"""``moviepulse demo load`` and ``moviepulse demo traffic``."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("demo")
def demo_group() -> None:
    """Demo data: load the bundled catalogue, simulate visitor traffic."""


@demo_group.command("load")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A catalogue JSON file (default: the bundled catalogue).")
@with_appcontext
def load_command(path: str | None) -> None:
    """Load the catalogue straight into movies and movie_fields (source 'seed')."""
    from moviepulse.demo.loader import load_catalogue_directly
    from moviepulse.extensions import db

    if path:
        with open(path, encoding="utf-8") as fh:
            entries = json.load(fh)
    else:
        try:
            from moviepulse.upstreams.catalogue import load_catalogue
        except ImportError as exc:
            raise click.ClickException("the bundled catalogue is not available; pass --file") from exc
        entries = load_catalogue()
    result = load_catalogue_directly(db.session, entries)
    click.echo(f"catalogue loaded: {result.created} created, {result.updated} updated, {result.fields} fields")


@demo_group.command("setup")
@click.option("--limit", type=int, default=None, help="Import at most this many movies (default: all).")
@with_appcontext
def setup_command(limit: int | None) -> None:
    """Import the demo catalogue through the configured TMDB/OMDb base URLs (the fake servers in the demo)."""
    from moviepulse.ingestion.pipeline import import_catalogue

    run = import_catalogue(current_app._get_current_object(), limit, trigger="demo")
    movies = (run.get("counts") or {}).get("movies") or {}
    steps = {k: movies[k] for k in ("requested", "fetched", "stored", "failed") if k in movies}
    click.echo(f"demo catalogue imported through the upstreams: {len(run.get('movie_ids') or [])} movies "
               f"({', '.join(f'{k} {v}' for k, v in steps.items()) or run.get('status', '')})")


@demo_group.command("traffic")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True, help="Site to drive over HTTP.")
@click.option("--in-process", is_flag=True, help="Drive this app through the Flask test client instead.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 90), help="Simulated days, ending today.")
@click.option("--visitors-per-day", default=40, show_default=True, type=click.IntRange(0, 100000))
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed (same seed, same choices).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--live", is_flag=True, help="Keep sending today's visitors (a few every --interval seconds).")
@click.option("--interval", default=20.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--duration", default=8 * 3600.0, show_default=True, type=click.FloatRange(1, 7 * 86400),
              help="With --live: stop after this many seconds.")
@with_appcontext
def traffic_command(base_url: str, in_process: bool, days: int, visitors_per_day: int, seed: int,
                    as_json: bool, live: bool, interval: float, duration: float) -> None:
    """Simulate visitors: home, rail clicks, movie pages, trends, search and beacons for past days."""
    from moviepulse.demo.traffic import FlaskDriver, RequestsDriver, simulate

    if live:
        import time

        driver = RequestsDriver(base_url)
        deadline = time.monotonic() + duration
        round_no = 0
        while time.monotonic() < deadline:
            round_no += 1
            try:
                simulate(driver, days=1, visitors_per_day=max(1, visitors_per_day // 20), seed=seed * 100003 + round_no)
            except Exception as exc:  # noqa: BLE001 - the site restarting must not end the demo
                click.echo(f"live traffic round {round_no} failed: {exc}", err=True)
            time.sleep(interval)
        return

    max_age = int(current_app.config.get("EVENTS_MAX_AGE_DAYS", 7))
    if days > max_age + 1:
        click.echo(f"note: beacons older than EVENTS_MAX_AGE_DAYS={max_age} are rejected by the API; "
                   f"simulating {max_age + 1} days instead of {days}", err=True)
        days = max_age + 1
    driver = FlaskDriver(current_app._get_current_object()) if in_process else RequestsDriver(base_url)
    report = simulate(driver, days=days, visitors_per_day=visitors_per_day, seed=seed, max_age_days=max_age)
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['visits']} visits over {data['days']} days: {data['page_requests']} page requests, "
               f"{data['beacon_batches']} beacon batches ({data['accepted']} accepted, {data['duplicates']} "
               f"duplicates, {data['rejected']} rejected), {data['errors']} errors")
    click.echo(f"simulated CTR: A {data['simulated_ctr']['A']}  B {data['simulated_ctr']['B']}")
