"""Import pipeline against the fake servers: provenance per field and locale, idempotence, runs,
funnel, hooks, admin API, a third-party source, an outage that loses nothing, and no leaked keys."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from sqlalchemy import func, select, text

from moviepulse import Source, hookimpl
from moviepulse.extensions import db
from moviepulse.ingestion.pipeline import import_catalogue, import_movie, import_movies
from moviepulse.ingestion.queries import ingestion_funnel, ingestion_health
from moviepulse.ingestion.services import configure_runtime
from moviepulse.ingestion.source import MovieRef, SourceRecord
from moviepulse.models.ingestion import IngestionRun, PendingImport
from moviepulse.models.movie import Movie, MovieField, weighted_rating
from moviepulse.upstreams import reset_faults, set_faults, start_fake_upstreams, upstream_stats
from moviepulse.upstreams.testing import app_overrides


@pytest.fixture(scope="module")
def servers():
    handle = start_fake_upstreams(fixture=True, tmdb_rate_limit=0)
    yield handle
    handle.stop()


@pytest.fixture
def ingest_app(make_app, servers):
    reset_faults(servers.tmdb_url)
    reset_faults(servers.omdb_url)
    set_faults(servers.omdb_url, reset_quota=True)
    app = make_app(**app_overrides(servers, OMDB_MODE="always"))
    with app.app_context():
        yield app


def field(movie_id, locale, name):
    row = db.session.get(MovieField, (movie_id, locale, name))
    return (row.value, row.source, row.source_locale) if row else None


def movie(tmdb_id):
    return db.session.scalar(select(Movie).where(Movie.tmdb_id == tmdb_id))


def test_catalogue_import_stores_values_with_provenance(ingest_app):
    summary = import_catalogue(ingest_app)
    assert summary["status"] == "ok"
    assert summary["counts"]["movies"] == {"requested": 6, "fetched": 6, "stored": 6}
    matrix, amelie, harbour, moons, road = (movie(i) for i in (603, 194, 9001, 9002, 9003))
    # complete translations
    assert field(matrix.id, "de", "title") == ("Matrix", "tmdb_translation", "de")
    assert field(matrix.id, "pt-BR", "overview") == ("Um hacker descobre a verdade.", "tmdb_translation", "pt-BR")
    # partial: German title only; pt-BR borrows pt-PT before English
    assert field(amelie.id, "de", "title") == ("Die fabelhafte Welt der Amélie", "tmdb_translation", "de")
    assert field(amelie.id, "de", "overview") == (
        "A shy waitress decides to change the lives of those around her.", "tmdb_fallback_locale", "en")
    assert field(amelie.id, "pt-BR", "title") == ("O Fabuloso Destino de Amélie", "tmdb_fallback_locale", "pt-PT")
    assert field(amelie.id, "pt-BR", "overview") == ("Amélie é uma empregada tímida.", "tmdb_fallback_locale", "pt-PT")
    # no translations and no English overview: OMDb fills the plot, the tagline stays missing
    assert field(harbour.id, "en", "overview") == ("A fishing town faces a long winter.", "omdb_fallback", "en")
    assert field(harbour.id, "fr", "overview") == ("A fishing town faces a long winter.", "omdb_fallback", "en")
    assert field(harbour.id, "es", "tagline") == (None, "missing", None)
    assert field(harbour.id, "", "runtime") == (None, "missing", None)  # TMDB 0 and OMDb "N/A"
    assert harbour.runtime_min is None
    # empty German title with a German overview; no OMDb record at all
    assert field(moons.id, "de", "title") == ("Paper Moons", "tmdb_fallback_locale", "en")
    assert field(moons.id, "de", "overview")[1] == "tmdb_translation"
    assert field(moons.id, "", "imdb_rating") == ("7.0", "tmdb", None)
    assert moons.type == "animation" and moons.is_synthetic
    assert field(road.id, "fr", "title") == ("La Longue Route", "tmdb_translation", "fr")
    # facts and the stored score
    assert (matrix.imdb_rating, matrix.imdb_votes, matrix.runtime_min, matrix.year) == (8.7, 2_100_000, 136, 1999)
    v = 2_100_000
    assert matrix.weighted_score == pytest.approx(round(v / (v + 1000) * 8.7 + 1000 / (v + 1000) * 6.8, 4))
    assert matrix.weighted_score == weighted_rating(v, 8.7)
    assert field(matrix.id, "", "genres") == ('["Action", "Science Fiction"]', "tmdb", None)
    assert field(matrix.id, "", "director") == ("Lana Wachowski, Lilly Wachowski", "omdb_fallback", None)
    assert matrix.title == "The Matrix" and amelie.original_title == "Le Fabuleux Destin d'Amélie Poulain"


def test_funnel_matches_the_stored_rows(ingest_app):
    import_catalogue(ingest_app)
    funnel = ingestion_funnel(db.session, date.today(), date.today())
    rows = db.session.execute(select(MovieField.locale, MovieField.source, func.count()).where(
        MovieField.locale != "").group_by(MovieField.locale, MovieField.source)).all()
    by_db: dict[str, dict[str, int]] = {}
    for locale, source, n in rows:
        by_db.setdefault(locale, {})[source] = n
    assert set(funnel["locales"]) == {"en", "de", "fr", "es", "pt-BR"}
    for locale, counts in funnel["locales"].items():
        assert counts["requested"] == 6 * 3 and counts["fetched"] == 18 and counts["stored"] == 18
        for source, n in by_db[locale].items():
            assert counts[source] == n, (locale, source)
        assert counts["localised_tmdb"] + counts["filled_omdb"] + counts["missing"] == counts["stored"]
    assert funnel["movies"]["stored"] == 6 and funnel["runs"] == 1
    assert funnel["sources"]["tmdb"]["ok"] == 6 and funnel["sources"]["omdb"]["not_found"] == 1
    assert ingestion_funnel(db.session, date(2000, 1, 1), date(2000, 1, 2))["runs"] == 0


def test_reimport_is_idempotent_and_uses_etags(ingest_app, servers):
    import_catalogue(ingest_app)
    count = db.session.scalar(select(func.count()).select_from(MovieField))
    stamp = db.session.get(MovieField, (movie(603).id, "de", "title")).fetched_at
    db.session.rollback()
    upstream_stats(servers.omdb_url, reset=True)
    again = import_catalogue(ingest_app)
    assert again["counts"]["movies"] == {"requested": 6, "unchanged": 6}
    assert upstream_stats(servers.omdb_url).get("requests", 0) == 0  # unchanged movies cost no OMDb budget
    assert db.session.get(MovieField, (movie(603).id, "de", "title")).fetched_at == stamp
    forced = import_catalogue(ingest_app, force=True)
    assert forced["counts"]["movies"]["stored"] == 6
    assert db.session.scalar(select(func.count()).select_from(MovieField)) == count
    assert db.session.scalar(select(func.count()).select_from(Movie)) == 6


def test_import_by_imdb_id_and_unknown_ids(ingest_app):
    summary = import_movie(ingest_app, "tt0211915")
    assert summary["counts"]["movies"]["stored"] == 1
    assert movie(194).imdb_id == "tt0211915"
    missing = import_movie(ingest_app, "424242")
    assert missing["counts"]["movies"] == {"requested": 1, "not_found": 1}
    assert missing["errors"][0]["reason"] == "not_found"
    assert import_movie(ingest_app, "tt0000001")["counts"]["movies"]["not_found"] == 1


def test_run_records_and_hooks(make_app, servers):
    seen: dict[str, list] = {"runs": [], "upstream": []}

    class Spy:
        @hookimpl
        def ingestion_completed(self, run):
            seen["runs"].append(run)

        @hookimpl
        def upstream_event(self, upstream, kind, detail):
            seen["upstream"].append((upstream, kind))

    reset_faults(servers.tmdb_url)
    app = make_app(extra_plugins=[("spy", Spy())], **app_overrides(servers, OMDB_MODE="always"))
    with app.app_context():
        set_faults(servers.tmdb_url, fail_next=1)
        summary = import_movie(app, 603)
        run = db.session.get(IngestionRun, summary["id"])
        assert run.status == "ok" and run.finished_at >= run.started_at
        assert run.requested == {"ref": "tmdb:603", "force": False}
        assert seen["runs"][-1]["id"] == run.id
        assert ("tmdb", "retry") in seen["upstream"] and ("tmdb", "request") in seen["upstream"]
        from moviepulse.core.observability import prom

        assert prom(app).upstream.labels("tmdb", "retry")._value.get() == 1


def test_third_party_source_needs_no_core_change(make_app, servers):
    class TaglineSource(Source):
        slug = "taglines"
        label = "Tagline DB"
        role = "fallback"
        priority = 90
        fallback_fields = ("tagline",)

        def lookup(self, ref, *, validators=None):
            return SourceRecord(source=self.slug, localized={"en": {"tagline": f"Tagline for {ref.imdb_id}"}})

    class Plugin:
        @hookimpl
        def register_sources(self):
            return [TaglineSource]

    app = make_app(extra_plugins=[("taglines", Plugin())], **app_overrides(servers, OMDB_MODE="always"))
    with app.app_context():
        import_movie(app, 9001)
        harbour = movie(9001)
        assert field(harbour.id, "de", "tagline") == ("Tagline for tt9000001", "taglines_fallback", "en")
        assert field(harbour.id, "de", "overview")[1] == "omdb_fallback"  # OMDb (priority 50) still first


def test_outage_opens_breaker_fails_fast_and_loses_nothing(make_app, servers):
    reset_faults(servers.tmdb_url)
    app = make_app(**app_overrides(servers, OMDB_MODE="always", TMDB_RETRIES=0, BREAKER_MIN_CALLS=2, BREAKER_FAILURE_RATIO=0.5,
                                   BREAKER_OPEN_SECONDS=30, INGESTION_CONCURRENCY=1))
    now = [1_800_000_000.0]
    with app.app_context():
        configure_runtime(app, clock=lambda: now[0], sleep=lambda s: None)
        set_faults(servers.tmdb_url, status_5xx_rate=1.0)
        upstream_stats(servers.tmdb_url, reset=True)
        from moviepulse.ingestion.pipeline import import_list

        refs = [MovieRef(tmdb_id=i) for i in (603, 194, 9001, 9002, 9003, 9004)]
        summary = import_movies(app, refs, trigger="task", requeue_failures=True)
        assert summary["counts"]["movies"] == {"requested": 6, "failed": 6}
        reasons = [e["reason"] for e in summary["errors"]]
        assert reasons.count("unavailable") == 2 and reasons.count("circuit_open") == 4
        # the retries the immediate queue ran also failed fast: still only the 2 calls that opened it
        assert upstream_stats(servers.tmdb_url)["requests"] == 2
        pending = set(db.session.scalars(select(PendingImport.key)))
        assert pending == {r.key for r in refs}
        # recovery: the outage ends, the open period passes, the queued retries run
        reset_faults(servers.tmdb_url)
        now[0] += 31
        from moviepulse.ingestion.queueing import run_import_task

        for key in sorted(pending):
            assert run_import_task(key)["status"] == "finished"
        assert db.session.scalar(select(func.count()).select_from(Movie)) == 6
        assert db.session.scalar(select(func.count()).select_from(PendingImport)) == 0
        health = ingestion_health(db.session, app)
        assert health["upstreams"]["tmdb"]["breaker"]["state"] == "closed"
        assert health["upstreams"]["tmdb"]["breaker"]["opens"] == 1
        assert health["upstreams"]["omdb"]["budget"]["used"] == 6
        assert import_list  # imported for the list path in the smoke suite


def test_keys_never_stored_or_logged(make_app, servers, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(**app_overrides(servers, OMDB_MODE="always", TMDB_RETRIES=1, INGESTION_CONCURRENCY=1))
    with app.app_context():
        set_faults(servers.tmdb_url, reset_connection=True)
        failed = import_movie(app, 603)
        assert failed["status"] == "failed"
        reset_faults(servers.tmdb_url)
        set_faults(servers.omdb_url, fail_next=3)
        import_catalogue(app)
        reset_faults(servers.omdb_url)
        dump = []
        for table in ("ingestion_runs", "upstream_state", "upstream_validators", "pending_imports", "movie_fields",
                      "movies"):
            dump += [json.dumps([str(v) for v in row]) for row in db.session.execute(text(f"SELECT * FROM {table}"))]
        blob = "\n".join(dump)
        assert "api_key" not in blob or "api_key=***" in blob
        for key in ("demo-tmdb-key", "demo-omdb-key"):
            assert key not in blob
            assert key not in caplog.text
            assert key not in json.dumps(failed)
        assert "/3/movie/603" in caplog.text  # the logs did see the calls


def test_admin_api(ingest_app):
    from moviepulse.core.auth import create_token

    import_catalogue(ingest_app)
    token = create_token("test")
    client = ingest_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/admin/api/ingestion/health").status_code == 401
    mid = movie(194).id
    body = client.get(f"/admin/api/movies/{mid}", headers=auth).json
    assert body["localized"]["pt-BR"]["title"]["source"] == "tmdb_fallback_locale"
    assert body["localized"]["pt-BR"]["title"]["source_locale"] == "pt-PT"
    assert body["facts"]["imdb_rating"]["value"] == "8.3"
    assert client.get("/admin/api/movies/999999", headers=auth).status_code == 404
    runs = client.get("/admin/api/ingestion/runs?limit=5", headers=auth).json["runs"]
    assert runs[0]["counts"]["movies"]["stored"] == 6
    health = client.get("/admin/api/ingestion/health", headers=auth).json
    assert health["upstreams"]["tmdb"]["breaker"]["state"] == "closed"
    assert health["upstreams"]["omdb"]["budget"]["left"] == 1000 - 6
    today = date.today().isoformat()
    funnel = client.get(f"/admin/api/ingestion/funnel?from={today}&to={today}", headers=auth).json
    assert funnel["locales"]["de"]["requested"] == 18
    assert client.get("/admin/api/ingestion/funnel?from=2026-13-01", headers=auth).status_code == 400
    assert client.get("/admin/api/ingestion/runs?limit=abc", headers=auth).status_code == 400


def test_fallback_mode_asks_omdb_only_for_gaps(make_app, servers):
    reset_faults(servers.omdb_url)
    upstream_stats(servers.omdb_url, reset=True)
    app = make_app(**app_overrides(servers))  # OMDB_MODE defaults to "fallback"
    with app.app_context():
        summary = import_catalogue(app)
        assert summary["counts"]["movies"]["stored"] == 6
        # only Quiet Harbour has a gap OMDb can fill (no English overview, runtime 0)
        assert upstream_stats(servers.omdb_url)["requests"] == 1
        assert summary["counts"]["sources"]["omdb"] == {"not_needed": 5, "requests": 1, "ok": 1}
        harbour = movie(9001)
        assert field(harbour.id, "en", "overview")[1] == "omdb_fallback"
        assert field(movie(603).id, "", "imdb_rating") == ("8.2", "tmdb", None)  # TMDB's votes stand in
