"""Public pages and the events API never open a Flask session (only the device and variant cookies)."""

from __future__ import annotations


def cookie_names(response) -> list[str]:
    return [header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")]


def test_public_pages_set_no_session_cookie(app, client):
    session_cookie = app.config["SESSION_COOKIE_NAME"]
    home = client.get("/en/", headers={"Accept-Language": "en"})
    assert "did" in cookie_names(home) and session_cookie not in cookie_names(home)
    for path in ("/en/trends", "/healthz"):
        assert session_cookie not in cookie_names(client.get(path, headers={"Accept-Language": "en"})), path
    response = client.post("/api/events", json={"sent_at": "2026-11-20T00:00:00Z", "events": []})
    assert session_cookie not in cookie_names(response)
