"""Built-in plugin ``core``: site-wide settings, ``/healthz``, ``/metrics``, the admin API root
(``/admin/api/plugins``), and the ``plugins``/``create-admin``/``create-token`` commands.
"""

from __future__ import annotations

import hmac
import json
import sys
import time
from typing import Any

import click
from flask import Blueprint, Response, current_app, jsonify
from flask.cli import with_appcontext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from moviepulse import hookimpl
from moviepulse.core.auth import admin_api_blueprint, create_admin, create_token, password_problems
from moviepulse.core.observability import prom
from moviepulse.core.pulse import current_pulse
from moviepulse.core.types import Setting
from moviepulse.extensions import db


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("SITE_NAME", "MoviePulse", "Name shown in page titles and OpenGraph tags."),
        Setting("LOCALES", ["en", "de", "fr", "es", "pt-BR"], "Locales the site serves (first is the default)."),
        Setting("METRICS_TOKEN", "", "If set, /metrics requires 'Authorization: Bearer <token>' (required in "
                "production unless METRICS_PUBLIC).", secret=True, required_if=lambda cfg: not cfg.get("METRICS_PUBLIC")),
        Setting("METRICS_PUBLIC", False, "Serve /metrics without a token in production (e.g. when only a private "
                "network can reach it)."),
    ]


ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Database and queue reachable, as JSON; 503 when either is not."""
    checks: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        huey = current_pulse().huey
        checks["queue"] = {"ok": True, "backend": type(huey.storage).__name__, "pending": huey.pending_count()}
    except Exception as exc:  # noqa: BLE001
        checks["queue"] = {"ok": False, "error": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if ok else "unavailable", "env": current_app.config["ENV_NAME"],
            "checks": checks, "elapsed_ms": round((time.perf_counter() - started) * 1000, 2)}
    return jsonify(body), 200 if ok else 503


@ops.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    from flask import request

    token = current_app.config.get("METRICS_TOKEN")
    if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return Response("unauthorized\n", status=401, mimetype="text/plain")
    return Response(generate_latest(prom(current_app).registry), mimetype=CONTENT_TYPE_LATEST)


admin_root = admin_api_blueprint("admin_api_core", __name__)


@admin_root.get("/plugins")
def api_plugins() -> Response:
    """Every plugin, its version and what it registered."""
    return jsonify({"plugins": current_pulse().describe_plugins()})


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [ops, admin_root]


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def plugins_command(as_json: bool) -> None:
    """List every plugin, its version and what it registered."""
    plugins = current_pulse().describe_plugins()
    if as_json:
        click.echo(json.dumps(plugins, indent=2))
        return
    click.echo(f"{'PLUGIN':<18} {'VERSION':<10} REGISTERED")
    for p in plugins:
        reg = "; ".join(f"{kind}: {', '.join(slugs)}" for kind, slugs in p["registered"].items()) or "-"
        click.echo(f"{p['name']:<18} {p['version']:<10} {reg}")


@click.command("create-admin")
@click.option("--email", required=True, help="Admin e-mail (the login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_admin_command(email: str, password_stdin: bool) -> None:
    """Create an admin user (or reset the password of an existing one)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, email)
    if problems:
        raise click.ClickException("password rejected: " + "; ".join(problems))
    user = create_admin(email, password)
    click.echo(f"admin {user.email} ready")


@click.command("create-token")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--email", default=None, help="Admin the token belongs to (optional).")
@with_appcontext
def create_token_command(name: str, email: str | None) -> None:
    """Create a read-only API token for /admin/api/ and print it once."""
    from moviepulse.models.users import AdminUser

    user = None
    if email:
        user = db.session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no admin with e-mail {email}")
    click.echo(create_token(name, user))


def settings_markdown(pulse: Any) -> str:
    """The README's configuration table: every declared setting, its default and its plugin."""
    rows = ["| setting (`MOVIEPULSE_…`) | default | plugin | what it does |", "|---|---|---|---|"]
    for entry in sorted(pulse.settings.entries(), key=lambda e: e.slug):
        setting = entry.item
        default = "(secret)" if setting.secret else json.dumps(setting.default)
        rows.append(f"| `{setting.name}` | `{default}` | {entry.plugin} | {setting.help} |")
    return "\n".join(rows)


@click.command("settings")
@click.option("--markdown", is_flag=True, help="Print the README's configuration table.")
@with_appcontext
def settings_command(markdown: bool) -> None:
    """Show every setting plugins declare, with its current value (secrets masked)."""
    pulse = current_pulse()
    if markdown:
        click.echo(settings_markdown(pulse))
        return
    for entry in sorted(pulse.settings.entries(), key=lambda e: e.slug):
        value = "***" if entry.item.secret else json.dumps(current_app.config.get(entry.slug), default=str)
        click.echo(f"{entry.slug} = {value}    [{entry.plugin}]")


@hookimpl
def register_commands() -> list[click.Command]:
    from moviepulse.scaffold.command import new_plugin_command  # moviepulse new-plugin NAME

    return [plugins_command, create_admin_command, create_token_command, settings_command,
            new_plugin_command]
