"""Fake TMDB and OMDb servers over the bundled catalogue (used by the demo, the tests and the bench).

Public API: :func:`start_fake_upstreams` (→ handle with ``tmdb_url``, ``omdb_url``, ``stop()``),
:func:`set_faults` / :func:`reset_faults` / :func:`upstream_stats`, and the WSGI factories
:func:`make_tmdb_app` / :func:`make_omdb_app`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "start_fake_upstreams": "moviepulse.upstreams.server",
    "FakeUpstreams": "moviepulse.upstreams.server",
    "make_tmdb_app": "moviepulse.upstreams.tmdb_server",
    "make_omdb_app": "moviepulse.upstreams.omdb_server",
    "set_faults": "moviepulse.upstreams.control",
    "reset_faults": "moviepulse.upstreams.control",
    "upstream_stats": "moviepulse.upstreams.control",
    "FaultController": "moviepulse.upstreams.control",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'moviepulse.upstreams' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
