"""Fixtures of the visual tier (``pytest -m visual``): a frozen clock, two seeded worlds served live,
one chromium for the package, one logged-in page per world, and the snapshot store.

Update the baselines with ``make snapshots-update`` (``pytest -m visual --update-snapshots``); see
``tests/visual/snapshots.py`` for how comparison and browser upgrades work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.visual import harness
from tests.visual.snapshots import SnapshotStore


@pytest.fixture(scope="package")
def frozen_now() -> Iterator[Any]:
    with harness.frozen_clock() as traveller:
        yield traveller


@pytest.fixture(scope="package")
def worlds(frozen_now, tmp_path_factory) -> Iterator[dict[str, harness.LiveServer]]:
    """``calm`` (normal data) and ``trouble`` (drift, SSR warning, open breaker), each served live."""
    servers: dict[str, harness.LiveServer] = {}
    try:
        for name in ("calm", "trouble"):
            app = harness.make_app(tmp_path_factory.mktemp(f"visual-{name}"))
            harness.seed_world(app, trouble=name == "trouble")
            servers[name] = harness.LiveServer(app).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="package")
def browser(frozen_now) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = harness.launch_browser(p)
        yield b
        b.close()


@pytest.fixture(scope="package")
def snapshots(browser, request) -> Iterator[SnapshotStore]:
    store = SnapshotStore(browser.version, update=request.config.getoption("--update-snapshots"))
    yield store
    if store.update and store.written:
        from importlib.metadata import version

        store.write_meta({"playwright": version("playwright"),
                          "viewport": harness.CONTEXT_OPTIONS["viewport"], "device_scale_factor": 1})


class Views:
    """One logged-in page per world; navigates only when the requested view changes."""

    def __init__(self, browser: Any, worlds: dict[str, harness.LiveServer]) -> None:
        self.browser, self.worlds = browser, worlds
        self.pages: dict[str, Any] = {}
        self.watchers: dict[str, harness.DashWatcher] = {}
        self.current: dict[str, str] = {}
        self.contexts: list[Any] = []

    def show(self, world: str, page_slug: str, start: Any = harness.RANGE[0], end: Any = harness.RANGE[1],
             audience: str = "global") -> Any:
        server = self.worlds[world]
        if world not in self.pages:
            context = harness.logged_in_context(self.browser, server.url)
            self.contexts.append(context)
            self.pages[world] = context.new_page()
            self.watchers[world] = harness.DashWatcher(self.pages[world])
        page, watcher = self.pages[world], self.watchers[world]
        url = harness.dashboard_url(server.url, page_slug, start, end, audience)
        previous = self.current.get(world)
        if previous != url:
            watcher.reset()
            if previous is not None and previous.split("?", 1)[1] == url.split("?", 1)[1]:
                # same filters, another page: follow the nav link (no reload, plotly.js stays parsed)
                page.locator(f"#mp-nav-{page_slug or 'overview'}").click()
                page.wait_for_url(url)
            else:
                page.goto(url, wait_until="load")
            watcher.wait_widgets()
            self.current[world] = url
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="package")
def views(browser, worlds) -> Iterator[Views]:
    v = Views(browser, worlds)
    yield v
    v.close()
