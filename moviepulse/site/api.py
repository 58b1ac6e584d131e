"""``POST /api/events``: the beacon endpoint (blueprint registered by the ``events_api`` plugin).

Every limit is enforced before anything is written: body size from ``Content-Length`` and
again while reading (413), content type (415), JSON syntax (400), envelope shape (422),
events per batch (413). Per-event problems are listed in ``rejected`` of a 200 answer;
``accepted + duplicates + len(rejected) == len(events)``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from moviepulse.core.observability import prom
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.site import useragent
from moviepulse.site.beacon import Limits, parse_timestamp, validate_events
from moviepulse.site.catalog import existing_movie_ids
from moviepulse.site.tracking import record_events

bp = Blueprint("events_api", __name__)

READ_CHUNK = 64 * 1024


def error(status: int, code: str, reason: str, **headers: str) -> Response:
    response = jsonify({"error": code, "reason": reason})
    response.status_code = status
    response.headers.update(headers)
    return response


def limits_from_config(cfg: Any) -> Limits:
    return Limits(max_event_bytes=int(cfg.get("EVENTS_MAX_EVENT_BYTES", 2048)),
                  max_age=timedelta(days=float(cfg.get("EVENTS_MAX_AGE_DAYS", 7))),
                  max_future=timedelta(seconds=float(cfg.get("EVENTS_MAX_FUTURE_SECONDS", 300))),
                  skew_threshold=timedelta(seconds=float(cfg.get("EVENTS_SKEW_THRESHOLD_SECONDS", 2))))


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` (by header or while reading)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@bp.post("/api/events")
def post_events() -> Response:
    cfg = current_app.config
    received_at = utcnow()
    max_body = int(cfg.get("EVENTS_MAX_BODY_BYTES", 512 * 1024))
    if request.content_length is not None and request.content_length > max_body:
        return error(413, "payload_too_large", f"the body may be at most {max_body} bytes")
    if request.mimetype != "application/json":
        return error(415, "unsupported_media_type", "send Content-Type: application/json")
    body = read_body(max_body)
    if body is None:
        return error(413, "payload_too_large", f"the body may be at most {max_body} bytes")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return error(400, "malformed_json", "the body is not valid JSON (UTF-8, no NaN/Infinity)")
    if not isinstance(payload, dict):
        return error(422, "invalid_envelope", 'the body must be an object {"sent_at": ..., "events": [...]}')
    events = payload.get("events")
    if not isinstance(events, list):
        return error(422, "invalid_envelope", "'events' must be a list")
    sent_at_raw = payload.get("sent_at")
    if sent_at_raw is not None and not isinstance(sent_at_raw, str):
        return error(422, "invalid_envelope", "'sent_at' must be an ISO 8601 date-time string")
    max_batch = int(cfg.get("EVENTS_MAX_BATCH", 500))
    if len(events) > max_batch:
        return error(413, "too_many_events", f"a batch may hold at most {max_batch} events, got {len(events)}")
    validated = validate_events(events, sent_at=parse_timestamp(sent_at_raw), received_at=received_at,
                                limits=limits_from_config(cfg), locales=list(cfg.get("LOCALES") or ["en"]),
                                movie_exists=lambda ids: existing_movie_ids(db.session, ids))
    ua = request.headers.get("User-Agent", "")
    dtype = useragent.device_type(ua)
    rid = g.get("request_id")
    for row in validated.rows:
        row.update(device_type=dtype, is_bot=dtype == "bot", request_id=rid)
    outcome = record_events(db.session, validated.rows)
    if validated.rejected:
        prom(current_app).events.labels("rejected").inc(len(validated.rejected))
    return jsonify({"accepted": outcome.accepted, "duplicates": outcome.duplicates,
                    "rejected": validated.rejected})


@bp.app_errorhandler(405)
def method_not_allowed(exc: Any) -> Any:
    """405 on ``/api/events`` answers JSON (with ``Allow``); any other route keeps Flask's response."""
    if request.path != "/api/events":
        return exc
    allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ["POST", "OPTIONS"]))
    return error(405, "method_not_allowed", "use POST", Allow=allowed)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
