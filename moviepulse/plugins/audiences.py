"""Built-in plugin ``audiences``: the built-in audiences (global, variant, locale, device type,
new vs returning; cohort weeks as ``cohort:YYYY-Www``) and ``/admin/api/audiences``,
``/admin/api/metrics``.
"""

from __future__ import annotations

from typing import Any

from moviepulse import hookimpl


@hookimpl
def register_audiences(pulse: Any) -> list[Any]:
    from moviepulse.analytics.audiences import builtin_audiences

    locales = pulse.setting("LOCALES") or ["en"]
    return builtin_audiences(list(locales))


@hookimpl
def register_blueprints() -> list[Any]:
    from moviepulse.analytics.api import audiences_blueprint

    return [audiences_blueprint()]
