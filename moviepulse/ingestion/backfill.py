"""The backfill scheduler: which movies to re-import, in what order, and how many.

Staleness policy (after Radarr's ``ShouldRefreshMovie``), first match wins:

* ``never_fetched`` — no ``metadata_fetched_at``: due;
* fetched less than ``BACKFILL_MIN_AGE_HOURS`` (12 h) ago: not due;
* ``stale`` — fetched more than ``BACKFILL_STALE_DAYS`` (180) ago: due;
* ``recent_release`` — released (or to be released) within ``BACKFILL_RECENT_RELEASE_DAYS`` (30): due;
* ``missing_localisation`` — a configured locale lacks a ``title``/``overview`` value
  (``BACKFILL_FIELDS``; source ``missing`` or no row) and the last fetch is older than
  ``BACKFILL_MISSING_COOLDOWN_HOURS`` (24 h): due;
* otherwise not due.

Order: highest value first — site engagement over the last 7 days (views + clicks), then
popularity. Movies already pending are never enqueued. The batch is capped by ``BACKFILL_BATCH``,
by what the OMDb budget has left beyond ``BACKFILL_OMDB_RESERVE``, and is empty while the primary
source's circuit is open. Each real pass leaves a ``backfill_notifications`` row with one
``backfill_items`` row per enqueued movie; the import task later marks them finished or failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from moviepulse.ingestion.services import active_sources, as_pulse
from moviepulse.ingestion.source import MovieRef
from moviepulse.models.base import utcnow

REASON_RANK = {"never_fetched": 0, "stale": 1, "recent_release": 2, "missing_localisation": 3}


@dataclass
class Candidate:
    movie_id: int
    key: str
    reason: str
    value: float
    title: str | None = None


def refresh_reason(fetched_at: datetime | None, release: Any, missing: bool, now: datetime, cfg: dict[str, Any]) -> str | None:
    """The policy above for one movie; None when it is not due."""
    if fetched_at is None:
        return "never_fetched"
    age = now - fetched_at
    if age < timedelta(hours=cfg["min_age_hours"]):
        return None
    if age > timedelta(days=cfg["stale_days"]):
        return "stale"
    if release is not None and abs((now.date() - release).days) <= cfg["recent_release_days"]:
        return "recent_release"
    if missing and age > timedelta(hours=cfg["missing_cooldown_hours"]):
        return "missing_localisation"
    return None


def policy(pulse: Any) -> dict[str, Any]:
    s = pulse.setting
    return {
        "min_age_hours": float(s("BACKFILL_MIN_AGE_HOURS", 12)),
        "stale_days": float(s("BACKFILL_STALE_DAYS", 180)),
        "recent_release_days": int(s("BACKFILL_RECENT_RELEASE_DAYS", 30)),
        "missing_cooldown_hours": float(s("BACKFILL_MISSING_COOLDOWN_HOURS", 24)),
        "fields": list(s("BACKFILL_FIELDS", ["title", "overview"]) or ["title", "overview"]),
        "batch": int(s("BACKFILL_BATCH", 50)),
        "omdb_reserve": int(s("BACKFILL_OMDB_RESERVE", 50)),
    }


def _engagement(session: Any, since: datetime) -> dict[int, int]:
    from sqlalchemy import func, select

    from moviepulse.models.events import Event

    rows = session.execute(
        select(Event.movie_id, func.count()).where(
            Event.event_time >= since, Event.type.in_(("view", "click")), Event.movie_id.is_not(None),
            Event.is_bot.is_(False)).group_by(Event.movie_id))
    return {int(movie_id): int(n) for movie_id, n in rows}


def _incomplete(session: Any, locales: list[str], fields: list[str]) -> set[int]:
    """Movies where some configured locale × field has no value (a ``missing`` row or no row)."""
    from sqlalchemy import func, select

    from moviepulse.models.movie import MovieField

    present = session.execute(
        select(MovieField.movie_id, func.count()).where(
            MovieField.locale.in_(locales), MovieField.field.in_(fields), MovieField.source != "missing",
            MovieField.value.is_not(None)).group_by(MovieField.movie_id))
    complete = {int(m) for m, n in present if int(n) >= len(locales) * len(fields)}
    from moviepulse.models.movie import Movie

    return set(session.scalars(select(Movie.id))) - complete


def select_candidates(app_or_pulse: Any, now: datetime | None = None) -> tuple[list[Candidate], int]:
    """Every movie that is due, highest value first; and how many movies were considered."""
    from sqlalchemy import select

    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    pulse = as_pulse(app_or_pulse)
    now = now or utcnow()
    cfg = policy(pulse)
    session = db.session
    locales = list(pulse.setting("LOCALES") or ["en"])
    incomplete = _incomplete(session, locales, cfg["fields"])
    engagement = _engagement(session, now - timedelta(days=7))
    out: list[Candidate] = []
    considered = 0
    for movie in session.scalars(select(Movie)):
        if movie.tmdb_id is None and not movie.imdb_id:
            continue
        considered += 1
        reason = refresh_reason(movie.metadata_fetched_at, movie.release_date, movie.id in incomplete, now, cfg)
        if reason is None:
            continue
        ref = MovieRef(tmdb_id=movie.tmdb_id, imdb_id=movie.imdb_id if movie.tmdb_id is None else None)
        value = engagement.get(movie.id, 0) * 1000.0 + float(movie.popularity or 0)
        out.append(Candidate(movie.id, ref.key, reason, round(value, 3), movie.title))
    out.sort(key=lambda c: (-c.value, REASON_RANK.get(c.reason, 9), c.movie_id))
    return out, considered


def capacity(pulse: Any, batch: int, reserve: int) -> tuple[int, str | None, dict[str, Any]]:
    """How many imports fit now, what limited it, and the budget/breaker snapshot."""
    cap, limited_by = batch, None
    snapshot: dict[str, Any] = {}
    primaries = active_sources(pulse, "primary")
    if primaries:
        breaker = primaries[0].client.breaker.snapshot()
        snapshot[primaries[0].slug] = {"breaker": breaker["state"]}
        if breaker["state"] == "open":
            return 0, "breaker_open", snapshot
    for source in active_sources(pulse, "fallback"):
        budget = source.client.budget
        if budget is None:
            continue
        status = budget.status()
        snapshot[source.slug] = {"budget": status}
        room = max(0, status["left"] - reserve)
        if room < cap:
            cap, limited_by = room, "budget"
    return cap, limited_by, snapshot


def run_backfill(app_or_pulse: Any, *, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """One backfill pass. Returns what it selected and enqueued (nothing is written on a dry run)."""
    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db
    from moviepulse.ingestion.queueing import enqueue_import, pending_keys
    from moviepulse.models.ingestion import BackfillItem, BackfillNotification

    pulse = as_pulse(app_or_pulse)
    cfg = policy(pulse)
    candidates, considered = select_candidates(pulse, now)
    pending = pending_keys(pulse)
    fresh = [c for c in candidates if c.key not in pending]
    skipped_pending = len(candidates) - len(fresh)
    cap, limited_by, snapshot = capacity(pulse, cfg["batch"], cfg["omdb_reserve"])
    if limited_by is None and len(fresh) > cap:
        limited_by = "batch"
    chosen = fresh[:cap]
    if not chosen and limited_by == "batch":
        limited_by = None
    result: dict[str, Any] = {
        "dry_run": dry_run, "considered": considered, "needing": len(candidates), "skipped_pending": skipped_pending,
        "limited_by": limited_by if len(fresh) > len(chosen) else None, "capacity": cap, "upstreams": snapshot,
        "selected": [asdict(c) for c in chosen], "notification_id": None, "enqueued_count": 0,
    }
    if dry_run:
        return result
    with write_transaction(db.session()):
        note = BackfillNotification(dry_run=False, considered=considered, needing=len(candidates),
                                    enqueued=0, skipped_pending=skipped_pending, limited_by=result["limited_by"],
                                    summary={"capacity": cap, "upstreams": snapshot})
        db.session.add(note)
        db.session.flush()
        for c in chosen:
            db.session.add(BackfillItem(notification_id=note.id, movie_id=c.movie_id, key=c.key, reason=c.reason,
                                        value=c.value, status="enqueued"))
        note_id = note.id
    enqueued = []
    for c in chosen:
        if enqueue_import(pulse, MovieRef.parse(c.key), reason=f"backfill:{c.reason}", notification_id=note_id,
                          movie_id=c.movie_id):
            enqueued.append(c.key)
    with write_transaction(db.session()):
        note = db.session.get(BackfillNotification, note_id)
        note.enqueued = len(enqueued)
        not_enqueued = {c.key for c in chosen} - set(enqueued)
        if not_enqueued:  # raced with another scheduler: someone else queued them first
            from sqlalchemy import delete

            db.session.execute(delete(BackfillItem).where(BackfillItem.notification_id == note_id,
                                                          BackfillItem.key.in_(not_enqueued)))
            note.skipped_pending += len(not_enqueued)
    result.update({"notification_id": note_id, "enqueued_count": len(enqueued), "enqueued": enqueued})
    return result


def notifications(session: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Latest backfill passes with their items' statuses (for the queue widget)."""
    from sqlalchemy import select

    from moviepulse.models.ingestion import BackfillItem, BackfillNotification

    out = []
    notes = session.scalars(select(BackfillNotification).order_by(BackfillNotification.id.desc()).limit(limit))
    for note in notes:
        items = list(session.scalars(select(BackfillItem).where(BackfillItem.notification_id == note.id)
                                     .order_by(BackfillItem.value.desc())))
        counts: dict[str, int] = {}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
        out.append({
            "id": note.id, "created_at": note.created_at.isoformat(), "considered": note.considered,
            "needing": note.needing, "enqueued": note.enqueued, "skipped_pending": note.skipped_pending,
            "limited_by": note.limited_by, "status_counts": counts,
            "items": [{"movie_id": i.movie_id, "key": i.key, "reason": i.reason, "value": i.value,
                       "status": i.status, "detail": i.detail} for i in items],
        })
    return out
