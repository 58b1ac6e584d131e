"""Queueing imports without duplicates, and the Huey task bodies.

:func:`enqueue_import` writes a ``pending_imports`` row keyed by the movie (``tmdb:603``) before it
enqueues ``ingestion.import_movie``; a movie with a live row is never enqueued again. The task
removes the row when the import ends (stored, unchanged, not found, or out of retries) and marks
the backfill item it came from as ``finished`` or ``failed``. A row older than
``INGESTION_PENDING_TTL_SECONDS`` (the task's ``expires`` plus its retries) is considered lost.

Task payloads hold only the movie key, a notification id and flags — never a URL or a key.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from moviepulse.ingestion.services import as_pulse
from moviepulse.ingestion.source import MovieRef
from moviepulse.models.base import utcnow

log = logging.getLogger("moviepulse.ingestion")

IMPORT_TASK = "ingestion.import_movie"
LIST_TASK = "ingestion.import_list"
BACKFILL_TASK = "ingestion.backfill"
IMPORT_RETRIES = 4
IMPORT_RETRY_DELAY = 30
IMPORT_EXPIRES = 6 * 3600


class RetryableImportError(RuntimeError):
    """Raised by the import task so that Huey retries it (an outage, a 429, an open circuit)."""


def pending_ttl(pulse: Any) -> timedelta:
    return timedelta(seconds=int(pulse.setting("INGESTION_PENDING_TTL_SECONDS", 7 * 3600) or 7 * 3600))


def pending_keys(app_or_pulse: Any) -> set[str]:
    """Keys of imports that are queued or running (rows younger than the TTL)."""
    from sqlalchemy import select

    from moviepulse.extensions import db
    from moviepulse.models.ingestion import PendingImport

    pulse = as_pulse(app_or_pulse)
    cutoff = utcnow() - pending_ttl(pulse)
    return set(db.session.scalars(select(PendingImport.key).where(PendingImport.enqueued_at > cutoff)))


def claim_pending(pulse: Any, ref: MovieRef, *, reason: str, notification_id: int | None = None,
                  movie_id: int | None = None) -> bool:
    """Insert the pending row; False when a live one exists (the movie is already queued)."""
    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db
    from moviepulse.models.ingestion import PendingImport

    now = utcnow()
    with write_transaction(db.session()):
        row = db.session.get(PendingImport, ref.key)
        if row is not None and now - row.enqueued_at < pending_ttl(pulse):
            return False
        if row is None:
            row = PendingImport(key=ref.key)
            db.session.add(row)
        row.movie_id = movie_id
        row.reason = reason
        row.notification_id = notification_id
        row.attempts = 0
        row.enqueued_at = now
    return True


def release_pending(key: str) -> None:
    from sqlalchemy import delete

    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db
    from moviepulse.models.ingestion import PendingImport

    with write_transaction(db.session()):
        db.session.execute(delete(PendingImport).where(PendingImport.key == key))


def enqueue_import(app_or_pulse: Any, ref: MovieRef, *, reason: str = "manual", notification_id: int | None = None,
                   movie_id: int | None = None, force: bool = False) -> bool:
    """Queue one movie import unless it is already pending. True when enqueued."""
    pulse = as_pulse(app_or_pulse)
    if not claim_pending(pulse, ref, reason=reason, notification_id=notification_id, movie_id=movie_id):
        return False
    try:
        pulse.enqueue(IMPORT_TASK, ref.key, notification_id, force)
    except RetryableImportError:
        pass  # immediate mode (tests): the task ran inline and Huey scheduled its retry
    except Exception:
        release_pending(ref.key)
        raise
    return True


def _bump_attempt(key: str) -> int:
    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db
    from moviepulse.models.ingestion import PendingImport

    with write_transaction(db.session()):
        row = db.session.get(PendingImport, key)
        if row is None:
            return 1
        row.attempts = (row.attempts or 0) + 1
        return row.attempts


def _mark_item(notification_id: int | None, key: str, status: str, detail: str | None) -> None:
    if notification_id is None:
        return
    from sqlalchemy import select

    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db
    from moviepulse.models.ingestion import BackfillItem

    with write_transaction(db.session()):
        for item in db.session.scalars(select(BackfillItem).where(
                BackfillItem.notification_id == notification_id, BackfillItem.key == key)):
            item.status = status
            item.detail = (detail or "")[:300] or None
            item.updated_at = utcnow()


def run_import_task(key: str, notification_id: int | None = None, force: bool = False) -> dict[str, Any]:
    """Body of ``ingestion.import_movie`` (runs in the app context)."""
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.pipeline import import_movies

    pulse = current_pulse()
    ref = MovieRef.parse(key)
    attempt = _bump_attempt(key)
    summary = import_movies(pulse, [ref], kind="movie", trigger="task", force=force,
                            requested={"ref": key, "attempt": attempt, "notification_id": notification_id})
    movies = summary["counts"].get("movies", {})
    ok = bool(movies.get("stored") or movies.get("unchanged"))
    reasons = sorted({e["reason"] for e in summary["errors"]})
    if not ok and key in summary.get("retryable_failures", []) and attempt <= IMPORT_RETRIES:
        raise RetryableImportError(f"{key}: {', '.join(reasons) or 'failed'} (attempt {attempt})")
    release_pending(key)
    status = "finished" if ok else "failed"
    _mark_item(notification_id, key, status, ", ".join(reasons) or None)
    return {"run_id": summary["id"], "status": status, "key": key}


def run_list_task(kind: str = "popular", limit: int = 20, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Body of ``ingestion.import_list``: import a list; failed movies become their own import tasks."""
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.pipeline import import_list

    summary = import_list(current_pulse(), kind, limit, trigger="task", requeue_failures=True, **(filters or {}))
    if summary.get("list_error") and summary.get("list_retryable"):
        raise RetryableImportError(f"list {kind}: {summary['list_error']}")
    return {"run_id": summary["id"], "status": summary["status"]}


def run_backfill_task() -> dict[str, Any]:
    """Body of the periodic ``ingestion.backfill``."""
    from moviepulse.core.pulse import current_pulse
    from moviepulse.ingestion.backfill import run_backfill

    result = run_backfill(current_pulse())
    return {k: result[k] for k in ("notification_id", "enqueued_count", "limited_by")}
