"""Fingerprints: grouping without line numbers, lifecycle, repeat offenders; playbook matching."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from moviepulse.extensions import db
from moviepulse.models.ssr import SsrFingerprint
from moviepulse.plugins.playbooks import BUILTIN_PLAYBOOKS
from moviepulse.ssr import queries
from moviepulse.ssr.fingerprints import check_hit, exception_hit, frames_of, match_key
from moviepulse.ssr.playbooks import Playbook, best, matching
from moviepulse.ssr.runtime import flush_now, runtime
from moviepulse.ssr.tasks import resolve_fingerprint, resolve_quiet_fingerprints

T0 = datetime(2026, 11, 20, 12, 0)


def fail(n):
    if n == 1:
        raise KeyError("missing")  # line A
    raise KeyError("other")  # line B


def fail_elsewhere():
    raise KeyError("missing")


def caught(fn, *args):
    try:
        fn(*args)
    except KeyError as exc:
        return exc
    raise AssertionError("no exception")


def test_same_function_different_lines_one_fingerprint_other_function_another():
    a = exception_hit(caught(fail, 1), "/r", T0, {})
    b = exception_hit(caught(fail, 2), "/r", T0, {})
    c = exception_hit(caught(fail_elsewhere), "/r", T0, {})
    d = exception_hit(caught(fail, 1), "/other-route", T0, {})
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3
    assert a.frames == [f"{__name__}:caught", f"{__name__}:fail"]
    assert a.exc_type == "KeyError" and a.kind == "exception"
    assert all(":" in f and not any(ch.isdigit() for ch in f.split(":")[1]) for f in a.frames)


def test_library_frames_are_left_out():
    import json

    try:
        json.loads("{not json")
    except ValueError as exc:
        frames = frames_of(exc.__traceback__)
    assert frames == [f"{__name__}:test_library_frames_are_left_out"]
    assert frames_of(None) == []


def test_secrets_are_redacted_in_the_sample():
    exc = RuntimeError("GET https://api.example/3/movie?api_key=abcdef123456 failed")
    hit = exception_hit(exc, "/r", T0, {"request_id": "rid-1"})
    assert "abcdef123456" not in hit.sample["message"] and "api_key=***" in hit.sample["message"]
    assert hit.sample["request_id"] == "rid-1"


def _flush_hits(app, hits):
    buf = runtime(app).buffer
    for hit in hits:
        buf.record_fingerprint(hit)
    flush_now(app)


def _fp(app):
    with app.app_context():
        return db.session.scalars(select(SsrFingerprint)).one()


def test_lifecycle_new_ongoing_resolved_regressed(make_app):
    app = make_app(only_plugins=["core", "ssr", "playbooks"])
    _flush_hits(app, [check_hit("blocking_scripts", "/x", T0, {"request_id": "a"})])
    _flush_hits(app, [check_hit("blocking_scripts", "/x", T0 + timedelta(hours=1), {"request_id": "b"})])
    fp = _fp(app)
    assert (fp.status, fp.count, fp.days_seen, fp.sample["request_id"]) == ("new", 2, 1, "b")
    _flush_hits(app, [check_hit("blocking_scripts", "/x", T0 + timedelta(days=1), {})])
    fp = _fp(app)
    assert (fp.status, fp.count, fp.days_seen) == ("ongoing", 3, 2)
    with app.app_context():
        assert resolve_quiet_fingerprints(db.session, 7, now=T0 + timedelta(days=5)) == 0
        assert resolve_quiet_fingerprints(db.session, 7, now=T0 + timedelta(days=9)) == 1
    assert _fp(app).status == "resolved"
    _flush_hits(app, [check_hit("blocking_scripts", "/x", T0 + timedelta(days=10), {})])
    fp = _fp(app)
    assert (fp.status, fp.resolved_at, fp.days_seen, fp.first_seen) == ("regressed", None, 3, T0)
    with app.app_context():
        assert resolve_fingerprint(db.session, fp.id)
    assert _fp(app).status == "resolved"


def test_repeat_offenders_and_playbooks_in_the_query(make_app):
    app = make_app(only_plugins=["core", "ssr", "playbooks"], SSR_REPEAT_MIN_DAYS=3, SSR_REPEAT_MIN_COUNT=5)
    hits = [check_hit("missing_jsonld", "/many", T0, {}) for _ in range(5)]
    hits += [check_hit("low_og", "/days", T0 + timedelta(days=d), {}) for d in range(3)]
    hits += [check_hit("excess_images", "/once", T0, {})]
    locked = exception_hit(RuntimeError("x"), "/db", T0, {})
    locked.sample["message"] = "(sqlite3.OperationalError) database is locked"
    locked.exc_type, locked.kind = "sqlalchemy.exc.OperationalError", "exception"
    hits.append(locked)
    _flush_hits(app, hits)
    with app.app_context():
        items = {i["route"]: i for i in queries.fingerprints(db.session, T0, T0 + timedelta(days=5))}
    assert items["/many"]["repeat_offender"] and items["/many"]["count"] == 5
    assert items["/days"]["repeat_offender"] and items["/days"]["days_seen"] == 3
    assert not items["/once"]["repeat_offender"]
    assert items["/many"]["playbook"] == "missing-jsonld"
    assert items["/once"]["playbook"] == "too-many-images"
    assert items["/db"]["playbook"] == "database-locked"


def test_builtin_playbooks_cover_the_known_problems():
    keys = {
        "score.blocking_scripts": "blocking-scripts", "score.missing_jsonld": "missing-jsonld",
        "score.low_og": "thin-opengraph", "score.oversized_html": "oversized-html",
        "score.excess_images": "too-many-images",
        "exception:jinja2.exceptions.UndefinedError": "template-error",
        "alert.upstream.breaker_open": "upstream-breaker-open", "alert.ssr.p95_latency": "slow-route",
        "alert.upstream.retry_storm": "retry-storm",
    }
    for key, slug in keys.items():
        assert best(BUILTIN_PLAYBOOKS, key).slug == slug, key
        assert all(book.steps for book in matching(BUILTIN_PLAYBOOKS, key))
    # an OperationalError that is not a lock gets no database-locked playbook
    assert best(BUILTIN_PLAYBOOKS, "exception:sqlalchemy.exc.OperationalError", "no such table") is None
    assert best(BUILTIN_PLAYBOOKS, "exception:sqlalchemy.exc.OperationalError",
                "database is locked").slug == "database-locked"
    assert match_key("exception", "a.B") == "exception:a.B" and match_key("score.low_og") == "score.low_og"
    assert len({b.slug for b in BUILTIN_PLAYBOOKS}) == len(BUILTIN_PLAYBOOKS)


def test_plugin_playbooks_join_the_registry(make_app):
    from moviepulse import hookimpl

    class Extra:
        @hookimpl
        def register_playbooks(self):
            return [Playbook("cdn-images", "Images via CDN", ("score.excess_images",), ("Use the CDN.",),
                             priority=1)]

    app = make_app(only_plugins=["core", "ssr", "playbooks"], extra_plugins=[("extra", Extra())])
    books = list(app.extensions["moviepulse"].playbooks)
    assert best(books, "score.excess_images").slug == "cdn-images"  # lower priority wins
    import moviepulse

    assert moviepulse.Playbook is Playbook
