"""Middleware contract: attributes, sampling, exclusions, streaming, exceptions, byte-identity, log line."""

from __future__ import annotations

import json
import logging
import zlib

import pytest
from flask import Response, stream_with_context
from sqlalchemy import func, select

from moviepulse.extensions import db
from moviepulse.models.ssr import SsrAudit, SsrFingerprint, SsrRouteMinute
from moviepulse.ssr.middleware import ACCESS_LOG_FIELDS, request_info
from moviepulse.ssr.runtime import flush_now, runtime, sampled

PAGE = ('<!doctype html><html><head><title>x</title><meta property="og:title" content="t">'
        '<script src="/a.js"></script></head><body><img src="a.png"></body></html>')
PAGE_SCORE = 100 - 5 - 10 - 10  # one blocking script, no JSON-LD, thin OpenGraph


def build(make_app, **overrides):
    """A MoviePulse app with only core + ssr + playbooks, plus a tiny site of test views."""
    overrides.setdefault("SSR_SAMPLE_RATE", 1.0)
    app = make_app(only_plugins=["core", "ssr", "playbooks"], **overrides)
    seen: dict = {}

    @app.get("/<locale>/page/<int:n>")
    def page(locale, n):
        seen["info"] = request_info()
        return PAGE

    @app.get("/plain")
    def plain():
        return Response(b"not html at all", mimetype="text/plain")

    @app.get("/api/thing")
    def api_thing():
        return {"ok": True}

    @app.get("/stream")
    def stream():
        def gen():
            yield "<html><body>"
            seen["streamed_middle"] = True
            yield "<img src=x><img src=y>"
            yield "</body></html>"
        return Response(stream_with_context(gen()), mimetype="text/html")

    @app.get("/boom/<int:n>")
    def boom(n):
        if n == 1:
            seen["exc"] = ValueError("first failure")
            raise seen["exc"]
        seen["exc"] = ValueError("second failure, another line")
        raise seen["exc"]

    @app.get("/headers")
    def headers():
        resp = Response(PAGE.encode(), mimetype="text/html")
        resp.headers["X-Custom"] = "kept"
        resp.set_cookie("c", "v")
        return resp

    app.seen = seen
    return app


def rows(app, model):
    with app.app_context():
        return list(db.session.scalars(select(model)))


def test_request_attributes_are_set_and_readable_by_views(make_app):
    app = build(make_app)
    r = app.test_client().get("/de/page/7", headers={"X-Request-ID": "req-abcdef-0001"})
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] == "req-abcdef-0001"
    info = app.seen["info"]
    assert info.request_id == "req-abcdef-0001"
    assert info.route == "/<locale>/page/<int:n>"
    assert info.locale == "de" and info.method == "GET" and info.path == "/de/page/7"
    assert info.monitored and info.sampled and not info.self_crawl
    assert info.elapsed_ms() is not None and info.elapsed_ms() >= 0


def test_timing_is_recorded_and_audit_scored(make_app):
    app = build(make_app)
    client = app.test_client()
    for _ in range(3):
        client.get("/en/page/1")
    flush_now(app)
    minutes = rows(app, SsrRouteMinute)
    assert [(m.route, m.requests, m.errors, m.score_count, m.score_sum) for m in minutes] == [
        ("/<locale>/page/<int:n>", 3, 0, 3, 3 * PAGE_SCORE)]
    audits = rows(app, SsrAudit)
    assert {(a.score, a.locale, a.og_count, a.blocking_scripts, a.img_count) for a in audits} == {
        (PAGE_SCORE, "en", 1, 1, 1)}
    assert sorted(audits[0].failing) == ["blocking_scripts", "low_og", "missing_jsonld"]


@pytest.mark.parametrize("rate, expected", [(0.0, 0), (1.0, 40)])
def test_sampling_zero_and_all(make_app, rate, expected):
    app = build(make_app, SSR_SAMPLE_RATE=rate)
    client = app.test_client()
    for i in range(40):
        client.get("/en/page/1", headers={"X-Request-ID": f"req-fixed-{i:04d}"})
    flush_now(app)
    assert len(rows(app, SsrAudit)) == expected
    assert rows(app, SsrRouteMinute)[0].requests == 40  # timing is always recorded


def test_fixed_fraction_is_deterministic_by_request_id(make_app):
    app = build(make_app, SSR_SAMPLE_RATE=0.1, SSR_ROUTE_SAMPLE_RATES={"/<locale>/page/<int:n>": 0.3})
    ids = [f"req-det-{i:05d}" for i in range(120)]
    expected = {rid for rid in ids if zlib.crc32(rid.encode()) / 2**32 < 0.3}
    assert 20 < len(expected) < 60  # a real fraction, not all or nothing
    client = app.test_client()
    for rid in ids + ids[:30]:  # the same ids again get the same decision
        client.get("/en/page/1", headers={"X-Request-ID": rid})
    flush_now(app)
    audited = [a.request_id for a in rows(app, SsrAudit)]
    assert set(audited) == expected
    assert len(audited) == len(expected) + len(expected & set(ids[:30]))
    assert all(sampled(rid, 0.3) == (rid in expected) for rid in ids)


def test_excluded_routes_and_non_html_are_untouched(make_app):
    app = build(make_app, SSR_EXCLUDE_ROUTES=["/api*", "/healthz", "/metrics"])
    client = app.test_client()
    assert client.get("/api/thing").get_json() == {"ok": True}
    plain = client.get("/plain")
    assert plain.data == b"not html at all" and plain.mimetype == "text/plain"
    client.get("/healthz")
    flush_now(app)
    assert rows(app, SsrRouteMinute) == [] and rows(app, SsrAudit) == []
    assert runtime(app).decision("/api/thing").monitored is False
    assert runtime(app).decision("/<locale>/page/<int:n>").monitored is True


def test_include_routes_restrict_by_template_not_path(make_app):
    app = build(make_app, SSR_INCLUDE_ROUTES=["/<locale>/page/*"])
    client = app.test_client()
    client.get("/en/page/3")
    client.get("/headers")
    flush_now(app)
    assert [m.route for m in rows(app, SsrRouteMinute)] == ["/<locale>/page/<int:n>"]


def test_unmatched_paths_collapse_into_one_label(make_app):
    app = build(make_app)
    client = app.test_client()
    for path in ("/no/such/1", "/no/such/2", "/x"):
        assert client.get(path).status_code == 404
    flush_now(app)
    assert [(m.route, m.requests) for m in rows(app, SsrRouteMinute)] == [("404", 3)]
    assert rows(app, SsrAudit) == []  # error pages are timed, not scored


def test_streaming_response_is_not_read_or_buffered(make_app):
    app = build(make_app)
    with app.test_client() as client:
        response = client.get("/stream", buffered=False)
        assert "streamed_middle" not in app.seen  # nothing consumed the generator
        assert b"".join(response.response) == b"<html><body><img src=x><img src=y></body></html>"
        response.close()
    assert app.seen["streamed_middle"]
    flush_now(app)
    assert rows(app, SsrAudit) == []


def test_exceptions_fingerprinted_and_reraised_unchanged(make_app):
    app = build(make_app)
    client = app.test_client()
    with pytest.raises(ValueError, match="first failure") as first:
        client.get("/boom/1")
    assert first.value is app.seen["exc"]  # the very exception the view raised
    with pytest.raises(ValueError, match="second failure") as second:
        client.get("/boom/2")
    assert second.value is app.seen["exc"]
    flush_now(app)
    fps = rows(app, SsrFingerprint)
    assert len(fps) == 1  # two raises on different lines: one fingerprint
    fp = fps[0]
    assert (fp.count, fp.kind, fp.exc_type, fp.route, fp.status) == (2, "exception", "ValueError",
                                                                        "/boom/<int:n>", "new")
    assert fp.frames == [f"{__name__}:build.<locals>.boom"]
    assert fp.sample["message"] == "second failure, another line" and fp.sample["path"] == "/boom/2"
    assert [(m.requests, m.errors) for m in rows(app, SsrRouteMinute)] == [(2, 2)]


def test_exception_without_propagation_becomes_the_same_500(make_app):
    app = build(make_app, PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/boom/1")
    assert response.status_code == 500
    flush_now(app)
    assert [(f.count, f.exc_type) for f in rows(app, SsrFingerprint)] == [(1, "ValueError")]
    assert [(m.requests, m.errors) for m in rows(app, SsrRouteMinute)] == [(1, 1)]


def test_headers_and_body_are_byte_identical(make_app):
    plain_app = build(make_app, SSR_ENABLED=False)
    app = build(make_app)
    a = plain_app.test_client().get("/headers", headers={"X-Request-ID": "same-id-123456"})
    b = app.test_client().get("/headers", headers={"X-Request-ID": "same-id-123456"})
    assert a.data == b.data == PAGE.encode()
    assert a.headers.to_wsgi_list() == b.headers.to_wsgi_list()
    flush_now(app)
    assert len(rows(app, SsrAudit)) == 1 and rows(plain_app, SsrAudit) == []


def test_prometheus_observes_every_request_by_template(make_app):
    app = build(make_app)
    client = app.test_client()
    client.get("/en/page/1")
    client.get("/fr/page/2")
    client.get("/plain")
    text = client.get("/metrics").get_data(as_text=True)
    labels = 'method="GET",route="/<locale>/page/<int:n>",status="200"'
    assert f"moviepulse_http_requests_total{{{labels}}} 2.0" in text
    assert 'route="/plain",status="200"} 1.0' in text


def test_access_log_line_has_stable_fields(make_app, caplog):
    app = build(make_app)
    with caplog.at_level(logging.INFO, logger="moviepulse.access"):
        app.test_client().get("/es/page/4", headers={"X-Request-ID": "log-line-000001"})
        app.test_client().get("/plain")
    records = [r for r in caplog.records if r.name == "moviepulse.access"]
    assert len(records) == 2
    first = records[0]
    assert first.getMessage() == "request"
    assert {k: getattr(first, k) for k in ACCESS_LOG_FIELDS if k != "duration_ms"} == {
        "request_id": "log-line-000001", "method": "GET", "path": "/es/page/4",
        "route": "/<locale>/page/<int:n>", "status": 200, "locale": "es", "variant": None, "monitored": True,
        "audited": True, "score": PAGE_SCORE,
        "bytes": len(PAGE), "self_crawl": False}
    assert isinstance(first.duration_ms, float) and first.duration_ms >= 0
    assert records[1].monitored is False and records[1].audited is False
    from moviepulse.core.observability import JsonFormatter

    payload = json.loads(JsonFormatter().format(first))
    assert set(ACCESS_LOG_FIELDS) <= set(payload)
    assert ACCESS_LOG_FIELDS == ("request_id", "method", "path", "route", "status", "duration_ms", "locale",
                                 "variant", "monitored", "audited", "score", "bytes", "self_crawl")


def test_self_crawl_audits_every_configured_path(make_app):
    app = build(make_app, SSR_SAMPLE_RATE=0.0, SSR_SELF_CRAWL_PATHS=["/en/page/1", "/de/page/2", "/plain"])
    from moviepulse.ssr.tasks import self_crawl

    with app.app_context():
        result = self_crawl()
        assert [r["status"] for r in result] == [200, 200, 200]
    audits = rows(app, SsrAudit)
    assert sorted(a.path for a in audits) == ["/de/page/2", "/en/page/1"]
    assert all(a.self_crawl for a in audits)
    with app.app_context():
        assert db.session.scalar(select(func.sum(SsrRouteMinute.requests))) == 2


def test_every_ssr_setting_read_is_declared():
    import pathlib
    import re

    import moviepulse.ssr
    from moviepulse.ssr.settings import SETTINGS

    root = pathlib.Path(moviepulse.ssr.__file__).parent
    used = set()
    sources = [p for p in root.glob("*.py") if p.name != "settings.py"] + [root.parent / "plugins" / "ssr.py"]
    for path in sources:
        used |= set(re.findall(r'"(SSR_[A-Z0-9_]+)"', path.read_text()))
    declared = {s.name for s in SETTINGS}
    assert used == declared
