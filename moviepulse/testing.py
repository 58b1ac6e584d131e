"""Helpers for testing MoviePulse plugins (part of the public API, see ``docs/plugins/api.md``).

A plugin's own test suite needs four things, and this module gives each in one call:

* ``make_app(plugins=[my_plugin])`` — a ``testing`` app with the plugin registered next to the
  built-ins, its database tables created (SQLite file in a temporary folder) and Huey in
  immediate mode, so ``pulse.enqueue(...)`` runs the task at once and returns its result;
* ``fake_source(...)`` — a ``Source`` subclass serving canned movies, for code that ingests;
* ``admin_client(app)`` — a Flask test client logged in as an admin (dashboard, ``/admin/api``);
* ``trace_hooks(app)`` — record every hook call while a block runs (debugging).

Example::

    from moviepulse.testing import admin_client, make_app
    import moviepulse_watchtime

    def test_task_runs():
        app = make_app(plugins=[moviepulse_watchtime])
        with app.app_context():
            assert app.extensions["moviepulse"].enqueue("watchtime.rollup").get()["days"] == 7
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import count
from types import ModuleType
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "admin_client", "fake_source", "make_app", "pulse_of", "trace_hooks"]

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct-horse-battery-staple"

_counter = count()


def _plugin_pairs(plugins: Iterable[Any]) -> list[tuple[str, Any]]:
    """``module`` / ``object`` / ``(name, plugin)`` -> ``(name, plugin)`` pairs."""
    pairs: list[tuple[str, Any]] = []
    for plugin in plugins:
        if isinstance(plugin, tuple) and len(plugin) == 2 and isinstance(plugin[0], str):
            pairs.append(plugin)
            continue
        name = getattr(plugin, "__name__", None) if isinstance(plugin, ModuleType) else None
        name = name or getattr(plugin, "name", None) or f"{type(plugin).__name__.lower()}-{next(_counter)}"
        pairs.append((str(name), plugin))
    return pairs


def _temp_dir() -> str:
    path = tempfile.mkdtemp(prefix="moviepulse-test-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def make_app(plugins: Iterable[Any] = (), *, only_plugins: Iterable[str] | None = None,
             create_tables: bool = True, tmp_path: str | os.PathLike[str] | None = None,
             **overrides: Any) -> Flask:
    """A ``testing`` MoviePulse app with ``plugins`` registered after the built-ins.

    ``plugins``: modules or objects with ``@hookimpl`` functions (registered under their
    ``__name__``), or ``(name, plugin)`` pairs. Installed entry-point plugins are not loaded
    unless ``LOAD_ENTRYPOINT_PLUGINS=True`` is passed. ``only_plugins`` restricts the built-in
    plugins (``["core"]`` is the fastest app). ``tmp_path`` holds the SQLite file and the
    instance folder (default: a fresh temporary folder removed at exit). Other keyword
    arguments override config keys (``WATCHTIME_DAYS=3``). Huey is an immediate ``MemoryHuey``.
    """
    from moviepulse.app import create_app
    from moviepulse.extensions import db

    folder = os.fspath(tmp_path) if tmp_path is not None else _temp_dir()
    n = next(_counter)
    overrides.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{os.path.join(folder, f'moviepulse-{n}.db')}")
    overrides.setdefault("INSTANCE_PATH", os.path.join(folder, "instance"))
    overrides.setdefault("HUEY_BACKEND", "memory")
    overrides.setdefault("HUEY_IMMEDIATE", True)
    overrides.setdefault("LOAD_ENTRYPOINT_PLUGINS", False)
    app = create_app("testing", extra_plugins=_plugin_pairs(plugins), only_plugins=only_plugins, **overrides)
    if create_tables:
        with app.app_context():
            db.create_all()
    return app


def pulse_of(app: Flask) -> Any:
    """The app's ``MoviePulse`` facade (``app.extensions["moviepulse"]``)."""
    return app.extensions["moviepulse"]


@functools.cache
def _password_hash(password: str) -> str:
    from moviepulse.core.auth import hash_password

    return hash_password(password)


def admin_client(app: Flask, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> FlaskClient:
    """A test client whose session is logged in as an admin (created if missing, with a real
    Argon2id password hash, computed once per process).

    Works for every admin surface: the Dash dashboard and ``/admin/api/...`` blueprints.
    """
    from sqlalchemy import select

    from moviepulse.extensions import db
    from moviepulse.models.users import AdminUser

    with app.app_context():
        user = db.session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))
        if user is None:  # create_admin's checks, with the (deliberately slow) hash computed once
            from moviepulse.core.auth import password_problems

            problems = password_problems(password, email)
            if problems:
                raise ValueError("password rejected: " + "; ".join(problems))
            user = AdminUser(email=email.strip().lower(), password_hash=_password_hash(password))
            db.session.add(user)
            db.session.commit()
        user_id = str(user.id)
    client = app.test_client()
    with app.test_request_context(environ_base=client.environ_base):
        # Flask-Login's "session protection" identifier: remote address + user agent.
        identifier = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
        session["_id"] = identifier
    return client


_RECORD_KEYS = {"tmdb_id", "imdb_id", "original_language", "facts", "localized"}


def _record_parts(movie: dict[str, Any]) -> dict[str, Any]:
    """A canned movie dict -> ``SourceRecord`` keyword arguments (see :func:`fake_source`)."""
    facts = dict(movie.get("facts") or {})
    localized = {tag: dict(v) for tag, v in (movie.get("localized") or {}).items()}
    loose = {k: v for k, v in movie.items() if k not in _RECORD_KEYS}
    title, overview = loose.pop("title", None), loose.pop("overview", None)
    if not localized and (title or overview):
        localized["en"] = {"title": title or "", "overview": overview or "", "tagline": ""}
    facts.update(loose)  # runtime, original_title, release_date, genres, ...
    return {"tmdb_id": movie.get("tmdb_id"), "imdb_id": movie.get("imdb_id"),
            "original_language": movie.get("original_language"), "facts": facts, "localized": localized}


def fake_source(slug: str = "fake", *, movies: Iterable[dict[str, Any]] = (), label: str | None = None,
                fail_times: int = 0, **attributes: Any) -> type:
    """A ``moviepulse.Source`` subclass with slug ``slug`` that serves ``movies`` from memory.

    Each movie is a dict: ``tmdb_id`` / ``imdb_id`` (how ``lookup`` finds it), optional
    ``original_language``, ``facts`` and ``localized`` (``{"de-DE": {"title", "overview",
    "tagline"}}``) exactly as in ``SourceRecord``; for brevity ``title``/``overview`` at the top
    level become the ``en`` translation and any other key (``runtime``, ``original_title``,
    ``release_date``, ``genres`` …) becomes a fact. ``lookup`` returns ``None`` for an unknown
    movie, ``discover`` the references of the canned movies. The first ``fail_times`` lookups
    raise ``UpstreamUnavailable`` (retryable), to exercise retries. Every lookup is appended to
    ``cls.calls``. Extra keyword arguments become class attributes (``role="fallback"``,
    ``priority=300``, ``fallback_fields=("overview",)`` …). No HTTP client is ever built.
    """
    from moviepulse.ingestion.errors import UpstreamUnavailable
    from moviepulse.ingestion.source import MovieRef, Source, SourceRecord, normalise_imdb_id

    records = [dict(m) for m in movies]
    state = {"failures_left": int(fail_times)}

    def lookup(self: Any, ref: Any, *, validators: dict[str, str | None] | None = None) -> Any:
        type(self).calls.append(ref)
        if state["failures_left"] > 0:
            state["failures_left"] -= 1
            raise UpstreamUnavailable(slug, "simulated outage (fake_source fail_times)")
        for movie in records:
            by_tmdb = ref.tmdb_id is not None and movie.get("tmdb_id") == ref.tmdb_id
            by_imdb = ref.imdb_id and normalise_imdb_id(movie.get("imdb_id")) == normalise_imdb_id(ref.imdb_id)
            if by_tmdb or by_imdb:
                return SourceRecord(source=slug, requests=1, **_record_parts(movie))
        return None

    def discover(self: Any, kind: str = "popular", limit: int = 20, **filters: Any) -> list[Any]:
        return [MovieRef(tmdb_id=m.get("tmdb_id"), imdb_id=m.get("imdb_id")) for m in records[:limit]]

    def health(self: Any) -> dict[str, Any]:
        return {"source": slug, "label": self.label, "role": self.role, "enabled": self.enabled(), "fake": True}

    namespace: dict[str, Any] = {
        "slug": slug,
        "label": label or f"Fake source {slug}",
        "movies": records,
        "calls": [],
        "lookup": lookup,
        "discover": discover,
        "health": health,
        "__doc__": f"Fake source {slug!r} serving {len(records)} canned movie(s).",
        "__module__": __name__,
    }
    namespace.update(attributes)
    name = "".join(part.capitalize() for part in slug.replace("_", "-").split("-")) + "FakeSource"
    return type(name, (Source,), namespace)


@contextmanager
def trace_hooks(app: Flask) -> Iterator[list[dict[str, Any]]]:
    """Record every hook call made while the block runs: ``[{"hook", "plugins", "kwargs"}]``.

    Covers hooks called through the plugin manager (``startup``, ``prepare_figure``) and event
    hooks sent with ``pulse.emit``. ``register_*`` hooks run inside ``create_app``, before any
    block could start: inspect ``pulse.describe_plugins()`` for those.
    """
    pm = pulse_of(app).pm
    calls: list[dict[str, Any]] = []

    def before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        calls.append({"hook": hook_name, "plugins": [impl.plugin_name for impl in hook_impls],
                      "kwargs": dict(kwargs)})

    def after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
        return None

    pulse = pulse_of(app)
    emit = pulse.emit

    def traced_emit(hook_name: str, **kwargs: Any) -> None:
        impls = getattr(pm.hook, hook_name).get_hookimpls() if hasattr(pm.hook, hook_name) else []
        before(hook_name, impls, {"pulse": pulse, **kwargs})
        emit(hook_name, **kwargs)

    undo = pm.add_hookcall_monitoring(before, after)
    pulse.emit = traced_emit
    try:
        yield calls
    finally:
        undo()
        del pulse.emit
