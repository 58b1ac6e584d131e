"""Shared fixtures: an app per test on a fresh SQLite file, immediate Huey, a client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

os.environ.setdefault("MOVIEPULSE_ENV", "testing")


@pytest.fixture
def make_app(tmp_path):
    """Factory: ``make_app(**overrides)`` -> a testing app with its tables created."""
    from moviepulse.app import create_app
    from moviepulse.extensions import db

    created: list[Flask] = []

    def factory(env: str = "testing", **overrides) -> Flask:
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / f'mp{len(created)}.db'}")
        overrides.setdefault("INSTANCE_PATH", str(tmp_path / "instance"))
        app = create_app(env, **overrides)
        with app.app_context():
            db.create_all()
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


# -- CI: a skipped test is a failure unless its reason is one CI accepts ----------------------
CI_ACCEPTED_SKIP_PREFIX = "ci-accepted:"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes") or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if CI_ACCEPTED_SKIP_PREFIX not in reason:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI without an accepted reason ({CI_ACCEPTED_SKIP_PREFIX} …): {reason}"


def pytest_addoption(parser):
    """``--update-snapshots``: (re)write the visual baselines instead of comparing (tests/visual/snapshots.py)."""
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="re-take the visual baselines under tests/visual/baselines/ (make snapshots-update)")
