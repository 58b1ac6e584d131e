"""Built-in plugin ``events_api``: ``POST /api/events`` (beacon batches) and its limits."""

from __future__ import annotations

from flask import Blueprint

from moviepulse import hookimpl
from moviepulse.core.types import Setting


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("EVENTS_MAX_BATCH", 500, "Most events in one POST /api/events batch (413 beyond)."),
        Setting("EVENTS_MAX_BODY_BYTES", 512 * 1024, "Largest POST /api/events body in bytes (413 beyond)."),
        Setting("EVENTS_MAX_EVENT_BYTES", 2048, "Largest single event in bytes (rejected as too_large beyond)."),
        Setting("EVENTS_MAX_AGE_DAYS", 7, "Events older than this many days (after skew correction) are rejected."),
        Setting("EVENTS_MAX_FUTURE_SECONDS", 300, "Events this far in the future (after correction) are rejected."),
        Setting("EVENTS_SKEW_THRESHOLD_SECONDS", 2, "Client clock skew beyond this is corrected from sent_at."),
    ]


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from moviepulse.site.api import bp

    return [bp]
