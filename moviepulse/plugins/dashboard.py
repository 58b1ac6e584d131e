"""Built-in plugin ``dashboard``: the Dash admin dashboard at ``/admin/``.

Registers the dashboard settings, the built-in pages (Overview, CTR, Experiments, SSR,
Ingestion, Queue, Plugins), the login/logout blueprint, and mounts the Dash app on
``startup``. Widgets come from the domain plugins through ``register_widgets``.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl
from moviepulse.core.types import PageSpec, Setting


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("DASHBOARD_REFRESH_SECONDS", 60, "Dashboard auto-refresh interval in seconds (0 turns it off)."),
        Setting("DASHBOARD_DEFAULT_DAYS", 14, "Default dashboard date range, in days ending today (UTC)."),
        Setting("DASHBOARD_PLOTLY_BUNDLE", "basic",
                "plotly.js bundle for dashboard charts: 'basic' (bar, scatter, pie; 1.2 MB, faster first load) "
                "or 'full' (every trace type, 4.8 MB) for plugin widgets that need more."),
        Setting("DASHBOARD_CACHE_SECONDS", 5,
                "How long a dashboard query result is reused by every admin and callback asking for the same "
                "query, range and audience (0 = off; the testing configuration sets 0, so tests read fresh "
                "numbers). A widget showing cached numbers says 'as of HH:MM:SS UTC'."),
        Setting("DASHBOARD_CACHE_BACKEND", "auto",
                "Where cached dashboard results live: 'auto' (Redis, shared by every web worker, when Huey runs "
                "on Redis as in staging/production; else in each process), 'redis' or 'memory'."),
        Setting("LOGIN_THROTTLE_WINDOW_SECONDS", 900, "Window in which failed admin logins are counted."),
        Setting("LOGIN_MAX_FAILURES_PER_EMAIL", 5, "Failed logins per e-mail within the window before throttling."),
        Setting("LOGIN_MAX_FAILURES_PER_ADDR", 20, "Failed logins per client address within the window."),
    ]


@hookimpl
def register_pages() -> list[PageSpec]:
    from moviepulse.dash_app.pages import CORE_PAGES

    return list(CORE_PAGES)


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.dash_app.auth import bp

    return [bp]


@hookimpl
def startup(pulse: Any) -> None:
    from moviepulse.dash_app.mount import init_dashboard

    init_dashboard(pulse.app, pulse)


@hookimpl
def register_widgets(pulse: Any) -> list[Any]:
    """Built-in widgets whose domain plugin is not loaded or does not register them itself."""
    from moviepulse.dash_app.widgets import by_plugin

    out: list[Any] = []
    for plugin_name, widgets in by_plugin().items():
        plugin = pulse.pm.get_plugin(plugin_name)
        if plugin is not None and hasattr(plugin, "register_widgets"):
            continue  # the domain plugin registers its own widgets
        if plugin is None and pulse.pm.is_blocked(plugin_name):
            continue  # blocked plugin: its widgets go too
        out.extend(widgets)
    return out
