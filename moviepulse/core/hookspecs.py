"""Hook specifications: the complete contract between MoviePulse and its plugins.

Every hook is documented, with an example and the built-in plugin that uses it, in
``docs/plugins/hooks.md``; a test fails when a hook here is missing from that page or
has no test. An implementation may accept any subset of the arguments documented for
its hook (pluggy passes only the names the implementation asks for).

Families, as in Datasette:

* ``register_*`` return a list that the core collects into a registry keyed by slug;
  two plugins registering the same slug stop start-up with an error naming both.
* ``startup`` is called once after every plugin is registered.
* Event hooks (``events_recorded``, ``ingestion_completed``, ``upstream_event``,
  ``drift_detected``, ``task_event``) notify; their return value is ignored and an
  exception in one plugin is logged, never propagated to the caller.
* ``prepare_figure`` mutates a Plotly figure in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click
    from flask import Blueprint

    from moviepulse.core.pulse import MoviePulse
    from moviepulse.core.types import PageSpec, Setting, TaskSpec

hookspec = pluggy.HookspecMarker("moviepulse")
hookimpl = pluggy.HookimplMarker("moviepulse")


@hookspec
def register_settings(pulse: MoviePulse) -> list[Setting] | None:
    """Return ``Setting`` declarations (name, default, help, secret) that this plugin reads."""


@hookspec
def register_sources(pulse: MoviePulse) -> list[Any] | None:
    """Return ``Source`` subclasses (metadata providers such as TMDB or OMDb)."""


@hookspec
def register_metrics(pulse: MoviePulse) -> list[Any] | None:
    """Return ``Metric`` instances computed from stored data for an audience and date range."""


@hookspec
def register_audiences(pulse: MoviePulse) -> list[Any] | None:
    """Return ``Audience`` instances: named segments every analytics query can be filtered by."""


@hookspec
def register_widgets(pulse: MoviePulse) -> list[Any] | None:
    """Return ``Widget`` subclasses that the admin dashboard lays out on their page."""


@hookspec
def register_pages(pulse: MoviePulse) -> list[PageSpec] | None:
    """Return extra dashboard pages (``PageSpec``: slug, title, order)."""


@hookspec
def register_tasks(pulse: MoviePulse) -> list[TaskSpec] | None:
    """Return ``TaskSpec`` values; the core turns each into a Huey task or periodic task."""


@hookspec
def register_playbooks(pulse: MoviePulse) -> list[Any] | None:
    """Return ``Playbook`` instances: remediation steps matched to fingerprint kinds."""


@hookspec
def register_alert_rules(pulse: MoviePulse) -> list[Any] | None:
    """Return ``AlertRule`` instances evaluated periodically (ok / warning / critical)."""


@hookspec
def register_blueprints(pulse: MoviePulse) -> list[Blueprint] | None:
    """Return Flask blueprints (public pages, JSON endpoints, admin API sections)."""


@hookspec
def register_commands(pulse: MoviePulse) -> list[click.Command] | None:
    """Return click commands added to the ``moviepulse`` command group."""


@hookspec
def startup(pulse: MoviePulse) -> None:
    """Called once after every plugin is registered and the registries are filled."""


@hookspec
def events_recorded(pulse: MoviePulse, events: list[dict[str, Any]]) -> None:
    """Called after a batch of tracking events (impression, click, view) is committed."""


@hookspec
def ingestion_completed(pulse: MoviePulse, run: dict[str, Any]) -> None:
    """Called after an ingestion run finishes, successfully or not, with its summary."""


@hookspec
def upstream_event(pulse: MoviePulse, upstream: str, kind: str, detail: dict[str, Any]) -> None:
    """Called on an upstream signal: ``retry``, ``rate_limited``, ``breaker_state``,
    ``budget_exhausted`` or ``request``."""


@hookspec
def drift_detected(pulse: MoviePulse, drift: dict[str, Any]) -> None:
    """Called when reconciliation flags a day whose rollups drift from raw events."""


@hookspec
def task_event(pulse: MoviePulse, signal: str, task: dict[str, Any]) -> None:
    """Called on a queue lifecycle signal (enqueued, executing, complete, error, retrying…)."""


@hookspec
def prepare_figure(figure: Any, widget: Any, pulse: MoviePulse) -> None:
    """Modify a Plotly figure in place before a widget returns it."""
