"""``moviepulse.testing``: the helpers plugin authors test with."""

from __future__ import annotations

import types

import pytest
from sqlalchemy import inspect

from moviepulse import hookimpl
from moviepulse.extensions import db
from moviepulse.ingestion.errors import UpstreamUnavailable
from moviepulse.ingestion.source import MovieRef
from moviepulse.testing import ADMIN_EMAIL, admin_client, fake_source, make_app, pulse_of, trace_hooks


def test_make_app_is_a_testing_app_with_tables_and_immediate_huey(tmp_path):
    app = make_app(only_plugins=["core"], tmp_path=tmp_path, SITE_NAME="Test site")
    assert app.config["ENV_NAME"] == "testing" and app.config["SITE_NAME"] == "Test site"
    assert app.config["LOAD_ENTRYPOINT_PLUGINS"] is False
    assert pulse_of(app).huey.immediate is True
    assert str(tmp_path) in app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        assert {"events", "movies", "admin_users"} <= set(inspect(db.engine).get_table_names())


def test_make_app_names_plugins_by_module_or_pair(tmp_path):
    module = types.ModuleType("my_plugin_module")
    module.register_settings = hookimpl(lambda: [])
    obj = types.SimpleNamespace(register_commands=hookimpl(lambda: []))
    app = make_app([module, ("named", obj)], only_plugins=["core"], tmp_path=tmp_path)
    names = {p["name"] for p in pulse_of(app).describe_plugins()}
    assert {"my_plugin_module", "named", "core"} <= names


def test_make_app_without_tables(tmp_path):
    app = make_app(only_plugins=["core"], create_tables=False, tmp_path=tmp_path)
    with app.app_context():
        assert "events" not in inspect(db.engine).get_table_names()


def test_admin_client_is_signed_in(tmp_path):
    app = make_app(only_plugins=["core"], tmp_path=tmp_path)
    assert app.test_client().get("/admin/api/plugins").status_code == 401
    client = admin_client(app)
    assert client.get("/admin/api/plugins").status_code == 200
    assert admin_client(app).get("/admin/api/plugins").status_code == 200  # the admin is reused
    from moviepulse.models.users import AdminUser

    with app.app_context():
        assert db.session.query(AdminUser).filter_by(email=ADMIN_EMAIL).count() == 1


def test_fake_source_serves_fails_and_records(tmp_path):
    from moviepulse import Source

    cls = fake_source("canned", movies=[{"tmdb_id": 603, "imdb_id": "tt0133093", "title": "The Matrix",
                                         "runtime": 136, "localized": {}}], fail_times=2, role="fallback")
    app = make_app(only_plugins=["core"], tmp_path=tmp_path)
    source = cls(pulse_of(app))
    assert issubclass(cls, Source) and cls.slug == "canned" and cls.role == "fallback"
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable) as info:
            source.lookup(MovieRef(tmdb_id=603))
        assert info.value.retryable
    record = source.lookup(MovieRef(imdb_id="tt133093"))
    assert (record.tmdb_id, record.facts["runtime"], record.source) == (603, 136, "canned")
    assert source.lookup(MovieRef(tmdb_id=1)) is None
    assert len(cls.calls) == 4
    assert source.discover(limit=5) == [MovieRef(tmdb_id=603, imdb_id="tt0133093")]
    assert source.health()["fake"] is True


def test_fake_source_top_level_title_becomes_the_english_translation():
    cls = fake_source("ft", movies=[{"tmdb_id": 1, "title": "Heat", "overview": "Cops and robbers."}])
    record = cls(None).lookup(MovieRef(tmdb_id=1))
    assert record.localized == {"en": {"title": "Heat", "overview": "Cops and robbers.", "tagline": ""}}


def test_trace_hooks_records_emits_and_restores(tmp_path):
    seen = []
    plugin = types.SimpleNamespace(drift_detected=hookimpl(lambda drift: seen.append(drift)))
    app = make_app([("tracer", plugin)], only_plugins=["core"], tmp_path=tmp_path)
    pulse = pulse_of(app)
    with trace_hooks(app) as calls:
        pulse.emit("drift_detected", drift={"day": "2026-11-01"})
        pulse.pm.hook.startup(pulse=pulse)
    assert [c["hook"] for c in calls] == ["drift_detected", "startup"]
    assert calls[0]["plugins"] == ["tracer"] and calls[0]["kwargs"]["drift"] == {"day": "2026-11-01"}
    assert seen == [{"day": "2026-11-01"}]
    pulse.emit("drift_detected", drift={})
    assert len(calls) == 2 and "emit" not in vars(pulse)

