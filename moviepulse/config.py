"""Configuration per environment: ``local``, ``staging``, ``production``, ``testing``.

``MOVIEPULSE_ENV`` picks the class (default ``local``). Then, in increasing priority:
plugin ``Setting`` defaults (only for keys the class does not set), ``MOVIEPULSE_<KEY>``
environment variables (values parsed as JSON when they parse, e.g. ``MOVIEPULSE_LOCALES='["en","de"]'``),
and keyword overrides given to ``create_app``. ``DATABASE_URL``, ``REDIS_URL`` and
``SECRET_KEY`` are also read without the prefix, as every PaaS sets them.
"""

from __future__ import annotations

import json
import os
from typing import Any

DEV_SECRET_KEY = "dev-insecure-secret-key"


class BaseConfig:
    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    SECRET_KEY = DEV_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str | None = None  # local/testing: SQLite under instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLITE_BUSY_TIMEOUT_MS = 5000
    HUEY_BACKEND = "sqlite"  # sqlite | redis | memory
    HUEY_NAME = "moviepulse"
    HUEY_SQLITE_PATH: str | None = None  # default instance/huey.db
    HUEY_IMMEDIATE = False
    REDIS_URL = "redis://127.0.0.1:6379/0"
    BLOCKED_PLUGINS: list[str] = []
    LOAD_ENTRYPOINT_PLUGINS = True
    TRACE_PLUGINS = False  # MOVIEPULSE_TRACE_PLUGINS=1 logs every hook call (logger moviepulse.plugins.trace)
    PLUGIN_CONFIG: dict[str, Any] = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    COOKIE_SECURE = False
    ENABLE_FAKE_UPSTREAMS = True
    LOG_JSON = True
    LOG_LEVEL = "INFO"
    PREFERRED_URL_SCHEME = "http"


class LocalConfig(BaseConfig):
    ENV_NAME = "local"
    HUEY_BACKEND = "sqlite"


class TestingConfig(BaseConfig):
    ENV_NAME = "testing"
    TESTING = True
    HUEY_BACKEND = "memory"
    HUEY_IMMEDIATE = True
    LOAD_ENTRYPOINT_PLUGINS = False
    LOG_JSON = False
    WTF_CSRF_ENABLED = True
    DASHBOARD_CACHE_SECONDS = 0  # tests read fresh numbers (the dashboard plugin's default is 5)


class StagingConfig(BaseConfig):
    ENV_NAME = "staging"
    HUEY_BACKEND = "redis"
    SESSION_COOKIE_SECURE = False
    ENABLE_FAKE_UPSTREAMS = True


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    HUEY_BACKEND = "redis"
    SECRET_KEY = ""  # must come from the environment
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-mp_session"  # Secure, Path=/, no Domain: not settable by a sibling host
    COOKIE_SECURE = True
    ENABLE_FAKE_UPSTREAMS = False
    PREFERRED_URL_SCHEME = "https"


CONFIGS: dict[str, type[BaseConfig]] = {
    "local": LocalConfig,
    "testing": TestingConfig,
    "staging": StagingConfig,
    "production": ProductionConfig,
}

UNPREFIXED_ENV = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI", "REDIS_URL": "REDIS_URL", "SECRET_KEY": "SECRET_KEY"}
PREFIX = "MOVIEPULSE_"
IGNORED_ENV = {"MOVIEPULSE_ENV", "MOVIEPULSE_PORT", "MOVIEPULSE_HOST", "MOVIEPULSE_INSTANCE_PATH"}


def config_class(env: str | None) -> type[BaseConfig]:
    name = (env or os.environ.get("MOVIEPULSE_ENV") or "local").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"MOVIEPULSE_ENV={name!r} is not one of {sorted(CONFIGS)}") from None


def parse_env_value(raw: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, objects), else the raw string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def environment_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings taken from the process environment."""
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    for key, target in UNPREFIXED_ENV.items():
        if environ.get(key):
            out[target] = environ[key]
    for key, raw in environ.items():
        if key.startswith(PREFIX) and key not in IGNORED_ENV:
            out[key[len(PREFIX):]] = parse_env_value(raw)
    if "DATABASE_URL" in out:  # MOVIEPULSE_DATABASE_URL
        out["SQLALCHEMY_DATABASE_URI"] = out.pop("DATABASE_URL")
    return out


def child_environ(env: str, settings: dict[str, Any], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a MoviePulse child process (consumer, web worker) that
    :func:`environment_overrides` reads back as ``settings``: ``base`` (default ``os.environ``)
    without any MoviePulse setting of its own, ``MOVIEPULSE_ENV`` = ``env``, then each setting as
    ``DATABASE_URL`` / ``REDIS_URL`` / ``SECRET_KEY`` or ``MOVIEPULSE_<NAME>`` (JSON unless a string)."""
    unprefixed = {target: key for key, target in UNPREFIXED_ENV.items()}
    out = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(PREFIX) and k not in UNPREFIXED_ENV}
    out["MOVIEPULSE_ENV"] = env
    for name, value in settings.items():
        key = unprefixed.get(name, PREFIX + name)
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def normalise_database_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` URLs use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url
