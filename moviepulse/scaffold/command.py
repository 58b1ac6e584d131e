"""The ``moviepulse new-plugin NAME`` command (registered by the built-in ``core`` plugin)."""

from __future__ import annotations

import click

from moviepulse.scaffold.names import plugin_names
from moviepulse.scaffold.render import create


@click.command("new-plugin")
@click.argument("name")
@click.option("--directory", "-d", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder in which the plugin's own folder is created.")
@click.option("--force", is_flag=True, help="Overwrite files in an existing, non-empty folder.")
def new_plugin_command(name: str, directory: str, force: bool) -> None:
    """Create a MoviePulse plugin package NAME (setup.cfg, entry point, a task, a test)."""
    try:
        names = plugin_names(name)
        root = create(name, directory, force=force)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        click.echo(f"  created {path}")
    click.echo(
        f"\nPlugin {names.name!r} ({names.dist}) is ready. Next:\n"
        f"  cd {root}\n"
        f"  pip install -e '.[test]'    # registers the 'moviepulse' entry point\n"
        f"  pytest                      # its own tests pass out of the box\n"
        f"  moviepulse plugins          # lists {names.name}\n"
    )
