"""A deterministic event generator for tests and benchmarks (``random.Random(seed)``).

``generate_events`` returns plain dicts shaped like ``events`` rows; ``insert_events``
bulk-inserts them with SQLAlchemy Core. Tests compute expected answers from the returned
dicts in Python, independently of the SQL under test.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from moviepulse.models.events import Device, Event

PLACEMENTS = ("home", "trends", "show", "search")
LOCALES = ("en", "de", "fr")
DEVICE_TYPES = ("desktop", "mobile", "tablet")


def iso_week(moment: datetime | date) -> str:
    y, w, _ = moment.isocalendar()
    return f"{y}-W{w:02d}"


def generate_events(start: date, days: int, *, devices: int = 200, impressions_per_day: int = 600,
                    ctr: dict[str, float] | None = None, view_rate: float = 0.6, bot_share: float = 0.05,
                    movies: int = 30, seed: int = 7, variant_split: float = 0.5,
                    prefix: str = "e") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, devices). Each impression may produce a click (prob ``ctr[variant]``), and a click
    a view (prob ``view_rate``). Bots (``bot_share`` of impressions) click at 50%."""
    rng = random.Random(seed)
    ctr = ctr or {"A": 0.05, "B": 0.07}
    first_day = datetime.combine(start, datetime.min.time())
    device_rows = []
    for i in range(devices):
        first_seen = first_day + timedelta(days=rng.randrange(max(1, days)), seconds=rng.randrange(3600))
        device_rows.append({
            "device_id": f"d{seed}-{i}",
            "first_seen_at": first_seen,
            "last_seen_at": first_seen,
            "device_type": rng.choice(DEVICE_TYPES),
            "variant": "A" if rng.random() < variant_split else "B",
            "is_bot": False,
        })
    events: list[dict[str, Any]] = []
    n = 0
    for d in range(days):
        day0 = first_day + timedelta(days=d)
        for _ in range(impressions_per_day):
            dev = rng.choice(device_rows)
            bot = rng.random() < bot_share
            t = day0 + timedelta(seconds=rng.randrange(86400 - 120))
            base = {
                "device_id": dev["device_id"] if not bot else f"bot{seed}-{rng.randrange(5)}",
                "movie_id": 1 + rng.randrange(movies),
                "placement": rng.choice(PLACEMENTS),
                "variant": dev["variant"],
                "position": rng.randrange(8),
                "locale": rng.choice(LOCALES),
                "device_type": "bot" if bot else dev["device_type"],
                "visitor_type": "new" if t - dev["first_seen_at"] < timedelta(days=1) else "returning",
                "first_seen_week": iso_week(dev["first_seen_at"]),
                "is_bot": bot,
                "origin": "server",
            }
            n += 1
            events.append({**base, "event_id": f"{prefix}{seed}-{n}", "type": "impression", "event_time": t,
                           "received_at": t})
            p_click = 0.5 if bot else ctr.get(dev["variant"], 0.05)
            if rng.random() < p_click:
                n += 1
                tc = t + timedelta(seconds=1 + rng.randrange(30))
                events.append({**base, "event_id": f"{prefix}{seed}-{n}", "type": "click", "event_time": tc,
                               "received_at": tc})
                if rng.random() < view_rate:
                    n += 1
                    tv = tc + timedelta(seconds=1 + rng.randrange(30))
                    events.append({**base, "event_id": f"{prefix}{seed}-{n}", "type": "view", "event_time": tv,
                                   "received_at": tv})
    return events, device_rows


def insert_events(session: Session, events: Iterable[dict[str, Any]], devices: Iterable[dict[str, Any]] = (),
                  chunk: int = 5000) -> int:
    """Bulk insert (Core) and commit; returns the number of events inserted."""
    devices = list(devices)
    if devices:
        session.execute(insert(Device), devices)
    batch: list[dict[str, Any]] = []
    total = 0
    for ev in events:
        batch.append(ev)
        if len(batch) >= chunk:
            session.execute(insert(Event), batch)
            total += len(batch)
            batch = []
    if batch:
        session.execute(insert(Event), batch)
        total += len(batch)
    session.commit()
    return total
