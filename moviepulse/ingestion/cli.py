"""CLI: ``moviepulse import``, ``moviepulse backfill``, ``moviepulse upstreams``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    movies = summary["counts"].get("movies", {})
    click.echo(f"run {summary['id']} {summary['status']}: " + ", ".join(f"{k}={v}" for k, v in sorted(movies.items())))
    for locale, values in sorted(summary["counts"].get("locales", {}).items()):
        parts = ", ".join(f"{k}={v}" for k, v in sorted(values.items()) if k not in ("requested",))
        click.echo(f"  {locale:<6} {parts}")
    for error in summary.get("errors", [])[:10]:
        click.echo(f"  ! {error['ref']} [{error['source']}] {error['reason']}: {error['message']}")


@click.command("import")
@click.argument("tmdb_ids", nargs=-1, type=int)
@click.option("--imdb", "imdb_ids", multiple=True, help="IMDb id (tt…); repeatable.")
@click.option("--popular", type=int, default=None, help="Import the first N movies of the popular list.")
@click.option("--force", is_flag=True, help="Ignore stored ETags (re-fetch everything).")
@click.option("--queue", is_flag=True, help="Enqueue Huey tasks instead of importing now.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@with_appcontext
def import_command(tmdb_ids: tuple[int, ...], imdb_ids: tuple[str, ...], popular: int | None, force: bool,
                   queue: bool, as_json: bool) -> None:
    """Import movies from the sources (TMDB + OMDb) by TMDB id, IMDb id or the popular list."""
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.pipeline import import_list, import_movies
    from moviepulse.ingestion.queueing import LIST_TASK, enqueue_import
    from moviepulse.ingestion.source import MovieRef

    pulse = current_pulse()
    refs = [MovieRef(tmdb_id=i) for i in tmdb_ids]
    for raw in imdb_ids:
        try:
            refs.append(MovieRef.parse(raw if raw.lower().startswith("tt") else "tt" + raw))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--imdb") from None
    if not refs and popular is None:
        raise click.UsageError("give TMDB ids, --imdb IDs or --popular N")
    if queue:
        queued = sum(1 for ref in refs if enqueue_import(pulse, ref, reason="cli", force=force))
        if popular:
            pulse.enqueue(LIST_TASK, "popular", popular, None)
        click.echo(f"enqueued {queued} movie import(s)" + (f" and the popular list ({popular})" if popular else ""))
        return
    if refs:
        _print_summary(import_movies(pulse, refs, kind="movies", trigger="cli", force=force), as_json)
    if popular:
        _print_summary(import_list(pulse, "popular", popular, trigger="cli", force=force), as_json)


@click.command("backfill")
@click.option("--dry-run", is_flag=True, help="Show what would be enqueued; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def backfill_command(dry_run: bool, as_json: bool) -> None:
    """Enqueue re-imports for movies with missing localisation or stale metadata."""
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.backfill import run_backfill

    result = run_backfill(current_pulse(), dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    verb = "would enqueue" if dry_run else "enqueued"
    count = len(result["selected"]) if dry_run else result["enqueued_count"]
    click.echo(f"considered {result['considered']}, due {result['needing']}, already pending "
               f"{result['skipped_pending']}, {verb} {count}"
               + (f" (limited by {result['limited_by']})" if result["limited_by"] else ""))
    for item in result["selected"][:50]:
        click.echo(f"  {item['key']:<16} {item['reason']:<22} value={item['value']:<10} {item.get('title') or ''}")


@click.command("upstreams")
@click.option("--tmdb-port", type=int, default=None, help="Default: FAKE_TMDB_PORT (8701).")
@click.option("--omdb-port", type=int, default=None, help="Default: FAKE_OMDB_PORT (8702).")
@click.option("--fixture", is_flag=True, help="Serve the six-film test catalogue instead of the bundled one.")
@click.option("--tmdb-rate-limit", type=float, default=None, help="Requests/s per client IP (0 = off).")
@click.option("--omdb-daily-quota", type=int, default=None)
@with_appcontext
def upstreams_command(tmdb_port: int | None, omdb_port: int | None, fixture: bool, tmdb_rate_limit: float | None,
                      omdb_daily_quota: int | None) -> None:
    """Run the fake TMDB and OMDb servers on 127.0.0.1 (Ctrl-C to stop)."""
    from flask import current_app

    from moviepulse.upstreams.server import serve_forever

    if not current_app.config.get("ENABLE_FAKE_UPSTREAMS", True):
        raise click.ClickException("the fake upstreams are disabled in this environment (ENABLE_FAKE_UPSTREAMS)")
    serve_forever(tmdb_port or int(current_app.config.get("FAKE_TMDB_PORT", 8701)),
                  omdb_port or int(current_app.config.get("FAKE_OMDB_PORT", 8702)), fixture=fixture,
                  tmdb_rate_limit=tmdb_rate_limit, omdb_daily_quota=omdb_daily_quota, echo=click.echo)
