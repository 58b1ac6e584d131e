"""Ingestion settings: demo keys refused in production, the state backend chosen from the config."""

from __future__ import annotations

import pytest

from moviepulse.app import create_app
from moviepulse.core.errors import ConfigurationError
from moviepulse.ingestion.state import MemoryStateStore, RedisStateStore, SqlStateStore, make_state_store


def test_production_refuses_the_demo_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError) as info:
        create_app("production", SECRET_KEY="s" * 40, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.db",
                   INSTANCE_PATH=str(tmp_path))
    assert "TMDB_API_KEY" in str(info.value) and "OMDB_API_KEY" in str(info.value)
    assert "demo-tmdb-key" not in str(info.value)


def test_a_disabled_source_needs_no_key(monkeypatch, tmp_path):
    try:
        create_app("production", SECRET_KEY="s" * 40, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.db",
                   INSTANCE_PATH=str(tmp_path), OMDB_ENABLED=False, TMDB_API_KEY="a-real-looking-key-123")
    except ConfigurationError as exc:  # another plugin's secret may still be missing; ours are fine
        assert "OMDB_API_KEY" not in str(exc) and "TMDB_API_KEY" not in str(exc)


def test_defaults_point_at_the_fake_servers(app):
    assert app.config["TMDB_BASE_URL"] == "http://127.0.0.1:8701/3"
    assert app.config["OMDB_BASE_URL"] == "http://127.0.0.1:8702/"
    assert app.config["OMDB_DAILY_BUDGET"] == 1000
    pulse = app.extensions["moviepulse"]
    assert {"tmdb", "omdb"} <= set(pulse.sources.slugs())
    spec = pulse.task_specs.get("ingestion.import_movie")
    assert spec.retries > 0 and spec.retry_backoff > 1 and spec.expires
    assert pulse.task_specs.get("ingestion.backfill").schedule == "BACKFILL_INTERVAL_SECONDS"


def test_state_backend_follows_the_queue_backend(make_app):
    app = make_app()
    assert isinstance(make_state_store(app), SqlStateStore)
    app.config["HUEY_BACKEND"] = "redis"
    assert isinstance(make_state_store(app), RedisStateStore)
    app.config["UPSTREAM_STATE_BACKEND"] = "memory"
    assert isinstance(make_state_store(app), MemoryStateStore)
    app.config["UPSTREAM_STATE_BACKEND"] = "carrier-pigeon"
    with pytest.raises(ValueError):
        make_state_store(app)
