"""Small value types that plugins hand to the core: settings, tasks and dashboard pages.

Domain base classes live beside the code that uses them (``Source`` in
``moviepulse.ingestion.source``, ``Metric`` in ``moviepulse.analytics.metric``, ``Widget``
in ``moviepulse.dash_app.widget``, ``Playbook``/``AlertRule`` in ``moviepulse.ssr``) and are
re-exported from ``moviepulse``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A configuration key a plugin reads.

    ``default`` applies unless the environment class, ``MOVIEPULSE_<NAME>`` or an explicit
    override sets it. A ``secret`` left empty or at its (development) default makes
    ``production`` refuse to start, when ``required_if`` (a config predicate) holds.
    """

    name: str
    default: Any
    help: str
    secret: bool = False
    required_if: Callable[[Any], bool] | None = None

    @property
    def slug(self) -> str:
        return self.name


Schedule = Callable[[datetime], bool]


@dataclass(frozen=True)
class TaskSpec:
    """A background job. The core turns it into a Huey task; plugins never import Huey.

    ``func`` runs inside the application context. ``schedule`` makes it periodic: either a
    Huey-style ``validate_datetime`` callable, or a config key name (``str``) holding an
    interval in seconds. ``name`` is stable (``"<plugin>.<task>"``) because queued
    messages are addressed by it.
    """

    name: str
    func: Callable[..., Any]
    schedule: Schedule | str | None = None
    retries: int = 0
    retry_delay: int = 0
    retry_backoff: float = 0
    expires: int | None = None
    priority: int | None = None
    timeout: int | None = None
    help: str = ""

    @property
    def slug(self) -> str:
        return self.name


@dataclass(frozen=True)
class PageSpec:
    """A dashboard page. Widgets name the page slug they belong to."""

    slug: str
    title: str
    order: int = 100
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
