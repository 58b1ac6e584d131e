"""Browser flows: the admin refuses anonymous visitors, login (with ``next``), logout."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from tests.visual import harness

pytestmark = pytest.mark.e2e


def test_anonymous_page_redirects_to_login(context, live_url):
    page = context.new_page()
    target = harness.dashboard_url(live_url, "ctr")
    page.goto(target)
    url = urlparse(page.url)
    assert url.path == "/admin/login"
    wanted = urlparse(target)
    assert parse_qs(url.query)["next"] == [f"{wanted.path}?{wanted.query}"]
    assert page.get_by_label("E-mail").is_visible()
    assert page.get_by_label("Password").is_visible()
    assert page.locator("#mp-shell").count() == 0  # no dashboard rendered


def test_anonymous_callback_post_gets_401(context, live_url):
    body = {"output": "mp-page.children", "outputs": {"id": "mp-page", "property": "children"},
            "inputs": [{"id": "mp-url", "property": "pathname", "value": "/admin/"}], "changedPropIds": []}
    response = context.request.post(f"{live_url}/admin/_dash-update-component", data=json.dumps(body),
                                    headers={"Content-Type": "application/json"})
    assert response.status == 401
    assert response.json()["error"] == "unauthorized"
    for path in ("/admin/_dash-layout", "/admin/_dash-dependencies"):
        assert context.request.get(f"{live_url}{path}").status == 401


def test_wrong_password_is_refused(context, live_url):
    page = context.new_page()
    page.goto(f"{live_url}/admin/login")
    page.get_by_label("E-mail").fill(harness.ADMIN_EMAIL)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert urlparse(page.url).path == "/admin/login"
    assert "Invalid e-mail or password." in page.content()
    assert context.request.get(f"{live_url}/admin/_dash-layout").status == 401


def test_login_goes_to_next_then_logout(context, live_url):
    page = context.new_page()
    target = harness.dashboard_url(live_url, "queue")
    page.goto(target)  # redirected to the login page, with next
    page.get_by_label("E-mail").fill(harness.ADMIN_EMAIL)
    page.get_by_label("Password").fill(harness.ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: urlparse(u).path == "/admin/queue")
    assert parse_qs(urlparse(page.url).query)["audience"] == ["global"]
    page.locator("#w-queue-failed--queue").wait_for()
    assert page.locator("#mp-page-title").inner_text() == "Queue"
    assert context.request.get(f"{live_url}/admin/_dash-layout").status == 200

    page.locator("#mp-logout").click()
    page.wait_for_url(lambda u: urlparse(u).path == "/admin/login")
    assert context.request.get(f"{live_url}/admin/_dash-layout").status == 401
    page.goto(f"{live_url}/admin/")
    assert urlparse(page.url).path == "/admin/login"
