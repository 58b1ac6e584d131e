"""Admin security, end to end: every admin route and callback refuses anonymous callers, production
cookies and security headers, a CSP the dashboard runs under with zero violations in Chromium, CSRF
without breaking Dash, open redirects, login throttling with identical answers, the password policy,
and no API key or password in logs, error pages, stored rows or task payloads."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.security import generate_password_hash

from moviepulse.extensions import db
from moviepulse.models.users import AdminUser

ADMIN = "rel-admin@example.test"
PASSWORD = "a long enough admin passphrase"
TMDB_KEY = "tmdbkey-7f3c9a1e5b2d4f6a8c0e"
OMDB_KEY = "omdbkey-1a2b3c4d5e"
PROD = {"SECRET_KEY": "p" * 48, "TMDB_API_KEY": TMDB_KEY, "OMDB_API_KEY": OMDB_KEY, "METRICS_TOKEN": "m" * 32}
PUBLIC_ENDPOINTS = {"site.root", "site.home", "site.movie", "site.search", "site.trends", "site.static", "static",
                    "events_api.post_events", "ops.healthz", "ops.metrics"}
REDIRECT_PAYLOADS = ["https://evil.com", "//evil.com", "////evil.com", "/\\evil.com", "http:/evil.com",
                     "javascript:alert(1)", "//evil.example", "\\\\evil.com", " //evil.com", "/%2F/evil.com",
                     "/\t/evil.com", "https:evil.com", "/%5Cevil.com", "%2F%2Fevil.com", "//evil.com@localhost/"]


def add_admin(app, email=ADMIN, password=PASSWORD):
    with app.app_context():
        db.session.add(AdminUser(email=email, password_hash=generate_password_hash(password, "pbkdf2:sha256:1000")))
        db.session.commit()


def csrf(client, path="/admin/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def login(client, email=ADMIN, password=PASSWORD, next_=None, **environ):
    data = {"csrf_token": csrf(client), "email": email, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/admin/login", data=data, environ_base=environ)


def concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"package_name": "dash", "filename": "x.js",
                                                         "path": "x.js", "job_id": "1"}.get(m.group(1), "x"), rule)


@pytest.fixture
def full_app(make_app):
    app = make_app()  # every built-in plugin
    add_admin(app)
    return app


@pytest.fixture
def prod_app(make_app, tmp_path):
    app = make_app("production", **PROD)
    add_admin(app)
    return app


def test_every_admin_route_and_callback_refuses_anonymous_and_the_public_surface_is_known(full_app):
    client = full_app.test_client()
    checked = 0
    for rule in full_app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            assert rule.endpoint in PUBLIC_ENDPOINTS, f"unexpected public route {rule.rule} ({rule.endpoint})"
            continue
        if rule.endpoint == "admin_auth.login":
            continue
        path = concrete(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = client.open(path, method=method, json={} if method != "GET" else None)
            checked += 1
            if rule.endpoint == "admin_auth.logout":
                assert r.status_code in (302, 400)
                continue
            assert r.status_code in (302, 401), (method, path, r.status_code)
            if r.status_code == 302:
                assert r.headers["Location"].startswith("/admin/login?next="), path
            else:
                assert "application/json" in r.content_type
    assert checked >= 30
    # Dash callbacks, component suites and layout are JSON/JS routes: 401, never a redirect
    for path in ("/admin/_dash-update-component", "/admin/_dash-layout", "/admin/_dash-dependencies"):
        r = client.post(path, json={}) if "update" in path else client.get(path)
        assert r.status_code == 401


def test_production_cookies_are_secure_httponly_samesite_and_host_prefixed(prod_app):
    client = prod_app.test_client()
    r = login(client, base_url="https://localhost")
    assert r.status_code == 302
    cookies = [h for h in r.headers.getlist("Set-Cookie")]
    session = [c for c in cookies if c.startswith(prod_app.config["SESSION_COOKIE_NAME"] + "=")]
    assert session, cookies
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in session[-1].split(";")[1:]}
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["samesite"].lower() in ("samesite=lax", "samesite=strict")
    assert prod_app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert attrs.get("path", "").lower() == "path=/" and "domain" not in attrs
    # the public site's visitor cookies are Secure too
    with prod_app.app_context():
        from moviepulse.models.movie import Movie

        db.session.add(Movie(id=1, title="M", original_title="M"))
        db.session.commit()
    r = prod_app.test_client().get("/en/", base_url="https://localhost")
    for cookie in r.headers.getlist("Set-Cookie"):
        assert "Secure" in cookie, cookie


def header_checks(r, *, admin: bool):
    csp = r.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("object-src") == "object-src 'none'", csp
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    if admin:
        assert directives.get("base-uri") == "base-uri 'none'", csp
        assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in directives.get("script-src", ""), csp
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("Referrer-Policy")
    hsts = r.headers.get("Strict-Transport-Security", "")
    m = re.search(r"max-age=(\d+)", hsts)
    assert m and int(m.group(1)) >= 31536000, hsts
    return directives


def test_security_headers_and_csp_on_admin_and_site_in_production(prod_app):
    client = prod_app.test_client()
    header_checks(client.get("/admin/login", base_url="https://localhost"), admin=True)
    login(client, base_url="https://localhost")
    r = client.get("/admin/", base_url="https://localhost")
    assert r.status_code == 200
    directives = header_checks(r, admin=True)
    dash_app = prod_app.extensions["moviepulse.dash"]
    for digest in dash_app.csp_hashes():  # Dash's inline renderer script is allowed by hash only
        assert digest in directives["script-src"]
    r = prod_app.test_client().get("/en/", base_url="https://localhost")
    header_checks(r, admin=False)


def test_csrf_on_forms_and_dash_callbacks_still_work(full_app):
    from moviepulse.dash_app.testing import dependencies

    client = full_app.test_client()
    r = client.post("/admin/login", data={"email": ADMIN, "password": PASSWORD})  # no token
    assert r.status_code == 400
    assert client.get("/admin/_dash-layout").status_code == 401  # not logged in
    assert login(client).status_code == 302
    deps = dependencies(client)  # a logged-in Dash works under CSRF-protected forms
    assert deps
    page_cb = next(d for d in deps if d["output"].startswith("mp-page.") or ".mp-page.children" in d["output"]
                   or "mp-page.children" in d["output"])
    body = {"output": page_cb["output"], "outputs": {"id": "mp-page", "property": "children"},
            "inputs": [{"id": i["id"], "property": i["property"],
                        "value": "/admin/" if i["property"] == "pathname" else None} for i in page_cb["inputs"]],
            "state": [{"id": s["id"], "property": s["property"], "value": None} for s in page_cb.get("state", [])],
            "changedPropIds": ["mp-url.pathname"]}
    r = client.post("/admin/_dash-update-component", json=body)
    assert r.status_code in (200, 204), r.get_data(as_text=True)[:300]
    # a cross-site form (text/plain, no preflight) cannot drive a callback
    r = client.post("/admin/_dash-update-component", data=json.dumps(body), content_type="text/plain",
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 415
    # no CORS grant for another origin: the browser never sends the JSON callback cross-site
    r = client.options("/admin/_dash-update-component", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers
    # GET never changes state: a GET of the logout URL (Dash's catch-all page) does not end the session
    assert client.get("/admin/logout").status_code in (200, 405)
    assert client.get("/admin/_dash-layout").status_code == 200
    assert client.post("/admin/logout", data={}).status_code == 400  # POST without a token
    assert client.get("/admin/_dash-layout").status_code == 200


@pytest.mark.parametrize("payload", REDIRECT_PAYLOADS)
def test_open_redirect_payloads_land_on_a_local_page(full_app, payload):
    client = full_app.test_client()
    r = login(client, next_=payload)
    assert r.status_code == 302
    location = r.headers["Location"]
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert parts.path == "/admin/", location
    # and through the login URL's query (GET), the form carries the default
    client2 = full_app.test_client()
    html = client2.get("/admin/login", query_string={"next": payload}).get_data(as_text=True)
    assert "evil" not in html and "javascript:" not in html


def test_local_next_is_preserved(full_app):
    r = login(full_app.test_client(), next_="/admin/ctr?audience=mobile")
    assert r.headers["Location"] == "/admin/ctr?audience=mobile"


def strip_token(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html)


def test_failed_logins_are_throttled_with_identical_answers_for_known_and_unknown(full_app):
    """101 failures on one account from rotating addresses: throttled long before attempt 100."""
    known, unknown = full_app.test_client(), full_app.test_client()
    first_known = login(known, password="wrong password 1", REMOTE_ADDR="10.0.0.1")
    first_unknown = login(unknown, email="nobody@example.test", password="wrong password 1",
                          REMOTE_ADDR="10.0.0.2")
    assert first_known.status_code == first_unknown.status_code == 401
    assert strip_token(first_known.get_data(as_text=True)).replace(ADMIN, "E") == \
        strip_token(first_unknown.get_data(as_text=True)).replace("nobody@example.test", "E")
    statuses = []
    for attempt in range(2, 102):
        r = login(full_app.test_client(), password=f"wrong password {attempt}", REMOTE_ADDR=f"10.1.{attempt}.1")
        statuses.append(r.status_code)
    throttled_at = statuses.index(429) + 2
    assert throttled_at < 100 and set(statuses[throttled_at - 2:]) == {429}
    # the right password is not confirmed while throttled
    assert login(full_app.test_client(), REMOTE_ADDR="10.9.9.9").status_code == 429
    # unknown accounts are throttled the same way
    unknown_statuses = [login(full_app.test_client(), email="ghost@example.test", password="x" * 12,
                              REMOTE_ADDR=f"10.2.{i}.1").status_code for i in range(throttled_at)]
    assert unknown_statuses == [401] * (throttled_at - 1) + [429]


def test_password_policy_and_hash_parameters():
    from moviepulse.core.auth import hash_password, password_problems

    assert password_problems("short")
    assert password_problems("aaaaaaaaaaaaaaaa")
    assert password_problems("admin@example.test", "admin@example.test")
    assert not password_problems("Correct-Horse-Battery-Staple-" * 2 + "x" * 6)  # 64 characters are accepted
    assert not password_problems("pasted: Ünïcødé 🔑 passphrase with spaces")
    assert password_problems("qwerty123456")  # one of the 3,000 most common passwords
    stored = hash_password("correct horse battery staple")
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, stored
    m, t, p = (int(x) for x in match.groups())
    assert m >= 19456 and t >= 2 and p >= 1  # OWASP: Argon2id, 19 MiB, 2 passes, 1 lane


def log_lines(records):
    """Each record as the process would write it: ``moviepulse.*`` through MoviePulse's own handler
    (JSON or plain text, both redacting), anything else (urllib3, huey, werkzeug) as raw text."""
    handler = next(h for h in logging.getLogger("moviepulse").handlers if getattr(h, "_moviepulse", False))
    plain = logging.Formatter("%(name)s %(message)s")
    return [handler.format(r) if r.name.split(".")[0] == "moviepulse" else plain.format(r) for r in records]


def test_no_key_or_password_in_logs_error_pages_rows_or_task_payloads(make_app, caplog, tmp_path):
    """A failing import at DEBUG level (urllib3 included), its queued task, the stored rows, a 500 page."""
    from sqlalchemy import text

    from moviepulse.ingestion.queueing import enqueue_import
    from moviepulse.ingestion.source import MovieRef
    from moviepulse.upstreams import set_faults, start_fake_upstreams

    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    upstreams = start_fake_upstreams(fixture=True, tmdb_rate_limit=0)
    try:
        app = make_app(HUEY_BACKEND="sqlite", HUEY_IMMEDIATE=False, HUEY_SQLITE_PATH=str(tmp_path / "q.db"),
                       TMDB_BASE_URL=upstreams.tmdb_url, OMDB_BASE_URL=upstreams.omdb_url,
                       TMDB_API_KEY=TMDB_KEY, OMDB_API_KEY=OMDB_KEY, TMDB_RETRIES=1, UPSTREAM_BACKOFF_BASE=0.01,
                       UPSTREAM_BACKOFF_MAX=0.02, OMDB_MODE="always", QUEUE_STATS_SYNC=True,
                       PROPAGATE_EXCEPTIONS=False)
        add_admin(app)

        @app.get("/__boom")
        def boom():
            raise RuntimeError(f"upstream said no to {TMDB_KEY}")

        from moviepulse.core.redact import register_secret

        register_secret(PASSWORD)
        set_faults(upstreams.tmdb_url, reset_connection=True)
        huey = app.extensions["moviepulse"].huey
        with app.app_context():
            assert enqueue_import(app, MovieRef(tmdb_id=603), reason="test")
            raw = huey.storage.conn.execute("SELECT data FROM task").fetchall()  # the queued payloads
            payloads = b"".join(bytes(r[0]) for r in raw)
            task = huey.dequeue()
            try:
                huey.execute(task)
            except Exception:  # noqa: BLE001 - the retryable failure is what we want to look at
                pass
            set_faults(upstreams.tmdb_url, reset=True)
            set_faults(upstreams.omdb_url, status_5xx_rate=1.0)
            from moviepulse.ingestion.pipeline import import_movie

            import_movie(app, 550)
            rows = []
            for table in ("ingestion_runs", "upstream_state", "pending_imports", "movie_fields", "movies", "job_ledger"):
                rows += [json.dumps([str(v) for v in row]) for row in db.session.execute(text(f"SELECT * FROM {table}"))]
        client = app.test_client()
        login(client, password=PASSWORD)
        login(app.test_client(), password=PASSWORD + "x")  # a failed login logs no password either
        error_page = app.test_client().get("/__boom")
        assert error_page.status_code == 500
        blob = "\n".join([*log_lines(caplog.records), *rows, error_page.get_data(as_text=True)])
        assert "/3/movie/603" in caplog.text  # the calls were logged
        assert any(TMDB_KEY in str(r.exc_info) for r in caplog.records)  # raw: the key was there to leak
        assert TMDB_KEY.encode() not in payloads and OMDB_KEY.encode() not in payloads and payloads
        for secret in (TMDB_KEY, OMDB_KEY, PASSWORD):
            assert secret not in blob, secret
        for path in Path(app.instance_path).rglob("*.log"):
            assert TMDB_KEY not in path.read_text(errors="replace")
    finally:
        upstreams.stop()
