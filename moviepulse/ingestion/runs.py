"""Recording an ingestion run: what was asked, counts per outcome / source / locale, errors.

The counts are the funnel the dashboard reads, per locale in units of localised field values
(movie × field): ``requested`` → ``fetched`` → ``tmdb_translation`` / ``tmdb_fallback_locale`` /
``tmdb_original`` / ``omdb_fallback`` / ``missing`` → ``stored``; plus ``unchanged`` (304) and
``failed``. Movies are counted under ``movies`` and upstream calls under ``sources``. Error
messages pass :func:`moviepulse.core.redact.redact`; ``ingestion_completed`` fires at the end.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from moviepulse.core.redact import redact, redact_mapping
from moviepulse.models.base import utcnow

log = logging.getLogger("moviepulse.ingestion")

MAX_ERRORS = 200


def _nested() -> defaultdict[str, defaultdict[str, int]]:
    return defaultdict(lambda: defaultdict(int))


class RunRecorder:
    """Accumulates a run's counts in memory; writes the row at start and at finish."""

    def __init__(self, pulse: Any, kind: str, trigger: str, requested: dict[str, Any], locales: list[str],
                 fields: tuple[str, ...]) -> None:
        from moviepulse.core.db import write_transaction
        from moviepulse.extensions import db
        from moviepulse.models.ingestion import IngestionRun

        self.pulse = pulse
        self.locales = list(locales)
        self.fields = tuple(fields)
        self.movies: defaultdict[str, int] = defaultdict(int)
        self.by_locale = _nested()
        self.by_source = _nested()
        self.errors: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # sources are counted from fetch threads
        safe = {k: (redact(v) if isinstance(v, str) else v) for k, v in redact_mapping(dict(requested)).items()}
        with write_transaction(db.session()):
            run = IngestionRun(kind=kind, trigger=trigger, status="running", started_at=utcnow(),
                               requested=safe, counts={}, errors=[])
            db.session.add(run)
        self.run_id = run.id

    # -- counting ---------------------------------------------------------------------------
    def movie(self, outcome: str, n: int = 1) -> None:
        self.movies[outcome] += n
        if outcome in ("requested", "fetched", "unchanged", "failed", "not_found"):
            for locale in self.locales:
                self.by_locale[locale][outcome] += n * len(self.fields)

    def slot(self, locale: str, source: str, stored: bool = True) -> None:
        self.by_locale[locale][source] += 1
        if stored:
            self.by_locale[locale]["stored"] += 1

    def source(self, slug: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.by_source[slug][outcome] += n

    def error(self, ref_key: str, source: str, reason: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"ref": ref_key, "source": source, "reason": reason, "message": redact(message)[:300]})

    def counts(self) -> dict[str, Any]:
        return {
            "movies": dict(self.movies),
            "locales": {loc: dict(v) for loc, v in self.by_locale.items()},
            "sources": {slug: dict(v) for slug, v in self.by_source.items()},
            "fields": list(self.fields),
        }

    # -- finishing --------------------------------------------------------------------------
    def status(self) -> str:
        stored = self.movies.get("stored", 0) + self.movies.get("unchanged", 0)
        failed = self.movies.get("failed", 0)
        if failed and not stored:
            return "failed"
        if failed or self.errors:
            return "partial"
        return "ok"

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        from moviepulse.core.db import write_transaction
        from moviepulse.extensions import db
        from moviepulse.models.ingestion import IngestionRun

        with write_transaction(db.session()):
            run = db.session.get(IngestionRun, self.run_id)
            run.finished_at = utcnow()
            run.status = self.status()
            counts = self.counts()
            if extra:
                counts.update(extra)
            run.counts = counts
            run.errors = list(self.errors)
            run.error_count = len(self.errors)
        summary = run.as_dict()
        log.info("ingestion run %s %s: %s", summary["id"], summary["status"], summary["counts"].get("movies"))
        self.pulse.emit("ingestion_completed", run=summary)
        return summary
