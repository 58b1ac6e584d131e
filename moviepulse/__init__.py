"""MoviePulse: a movie site with its own analytics back office.

This module is the public API that plugin authors may import. Everything listed in
``__all__`` is covered by :data:`HOOK_API_VERSION`; anything else is internal.

Names are resolved lazily so that ``import moviepulse`` stays cheap (no Dash, no
SQLAlchemy models) for CLI start-up and for plugin packages that only need ``hookimpl``.
"""

from __future__ import annotations

import importlib
from typing import Any

from moviepulse.core.hookspecs import hookimpl

__version__ = "0.1.0"

#: Major version of the hook contract (``moviepulse.core.hookspecs``). A plugin may
#: declare ``MOVIEPULSE_API = <major>``; start-up refuses a plugin that targets another major.
HOOK_API_VERSION = 1

_LAZY: dict[str, str] = {
    "create_app": "moviepulse.app",
    "Setting": "moviepulse.core.types",
    "TaskSpec": "moviepulse.core.types",
    "PageSpec": "moviepulse.core.types",
    "StartupError": "moviepulse.core.errors",
    "MoviePulse": "moviepulse.core.pulse",
    "Source": "moviepulse.ingestion.source",
    "Metric": "moviepulse.analytics.metric",
    "Audience": "moviepulse.analytics.audiences",
    "Widget": "moviepulse.dash_app.widget",
    "Playbook": "moviepulse.ssr.playbooks",
    "AlertRule": "moviepulse.ssr.alerts",
}

__all__ = ["HOOK_API_VERSION", "__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'moviepulse' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
