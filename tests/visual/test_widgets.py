"""One baseline per dashboard widget and per telling state (element screenshots by the card's stable id).

States: ``normal`` (calm world, the seeded range), ``empty`` (a range with no data: "no data for this
audience and range"), ``warning`` (SSR insights with a p95 and a score alert), ``drift`` (reconciliation
flagged a day of the window), ``breaker-open`` (ingestion health with the TMDB breaker open).
"""

from __future__ import annotations

import pytest

from tests.visual import harness
from tests.visual.snapshots import stable_screenshot

pytestmark = pytest.mark.visual

#: widget slug -> the dashboard page it lives on (its instance id there is the page slug)
WIDGETS = {
    "ctr-line": "ctr", "ctr-bars": "ctr", "placement-funnel": "ctr",
    "experiment-ztest": "experiments",
    "ssr-stats": "ssr", "ssr-insights": "ssr", "ssr-drops": "ssr",
    "ingestion-funnel": "ingestion", "ingestion-health": "ingestion",
    "queue-stats": "queue", "queue-failed": "queue",
}
#: ingestion health shows current state, not a range: its empty state would equal its normal one
RANGE_BOUND = [slug for slug in WIDGETS if slug != "ingestion-health"]

CASES = (
    [("calm", slug, "normal", harness.RANGE) for slug in WIDGETS]
    + [("calm", slug, "empty", harness.EMPTY_RANGE) for slug in RANGE_BOUND]
    + [("trouble", "ssr-insights", "warning", harness.RANGE)]
    + [("trouble", slug, "drift", harness.RANGE) for slug in ("ctr-line", "experiment-ztest", "queue-stats")]
    + [("trouble", "ingestion-health", "breaker-open", harness.RANGE)]
)
# group by world, page and range so that each view is loaded once
CASES.sort(key=lambda c: (c[0], c[3], WIDGETS[c[1]]))


@pytest.mark.parametrize(("world", "slug", "state", "window"), CASES,
                         ids=[f"{c[1]}--{c[2]}" for c in CASES])
def test_widget_snapshot(views, snapshots, world, slug, state, window):
    page_slug = WIDGETS[slug]
    page = views.show(world, page_slug, *window)
    card = harness.widget_locator(page, slug, page_slug)
    card.wait_for(state="visible")
    if state == "empty":
        assert card.locator("[data-state]").count() >= 1 or "No " in card.inner_text()
    png = stable_screenshot(page, card)
    snapshots.assert_match(png, f"{slug}--{state}")


def test_baselines_were_taken_with_this_chromium(snapshots):
    """A chromium major upgrade is reported as such (re-baseline), before any pixel is compared."""
    snapshots.check_browser()
    if not snapshots.update:
        assert snapshots.path("ctr-line--normal").is_file(), "no baselines for this chromium: make snapshots-update"
