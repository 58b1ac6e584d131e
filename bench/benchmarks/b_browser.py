"""The dashboard in headless Chromium: first load of Overview and a filter round-trip (issue 6).

The full app on the seeded data set (every day rolled up) is served by Werkzeug (threaded) on a
local port; Chromium (Playwright) logs in through the real form once. Two cases, in ms:

* "first load": candidate = open ``/admin/?start&end&audience`` in a new page; time from
  navigation start to the end of the last response (document, assets, every widget callback),
  read from the Performance API once no Dash component is loading; baseline = the login page
  (a small server-rendered page from the same server: the browser + server floor);
* "filter round-trip": candidate = pick another audience in the filter bar; time from the click
  to the end of the last callback response (no navigation); baseline = a same-origin ``fetch``.

Targets: first load ≤ 2 s (demo data; here on the benchmark data set), filter p95 ≤ 1 s.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

from bench import common
from bench.benchmarks.b_queries import ensure_rollups
from bench.benchmarks.b_rollup import dataset_days, dataset_size
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
IDLE_JS = "() => !document.querySelector('[data-dash-is-loading=\"true\"]')"
EMAIL, PASSWORD = "bench-admin@example.test", "bench horse battery staple 42"
AUDIENCES = (("device:mobile", "Mobile"), ("device:desktop", "Desktop"))
#: The end of the last response that started at or after ``since`` (ms on the page's clock).
LAST_RESPONSE_JS = """(since) => {
  const ends = performance.getEntriesByType('resource').filter(e => e.startTime >= since).map(e => e.responseEnd);
  const nav = performance.getEntriesByType('navigation')[0];
  if (since === 0 && nav) ends.push(nav.loadEventEnd);
  return Math.max(since, ...ends);
}"""


@benchmark("browser", title="Dashboard in headless Chromium: first load and filter round-trip", issue="issue 6")
def build(ctx: Context) -> Plan:
    common.require("moviepulse.dash_app", what="moviepulse.dash_app")
    sync_api = common.require("playwright.sync_api", what="playwright (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        raise NotAvailable(f"Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    create_admin = common.require("moviepulse.core.auth", "create_admin")
    n = dataset_size(ctx)
    path = common.dataset(ctx, n)
    app = common.make_app(path, SSR_ACCESS_LOG=False)
    ensure_rollups(ctx, app, path)
    with app.app_context():
        create_admin(EMAIL, PASSWORD)
    if not common.has_route(app, "/admin"):
        raise NotAvailable("the Dash dashboard under /admin/")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    first, last = dataset_days(path)
    end = last - timedelta(days=1)
    start = end - timedelta(days=29)
    url = f"{base}/admin/?" + urlencode({"start": start.isoformat(), "end": end.isoformat(), "audience": "global"})

    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    login = context.new_page()
    login.goto(f"{base}/admin/login")
    login.get_by_label("E-mail").fill(EMAIL)
    login.get_by_label("Password").fill(PASSWORD)
    login.get_by_role("button", name="Sign in").click()
    login.wait_for_url(lambda u: "/admin/login" not in u)
    login.close()
    timeout = 60_000

    def settle(page) -> None:
        page.wait_for_load_state("networkidle", timeout=timeout)
        page.wait_for_function(IDLE_JS, timeout=timeout)

    def load_time(ctx_, target: str, dash: bool) -> float:
        """Navigation start -> the end of the last response (document, assets, every callback), browser clock.

        Waiting for "network idle" adds 500 ms of silence to any wall-clock measure, so the time is read
        from the page's own Performance API once the page has settled.
        """
        page = ctx_.new_page()
        page.add_init_script("performance.setResourceTimingBufferSize(100000)")
        page.goto(target, wait_until="load", timeout=timeout)
        if dash:
            settle(page)
        else:
            page.wait_for_load_state("networkidle", timeout=timeout)
        ms = page.evaluate(LAST_RESPONSE_JS, 0)
        page.close()
        return float(ms)

    def first_load() -> float:
        return load_time(context, url, True)

    anon = browser.new_context()

    def static_load() -> float:
        return load_time(anon, f"{base}/admin/login", False)

    page = context.new_page()
    page.add_init_script("performance.setResourceTimingBufferSize(100000)")
    page.goto(url, timeout=timeout)
    settle(page)
    state = {"i": 0}

    def filter_roundtrip() -> float:
        """From the click on the option to the end of the last callback response it caused."""
        slug, label = AUDIENCES[state["i"] % len(AUDIENCES)]
        state["i"] += 1
        page.locator("#mp-filter-audience").click()
        option = page.get_by_role("option", name=label, exact=True)
        option.wait_for(timeout=timeout)
        t0 = page.evaluate("() => { performance.clearResourceTimings(); return performance.now(); }")
        option.click()
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('audience') === '{slug}'",
                               timeout=timeout)
        settle(page)
        return float(page.evaluate(LAST_RESPONSE_JS, t0)) - float(t0)

    def fetch_floor() -> float:
        t = time.perf_counter()
        page.evaluate("async (u) => { const r = await fetch(u); await r.text(); }", f"{base}/healthz")
        return (time.perf_counter() - t) * 1000

    rounds = ctx.rounds or ctx.pick(1, 7)
    load = Case("first load of Overview (30 days)", "ms",
                [Variant("login page load (floor)", static_load, baseline=True),
                 Variant("Overview first load", first_load)], rounds=rounds, warmup=ctx.pick(0, 1))
    filt = Case("audience filter round-trip", "ms",
                [Variant("same-origin fetch (floor)", fetch_floor, baseline=True),
                 Variant("audience change, all widgets settled", filter_roundtrip)],
                rounds=ctx.rounds or ctx.pick(2, 20), warmup=ctx.pick(0, 1))

    def cleanup() -> None:
        for closer in (page.close, context.close, anon.close, browser.close, pw.stop, server.shutdown):
            try:
                closer()
            except Exception:  # noqa: BLE001 - best effort
                pass
        common.dispose_app(app)

    return Plan(cases=[load, filt], cleanup=cleanup, params={"dataset_events": n, "from": str(start), "to": str(end)},
                notes=[f"data set: {n:,} events; window {start} .. {end}"],
                targets=[Target("Overview first load median (ms)", lambda r: r[load.name]["Overview first load"].median,
                                2000, "<=", "issue 6"),
                         Target("filter round-trip p95 (ms)",
                                lambda r: r[filt.name]["audience change, all widgets settled"].p95, 1000, "<=",
                                "issue 6")])
