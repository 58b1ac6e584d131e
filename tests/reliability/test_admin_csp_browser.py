"""The dashboard runs under its Content-Security-Policy in headless Chromium with zero violations:
every page is visited logged in (``debug=False``), every widget's callback is answered, and the
browser reports no ``securitypolicyviolation`` event and no CSP console error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.visual import harness

pytestmark = [pytest.mark.slow]

WATCH_CSP = ("window.__csp = [];"
             "document.addEventListener('securitypolicyviolation', e => window.__csp.push("
             "[e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' ')));")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[Any]:
    if not os.path.exists(harness.CHROMIUM_PATH):
        pytest.skip(f"no Chromium at {harness.CHROMIUM_PATH}")
    with harness.frozen_clock():
        app = harness.make_app(tmp_path_factory.mktemp("csp"), DEBUG=False)
        harness.seed_world(app, trouble=True)
    server = harness.LiveServer(app).start()
    yield app, server
    server.stop()


def test_dashboard_runs_under_its_csp_with_zero_violations(world):
    from playwright.sync_api import sync_playwright

    app, server = world
    pages = [""] + [p.slug for p in sorted(app.extensions["moviepulse"].pages, key=lambda p: p.order)
                    if p.slug != "overview"]
    violations: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = harness.launch_browser(p)
        try:
            context = harness.new_context(browser)
            context.add_init_script(WATCH_CSP)
            page = context.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.url}/admin/login")
            assert context.request.get(f"{server.url}/admin/login").headers.get("content-security-policy")
            violations += page.evaluate("window.__csp")
            harness.login(page, server.url)
            page.wait_for_load_state()
            rendered = {}
            for slug in pages:
                watcher = harness.DashWatcher(page)
                page.goto(harness.dashboard_url(server.url, slug))
                rendered[slug] = watcher.wait_widgets(120)
                violations += [f"{slug or 'overview'}: {v}" for v in page.evaluate("window.__csp")]
        finally:
            browser.close()
    assert all(rendered[s] for s in pages if s != "plugins"), rendered  # the callbacks ran
    assert violations == []
    assert [m for m in console if "Content Security Policy" in m] == []
