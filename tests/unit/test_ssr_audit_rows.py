"""Sampled audits and score-check fingerprints: buffered as plain values on the hot path, stored
exactly as the ORM would store them — on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from flask import Response
from sqlalchemy import select

from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.ssr import SsrAudit, SsrFingerprint
from moviepulse.ssr.fingerprints import check_fingerprint
from moviepulse.ssr.runtime import runtime
from tests.support.services import postgres_schema

# One blocking script, no JSON-LD, one OpenGraph tag, two images.
PAGE = (b'<!doctype html><html><head><title>t</title><meta property="og:title" content="x">'
        b'<script src="/a.js"></script></head><body><img src=1><IMG src=2></body></html>')


def _page_app(make_app, **overrides):
    flask_app = make_app(only_plugins=["core", "ssr", "playbooks"], SSR_SAMPLE_RATE=1.0, SSR_ACCESS_LOG=False,
                         **overrides)
    flask_app.add_url_rule("/en/page/<int:n>", "page", lambda n: Response(PAGE, mimetype="text/html"))
    return flask_app


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, make_app):
    if request.param == "sqlite":
        yield _page_app(make_app)
        return
    with postgres_schema("mp_ssr") as url:
        flask_app = _page_app(make_app, SQLALCHEMY_DATABASE_URI=url)
        yield flask_app
        with flask_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_audits_and_check_fingerprints_round_trip(app):
    client = app.test_client()
    before = utcnow()
    rids = []
    for n in (1, 2):
        resp = client.get(f"/en/page/{n}", headers={"X-Request-ID": f"req-{n}-{uuid.uuid4().hex[:6]}"})
        assert resp.status_code == 200 and resp.data == PAGE
        rids.append(resp.headers["X-Request-ID"])
    rt = runtime(app)
    rt.buffer.record_audit({"recorded_at": datetime(2026, 1, 2, 3, 4, 5), "route": "/manual", "path": "/m",
                            "status": 200, "server_ms": 1.5, "html_bytes": 10, "meta_count": 0, "og_count": 0,
                            "ldjson_count": 0, "img_count": 0, "blocking_scripts": 0, "score": 80,
                            "failing": ["missing_jsonld", "low_og"]})
    written = rt.flush()
    after = utcnow()
    assert written["audits"] == 3
    with app.app_context():
        audits = db.session.scalars(select(SsrAudit).order_by(SsrAudit.id)).all()
        served, manual = audits[:2], audits[2]
        for row, n, rid in zip(served, (1, 2), rids, strict=True):
            assert (row.route, row.path, row.method, row.status, row.locale, row.request_id, row.self_crawl) == (
                "/en/page/<int:n>", f"/en/page/{n}", "GET", 200, None, rid, False)
            assert (row.html_bytes, row.meta_count, row.og_count, row.ldjson_count, row.img_count,
                    row.blocking_scripts) == (len(PAGE), 1, 1, 0, 2, 1)
            assert row.score == 100 - 5 - 10 - 10
            assert row.failing == ["blocking_scripts", "missing_jsonld", "low_og"]
            assert before - timedelta(seconds=1) <= row.recorded_at <= after + timedelta(seconds=1)
            assert isinstance(row.server_ms, float) and row.server_ms >= 0
        assert (manual.recorded_at, manual.method, manual.variant, manual.self_crawl, manual.failing) == (
            datetime(2026, 1, 2, 3, 4, 5), "GET", None, False, ["missing_jsonld", "low_og"])
        fps = {fp.kind: fp for fp in db.session.scalars(select(SsrFingerprint)).all()}
        assert set(fps) == {"score.blocking_scripts", "score.missing_jsonld", "score.low_og"}
        for check in ("blocking_scripts", "missing_jsonld", "low_og"):
            fp = fps[f"score.{check}"]
            assert fp.fingerprint == check_fingerprint(check, "/en/page/<int:n>")
            assert (fp.count, fp.days_seen, fp.status, fp.route) == (2, 1, "new", "/en/page/<int:n>")
            assert fp.first_seen <= fp.last_seen and fp.last_day == fp.last_seen.date()
            assert fp.sample == {"request_id": rids[1], "path": "/en/page/2", "locale": None, "score": 75,
                                 "counts": {"html_bytes": len(PAGE), "meta_count": 1, "og_count": 1,
                                            "ldjson_count": 0, "img_count": 2, "blocking_scripts": 1}}
    # A later flush merges into the same fingerprints.
    client.get("/en/page/3")
    rt.flush()
    with app.app_context():
        assert db.session.scalar(select(SsrFingerprint.count).where(
            SsrFingerprint.kind == "score.low_og")) == 3


def test_request_metrics_expose_what_prometheus_client_would():
    """The cheap collector's exposition equals a prometheus_client Counter + Histogram fed the same data."""
    import random

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from moviepulse.core.observability import LATENCY_BUCKETS, RequestMetrics

    reference, ours = CollectorRegistry(), CollectorRegistry()
    counter = Counter("moviepulse_http_requests", "HTTP requests by route template and status",
                      ["route", "method", "status"], registry=reference)
    histogram = Histogram("moviepulse_http_request_seconds", "Server time by route template", ["route"],
                          buckets=LATENCY_BUCKETS, registry=reference)
    metrics = RequestMetrics(LATENCY_BUCKETS, ours)
    folding, folding_registry = RequestMetrics(LATENCY_BUCKETS), CollectorRegistry()
    folding.FOLD_EVERY = 7  # folds on the request path many times, then at the scrape
    folding_registry.register(folding)
    rng = random.Random(4)
    edges = [*LATENCY_BUCKETS, 0.0, 1e-9, 99.0]  # values exactly on a bound belong to it ("le")
    for _ in range(3000):
        route, method = rng.choice(["/a", "/<locale>/m/<int:id>"]), rng.choice(["GET", "HEAD"])
        status, seconds = rng.choice([200, 301, 404, 500]), rng.choice([rng.random() * 3, rng.choice(edges)])
        counter.labels(route, method, str(status)).inc()
        histogram.labels(route).observe(seconds)
        metrics.observe(route, method, status, seconds)
        folding.observe(route, method, status, seconds)
    expected = sorted(line for line in generate_latest(reference).decode().splitlines() if "_created" not in line)
    assert sorted(generate_latest(ours).decode().splitlines()) == expected
    for line in expected:
        if line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        name, _, labels = name_labels.partition("{")
        labels = dict(part.split("=", 1) for part in labels.rstrip("}").split(",")) if labels else {}
        got = folding_registry.get_sample_value(name, {k: v.strip('"') for k, v in labels.items()})
        assert got == pytest.approx(float(value), rel=1e-12), line


def test_a_failed_flush_counts_each_failing_check_once(make_app):
    """Audits given back after a failed flush are written later, their fingerprint occurrences once."""
    from sqlalchemy import text

    app = _page_app(make_app)
    client, rt = app.test_client(), runtime(app)
    for n in range(3):
        client.get(f"/en/page/{n}")
    with app.app_context():
        db.session.execute(text("ALTER TABLE ssr_fingerprints RENAME TO parked"))
        db.session.commit()
    assert rt.flush() == {}  # fails, keeps everything
    for n in range(2):
        client.get(f"/en/page/{n}")
    with app.app_context():
        db.session.execute(text("ALTER TABLE parked RENAME TO ssr_fingerprints"))
        db.session.commit()
    assert rt.flush()["audits"] == 5
    with app.app_context():
        counts = dict(db.session.execute(select(SsrFingerprint.kind, SsrFingerprint.count)).all())
        assert counts == {"score.blocking_scripts": 5, "score.missing_jsonld": 5, "score.low_og": 5}
        assert len(db.session.scalars(select(SsrAudit)).all()) == 5
