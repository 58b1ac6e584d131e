"""Built-in plugin ``site``: the public movie site (home, movie pages, trends, search) and its
settings (A/B split and seed, recommender weights, cookies, caches), plus the ``demo`` commands.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from moviepulse import hookimpl
from moviepulse.core.types import Setting


@hookimpl
def register_settings() -> list[Setting]:
    from moviepulse.site.settings import SITE_SETTINGS

    return list(SITE_SETTINGS)


@hookimpl
def register_blueprints(pulse: Any) -> list[Blueprint]:
    from moviepulse.site.views import LocaleConverter, bp

    pulse.app.url_map.converters["locale"] = LocaleConverter
    return [bp]


@hookimpl
def register_commands() -> list[Any]:
    from moviepulse.demo.cli import demo_group

    return [demo_group]
