"""The plugin manager, registries, duplicate slugs, blocking and the admin API guard."""

from __future__ import annotations

import types

import pytest

from moviepulse import hookimpl
from moviepulse.core.errors import StartupError
from moviepulse.core.types import Setting, TaskSpec


def _plugin(name: str, **hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def test_duplicate_slug_names_both_plugins(make_app):
    a = _plugin("a", register_settings=lambda: [Setting("DUP_SETTING", 1, "x")])
    b = _plugin("b", register_settings=lambda: [Setting("DUP_SETTING", 2, "y")])
    with pytest.raises(StartupError) as info:
        make_app(extra_plugins=[("plugin-a", a), ("plugin-b", b)])
    assert "plugin-a" in str(info.value) and "plugin-b" in str(info.value)


def test_blocked_plugin_is_not_registered(make_app):
    app = make_app(BLOCKED_PLUGINS=["ssr"])
    names = {p["name"] for p in app.extensions["moviepulse"].describe_plugins()}
    assert "ssr" not in names and "core" in names


def test_unknown_hook_is_a_startup_error(make_app):
    bad = _plugin("bad", register_widgetz=lambda: [])
    with pytest.raises(StartupError, match="register_widgetz"):
        make_app(extra_plugins=[("bad", bad)])


def test_incompatible_hook_api_is_refused(make_app):
    old = _plugin("old", register_settings=lambda: [])
    old.MOVIEPULSE_API = 0
    with pytest.raises(StartupError, match="hook API"):
        make_app(extra_plugins=[("old", old)])


def test_task_spec_becomes_huey_task_run_in_app_context(make_app):
    from flask import current_app

    def whoami(x):
        return f"{current_app.config['ENV_NAME']}:{x}"

    plugin = _plugin("t", register_tasks=lambda: [TaskSpec("t.whoami", whoami)])
    app = make_app(extra_plugins=[("t", plugin)])
    pulse = app.extensions["moviepulse"]
    assert pulse.enqueue("t.whoami", 3).get() == "testing:3"
    described = {p["name"]: p for p in pulse.describe_plugins()}
    assert described["t"]["registered"]["tasks"] == ["t.whoami"]


def test_event_hook_failure_does_not_propagate(make_app):
    seen = []
    boom = _plugin("boom", drift_detected=lambda drift: 1 / 0)
    ok = _plugin("ok", drift_detected=lambda drift: seen.append(drift))
    app = make_app(extra_plugins=[("boom", boom), ("ok", ok)])
    app.extensions["moviepulse"].emit("drift_detected", drift={"day": "2026-11-01"})
    assert seen == [{"day": "2026-11-01"}]


def test_admin_api_refuses_anonymous_and_accepts_token(app, client):
    assert client.get("/admin/api/plugins").status_code == 401
    with app.app_context():
        from moviepulse.core.auth import create_token

        token = create_token("ci")
    response = client.get("/admin/api/plugins", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert any(p["name"] == "core" for p in response.get_json()["plugins"])
    assert client.get("/admin/api/plugins", headers={"Authorization": "Bearer mp_wrong"}).status_code == 401


def test_scheduled_task_has_an_on_demand_twin_that_returns_results(make_app):
    from huey import crontab

    plugin = _plugin("p", register_tasks=lambda: [TaskSpec("p.tick", lambda n=1: n * 2, schedule=crontab(minute="0"))])
    app = make_app(extra_plugins=[("p", plugin)])
    pulse = app.extensions["moviepulse"]
    assert pulse.periodic_tasks["p.tick"].name == "p.tick"
    assert pulse.tasks["p.tick"].name == "p.tick:now"
    assert pulse.enqueue("p.tick", 21).get() == 42


def test_registries_keep_plugin_registration_order(make_app):
    first = _plugin("first", register_settings=lambda: [Setting("ORDER_FIRST", 1, "x")])
    second = _plugin("second", register_settings=lambda: [Setting("ORDER_SECOND", 2, "y")])
    app = make_app(extra_plugins=[("first", first), ("second", second)])
    slugs = app.extensions["moviepulse"].settings.slugs()
    assert slugs.index("ORDER_FIRST") < slugs.index("ORDER_SECOND")
    assert slugs.index("SITE_NAME") < slugs.index("ORDER_FIRST")  # built-ins (core first) come before


def test_trace_plugins_logs_hook_calls(make_app, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="moviepulse.plugins.trace"):
        make_app(TRACE_PLUGINS=True)
    assert any("startup" in record.getMessage() for record in caplog.records)
