"""How widgets reach data: named functions in the query modules, never raw tables.

``query("moviepulse.analytics.queries", "ctr_daily", filters)`` imports the module lazily and
calls ``func(db.session, start, end, audience)``. A module or function that does not exist
(yet) raises :class:`QueryUnavailable`, which the widget shows as an "unavailable" state
instead of crashing the page. ``call`` is the same for functions with other signatures.

Results are cached for ``DASHBOARD_CACHE_SECONDS`` (``moviepulse.core.resultcache``): keyed by the
function and every argument but the session, shared by the app's gunicorn workers through Redis
when Huey runs on Redis (``DASHBOARD_CACHE_BACKEND`` = ``auto``), in-process otherwise; concurrent
identical misses in a process wait for one computation. ``0`` (the ``testing`` default) turns it
off. Inside ``with data.fresh():`` calls recompute (after an action that changes what they read).
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moviepulse.core import resultcache
from moviepulse.core.resultcache import fresh  # noqa: F401  (re-exported for widgets)

if TYPE_CHECKING:  # pragma: no cover
    from moviepulse.dash_app.filters import Filters

#: Where each area's query functions live; the first module defining a name wins.
ANALYTICS = ("moviepulse.analytics.queries", "moviepulse.analytics.ctr", "moviepulse.analytics.funnels",
             "moviepulse.analytics.experiments", "moviepulse.analytics.reconcile",
             "moviepulse.analytics.reconciliation", "moviepulse.analytics.drift", "moviepulse.analytics.queue",
             "moviepulse.analytics.queuestats", "moviepulse.analytics.queue_stats")
SSR = ("moviepulse.ssr.queries",)
INGESTION = ("moviepulse.ingestion.queries",)

Modules = str | tuple[str, ...]


class QueryUnavailable(RuntimeError):
    """The query a widget needs is not available in this installation."""


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None  # the module itself (or its package) is missing
        raise


def resolve(modules: Modules, *names: str) -> Callable[..., Any]:
    """The first of ``names`` defined by the first of ``modules`` that has one; else ``QueryUnavailable``."""
    modules = (modules,) if isinstance(modules, str) else modules
    for module in modules:
        mod = _import(module)
        if mod is None:
            continue
        for name in names:
            func = getattr(mod, name, None)
            if callable(func):
                return func
    raise QueryUnavailable(f"Data unavailable: no {' / '.join(names)}() in {modules[0]} yet.")


def available(module: Modules, *names: str) -> bool:
    try:
        resolve(module, *names)
    except QueryUnavailable:
        return False
    return True


def session() -> Any:
    from moviepulse.extensions import db

    return db.session


CACHE_KEY = "moviepulse.dashboard_cache"
_CACHE_LOCK = threading.Lock()
#: Stands for the database session in cache keys (every call gets the current request's session).
SESSION = "<session>"


def make_cache(config: Any, app: Any = None) -> resultcache.ResultCache:
    """The dashboard's result cache for an app's config (``DASHBOARD_CACHE_SECONDS``, ``_BACKEND``);
    with ``app``, costly values are refreshed ahead of expiry in a thread with its app context."""
    ttl = float(config.get("DASHBOARD_CACHE_SECONDS", 0) or 0)
    backend = str(config.get("DASHBOARD_CACHE_BACKEND", "auto") or "auto").lower()
    if backend == "auto":
        backend = "redis" if config.get("HUEY_BACKEND") == "redis" else "memory"
    if backend not in ("redis", "memory"):
        raise ValueError(f"DASHBOARD_CACHE_BACKEND={backend!r} is not one of auto, redis, memory")
    store: Any = resultcache.MemoryStore()
    if backend == "redis" and ttl > 0:
        store = resultcache.RedisStore(config["REDIS_URL"])
    # One namespace per database: apps sharing a Redis but reading different databases never mix.
    where = hashlib.sha256(str(config.get("SQLALCHEMY_DATABASE_URI") or "").encode()).hexdigest()[:12]
    return resultcache.ResultCache(ttl, store, secret=str(config.get("SECRET_KEY") or ""),
                                   namespace=f"{config.get('HUEY_NAME', 'moviepulse')}:dashboard:v1:{where}:",
                                   runner=_runner(app) if app is not None else None)


def _runner(app: Any) -> Callable[[Callable[[], None]], None]:
    def run(fn: Callable[[], None]) -> None:
        def target() -> None:
            with app.app_context():  # its own database session, removed at teardown
                fn()

        threading.Thread(target=target, name="moviepulse-dashboard-refresh", daemon=True).start()

    return run


def dashboard_cache() -> resultcache.ResultCache | None:
    """The current app's dashboard cache (created on first use); ``None`` outside an app."""
    from flask import current_app

    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    except RuntimeError:
        return None
    cache = app.extensions.get(CACHE_KEY)
    if cache is None:
        with _CACHE_LOCK:
            cache = app.extensions.get(CACHE_KEY)
            if cache is None:
                cache = app.extensions[CACHE_KEY] = make_cache(app.config, app)
    return cache


def _is_session(value: Any) -> bool:
    from sqlalchemy.orm import Session, scoped_session

    return isinstance(value, Session | scoped_session)


def cached(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` through the dashboard cache: keyed by the function and every
    argument (a session counts as the same argument everywhere)."""
    from sqlalchemy.orm import scoped_session

    cache = dashboard_cache()
    if cache is None or not cache.enabled:
        return func(*args, **kwargs)
    sessions = [v for v in (*args, *kwargs.values()) if _is_session(v)]
    key_args = (tuple(SESSION if _is_session(a) else a for a in args),
                {k: SESSION if _is_session(v) else v for k, v in kwargs.items()})
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', getattr(func, '__name__', '?'))}"
    # a scoped session resolves to the refresh thread's own session; a plain one is the caller's
    background = all(isinstance(v, scoped_session) for v in sessions)
    return cache.call(name, key_args, lambda: func(*args, **kwargs), background=background)


def query(module: Modules, names: str | tuple[str, ...], filters: Filters, **kwargs: Any) -> Any:
    """``func(session, start, end, audience, **kwargs)``: the analytics query signature."""
    names = (names,) if isinstance(names, str) else names
    func = resolve(module, *names)
    return cached(func, session(), filters.start, filters.end, filters.audience, **kwargs)


def call(module: Modules, names: str | tuple[str, ...], *args: Any, **kwargs: Any) -> Any:
    """Any other signature: ``func(*args, **kwargs)``."""
    names = (names,) if isinstance(names, str) else names
    return cached(resolve(module, *names), *args, **kwargs)


def field(row: Any, *names: str, default: Any = None) -> Any:
    """A value from a dict, a dataclass/object or a named tuple, trying ``names`` in order."""
    for name in names:
        if isinstance(row, dict):
            if name in row:
                return row[name]
        elif hasattr(row, name):
            return getattr(row, name)
        elif hasattr(row, "_mapping") and name in row._mapping:
            return row._mapping[name]
    return default


def rows(result: Any, *keys: str) -> list[Any]:
    """A list of rows from a list, a pandas-free mapping holder, or a dict with one of ``keys``."""
    if result is None:
        return []
    if isinstance(result, dict):
        for key in keys or ("rows",):
            if key in result:
                return list(result[key] or [])
        return []
    for key in keys:
        if hasattr(result, key) and not isinstance(result, list | tuple):
            return list(getattr(result, key) or [])
    return list(result)


_PARAM_ALIASES = {
    "session": "session", "db_session": "session", "s": "session",
    "start": "start", "from_": "start", "since": "start", "date_from": "start", "start_date": "start",
    "end": "end", "to": "end", "until": "end", "date_to": "end", "end_date": "end",
    "audience": "audience",
}


def smart(module: Modules, names: str | tuple[str, ...], filters: Filters | None = None, **kwargs: Any) -> Any:
    """Call a query whose signature is not fixed: arguments are matched by parameter name
    (``session``, ``start``/``since``, ``end``/``until``, ``audience``; others from ``kwargs``)."""
    import inspect

    names = (names,) if isinstance(names, str) else names
    func = resolve(module, *names)
    values = {"session": session()}
    if filters is not None:
        values.update(start=filters.start, end=filters.end, audience=filters.audience)
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in kwargs:
            value = kwargs[param.name]
        elif _PARAM_ALIASES.get(param.name) in values:
            value = values[_PARAM_ALIASES[param.name]]
        elif param.default is not param.empty:
            continue
        else:
            raise QueryUnavailable(f"Data unavailable: {func.__name__}() needs {param.name!r}.")
        if param.kind == param.POSITIONAL_ONLY:
            positional.append(value)
        else:
            bound[param.name] = value
    return cached(func, *positional, **bound)


def state_of(result: Any) -> str:
    """The ``state`` a query reported (``ok`` when it reports none)."""
    return str(field(result, "state", default="ok") or "ok") if isinstance(result, dict) else "ok"


def check_unavailable(result: Any) -> None:
    """Raise ``QueryUnavailable`` when a query answered ``{"state": "unavailable"}``."""
    if state_of(result) == "unavailable":
        reason = field(result, "reason", default="") or "the data source is not available"
        raise QueryUnavailable(f"Data unavailable: {reason}.")
