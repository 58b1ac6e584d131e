"""``GET /admin/api/watchtime/summary?from=&to=&audience=``: the numbers behind the widget, as JSON."""

from __future__ import annotations

from flask import jsonify, request
from moviepulse.core.auth import admin_api_blueprint
from moviepulse.core.params import bad_request, parse_date_range
from moviepulse.core.pulse import current_pulse
from moviepulse.extensions import db

from moviepulse_watchtime.queries import top_movies, watch_minutes_daily
from moviepulse_watchtime.rollup import last_rollup

api = admin_api_blueprint("watchtime_api", __name__, "/watchtime")


@api.get("/summary")
def summary():
    from moviepulse.analytics.audiences import UnknownAudience, resolve_audience

    start, end = parse_date_range(request.args, current_pulse().setting("WATCHTIME_DAYS"))
    try:
        audience = resolve_audience(request.args.get("audience") or "global")
    except UnknownAudience as exc:
        bad_request(str(exc))
    daily = watch_minutes_daily(db.session, start, end, audience)
    top = top_movies(db.session, start, end, audience)
    return jsonify({**daily, "top": top, "last_rollup": last_rollup()})
