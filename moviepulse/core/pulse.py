"""``MoviePulse``: the facade every hook receives as ``pulse``.

It holds the plugin manager, the registries filled from ``register_*`` hooks, the Huey
instance and the tasks built from ``TaskSpec`` values. Plugins talk to it instead of to
Flask internals. It lives at ``app.extensions["moviepulse"]``; ``current_pulse()`` finds it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pluggy
from flask import current_app

from moviepulse.core.plugins import call_each, plugin_version
from moviepulse.core.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask
    from huey import Huey

log = logging.getLogger(__name__)

#: kind name -> the ``register_*`` hook that fills it.
REGISTRY_HOOKS: dict[str, str] = {
    "settings": "register_settings",
    "sources": "register_sources",
    "metrics": "register_metrics",
    "audiences": "register_audiences",
    "widgets": "register_widgets",
    "pages": "register_pages",
    "tasks": "register_tasks",
    "playbooks": "register_playbooks",
    "alert_rules": "register_alert_rules",
}

#: Event hooks whose exceptions are logged and swallowed.
EVENT_HOOKS = frozenset({"events_recorded", "ingestion_completed", "upstream_event", "drift_detected", "task_event"})


class MoviePulse:
    """What a plugin sees of the running MoviePulse."""

    def __init__(self, app: Flask, pm: pluggy.PluginManager) -> None:
        self.app = app
        self.pm = pm
        self.registries: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in REGISTRY_HOOKS}
        self.blueprints: list[tuple[str, Any]] = []
        self.commands: list[tuple[str, Any]] = []
        self.huey: Huey | None = None
        self.tasks: dict[str, Any] = {}  # TaskSpec.name -> the Huey task enqueue() calls
        self.periodic_tasks: dict[str, Any] = {}  # TaskSpec.name -> Huey periodic task (scheduled specs)

    # -- registries --------------------------------------------------------------------
    def collect(self, kind: str) -> Registry[Any]:
        """Fill one registry from its ``register_*`` hook (called once by ``create_app``)."""
        registry = self.registries[kind]
        for plugin_name, items in call_each(self.pm, REGISTRY_HOOKS[kind], pulse=self):
            for item in items:
                registry.add(item, plugin_name)
        return registry

    @property
    def settings(self) -> Registry[Any]:
        return self.registries["settings"]

    @property
    def sources(self) -> Registry[Any]:
        return self.registries["sources"]

    @property
    def metrics(self) -> Registry[Any]:
        return self.registries["metrics"]

    @property
    def audiences(self) -> Registry[Any]:
        return self.registries["audiences"]

    @property
    def widgets(self) -> Registry[Any]:
        return self.registries["widgets"]

    @property
    def pages(self) -> Registry[Any]:
        return self.registries["pages"]

    @property
    def task_specs(self) -> Registry[Any]:
        return self.registries["tasks"]

    @property
    def playbooks(self) -> Registry[Any]:
        return self.registries["playbooks"]

    @property
    def alert_rules(self) -> Registry[Any]:
        return self.registries["alert_rules"]

    # -- config ------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        return self.app.config

    def setting(self, name: str, default: Any = None) -> Any:
        return self.app.config.get(name, default)

    def plugin_config(self, plugin: str) -> dict[str, Any]:
        """The ``PLUGIN_CONFIG[plugin]`` section, with ``{"$env": "NAME"}`` values resolved."""
        import os

        section = dict(self.app.config.get("PLUGIN_CONFIG", {}).get(plugin, {}))
        for key, value in section.items():
            if isinstance(value, dict) and set(value) == {"$env"}:
                section[key] = os.environ.get(value["$env"])
        return section

    # -- events and tasks --------------------------------------------------------------
    def emit(self, hook_name: str, **kwargs: Any) -> None:
        """Call an event hook on every plugin; a failing plugin is logged, not propagated."""
        if hook_name not in EVENT_HOOKS:
            raise ValueError(f"{hook_name} is not an event hook")
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            args = {k: v for k, v in {"pulse": self, **kwargs}.items() if k in impl.argnames}
            try:
                impl.function(**args)
            except Exception:  # noqa: BLE001 - one plugin must not break the caller
                log.exception("plugin %s failed in hook %s", impl.plugin_name, hook_name)

    def task(self, name: str) -> Any:
        """The Huey task that runs the ``TaskSpec`` called ``name`` now.

        Also accepts the Huey name of a periodic task's on-demand twin (``"<name>:now"``), as
        recorded by queue statistics, so a failed manual run can be retried by its recorded name.
        """
        from moviepulse.tasks import ON_DEMAND_SUFFIX

        name = name.removesuffix(ON_DEMAND_SUFFIX)
        try:
            return self.tasks[name]
        except KeyError:
            raise KeyError(f"no task named {name!r}; known: {sorted(self.tasks)}") from None

    def has_task(self, name: str) -> bool:
        from moviepulse.tasks import ON_DEMAND_SUFFIX

        return name.removesuffix(ON_DEMAND_SUFFIX) in self.tasks

    def enqueue(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Enqueue a registered task by name; returns Huey's ``Result``."""
        return self.task(name)(*args, **kwargs)

    # -- introspection -----------------------------------------------------------------
    def describe_plugins(self) -> list[dict[str, Any]]:
        """Every plugin: name, version, hooks it implements, and what it registered."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            registered: dict[str, list[str]] = {}
            for kind, registry in self.registries.items():
                slugs = [e.slug for e in registry.entries() if e.plugin == name]
                if slugs:
                    registered[kind] = slugs
            bps = [bp.name for plugin_name, bp in self.blueprints if plugin_name == name]
            if bps:
                registered["blueprints"] = bps
            cmds = [cmd.name for plugin_name, cmd in self.commands if plugin_name == name]
            if cmds:
                registered["commands"] = cmds
            out.append({
                "name": name,
                "version": plugin_version(self.pm, name),
                "module": getattr(plugin, "__name__", repr(plugin)),
                "builtin": getattr(plugin, "__name__", "").startswith("moviepulse.plugins."),
                "hooks": hooks,
                "registered": registered,
            })
        return out


def current_pulse() -> MoviePulse:
    """The ``MoviePulse`` of the current Flask app."""
    return current_app.extensions["moviepulse"]
