"""``Metric``: a named number (or table) computed from stored data for a date range and audience.

Plugins return ``Metric`` instances from ``register_metrics``; the admin API and the
dashboard call ``metric.compute(session, start, end, audience)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Metric:
    """``compute(session, start: date, end: date, audience: str) -> dict`` (plain data, with a
    ``state`` of ``ok``/``no_data``/``not_enough_data``/``unavailable``)."""

    slug: str
    label: str
    func: Callable[..., Any]
    unit: str = ""
    description: str = ""

    def compute(self, session: Any, start: date, end: date, audience: str = "global") -> Any:
        return self.func(session, start, end, audience)

    def describe(self) -> dict[str, Any]:
        return {"slug": self.slug, "label": self.label, "unit": self.unit, "description": self.description}
