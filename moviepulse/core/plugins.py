"""Building the plugin manager: built-in plugins first, then ``moviepulse`` entry points.

Built-in plugins are registered exactly as third-party ones: by module, under a short
name, and may be blocked by that name (``BLOCKED_PLUGINS``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from moviepulse.core import hookspecs
from moviepulse.core.errors import StartupError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "moviepulse"

#: (name, module) of every built-in plugin, in registration order.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("core", "moviepulse.plugins.core"),
    ("site", "moviepulse.plugins.site"),
    ("events_api", "moviepulse.plugins.events_api"),
    ("tmdb", "moviepulse.plugins.tmdb"),
    ("omdb", "moviepulse.plugins.omdb"),
    ("ingestion", "moviepulse.plugins.ingestion"),
    ("ssr", "moviepulse.plugins.ssr"),
    ("playbooks", "moviepulse.plugins.playbooks"),
    ("audiences", "moviepulse.plugins.audiences"),
    ("ctr", "moviepulse.plugins.ctr"),
    ("funnel", "moviepulse.plugins.funnel"),
    ("experiments", "moviepulse.plugins.experiments"),
    ("reconciliation", "moviepulse.plugins.reconciliation"),
    ("queue", "moviepulse.plugins.queue"),
    ("dashboard", "moviepulse.plugins.dashboard"),
)


def make_plugin_manager(
    blocked: Iterable[str] = (),
    load_entrypoints: bool = True,
    extra_plugins: Iterable[tuple[str, ModuleType | Any]] = (),
    only: Iterable[str] | None = None,
) -> pluggy.PluginManager:
    """A fresh plugin manager (never a module global, so every app and test gets its own).

    ``only`` restricts built-in plugins to the named ones (used by ``moviepulse.testing``).
    """
    from moviepulse import HOOK_API_VERSION

    pm = pluggy.PluginManager("moviepulse")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    allowed = set(only) if only is not None else None
    for name, module_name in DEFAULT_PLUGINS:
        if pm.is_blocked(name) or (allowed is not None and name not in allowed):
            continue
        module = importlib.import_module(module_name)
        _register(pm, module, name, HOOK_API_VERSION)
    if load_entrypoints:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - name the broken plugin instead of a bare ImportError
                raise StartupError(
                    f"Plugin {ep.name!r} (entry point {ep.value!r} of {getattr(ep.dist, 'name', '?')}) "
                    f"could not be imported: {type(exc).__name__}: {exc}. Reinstall it, or block it with "
                    f"MOVIEPULSE_BLOCKED_PLUGINS='[\"{ep.name}\"]'."
                ) from exc
            _register(pm, plugin, ep.name, HOOK_API_VERSION, dist=ep.dist)
    for name, plugin in extra_plugins:
        if not pm.is_blocked(name):
            _register(pm, plugin, name, HOOK_API_VERSION)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise StartupError(f"Plugin implements a hook that does not exist: {exc}") from exc
    return pm


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, api: int, dist: Any = None) -> None:
    wanted = getattr(plugin, "MOVIEPULSE_API", api)
    if wanted != api:
        raise StartupError(
            f"Plugin {name!r} targets MoviePulse hook API {wanted}, but this MoviePulse provides "
            f"hook API {api}. Upgrade the plugin (or MoviePulse) so that both agree."
        )
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # e.g. an implementation asking for an argument the hook lacks
        raise StartupError(f"Plugin {name!r} cannot be registered: {exc}") from exc
    if dist is not None:
        pm._moviepulse_dists = getattr(pm, "_moviepulse_dists", {})  # type: ignore[attr-defined]
        pm._moviepulse_dists[name] = dist  # type: ignore[attr-defined]


def plugin_version(pm: pluggy.PluginManager, name: str) -> str:
    """The distribution version of an entry-point plugin, MoviePulse's for built-ins."""
    dists = getattr(pm, "_moviepulse_dists", {})
    if name in dists:
        return str(dists[name].version)
    plugin = pm.get_plugin(name)
    version = getattr(plugin, "__version__", None)
    if version:
        return str(version)
    from moviepulse import __version__

    return __version__


def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of a ``register_*`` hook, returning (plugin name, result).

    Unlike ``pm.hook.<name>()`` this keeps track of which plugin returned what, so that
    registries can name the plugins behind a duplicate slug.
    """
    caller = getattr(pm.hook, hook_name)
    results: list[tuple[str, Any]] = []
    for impl in caller.get_hookimpls():  # registration order (pluggy *calls* them last-first)
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        missing = [k for k in impl.argnames if k not in kwargs]
        if missing:
            raise StartupError(f"Plugin {impl.plugin_name!r}: hook {hook_name} has no argument(s) {missing}")
        value = impl.function(**args)
        if value is not None:
            results.append((impl.plugin_name, value))
    return results
