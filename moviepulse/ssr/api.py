"""Admin API for SSR telemetry: ``/admin/api/ssr/{routes,fingerprints,drops,alerts}``.

Every endpoint takes ``from`` and ``to`` (inclusive UTC days, ``YYYY-MM-DD``; default the last 7
days ending today; 400 with a reason on bad input). ``drops`` compares ``to`` with the day before.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Response, current_app, jsonify, request

from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.params import parse_date_range
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.ssr import queries

bp = admin_api_blueprint("admin_api_ssr", __name__, "/ssr")


def _window() -> tuple[date, date, datetime, datetime]:
    start, end = parse_date_range(request.args, default_days=7, today=utcnow().date())
    return start, end, datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


@bp.get("/routes")
def api_routes() -> Response:
    """Per route template: percentiles, Apdex, request and error rates, score."""
    first, last, start, end = _window()
    return jsonify({"from": first.isoformat(), "to": last.isoformat(),
                    "apdex_t_ms": current_app.config.get("SSR_APDEX_T_MS"),
                    "headline": queries.score_headline(db.session, start, end),
                    "routes": queries.route_stats(db.session, start, end),
                    "trend": queries.score_trend(db.session, start, end)})


@bp.get("/fingerprints")
def api_fingerprints() -> Response:
    """Fingerprints last seen in the window, with repeat-offender flag and matching playbook."""
    first, last, start, end = _window()
    pulse = current_app.extensions["moviepulse"]
    items = queries.fingerprints(db.session, start, end)
    books = {p.slug: p.as_dict() for p in pulse.playbooks}
    for item in items:
        item["playbook_detail"] = books.get(item["playbook"]) if item["playbook"] else None
    return jsonify({"from": first.isoformat(), "to": last.isoformat(), "fingerprints": items})


@bp.get("/drops")
def api_drops() -> Response:
    """Day-over-day score changes for ``to`` (default today) against the day before."""
    first, last, _, _ = _window()
    return jsonify({"from": first.isoformat(), "to": last.isoformat(), "day": last.isoformat(),
                    "routes": queries.drops(db.session, last)})


@bp.get("/alerts")
def api_alerts() -> Response:
    """Current alert states (ok / warning / critical, since when) and upstream breaker states.

    Alert states are current, not historical: ``from``/``to`` are validated and echoed only.
    """
    first, last, _, _ = _window()
    return jsonify({"from": first.isoformat(), "to": last.isoformat(), "alerts": queries.alerts(db.session),
                    "upstreams": queries.upstream_states(db.session)})
