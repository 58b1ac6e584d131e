"""Admin access to the dashboard: every /admin/ route refuses anonymous users, login with CSRF,
throttling, identical answers for known and unknown users, logout, and local-only ``next``."""

from __future__ import annotations

import re

import pytest

from moviepulse.dash_app.redirects import safe_next
from moviepulse.testing import ADMIN_EMAIL, ADMIN_PASSWORD, admin_client

PLUGINS = ["core", "audiences", "dashboard"]


@pytest.fixture
def dash_app(make_app):
    return make_app(only_plugins=PLUGINS)


def add_admin(app, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    """An admin whose hash is cheap PBKDF2: these tests are about the login flow, not hash cost
    (``verify_password`` checks any Werkzeug hash; production hashes come from ``create_admin``)."""
    from werkzeug.security import generate_password_hash

    from moviepulse.extensions import db
    from moviepulse.models.users import AdminUser

    with app.app_context():
        db.session.add(AdminUser(email=email, password_hash=generate_password_hash(password, "pbkdf2:sha256:1000")))
        db.session.commit()


@pytest.fixture
def admin(make_app):
    """An app with one admin; the e-mail throttle is 3 failures (5 by default) to keep tests fast."""
    app = make_app(only_plugins=PLUGINS, LOGIN_MAX_FAILURES_PER_EMAIL=3)
    add_admin(app)
    return app


def csrf_from(client, path="/admin/login"):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, next_=None, **environ):
    token = csrf_from(client)
    data = {"csrf_token": token, "email": email, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/admin/login", data=data, environ_base=environ)


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"package_name": "dash", "filename": "bootstrap.min.css"}
                  .get(m.group(1), "x"), rule)


def test_every_admin_rule_refuses_anonymous(dash_app):
    client = dash_app.test_client()
    checked = 0
    for rule in dash_app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint.startswith("admin_auth.login"):
            continue
        path = _concrete(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={} if method == "POST" else None)
            checked += 1
            if rule.endpoint == "admin_auth.logout":
                assert response.status_code in (302, 400), path  # no session to end; never a 200
                continue
            assert response.status_code in (302, 401), (method, path, response.status_code)
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/admin/login?next="), path
    assert checked >= 10


def test_anonymous_page_redirects_with_next_and_callback_gets_401_json(dash_app):
    client = dash_app.test_client()
    response = client.get("/admin/ctr?audience=device:mobile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/ctr?audience%3Ddevice:mobile"
    callback = client.post("/admin/_dash-update-component", json={"output": "mp-page.children"})
    assert callback.status_code == 401
    assert callback.get_json()["error"] == "unauthorized"
    for path in ("/admin/_dash-layout", "/admin/_dash-dependencies", "/admin/assets/bootstrap.min.css",
                 "/admin/theme.css", "/admin/_favicon.ico"):
        assert client.get(path).status_code == 401, path


def test_admin_sees_pages_assets_and_local_scripts(admin):
    client = admin_client(admin)
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/admin/assets/bootstrap.min.css" in html and "/admin/theme.css" in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(s.startswith("/admin/") for s in scripts)
    assert client.get(scripts[0]).status_code == 200
    assert client.get("/admin/assets/bootstrap.min.css").status_code == 200
    assert client.get("/admin/theme.css").mimetype == "text/css"
    assert client.get("/admin/_dash-layout").status_code == 200


def test_callback_post_must_be_json_even_when_logged_in(admin):
    client = admin_client(admin)
    response = client.post("/admin/_dash-update-component", data="{}", content_type="text/plain")
    assert response.status_code == 415


def test_login_page_has_csrf_and_labels(dash_app):
    html = dash_app.test_client().get("/admin/login").get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert '<label for="login-email">' in html and '<label for="login-password">' in html


def test_login_without_csrf_token_is_rejected(admin):
    client = admin.test_client()
    response = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_then_logout(admin):
    client = admin.test_client()
    response = login(client, next_="/admin/ctr?audience=global")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/ctr?audience=global"
    assert client.get("/admin/").status_code == 200
    # logout needs the CSRF token too (a GET or a token-less POST changes nothing)
    client.get("/admin/logout")
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200
    token = _layout_csrf(client)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def _layout_csrf(client):
    layout = client.get("/admin/_dash-layout").get_data(as_text=True)
    match = re.search(r'"name":\s*"csrf_token"[^}]*"value":\s*"([^"]+)"', layout) or \
        re.search(r'"value":\s*"([^"]+)"[^}]*"name":\s*"csrf_token"', layout)
    assert match, "the shell layout carries the logout CSRF token"
    return match.group(1)


def test_wrong_password_and_unknown_user_get_identical_answers(admin):
    a = login(admin.test_client(), password="wrong-password-123")
    b = login(admin.test_client(), email="nobody@example.test", password="wrong-password-123")
    assert a.status_code == b.status_code == 401

    def strip(resp):
        return re.sub(r'value="[^"]*"', "", resp.get_data(as_text=True))

    assert strip(a) == strip(b).replace("nobody@example.test", ADMIN_EMAIL)
    assert "Invalid e-mail or password." in strip(a)


def test_throttling_per_account_with_rotating_addresses(admin):
    for i in range(3):
        r = login(admin.test_client(), password=f"wrong-{i}-password", REMOTE_ADDR=f"10.0.0.{i}")
        assert r.status_code == 401
    # the next attempt, even with the right password and a new address, is throttled
    blocked = login(admin.test_client(), REMOTE_ADDR="10.0.0.99")
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    # unknown accounts are throttled the same way (no enumeration through throttling)
    for i in range(3):
        login(admin.test_client(), email="ghost@example.test", password="nope-nope-nope", REMOTE_ADDR=f"10.1.0.{i}")
    ghost = login(admin.test_client(), email="ghost@example.test", password="x" * 12)
    assert ghost.status_code == 429
    assert re.sub(r'value="[^"]*"', "", ghost.get_data(as_text=True)).replace("ghost@example.test", ADMIN_EMAIL) == \
        re.sub(r'value="[^"]*"', "", blocked.get_data(as_text=True))


def test_throttling_per_address(make_app):
    app = make_app(only_plugins=PLUGINS, LOGIN_MAX_FAILURES_PER_ADDR=3)
    add_admin(app)
    for i in range(3):
        login(app.test_client(), password=f"bad-bad-bad-{i}", REMOTE_ADDR="10.9.9.9")
    assert login(app.test_client(), email="other@example.test", REMOTE_ADDR="10.9.9.9").status_code == 429
    assert login(app.test_client(), REMOTE_ADDR="10.9.9.10").status_code == 302  # 3 < 5 per e-mail


def test_successful_login_clears_failures(admin):
    for i in range(2):
        login(admin.test_client(), password=f"wrong-{i}-password")
    assert login(admin.test_client()).status_code == 302
    for i in range(2):
        login(admin.test_client(), password=f"wrong-{i}-again")
    assert login(admin.test_client()).status_code == 302  # 4 failures in all, but never 3 in a row


EVIL = ["https://evil.example", "//evil.example", "////evil.example", "/\\evil.example", "\\\\evil.example",
        "http:/evil.example", "javascript:alert(1)", "https:evil.example", " //evil.example", "/%0a/evil.example",
        "\t//evil.example", "//evil.example/admin/", "http://localhost/admin/", "data:text/html,x", "evil.example"]


def test_open_redirect_payloads_land_on_a_local_page(admin):
    for payload in ("//evil.example", "/\\evil.example", "https://evil.example"):  # through a real login
        response = login(admin.test_client(), next_=payload)
        assert response.status_code == 302
        assert response.headers["Location"] == "/admin/", payload
    client = admin_client(admin)  # the same check, for every payload, on the logged-in login page
    for payload in EVIL:
        response = client.get("/admin/login", query_string={"next": payload})
        assert response.status_code == 302 and response.headers["Location"] == "/admin/", payload
    assert login(admin.test_client(), next_="/admin/queue?audience=global").headers["Location"] == \
        "/admin/queue?audience=global"


def test_open_redirect_payloads_in_login_query_are_dropped(admin):
    client = admin.test_client()
    for payload in EVIL:
        page = client.get("/admin/login", query_string={"next": payload}).get_data(as_text=True)
        assert 'name="next" type="hidden" value="/admin/"' in page, payload
    for payload in EVIL:
        assert safe_next(payload) == "/admin/", payload


def test_safe_next_keeps_local_paths():
    assert safe_next("/admin/ctr?audience=device:mobile&start=2026-11-01") == \
        "/admin/ctr?audience=device:mobile&start=2026-11-01"
    assert safe_next("/admin/experiments") == "/admin/experiments"
    assert safe_next(None) == safe_next("") == "/admin/"
    assert safe_next("/\\evil") == safe_next("//evil") == safe_next("http:/evil") == "/admin/"


def test_logged_in_user_visiting_login_is_sent_on(admin):
    client = admin_client(admin)
    response = client.get("/admin/login?next=//evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


def test_inactive_admin_cannot_log_in(admin):
    from sqlalchemy import select

    from moviepulse.extensions import db
    from moviepulse.models.users import AdminUser

    with admin.app_context():
        user = db.session.scalar(select(AdminUser))
        user.is_active_flag = False
        db.session.commit()
    assert login(admin.test_client()).status_code == 401


def test_works_with_debug_off(make_app):
    app = make_app(only_plugins=PLUGINS, DEBUG=False)
    assert app.debug is False
    client = admin_client(app)
    html = client.get("/admin/").get_data(as_text=True)
    assert ".min.js" in html and "dev" not in re.findall(r'<script src="([^"]+)"', html)[0]


def test_plotly_basic_bundle_is_served_locally_unless_full_is_asked(make_app):
    basic = admin_client(make_app(only_plugins=PLUGINS)).get("/admin/").get_data(as_text=True)
    assert re.search(r'<script src="/admin/assets/plotly-basic\.min\.js\?m=[0-9.]+"></script>', basic)
    full = admin_client(make_app(only_plugins=PLUGINS, DASHBOARD_PLOTLY_BUNDLE="full")).get("/admin/")
    assert "plotly-basic" not in full.get_data(as_text=True)


def test_admin_answers_are_not_cached(admin):
    client = admin_client(admin)
    assert client.get("/admin/").headers["Cache-Control"] == "no-store"
    assert client.get("/admin/_dash-layout").headers["Cache-Control"] == "no-store"
    assert admin.test_client().get("/admin/ctr").headers["Cache-Control"] == "no-store"  # the redirect too
    assert "no-store" in admin.test_client().get("/admin/login").headers["Cache-Control"]
