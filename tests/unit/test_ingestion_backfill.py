"""Backfill scheduler: staleness policy, value order, pending dedupe, budgets, notifications, CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from moviepulse.extensions import db
from moviepulse.ingestion.backfill import notifications, refresh_reason, run_backfill, select_candidates
from moviepulse.models.base import utcnow
from moviepulse.models.events import Event
from moviepulse.models.ingestion import BackfillItem, BackfillNotification, PendingImport
from moviepulse.models.movie import Movie, MovieField
from moviepulse.upstreams import reset_faults, set_faults, start_fake_upstreams
from moviepulse.upstreams.testing import app_overrides

LOCALES = ["en", "de"]
CFG = {"min_age_hours": 12, "stale_days": 180, "recent_release_days": 30, "missing_cooldown_hours": 24}


@pytest.fixture(scope="module")
def servers():
    handle = start_fake_upstreams(fixture=True, tmdb_rate_limit=0)
    yield handle
    handle.stop()


@pytest.fixture
def bf_app(make_app, servers):
    reset_faults(servers.tmdb_url)
    set_faults(servers.omdb_url, reset=True, reset_quota=True)
    app = make_app(**app_overrides(servers, LOCALES=LOCALES, BACKFILL_OMDB_RESERVE=0))
    with app.app_context():
        yield app


def add_movie(tmdb_id, *, fetched_hours_ago=None, release_days_ago=3000, complete=True, popularity=1.0):
    now = utcnow()
    movie = Movie(tmdb_id=tmdb_id, title=f"m{tmdb_id}", original_title=f"m{tmdb_id}", popularity=popularity,
                  release_date=(now - timedelta(days=release_days_ago)).date(),
                  metadata_fetched_at=None if fetched_hours_ago is None else now - timedelta(hours=fetched_hours_ago))
    db.session.add(movie)
    db.session.flush()
    for locale in LOCALES:
        for name in ("title", "overview"):
            missing = not complete and locale == "de" and name == "overview"
            db.session.add(MovieField(movie_id=movie.id, locale=locale, field=name,
                                      value=None if missing else "x", source="missing" if missing else "tmdb_translation"))
    db.session.commit()
    return movie.id


def test_policy_rules_in_order():
    now = utcnow()
    ago = lambda h: now - timedelta(hours=h)  # noqa: E731
    old_release = (now - timedelta(days=3000)).date()
    assert refresh_reason(None, None, False, now, CFG) == "never_fetched"
    assert refresh_reason(ago(1), None, True, now, CFG) is None  # too fresh, even with gaps
    assert refresh_reason(ago(181 * 24), old_release, False, now, CFG) == "stale"
    assert refresh_reason(ago(13), (now - timedelta(days=10)).date(), False, now, CFG) == "recent_release"
    assert refresh_reason(ago(13), (now + timedelta(days=5)).date(), False, now, CFG) == "recent_release"
    assert refresh_reason(ago(13), old_release, True, now, CFG) is None  # missing, but inside the cooldown
    assert refresh_reason(ago(25), old_release, True, now, CFG) == "missing_localisation"
    assert refresh_reason(ago(25), old_release, False, now, CFG) is None


def test_candidates_reasons_and_value_order(bf_app):
    never = add_movie(603, popularity=5.0)
    add_movie(194, fetched_hours_ago=1, complete=False)
    stale = add_movie(9001, fetched_hours_ago=200 * 24, popularity=50.0)
    recent = add_movie(9002, fetched_hours_ago=48, release_days_ago=10)
    add_movie(9003, fetched_hours_ago=48)
    gap = add_movie(9004, fetched_hours_ago=48, complete=False, popularity=0.5)
    for i in range(3):  # engagement outranks popularity
        db.session.add(Event(event_id=f"e{i}", type="view", event_time=utcnow(), device_id="d", movie_id=gap))
    db.session.add(Event(event_id="bot", type="view", event_time=utcnow(), device_id="b", movie_id=never, is_bot=True))
    db.session.commit()
    candidates, considered = select_candidates(bf_app)
    assert considered == 6
    assert [(c.movie_id, c.reason) for c in candidates] == [
        (gap, "missing_localisation"), (stale, "stale"), (never, "never_fetched"), (recent, "recent_release")]
    assert candidates[0].value == pytest.approx(3 * 1000 + 0.5)


def test_dry_run_writes_nothing_and_real_run_enqueues_once(bf_app):
    ids = [add_movie(i, fetched_hours_ago=200 * 24) for i in (603, 194, 9001)]
    db.session.add(PendingImport(key="tmdb:194", reason="manual"))
    db.session.commit()
    plan = run_backfill(bf_app, dry_run=True)
    assert [c["key"] for c in plan["selected"]] == ["tmdb:603", "tmdb:9001"]
    assert plan["skipped_pending"] == 1
    assert db.session.scalar(select(func.count()).select_from(BackfillNotification)) == 0
    assert db.session.scalar(select(func.count()).select_from(PendingImport)) == 1

    result = run_backfill(bf_app)  # immediate queue: the imports run against the fake servers now
    assert result["enqueued_count"] == 2 and result["skipped_pending"] == 1
    items = {i.key: i.status for i in db.session.scalars(select(BackfillItem))}
    assert items == {"tmdb:603": "finished", "tmdb:9001": "finished"}
    assert db.session.get(Movie, ids[0]).metadata_fetched_at > utcnow() - timedelta(minutes=5)
    assert set(db.session.scalars(select(PendingImport.key))) == {"tmdb:194"}  # the manual one stays
    note = notifications(db.session)[0]
    assert note["enqueued"] == 2 and note["status_counts"] == {"finished": 2}

    again = run_backfill(bf_app)  # just refreshed: nothing is due any more
    assert again["enqueued_count"] == 0
    assert again["needing"] == 1 and again["skipped_pending"] == 1  # only the pending tmdb:194 is still due


def test_failed_import_marks_the_item_failed(bf_app):
    add_movie(424242)  # unknown to TMDB
    result = run_backfill(bf_app)
    assert result["enqueued_count"] == 1
    item = db.session.scalar(select(BackfillItem))
    assert (item.status, item.detail) == ("failed", "not_found")
    assert db.session.scalar(select(func.count()).select_from(PendingImport)) == 0


def test_budget_and_breaker_cap_the_batch(make_app, servers):
    app = make_app(**app_overrides(servers, LOCALES=LOCALES, OMDB_DAILY_BUDGET=4, BACKFILL_OMDB_RESERVE=2,
                                   BACKFILL_BATCH=10))
    with app.app_context():
        for i in (603, 194, 9001, 9002, 9003):
            add_movie(i)
        plan = run_backfill(app, dry_run=True)
        assert len(plan["selected"]) == 2 and plan["limited_by"] == "budget" and plan["capacity"] == 2
        from moviepulse.ingestion.services import get_client

        breaker = get_client(app, "tmdb").breaker
        for _ in range(5):
            breaker.record(breaker.before_call(), False)
        blocked = run_backfill(app, dry_run=True)
        assert blocked["selected"] == [] and blocked["limited_by"] == "breaker_open"


def test_cli_commands(bf_app, servers):
    add_movie(603)
    runner = bf_app.test_cli_runner()
    dry = runner.invoke(args=["backfill", "--dry-run"])
    assert dry.exit_code == 0 and "would enqueue 1" in dry.output and "tmdb:603" in dry.output
    imported = runner.invoke(args=["import", "194", "--imdb", "tt9000001"])
    assert imported.exit_code == 0, imported.output
    assert "stored=2" in imported.output
    popular = runner.invoke(args=["import", "--popular", "3", "--json"])
    assert popular.exit_code == 0 and '"requested": 3' in popular.output
    assert runner.invoke(args=["import"]).exit_code != 0
    assert "demo-tmdb-key" not in dry.output + imported.output + popular.output
