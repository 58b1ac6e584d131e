"""Public pages and the events API never open a Flask session (only the device and variant cookies)."""

from __future__ import annotations


def test_public_pages_set_no_session_cookie(client):
    for path in ("/en/", "/en/trends", "/healthz"):
        response = client.get(path, headers={"Accept-Language": "en"})
        names = [h.split("=", 1)[0] for h in response.headers.getlist("Set-Cookie")]
        assert "session" not in names, (path, names)
    response = client.post("/api/events", json={"sent_at": "2026-11-20T00:00:00Z", "events": []})
    assert "session" not in [h.split("=", 1)[0] for h in response.headers.getlist("Set-Cookie")]
