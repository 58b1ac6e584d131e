"""The ``moviepulse`` command: a Flask CLI group over ``create_app``.

Core commands (``plugins``, ``create-admin``, ``create-token``) and every plugin's commands
come from the ``register_commands`` hook; ``db`` comes from Flask-Migrate.
"""

from __future__ import annotations

from flask.cli import FlaskGroup

from moviepulse.app import create_app

cli = FlaskGroup(create_app=lambda: create_app(), help="MoviePulse: movie site and analytics back office.")


def main() -> None:
    cli(prog_name="moviepulse")


if __name__ == "__main__":  # pragma: no cover
    main()
