"""The application factory: config for one environment, database, plugins, Huey, Dash.

``create_app(env=None, **overrides)`` — ``env`` defaults to ``MOVIEPULSE_ENV`` (``local``);
``overrides`` win over everything else (tests use them).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from moviepulse.config import config_class, environment_overrides, normalise_database_url
from moviepulse.core.errors import ConfigurationError, StartupError
from moviepulse.core.plugins import call_each, make_plugin_manager
from moviepulse.core.pulse import REGISTRY_HOOKS, MoviePulse


def create_app(env: str | None = None, *, extra_plugins: Any = (), only_plugins: Any = None,
               **overrides: Any) -> Flask:
    """Build a MoviePulse app.

    ``extra_plugins``: ``(name, module_or_object)`` pairs registered after the built-ins
    and entry points (tests, ``moviepulse.testing``). ``only_plugins``: restrict the
    built-in plugins to these names.
    """
    cls = config_class(env)
    app = Flask("moviepulse", instance_path=overrides.pop("INSTANCE_PATH", None) or _instance_path())
    app.config.from_object(cls)
    env_values = environment_overrides()
    app.config.update(env_values)
    app.config.update(overrides)

    pm = make_plugin_manager(
        blocked=app.config.get("BLOCKED_PLUGINS") or (),
        load_entrypoints=bool(app.config.get("LOAD_ENTRYPOINT_PLUGINS", True)),
        extra_plugins=extra_plugins,
        only=only_plugins,
    )
    if app.config.get("TRACE_PLUGINS"):  # MOVIEPULSE_TRACE_PLUGINS=1: log every hook call and result
        import logging

        pm.trace.root.setwriter(logging.getLogger("moviepulse.plugins.trace").info)
        pm.enable_tracing()
    pulse = MoviePulse(app, pm)
    app.extensions["moviepulse"] = pulse

    # Settings first: their defaults fill the config keys that nothing else set.
    pulse.collect("settings")
    for setting in pulse.settings:
        if setting.name not in app.config:
            app.config[setting.name] = setting.default
        elif isinstance(setting.default, str) and setting.name in env_values:
            app.config[setting.name] = os.environ.get("MOVIEPULSE_" + setting.name, app.config[setting.name])
    _finalise_database_settings(app)
    _check_production_secrets(app, pulse)

    _init_extensions(app)
    _init_core_services(app, pulse)

    for kind in REGISTRY_HOOKS:
        if kind != "settings":
            pulse.collect(kind)

    from moviepulse.tasks import build_tasks, make_huey

    pulse.huey = make_huey(app)
    build_tasks(app, pulse)

    for plugin_name, blueprints in call_each(pm, "register_blueprints", pulse=pulse):
        for bp in blueprints:
            app.register_blueprint(bp)
            pulse.blueprints.append((plugin_name, bp))
    for plugin_name, commands in call_each(pm, "register_commands", pulse=pulse):
        for command in commands:
            app.cli.add_command(command)
            pulse.commands.append((plugin_name, command))

    pm.hook.startup(pulse=pulse)
    return app


def _instance_path() -> str:
    return os.path.abspath(os.environ.get("MOVIEPULSE_INSTANCE_PATH") or os.path.join(os.getcwd(), "instance"))


def _finalise_database_settings(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        if app.config["ENV_NAME"] in ("staging", "production"):
            raise ConfigurationError(
                f"MoviePulse cannot start in {app.config['ENV_NAME']}: DATABASE_URL is not set "
                "(a PostgreSQL URL, e.g. postgresql://user@host/dbname)."
            )
        os.makedirs(app.instance_path, exist_ok=True)
        uri = "sqlite:///" + os.path.join(app.instance_path, "moviepulse.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(uri)


def _check_production_secrets(app: Flask, pulse: MoviePulse) -> None:
    """In production, refuse to start with missing or development-valued secrets, naming each."""
    if app.config["ENV_NAME"] != "production":
        return
    from moviepulse.config import DEV_SECRET_KEY

    problems: list[str] = []
    secret_key = app.config.get("SECRET_KEY")
    if not secret_key or secret_key == DEV_SECRET_KEY or len(str(secret_key)) < 32:
        problems.append("SECRET_KEY (set a random value of at least 32 characters)")
    for setting in pulse.settings:
        if not setting.secret:
            continue
        if setting.required_if is not None and not setting.required_if(app.config):
            continue
        value = app.config.get(setting.name)
        if not value or value == setting.default:
            problems.append(f"{setting.name} ({setting.help})")
    if problems:
        raise ConfigurationError(
            "MoviePulse refuses to start in production; these settings are missing or left at a "
            "development value:\n  - " + "\n  - ".join(problems)
        )


def _init_extensions(app: Flask) -> None:
    from moviepulse import models  # noqa: F401  (registers every table)
    from moviepulse.core.db import install_sqlite_pragmas
    from moviepulse.extensions import db, login_manager, migrate

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        opts = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        opts.setdefault("connect_args", {}).setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = opts
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    with app.app_context():
        install_sqlite_pragmas(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _init_core_services(app: Flask, pulse: MoviePulse) -> None:
    """Request ids, Prometheus collectors, JSON logging, secret redaction, the admin user loader."""
    from moviepulse.core.observability import Prom, configure_logging
    from moviepulse.core.redact import register_secret
    from moviepulse.core.requestctx import init_request_context
    from moviepulse.core.sessions import CachedSerializerSessionInterface
    from moviepulse.extensions import db, login_manager

    app.extensions["moviepulse.prom"] = Prom()
    configure_logging(app)
    init_request_context(app)
    app.session_interface = CachedSerializerSessionInterface()
    register_secret(app.config.get("SECRET_KEY"))
    for setting in pulse.settings:
        if setting.secret:
            register_secret(app.config.get(setting.name))

    @login_manager.user_loader
    def load_user(user_id: str) -> Any:
        from moviepulse.models.users import AdminUser

        return db.session.get(AdminUser, int(user_id)) if user_id.isdigit() else None


__all__ = ["create_app", "StartupError"]
