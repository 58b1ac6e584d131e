"""Admin JSON API of the analytics plugins, one blueprint per plugin under ``/admin/api/``.

Every GET takes ``from``, ``to`` (``YYYY-MM-DD``, inclusive) and ``audience`` (default
``global``); a bad value answers ``400 {"error": "bad_request", "reason": …}``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, request

from moviepulse.analytics import queries
from moviepulse.analytics.audiences import UnknownAudience, resolve_audience
from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.params import bad_request, parse_date_range
from moviepulse.core.pulse import current_pulse
from moviepulse.extensions import db


def params(default_days: int = 7) -> tuple[date, date, str]:
    start, end = parse_date_range(request.args, default_days)
    slug = (request.args.get("audience") or "global").strip()
    try:
        resolve_audience(slug, current_pulse().audiences)
    except UnknownAudience as exc:
        bad_request(str(exc))
    return start, end, slug


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        bad_request(f"'{name}' must be an integer, got {raw!r}")
    return None


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    bad_request(f"'{name}' must be true or false, got {raw!r}")
    return default


def audiences_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_audiences", __name__)

    @bp.get("/audiences")
    def audiences() -> Response:
        pulse = current_pulse()
        return jsonify({"audiences": [a.describe() for a in pulse.audiences],
                        "parametrised": ["variant:<A|B>", "placement:<p>", "locale:<l>", "device:<type>",
                                         "visitor:<new|returning>", "cohort:<YYYY-Www>"]})

    @bp.get("/metrics/<slug>")
    def metric(slug: str) -> Response:
        start, end, audience = params()
        m = current_pulse().metrics.find(slug)
        if m is None:
            bad_request(f"unknown metric {slug!r}; known: {current_pulse().metrics.slugs()}")
        return jsonify(m.compute(db.session, start, end, audience))

    @bp.get("/metrics")
    def metrics() -> Response:
        return jsonify({"metrics": [m.describe() for m in current_pulse().metrics]})

    return bp


def ctr_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_ctr", __name__)

    @bp.get("/ctr/daily")
    def daily() -> Response:
        start, end, audience = params(14)
        return jsonify(queries.ctr_daily(db.session, start, end, audience))

    @bp.get("/ctr/placements")
    def placements() -> Response:
        start, end, audience = params()
        return jsonify(queries.ctr_by_placement(db.session, start, end, audience))

    @bp.get("/ctr/totals")
    def totals() -> Response:
        start, end, audience = params()
        return jsonify(queries.ctr_totals(db.session, start, end, audience))

    @bp.get("/trends")
    def trends() -> Response:
        start, end, audience = params()
        limit = _int_arg("limit") or 40
        if not 1 <= limit <= 500:
            bad_request("'limit' must be between 1 and 500")
        return jsonify(queries.trends(db.session, start, end, audience, type=request.args.get("type") or None,
                                      genre=request.args.get("genre") or None, year_from=_int_arg("year_from"),
                                      year_to=_int_arg("year_to"), limit=limit))

    return bp


def funnel_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_funnel", __name__)

    @bp.get("/funnel/placements")
    def placements() -> Response:
        start, end, audience = params()
        return jsonify(queries.placement_funnel(db.session, start, end, audience))

    @bp.get("/funnel/ingestion")
    def ingestion() -> Response:
        start, end, audience = params()
        return jsonify(queries.ingestion_funnel(db.session, start, end, audience))

    return bp


def experiments_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_experiments", __name__)

    @bp.get("/experiment")
    def experiment() -> Response:
        start, end, audience = params()
        return jsonify(queries.experiment(db.session, start, end, audience, with_cuped=_flag("cuped", True),
                                          sequential=_flag("sequential", True)))

    return bp


def reconciliation_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_reconciliation", __name__)

    @bp.get("/drift")
    def drift() -> Response:
        start, end, audience = params()
        return jsonify(queries.drift(db.session, start, end, audience))

    return bp


def queue_blueprint() -> Blueprint:
    bp = admin_api_blueprint("admin_api_queue", __name__)

    @bp.get("/queue/stats")
    def stats() -> Response:
        start, end, audience = params(1)
        return jsonify(queries.queue(db.session, start, end, audience))

    @bp.get("/queue/failed")
    def failed() -> Response:
        start, end, audience = params(7)
        limit = _int_arg("limit") or 100
        if not 1 <= limit <= 1000:
            bad_request("'limit' must be between 1 and 1000")
        return jsonify(queries.failed(db.session, start, end, audience, limit=limit))

    @bp.post("/queue/failed/<int:job_id>/retry")
    def retry(job_id: int) -> Any:
        from moviepulse.analytics.queue import RetryError, retry_job

        if request.mimetype != "application/json":  # a cross-site form cannot send JSON (CSRF)
            response = jsonify({"error": "unsupported_media_type", "reason": "send Content-Type: application/json"})
            response.status_code = 415
            return response
        try:
            return jsonify(retry_job(current_pulse(), job_id))
        except RetryError as exc:
            response = jsonify({"error": "cannot_retry", "reason": str(exc)})
            response.status_code = 404 if "no job" in str(exc) else 409
            return response

    return bp
