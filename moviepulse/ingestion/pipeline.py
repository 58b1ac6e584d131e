"""The import pipeline: fetch from the sources, resolve each field with provenance, store.

Public entry points (each takes a Flask app or a ``MoviePulse``, records an ``IngestionRun`` and
returns its summary dict):

* :func:`import_movie` — one movie by :class:`MovieRef` (``MovieRef.parse("603")`` / ``"tt0133093"``);
* :func:`import_movies` — many refs, fetched concurrently (``INGESTION_CONCURRENCY`` threads; the
  shared limiter paces them), stored as results arrive, ``INGESTION_STORE_BATCH`` movies per write
  transaction (a failing batch is retried movie by movie, so one bad movie fails alone);
* :func:`import_list` — a source list (``popular``/``discover``/``search``) then its movies;
* :func:`import_catalogue` — what the demo calls: the whole popular list through the upstreams.

Per movie: one primary request (details + every translation), then each fallback source (OMDb)
within its budget — in ``fallback`` mode (``OMDB_MODE``) only when the primary left a gap that the
source can fill; a fallback failure never fails the movie. Re-imports send the stored ETag and
a 304 leaves the movie untouched (``unchanged``). Writes are idempotent upserts.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from moviepulse.ingestion.errors import UpstreamError
from moviepulse.ingestion.provenance import (
    LOCALIZED_FIELDS,
    Resolved,
    resolve_facts,
    resolve_localized,
)
from moviepulse.ingestion.runs import RunRecorder
from moviepulse.ingestion.services import active_sources, as_pulse
from moviepulse.ingestion.source import MovieRef, Source, SourceRecord
from moviepulse.ingestion.state import sqlite_writer
from moviepulse.models.base import utcnow

log = logging.getLogger("moviepulse.ingestion")


@dataclass
class FetchResult:
    ref: MovieRef
    outcome: str = "failed"  # fetched | unchanged | not_found | failed
    primary: SourceRecord | None = None
    fallbacks: list[tuple[Source, SourceRecord]] = field(default_factory=list)
    errors: list[tuple[str, UpstreamError]] = field(default_factory=list)
    retryable: bool = False
    validator_key: str | None = None


def locales_of(pulse: Any) -> list[str]:
    return list(pulse.setting("LOCALES") or ["en"])


def chains_of(pulse: Any) -> dict[str, list[str]] | None:
    return pulse.setting("INGESTION_FALLBACK_CHAIN")


# -- fetching (no database writes; runs in worker threads) ------------------------------------
def fetch_one(pulse: Any, ref: MovieRef, validators: dict[str, str | None] | None, recorder: RunRecorder | None,
              primary: Source, fallbacks: list[Source]) -> FetchResult:
    result = FetchResult(ref=ref, validator_key=primary.validator_key(ref))
    try:
        record = primary.lookup(ref, validators=validators)
    except UpstreamError as exc:
        result.errors.append((primary.slug, exc))
        result.retryable = exc.retryable
        if recorder:
            recorder.source(primary.slug, exc.reason)
        return result
    if recorder:
        recorder.source(primary.slug, "requests", record.requests if record else 1)
    if record is None:
        result.outcome = "not_found"
        if recorder:
            recorder.source(primary.slug, "not_found")
        return result
    result.primary = record
    result.validator_key = primary.validator_key(MovieRef(tmdb_id=record.tmdb_id)) if record.tmdb_id else None
    if record.not_modified:
        result.outcome = "unchanged"
        if recorder:
            recorder.source(primary.slug, "not_modified")
        return result
    if recorder:
        recorder.source(primary.slug, "ok")
    gaps = None
    for source in fallbacks:
        if source.mode() != "always":
            if gaps is None:
                gaps = _gaps(pulse, record)
            if not (gaps["fields"] & set(source.fallback_fields) or gaps["facts"] & set(source.fallback_facts)):
                if recorder:
                    recorder.source(source.slug, "not_needed")
                continue
        fb_ref = MovieRef(tmdb_id=record.tmdb_id, imdb_id=record.imdb_id or ref.imdb_id,
                          title=ref.title, year=_year(record.facts.get("release_date")))
        try:
            fb = source.lookup(fb_ref)
        except UpstreamError as exc:
            result.errors.append((source.slug, exc))
            if recorder:
                recorder.source(source.slug, exc.reason)
            continue
        if recorder:
            recorder.source(source.slug, "requests")
            recorder.source(source.slug, "ok" if fb else "not_found")
        if fb is not None:
            result.fallbacks.append((source, fb))
    result.outcome = "fetched"
    return result


def _gaps(pulse: Any, record: SourceRecord) -> dict[str, set[str]]:
    """What the primary record leaves empty: localised fields (after the fallback chain) and facts."""
    resolved = resolve_localized(record, [], locales_of(pulse), chains_of(pulse))
    fields = {name for (_locale, name), value in resolved.items() if value.source == "missing"}
    facts = {name for name, value in record.facts.items() if value in (None, "", [], 0)}
    return {"fields": fields, "facts": facts}


# -- storing (main thread; one write transaction per batch of movies) ----------------------------
def store_one(pulse: Any, result: FetchResult, recorder: RunRecorder | None = None) -> int:
    """Upsert the movie, its ``movie_fields`` and the validators; returns the movie id."""
    return store_batch(pulse, [result], recorder)[0]


def store_batch(pulse: Any, results: list[FetchResult], recorder: RunRecorder | None = None) -> list[int]:
    """Store several fetched movies in one write transaction (one commit instead of N)."""
    from moviepulse.core.db import write_transaction
    from moviepulse.extensions import db

    locales = locales_of(pulse)
    chains = chains_of(pulse)
    now = utcnow()
    resolved = [(r, resolve_localized(r.primary, r.fallbacks, locales, chains), resolve_facts(r.primary, r.fallbacks))
                for r in results if r.primary is not None]
    ids: list[int] = []
    with sqlite_writer(db.engine), write_transaction(db.session()):
        for result, localized, facts in resolved:
            ids.append(_store_in_session(db.session, result, localized, facts, now))
    if recorder:
        for _result, localized, _facts in resolved:
            for (locale, _name), value in localized.items():
                recorder.slot(locale, value.source)
    return ids


def _store_in_session(session: Any, result: FetchResult, localized: dict[tuple[str, str], Resolved],
                      facts: dict[str, Resolved], now: Any) -> int:
    from sqlalchemy import select

    from moviepulse.models.ingestion import UpstreamValidator
    from moviepulse.models.movie import Movie

    primary = result.primary
    assert primary is not None
    movie = None
    if primary.tmdb_id is not None:
        movie = session.scalar(select(Movie).where(Movie.tmdb_id == primary.tmdb_id))
    if movie is None and primary.imdb_id:
        movie = session.scalar(select(Movie).where(Movie.imdb_id == primary.imdb_id))
    if movie is None:
        movie = Movie(tmdb_id=primary.tmdb_id, original_title="", title="")
        session.add(movie)
    _fill_movie(movie, primary, result.fallbacks, localized, facts, now)
    session.flush()
    rows: dict[tuple[str, str], Resolved] = dict(localized)
    rows.update({("", name): value for name, value in facts.items()})
    _upsert_fields(session, [{"movie_id": movie.id, "locale": locale, "field": name, "value": value.value,
                              "source": value.source, "source_locale": value.source_locale, "fetched_at": now}
                             for (locale, name), value in rows.items()])
    if result.validator_key and (primary.validators.get("etag") or primary.validators.get("last_modified")):
        validator = session.get(UpstreamValidator, result.validator_key)
        if validator is None:
            validator = UpstreamValidator(key=result.validator_key)
            session.add(validator)
        validator.etag = primary.validators.get("etag")
        validator.last_modified = primary.validators.get("last_modified")
        validator.fetched_at = now
    return movie.id


def _upsert_fields(session: Any, values: list[dict[str, Any]]) -> None:
    """``INSERT … ON CONFLICT DO UPDATE`` of a movie's fields, as one executemany (SQLite and PostgreSQL)."""
    from moviepulse.models.movie import MovieField

    if not values:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(MovieField)
    stmt = stmt.on_conflict_do_update(
        index_elements=[MovieField.movie_id, MovieField.locale, MovieField.field],
        set_={"value": stmt.excluded.value, "source": stmt.excluded.source,
              "source_locale": stmt.excluded.source_locale, "fetched_at": stmt.excluded.fetched_at})
    session.execute(stmt, values)  # executemany: compiled once, cached


def _year(iso: Any) -> int | None:
    text = str(iso or "")
    return int(text[:4]) if text[:4].isdigit() else None


def _fill_movie(movie: Any, primary: SourceRecord, fallbacks: list[tuple[Source, SourceRecord]],
                localized: dict[tuple[str, str], Resolved], facts: dict[str, Resolved], now: Any) -> None:
    fb_facts: dict[str, Any] = {}
    for _source, record in fallbacks:
        for key, value in record.facts.items():
            if value not in (None, "", []) and key not in fb_facts:
                fb_facts[key] = value
    p = primary.facts
    movie.tmdb_id = primary.tmdb_id if primary.tmdb_id is not None else movie.tmdb_id
    movie.imdb_id = primary.imdb_id or fb_facts.get("imdb_id") or movie.imdb_id
    movie.original_title = p.get("original_title") or movie.original_title or ""
    movie.original_language = primary.original_language
    en_title = localized.get(("en", "title"))
    en_overview = localized.get(("en", "overview"))
    movie.title = (en_title.value if en_title and en_title.value else None) or movie.original_title
    movie.overview = en_overview.value if en_overview else None
    release = p.get("release_date") or fb_facts.get("release_date")
    try:
        movie.release_date = date.fromisoformat(release) if release else None
    except ValueError:
        movie.release_date = None
    movie.year = movie.release_date.year if movie.release_date else fb_facts.get("year")
    movie.runtime_min = p.get("runtime") or fb_facts.get("runtime")
    movie.genres = p.get("genres") or fb_facts.get("genres") or []
    rating = facts.get("imdb_rating")
    votes = facts.get("imdb_votes")
    movie.imdb_rating = float(rating.value) if rating and rating.value is not None else None
    movie.imdb_votes = int(float(votes.value)) if votes and votes.value is not None else None
    movie.popularity = p.get("popularity")
    movie.poster_path = p.get("poster_path")
    movie.backdrop_path = p.get("backdrop_path")
    genres = movie.genres or []
    if "Animation" in genres:
        movie.type = "animation"
    elif fb_facts.get("omdb_type") == "series":
        movie.type = "series"
    else:
        movie.type = "movie"
    movie.is_synthetic = bool(p.get("is_synthetic"))
    movie.metadata_source = primary.source
    movie.metadata_fetched_at = now
    movie.refresh_weighted_score()


# -- orchestration ------------------------------------------------------------------------------
def _prepare(pulse: Any, refs: list[MovieRef], primary: Source, force: bool) -> list[tuple[MovieRef, dict[str, Any] | None]]:
    """Complete refs from known movies (imdb → tmdb id) and attach stored validators."""
    from sqlalchemy import select

    from moviepulse.extensions import db
    from moviepulse.models.ingestion import UpstreamValidator
    from moviepulse.models.movie import Movie

    out = []
    seen: set[str] = set()
    for ref in refs:
        movie = None
        if ref.tmdb_id is not None:
            movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == ref.tmdb_id))
        elif ref.imdb_id:
            movie = db.session.scalar(select(Movie).where(Movie.imdb_id == ref.imdb_id))
            if movie is not None and movie.tmdb_id is not None:
                ref = MovieRef(tmdb_id=movie.tmdb_id, imdb_id=ref.imdb_id, title=ref.title, year=ref.year)
        if ref.key in seen:  # the same movie asked twice (e.g. by TMDB id and by IMDb id)
            continue
        seen.add(ref.key)
        validators = None
        key = primary.validator_key(ref)
        if movie is not None and key and not force:
            row = db.session.get(UpstreamValidator, key)
            if row is not None:
                validators = {"etag": row.etag, "last_modified": row.last_modified}
        out.append((ref, validators))
    return out


def import_movies(app_or_pulse: Any, refs: list[MovieRef], *, kind: str = "movies", trigger: str = "api",
                  force: bool = False, requested: dict[str, Any] | None = None,
                  requeue_failures: bool = False) -> dict[str, Any]:
    """Import ``refs``; returns the run summary (``IngestionRun.as_dict()`` plus ``movie_ids``)."""
    pulse = as_pulse(app_or_pulse)
    primaries = active_sources(pulse, "primary")
    fallbacks = active_sources(pulse, "fallback")
    requested = requested or {"refs": [r.key for r in refs][:100], "count": len(refs), "force": force}
    recorder = RunRecorder(pulse, kind, trigger, requested, locales_of(pulse), LOCALIZED_FIELDS)
    if not primaries:
        recorder.movie("requested", len(refs))
        recorder.movie("failed", len(refs))
        recorder.error("*", "*", "no_source", "no enabled primary source (TMDB_ENABLED?)")
        return {**recorder.finish(), "movie_ids": []}
    primary = primaries[0]
    prepared = _prepare(pulse, refs, primary, force)
    recorder.movie("requested", len(prepared))
    movie_ids: list[int] = []
    retry_refs: list[MovieRef] = []
    app = pulse.app
    workers = max(1, min(int(pulse.setting("INGESTION_CONCURRENCY", 4) or 1), len(prepared) or 1))

    def task(ref: MovieRef, validators: dict[str, Any] | None) -> FetchResult:
        with app.app_context():
            return fetch_one(pulse, ref, validators, recorder, primary, fallbacks)

    batch: list[FetchResult] = []
    batch_size = max(1, int(pulse.setting("INGESTION_STORE_BATCH", 10) or 1))

    def flush() -> None:
        if not batch:
            return
        try:
            movie_ids.extend(store_batch(pulse, batch, recorder))
            recorder.movie("stored", len(batch))
        except Exception:  # noqa: BLE001 - retry one by one so that one bad movie fails alone
            log.warning("storing a batch of %d failed; storing one by one", len(batch))
            for result in batch:
                try:
                    movie_ids.append(store_one(pulse, result, recorder))
                    recorder.movie("stored")
                except Exception as exc:  # noqa: BLE001
                    log.exception("storing %s failed", result.ref.key)
                    recorder.movie("failed")
                    recorder.error(result.ref.key, "store", "store_failed", f"{type(exc).__name__}: {exc}")
        batch.clear()

    def handle(result: FetchResult) -> None:
        for slug, exc in result.errors:
            recorder.error(result.ref.key, slug, exc.reason, str(exc))
        if result.outcome == "fetched":
            recorder.movie("fetched")
            batch.append(result)
            if len(batch) >= batch_size:
                flush()
        elif result.outcome == "unchanged":
            recorder.movie("unchanged")
        elif result.outcome == "not_found":
            recorder.movie("not_found")
            recorder.error(result.ref.key, primary.slug, "not_found", f"{primary.slug} does not know {result.ref.key}")
        else:
            recorder.movie("failed")
            if result.retryable:
                retry_refs.append(result.ref)

    if workers == 1:
        for ref, validators in prepared:
            handle(fetch_one(pulse, ref, validators, recorder, primary, fallbacks))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
            futures = [pool.submit(task, ref, validators) for ref, validators in prepared]
            for future in as_completed(futures):
                handle(future.result())
    flush()
    requeued = 0
    if requeue_failures and retry_refs:
        from moviepulse.ingestion.queueing import enqueue_import

        for ref in retry_refs:
            requeued += 1 if enqueue_import(pulse, ref, reason="retry_failed_import") else 0
    summary = recorder.finish({"requeued": requeued} if requeue_failures else None)
    summary["movie_ids"] = movie_ids
    summary["retryable_failures"] = [r.key for r in retry_refs]
    return summary


def import_movie(app_or_pulse: Any, ref: MovieRef | str | int, *, trigger: str = "api", force: bool = False) -> dict[str, Any]:
    """Import one movie (``ref``: a :class:`MovieRef`, ``"603"``, ``"tt0133093"``)."""
    if not isinstance(ref, MovieRef):
        ref = MovieRef.parse(ref)
    return import_movies(app_or_pulse, [ref], kind="movie", trigger=trigger, force=force,
                         requested={"ref": ref.key, "force": force})


def import_list(app_or_pulse: Any, kind: str = "popular", limit: int = 20, *, trigger: str = "api",
                force: bool = False, requeue_failures: bool = False, **filters: Any) -> dict[str, Any]:
    """Import the first ``limit`` movies of a primary source's list (popular, discover, search)."""
    pulse = as_pulse(app_or_pulse)
    primaries = active_sources(pulse, "primary")
    requested = {"list": kind, "limit": limit, "filters": filters, "force": force}
    if not primaries:
        return import_movies(pulse, [], kind="list", trigger=trigger, requested=requested)
    try:
        refs = primaries[0].discover(kind, limit, **filters)
    except UpstreamError as exc:
        recorder = RunRecorder(pulse, "list", trigger, requested, locales_of(pulse), LOCALIZED_FIELDS)
        recorder.error(f"list:{kind}", primaries[0].slug, exc.reason, str(exc))
        summary = recorder.finish()
        summary.update({"movie_ids": [], "retryable_failures": [], "list_error": exc.reason,
                        "list_retryable": exc.retryable})
        return summary
    return import_movies(pulse, refs, kind="list", trigger=trigger, force=force, requested=requested,
                         requeue_failures=requeue_failures)


def import_catalogue(app_or_pulse: Any, limit: int | None = None, *, trigger: str = "demo",
                     force: bool = False) -> dict[str, Any]:
    """Import the popular list through the upstreams (all of it when ``limit`` is None)."""
    pulse = as_pulse(app_or_pulse)
    return import_list(pulse, "popular", limit if limit is not None else 500 * 20, trigger=trigger, force=force)
