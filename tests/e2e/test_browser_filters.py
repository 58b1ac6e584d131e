"""Browser flows: an audience change updates every widget without navigation; the URL restores the view."""

from __future__ import annotations

import json
from collections import defaultdict
from urllib.parse import parse_qs, urlparse

import pytest

from tests.visual import harness

pytestmark = pytest.mark.e2e

#: The widgets of the Overview page (instance id ``overview``).
OVERVIEW = ("ctr-line", "experiment-ztest", "ssr-insights", "queue-stats", "ingestion-health")
#: Widgets whose data depends on the audience (the others say so, or show current state).
AUDIENCE_BOUND = ("ctr-line", "experiment-ztest")
AUDIENCE = ("device:mobile", "Mobile")


class CallbackLog:
    """Widget outputs delivered by ``/_dash-update-component`` responses, per widget slug.

    The handler only keeps the response objects; bodies are read later, outside the event handler.
    """

    def __init__(self, page) -> None:
        self.responses: list = []
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if urlparse(response.url).path.endswith("/_dash-update-component") and response.status == 200:
            self.responses.append(response)

    @property
    def by_widget(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for response in list(self.responses):
            payload = json.loads(response.body() or b"{}").get("response", {})
            parts: dict[str, dict[str, object]] = defaultdict(dict)
            for ident, props in payload.items():
                if ident.startswith("{"):
                    key = json.loads(ident)
                    if key.get("widget"):
                        parts[key["widget"]][str(key.get("part"))] = props
            for slug, outputs in parts.items():
                out[slug].append(json.dumps(outputs, sort_keys=True))
        return out

    def clear(self) -> None:
        self.responses.clear()


def card_texts(page) -> dict[str, str]:
    return {slug: harness.widget_locator(page, slug, "overview").inner_text() for slug in OVERVIEW}


def choose_audience(page, label: str) -> None:
    page.locator("#mp-filter-audience").click()
    page.get_by_role("option", name=label, exact=True).click()


def test_audience_change_updates_every_widget_without_navigation(admin_context, live_url):
    page = admin_context.new_page()
    log = CallbackLog(page)
    watcher = harness.DashWatcher(page)
    loads: list[str] = []
    page.goto(harness.dashboard_url(live_url, ""))
    assert sorted(watcher.wait_widgets()) == sorted(f"{slug}--overview" for slug in OVERVIEW)
    initial = log.by_widget
    assert set(initial) >= set(OVERVIEW)  # every widget filled by its callback on load
    before_payload = {slug: initial[slug][-1] for slug in OVERVIEW}
    before_text = card_texts(page)
    page.on("load", lambda: loads.append(page.url))
    page.evaluate("window.__mpSameDocument = 'still here'")
    log.clear()
    watcher.reset()

    choose_audience(page, AUDIENCE[1])
    page.wait_for_function("() => new URLSearchParams(location.search).get('audience') === 'device:mobile'")
    watcher.wait_widgets()

    assert loads == []  # no page load event ...
    assert page.evaluate("window.__mpSameDocument") == "still here"  # ... and the same document
    assert parse_qs(urlparse(page.url).query)["audience"] == [AUDIENCE[0]]
    updated = log.by_widget
    missing = [slug for slug in OVERVIEW if not updated.get(slug)]
    assert not missing, f"widgets not updated by a callback after the filter change: {missing}"
    after_text = card_texts(page)
    for slug in AUDIENCE_BOUND:
        assert updated[slug][-1] != before_payload[slug], f"{slug} shows the same data for another audience"
    assert after_text["experiment-ztest"] != before_text["experiment-ztest"]
    assert "SSR has no audiences" in after_text["ssr-insights"]  # it says why its numbers stay
    page.close()


def test_url_restores_the_same_view_in_a_new_context(admin_context, browser, live_url):
    url = harness.dashboard_url(live_url, "ctr", harness.RANGE[1].replace(day=10), harness.RANGE[1], AUDIENCE[0])
    first = admin_context.new_page()
    first_log = CallbackLog(first)
    first_watcher = harness.DashWatcher(first)
    first.goto(url)
    first_watcher.wait_widgets()
    shared = first.url
    assert parse_qs(urlparse(shared).query) == {"start": ["2026-11-10"], "end": ["2026-11-19"],
                                                "audience": [AUDIENCE[0]]}
    slugs = ("ctr-line", "ctr-bars", "placement-funnel")
    expected = {slug: first_log.by_widget[slug][-1] for slug in slugs}
    expected_text = {slug: harness.widget_locator(first, slug, "ctr").locator("table, [data-state]").all_inner_texts()
                     for slug in slugs}

    fresh = harness.new_context(browser)
    try:
        page = fresh.new_page()
        log = CallbackLog(page)
        watcher = harness.DashWatcher(page)
        target = urlparse(shared)
        harness.login(page, live_url, next_path=f"{target.path}?{target.query}")
        page.wait_for_url(lambda u: urlparse(u).path == "/admin/ctr")
        watcher.wait_widgets()
        assert parse_qs(urlparse(page.url).query) == parse_qs(target.query)
        assert page.locator("#mp-filter-audience").inner_text().strip().startswith(AUDIENCE[1])
        assert page.locator("#mp-filter-start").input_value() == "2026-11-10"
        assert page.locator("#mp-filter-end").input_value() == "2026-11-19"
        restored = log.by_widget
        for slug in slugs:  # the same figures, tables and states, from the URL alone
            assert restored[slug][-1] == expected[slug], slug
            card = harness.widget_locator(page, slug, "ctr")
            assert card.locator("table, [data-state]").all_inner_texts() == expected_text[slug], slug
    finally:
        fresh.close()
        first.close()
