"""Fixtures of the browser flows (``pytest -m e2e``): one seeded app served live for the package, one
chromium per test module, module-scoped logged-in contexts for read-only tests.

The data is seeded under a frozen clock (tests/visual/harness.py); the server then runs on the real
clock, and every dashboard URL carries an explicit date range, so nothing depends on today's date.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.visual import harness


@pytest.fixture(scope="package")
def e2e_world(tmp_path_factory) -> Iterator[tuple[harness.LiveServer, harness.World]]:
    """The trouble world (failed tasks to retry, drift, alerts) served live: ``(server, world)``."""
    with harness.frozen_clock():
        app = harness.make_app(tmp_path_factory.mktemp("e2e"))
        world = harness.seed_world(app, trouble=True)
    server = harness.LiveServer(app).start()
    yield server, world
    server.stop()


@pytest.fixture(scope="package")
def live_url(e2e_world) -> str:
    return e2e_world[0].url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = harness.launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def context(browser) -> Iterator[Any]:
    """A fresh anonymous context (no cookies)."""
    ctx = harness.new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def admin_context(browser, live_url) -> Iterator[Any]:
    """A logged-in context shared by the read-only tests of a module."""
    ctx = harness.logged_in_context(browser, live_url)
    yield ctx
    ctx.close()
