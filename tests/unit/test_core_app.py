"""The application factory, environments, settings and production guard-rails."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from moviepulse.app import create_app
from moviepulse.config import environment_overrides
from moviepulse.core.errors import ConfigurationError
from moviepulse.extensions import db


def test_env_var_picks_config_and_overrides_parse_json(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVIEPULSE_ENV", "local")
    monkeypatch.setenv("MOVIEPULSE_LOCALES", '["en", "de"]')
    monkeypatch.setenv("MOVIEPULSE_SITE_NAME", "12345")
    app = create_app(INSTANCE_PATH=str(tmp_path))
    assert app.config["ENV_NAME"] == "local"
    assert app.config["LOCALES"] == ["en", "de"]
    assert app.config["SITE_NAME"] == "12345"  # a str setting stays a str even when it parses as JSON
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/moviepulse.db"
    assert app.config["HUEY_BACKEND"] == "sqlite"


def test_unprefixed_database_url_uses_psycopg3():
    out = environment_overrides({"DATABASE_URL": "postgres://u@h/db", "MOVIEPULSE_X": "1"})
    assert out["SQLALCHEMY_DATABASE_URI"] == "postgres://u@h/db"
    from moviepulse.config import normalise_database_url

    assert normalise_database_url(out["SQLALCHEMY_DATABASE_URI"]) == "postgresql+psycopg://u@h/db"
    assert out["X"] == 1


def test_sqlite_pragmas_on_every_connection(app):
    with app.app_context():
        conns = [db.engine.connect() for _ in range(3)]
        try:
            for conn in conns:
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 1
        finally:
            for conn in conns:
                conn.close()


def test_production_refuses_dev_secrets_naming_each(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError) as info:
        create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.db", INSTANCE_PATH=str(tmp_path))
    assert "SECRET_KEY" in str(info.value)


def test_production_requires_database_url(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        create_app("production", SECRET_KEY="x" * 40, INSTANCE_PATH=str(tmp_path))


def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["queue"]["ok"] is True


def test_request_id_is_echoed_or_minted(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abcdefgh-1234"}).headers["X-Request-ID"] == "abcdefgh-1234"
    minted = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert minted != "bad id!" and len(minted) == 36


def test_metrics_endpoint_is_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert b"moviepulse_events" in response.data


def test_write_transaction_accepts_the_scoped_session_and_begins_immediate(app):
    from moviepulse.core.db import is_sqlite, write_transaction
    from moviepulse.models.users import AdminUser

    with app.app_context():
        assert is_sqlite(db.session) and is_sqlite(db.engine)
        with write_transaction(db.session):
            dbapi = db.session.connection().connection.dbapi_connection
            assert dbapi.in_transaction  # BEGIN IMMEDIATE ran before any write
            db.session.add(AdminUser(email="a@b.c", password_hash="x"))
        assert db.session.query(AdminUser).count() == 1


def test_production_requires_a_metrics_token_unless_metrics_are_public(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    base = {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db",
            "INSTANCE_PATH": str(tmp_path), "LOAD_ENTRYPOINT_PLUGINS": False, "TMDB_API_KEY": "t" * 32,
            "OMDB_API_KEY": "o" * 32}
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        create_app("production", **base)
    for extra in ({"METRICS_TOKEN": "m" * 32}, {"METRICS_PUBLIC": True}):
        try:
            create_app("production", **base, **extra)
        except ConfigurationError as exc:  # another requirement may fail here; never the metrics token
            assert "METRICS_TOKEN" not in str(exc)


def test_metrics_token_is_checked(make_app):
    app = make_app(METRICS_TOKEN="secret-metrics-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer secret-metrics-token"}).status_code == 200


def test_child_environ_is_read_back_as_the_same_settings():
    from moviepulse.config import child_environ

    settings = {"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db", "REDIS_URL": "redis://h:1/2", "SECRET_KEY": "k" * 40,
                "LOCALES": ["en", "de"], "SSR_SAMPLE_RATE": 0.25, "TMDB_API_KEY": "abc", "OMDB_ENABLED": False}
    base = {"PATH": "/bin", "MOVIEPULSE_LOCALES": '["fr"]', "DATABASE_URL": "postgresql://elsewhere/db"}
    env = child_environ("staging", settings, base)
    assert env["PATH"] == "/bin" and env["MOVIEPULSE_ENV"] == "staging"
    assert environment_overrides(env) == settings  # the parent's own MoviePulse settings are not inherited
