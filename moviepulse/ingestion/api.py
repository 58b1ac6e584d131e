"""Admin API for ingestion: a movie's fields with provenance, runs, health, funnel, backfill.

All under ``/admin/api`` (admin session or read-only bearer token):
``GET /movies/<id>``, ``GET /ingestion/runs?limit=&kind=``, ``GET /ingestion/health``,
``GET /ingestion/funnel?from=YYYY-MM-DD&to=YYYY-MM-DD``, ``GET /ingestion/backfill?limit=``.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.params import bad_request, parse_date_range
from moviepulse.extensions import db
from moviepulse.ingestion import queries

bp = admin_api_blueprint("admin_api_ingestion", __name__)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        bad_request(f"'{name}' must be an integer, got {raw!r}")
    if not lo <= value <= hi:
        bad_request(f"'{name}' must be between {lo} and {hi}")
    return value


@bp.get("/movies/<int:movie_id>")
def movie(movie_id: int) -> tuple[Response, int] | Response:
    data = queries.movie_fields(db.session, movie_id)
    if data is None:
        return jsonify({"error": "not_found", "reason": f"no movie {movie_id}"}), 404
    return jsonify(data)


@bp.get("/ingestion/runs")
def runs() -> Response:
    limit = _int_arg("limit", 20, 1, 500)
    return jsonify({"runs": queries.recent_runs(db.session, limit, request.args.get("kind") or None)})


@bp.get("/ingestion/health")
def health() -> Response:
    return jsonify(queries.ingestion_health(db.session))


@bp.get("/ingestion/funnel")
def funnel() -> Response:
    start, end = parse_date_range(request.args, default_days=7)
    return jsonify(queries.ingestion_funnel(db.session, start, end))


@bp.get("/ingestion/backfill")
def backfill() -> Response:
    from moviepulse.ingestion.backfill import notifications

    return jsonify({"notifications": notifications(db.session, _int_arg("limit", 10, 1, 100))})
