"""Audiences: named segments every analytics query is filtered by.

An ``Audience`` maps to equality filters on the rollup/event dimension columns
(``variant``, ``placement``, ``locale``, ``device_type``, ``visitor_type``,
``first_seen_week``) — the same columns exist on ``events``, ``rollup_daily`` and
``rollup_hourly``, so one audience filters raw and rolled-up data identically.

Built-ins (registered by the ``audiences`` plugin): ``global``, ``variant:A``/``variant:B``,
``locale:<l>`` per configured locale, ``device:desktop|mobile|tablet``,
``visitor:new|returning``. Parametrised slugs ``<kind>:<value>`` for the kinds in
:data:`SLUG_KINDS` (e.g. ``cohort:2026-W48``) resolve without registration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moviepulse.models.analytics import ROLLUP_DIMENSIONS

#: ``<kind>:<value>`` slug prefixes -> dimension column.
SLUG_KINDS: dict[str, str] = {
    "variant": "variant",
    "placement": "placement",
    "locale": "locale",
    "device": "device_type",
    "visitor": "visitor_type",
    "cohort": "first_seen_week",
}
_VALUE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")


class UnknownAudience(ValueError):
    """The audience slug is neither registered nor a valid ``<kind>:<value>``."""


@dataclass(frozen=True)
class Audience:
    """A named segment.

    ``filters``: dimension column -> value, or a list/tuple of allowed values.
    ``where``: optional extra predicate ``where(columns) -> SQL expression`` where ``columns``
    is any namespace with the dimension columns as attributes (``Event``, ``RollupDaily``,
    ``RollupHourly``) — for plugin audiences that need more than equality.
    """

    slug: str
    label: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    where: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        bad = [k for k in self.filters if k not in ROLLUP_DIMENSIONS]
        if bad:
            raise ValueError(f"audience {self.slug!r} filters unknown dimension(s) {bad}; "
                             f"allowed: {list(ROLLUP_DIMENSIONS)}")

    def conditions(self, columns: Any) -> list[Any]:
        """SQL conditions on ``columns`` (a model class or a table's ``.c``)."""
        conds: list[Any] = []
        for name, value in self.filters.items():
            col = getattr(columns, name)
            if isinstance(value, list | tuple | set | frozenset):
                conds.append(col.in_(list(value)))
            elif value is None:
                conds.append(col.is_(None))
            else:
                conds.append(col == value)
        if self.where is not None:
            conds.append(self.where(columns))
        return conds

    def describe(self) -> dict[str, Any]:
        return {"slug": self.slug, "label": self.label, "description": self.description,
                "filters": {k: list(v) if isinstance(v, list | tuple | set | frozenset) else v
                            for k, v in self.filters.items()},
                "custom": self.where is not None}


GLOBAL = Audience("global", "Everyone", {}, "All non-bot traffic.")


def builtin_audiences(locales: list[str] | tuple[str, ...] = ("en",)) -> list[Audience]:
    out = [GLOBAL]
    out += [Audience(f"variant:{v}", f"Variant {v}", {"variant": v}) for v in ("A", "B")]
    out += [Audience(f"locale:{loc}", f"Locale {loc}", {"locale": loc}) for loc in locales]
    out += [Audience(f"device:{d}", d.capitalize(), {"device_type": d}) for d in ("desktop", "mobile", "tablet")]
    out += [Audience("visitor:new", "New visitors", {"visitor_type": "new"},
                     "Devices first seen less than a day before the event."),
            Audience("visitor:returning", "Returning visitors", {"visitor_type": "returning"})]
    return out


def parse_audience_slug(slug: str) -> Audience:
    """A parametrised ``<kind>:<value>`` audience, e.g. ``cohort:2026-W48``."""
    kind, sep, value = slug.partition(":")
    if not sep or kind not in SLUG_KINDS or not _VALUE_RE.match(value):
        raise UnknownAudience(
            f"unknown audience {slug!r}: use 'global', a registered audience, or <kind>:<value> "
            f"with kind in {sorted(SLUG_KINDS)}")
    if kind == "cohort" and not _WEEK_RE.match(value):
        raise UnknownAudience(f"cohort audiences are ISO weeks like cohort:2026-W48, got {slug!r}")
    column = SLUG_KINDS[kind]
    label = f"First seen {value}" if kind == "cohort" else f"{kind.capitalize()} {value}"
    return Audience(slug, label, {column: value})


def resolve_audience(audience: str | Audience | None, registry: Any = None) -> Audience:
    """Audience object for a slug: the registry first (if given), then ``<kind>:<value>``."""
    if isinstance(audience, Audience):
        return audience
    slug = (audience or "global").strip()
    if registry is None:
        try:
            from flask import current_app

            registry = current_app.extensions["moviepulse"].audiences
        except (RuntimeError, KeyError):
            registry = None
    if registry is not None:
        found = registry.find(slug)
        if found is not None:
            return found
    if slug == "global":
        return GLOBAL
    return parse_audience_slug(slug)
