"""Query-string parsing shared by the admin API: date ranges and audiences, with precise 400s."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, jsonify, make_response

MAX_RANGE_DAYS = 366


def bad_request(reason: str, **extra: Any) -> None:
    """Abort with ``400 {"error": "bad_request", "reason": ...}``."""
    abort(make_response(jsonify({"error": "bad_request", "reason": reason, **extra}), 400))


def parse_day(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        bad_request(f"'{name}' must be a date YYYY-MM-DD, got {value!r}")
    return None  # unreachable


def parse_date_range(args: Any, default_days: int = 7, today: date | None = None) -> tuple[date, date]:
    """``from``/``to`` (inclusive days). Defaults: the last ``default_days`` days ending today."""
    today = today or date.today()
    end = parse_day(args.get("to"), "to") or today
    start = parse_day(args.get("from"), "from") or (end - timedelta(days=default_days - 1))
    if start > end:
        bad_request(f"'from' ({start}) is after 'to' ({end})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        bad_request(f"the range may span at most {MAX_RANGE_DAYS} days")
    return start, end
