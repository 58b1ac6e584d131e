"""The ``watch-time`` metric: estimated minutes watched, for an audience and a date range.

Served by MoviePulse at ``GET /admin/api/metrics/watch-time?from=&to=&audience=`` (the
built-in ``audiences`` plugin's metric endpoint) and computed by the same query the widget uses.
"""

from __future__ import annotations

from moviepulse import Metric

from moviepulse_watchtime.queries import watch_minutes_daily

WATCH_TIME = Metric(
    slug="watch-time",
    label="Watch time",
    func=watch_minutes_daily,
    unit="minutes",
    description="Runtime of viewed titles: one watch per device, movie and UTC day; bots excluded.",
)
