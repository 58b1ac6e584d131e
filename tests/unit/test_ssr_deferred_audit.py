"""Deferred, batched audits: sampled pages wait (by reference) and are audited in batches, with
exactly the rows, scores and fingerprints an inline audit gives."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from moviepulse.extensions import db
from moviepulse.models.ssr import SsrAudit, SsrFingerprint, SsrRouteMinute
from moviepulse.ssr.audit import ScoreRules, audit_html
from moviepulse.ssr.buffer import AUDIT_COLUMNS, TelemetryBuffer
from moviepulse.ssr.runtime import flush_now, runtime

GOOD = (b'<html><head><meta property="og:title" content="t"><meta property="og:type" content="video.movie">'
        b'<meta property="og:image" content="i"><script type="application/ld+json">{}</script></head>'
        b"<body><img src=a></body></html>")
BAD = b"<html><head><script src=/a.js></script><script src=/b.js></script></head><body>x</body></html>"
NOW = datetime(2026, 11, 20, 12, 30, 15, tzinfo=UTC).timestamp()


def head(route: str, rid: str, ts: float = NOW) -> tuple:
    return (ts, route, "/en/x", "GET", 200, 5.0, "en", "A", rid, False)


def inline_row(route: str, rid: str, body: bytes, rules: ScoreRules) -> tuple:
    """What the inline path records for the same page (the reference)."""
    a = audit_html(body, rules)
    c = a.counts
    return head(route, rid) + (c.html_bytes, c.meta, c.og, c.ldjson, c.img, c.blocking, a.score, tuple(a.penalties))


def test_pages_wait_until_the_batch_is_full_then_become_exact_rows():
    buf = TelemetryBuffer()
    buf.rules = ScoreRules()
    buf.audit_batch = 3
    bodies = [GOOD, BAD, GOOD]
    assert buf.record_page(head("/r", "1"), bodies[0]) is False
    assert buf.record_page(head("/r", "2"), bodies[1]) is False
    assert len(buf.pages) == 2 and buf.audits == []
    assert buf.record_page(head("/r", "3"), bodies[2]) is True  # the caller audits now
    buf.audit_pages()
    assert buf.pages == [] and buf.page_bytes == 0
    expected = [inline_row("/r", str(i + 1), body, buf.rules) for i, body in enumerate(bodies)]
    assert [tuple(r[:-1]) for r in buf.audits] == [r[:-1] for r in expected]
    assert [tuple(r[-1]) for r in buf.audits] == [r[-1] for r in expected]
    assert len(buf.audits[0]) == len(AUDIT_COLUMNS)


def test_bytes_bound_the_waiting_bodies():
    buf = TelemetryBuffer()
    buf.audit_batch, buf.audit_batch_bytes = 1000, 2 * len(BAD)
    assert buf.record_page(head("/r", "1"), BAD) is False
    assert buf.record_page(head("/r", "2"), BAD) is True


def test_take_audits_what_waits_and_folds_each_score_once():
    buf = TelemetryBuffer()
    buf.rules = ScoreRules()
    minute = int(NOW // 60)
    for rid, body in (("1", GOOD), ("2", BAD)):
        buf.record_request("/r", minute, 5.0, 200, 500)  # the request, counted without a score
        buf.record_page(head("/r", rid), body)
    snap = buf.take()
    agg = snap.routes[("/r", minute)]
    scores = [audit_html(b).score for b in (GOOD, BAD)]
    assert (agg.requests, agg.score_count, agg.score_sum) == (2, 2, sum(scores))
    assert (agg.score_min, agg.score_max) == (min(scores), max(scores))
    assert len(snap.audits) == 2
    # a failed write gives the snapshot back: its scores and check occurrences are not counted twice
    buf.restore(snap)
    again = buf.take()
    agg = again.routes[("/r", minute)]
    assert (agg.score_count, agg.score_sum) == (2, sum(scores))
    assert sorted(hit.kind for hit in again.fingerprints.values()) == sorted(
        f"score.{check}" for check in audit_html(BAD).penalties)
    assert {hit.count for hit in again.fingerprints.values()} == {1}


def test_manual_rows_keep_their_order_after_waiting_pages():
    buf = TelemetryBuffer()
    buf.record_page(head("/r", "1"), GOOD)
    buf.record_audit({"recorded_at": datetime(2026, 1, 1), "route": "/manual", "path": "/m", "score": 50})
    assert [row[1] if isinstance(row, tuple) else row["route"] for row in buf.audits] == ["/r", "/manual"]


@pytest.mark.parametrize("access_log", [False, True], ids=["deferred", "inline (access log wants the score)"])
def test_served_pages_store_the_same_numbers_either_way(make_app, access_log, caplog):
    if access_log:
        caplog.set_level(logging.INFO, logger="moviepulse.access")  # the line is written: audits are inline
    app = make_app(only_plugins=["core", "ssr"], SSR_SAMPLE_RATE=1.0, SSR_ACCESS_LOG=access_log, SSR_AUDIT_BATCH=4,
                   SSR_FLUSH_MAX_ITEMS=10_000)

    @app.get("/good/<int:n>")
    def good(n: int):
        return GOOD

    @app.get("/bad/<int:n>")
    def bad(n: int):
        return BAD

    client = app.test_client()
    rt = runtime(app)
    for n in range(5):
        assert client.get(f"/good/{n}").data == GOOD
        assert client.get(f"/bad/{n}").data == BAD
    if access_log:
        assert rt.buffer.pages == [] and len(rt.buffer.audits) == 10  # audited on their own requests
        scores = [r.__dict__.get("score") for r in caplog.records if r.name == "moviepulse.access"]
        assert scores == [audit_html(GOOD).score, audit_html(BAD).score] * 5  # each line carries its score
    else:
        assert len(rt.buffer.pages) == 2  # 10 pages, batches of 4: two still wait for the flush
    flush_now(app)
    assert rt.buffer.pages == []
    good_score, bad_audit = audit_html(GOOD).score, audit_html(BAD)
    with app.app_context():
        rows = db.session.scalars(select(SsrAudit).order_by(SsrAudit.id)).all()
        assert len(rows) == 10
        assert sorted(r.score for r in rows) == sorted([good_score] * 5 + [bad_audit.score] * 5)
        for r in rows:
            body = GOOD if r.route == "/good/<int:n>" else BAD
            assert (r.html_bytes, r.score) == (len(body), audit_html(body).score)
        stats = {m.route: (m.requests, m.score_count, m.score_sum) for m in db.session.scalars(select(SsrRouteMinute))}
        assert stats == {"/good/<int:n>": (5, 5, 5 * good_score), "/bad/<int:n>": (5, 5, 5 * bad_audit.score)}
        counts = {fp.title: fp.count for fp in db.session.scalars(select(SsrFingerprint))}
        assert sum(counts.values()) == 5 * len(bad_audit.penalties)


def test_waiting_pages_survive_a_failed_flush(make_app):
    app = make_app(only_plugins=["core", "ssr"], SSR_SAMPLE_RATE=1.0, SSR_ACCESS_LOG=False, SSR_AUDIT_BATCH=100)

    @app.get("/bad")
    def bad():
        return BAD

    client = app.test_client()
    rt = runtime(app)
    with app.app_context():
        db.session.execute(text("ALTER TABLE ssr_route_minutes RENAME TO parked"))
        db.session.commit()
    client.get("/bad")
    assert rt.flush() == {}
    client.get("/bad")
    with app.app_context():
        db.session.execute(text("ALTER TABLE parked RENAME TO ssr_route_minutes"))
        db.session.commit()
    assert rt.flush()["audits"] == 2
    with app.app_context():
        minute = db.session.scalars(select(SsrRouteMinute)).one()
        assert (minute.requests, minute.score_count, minute.score_sum) == (2, 2, 2 * audit_html(BAD).score)
