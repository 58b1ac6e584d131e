"""The cached-serializer session interface signs exactly as Flask's own and follows key changes."""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from moviepulse.core.sessions import CachedSerializerSessionInterface


def _app(interface, secret: str) -> Flask:
    app = Flask("sessions-test")
    app.secret_key = secret
    app.session_interface = interface

    @app.get("/set")
    def set_value():
        session["who"] = "admin"
        return "ok"

    @app.get("/get")
    def get_value():
        return session.get("who", "-")

    return app


def test_cookies_are_interchangeable_with_flasks_own():
    secret = "s" * 40
    ours, stock = _app(CachedSerializerSessionInterface(), secret), _app(SecureCookieSessionInterface(), secret)
    for writer, reader in ((ours, stock), (stock, ours)):
        client = writer.test_client()
        client.get("/set")
        cookie = client.get_cookie("session").value
        other = reader.test_client()
        other.set_cookie("session", cookie)
        assert other.get("/get").data == b"admin"


def test_a_new_secret_or_fallback_builds_a_new_serializer():
    interface = CachedSerializerSessionInterface()
    app = _app(interface, "old-secret-" + "x" * 30)
    client = app.test_client()
    client.get("/set")
    cookie = client.get_cookie("session").value
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first  # cached
    app.secret_key = "new-secret-" + "y" * 30
    fresh = app.test_client()
    fresh.set_cookie("session", cookie)
    assert fresh.get("/get").data == b"-"  # signed with the old key: rejected
    app.config["SECRET_KEY_FALLBACKS"] = ["old-secret-" + "x" * 30]
    assert fresh.get("/get").data == b"admin"  # the fallback is honoured at once
    assert interface.get_signing_serializer(app) is not first
