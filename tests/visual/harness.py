"""Browser-test harness shared by tests/visual and tests/e2e: frozen clock, seeded worlds, live server, chromium.

* :func:`frozen_clock` — ``time_machine`` travel to :data:`FROZEN_NOW` (no ticking), so every
  "now" (``utcnow()``, breaker clocks, alert since-when, "today" filters) is the same on every run.
* :func:`seed_world` — deterministic data written through the real pipeline functions: events via
  ``moviepulse.site.tracking.record_events``, daily rollups via ``rollup_range``, reconciliation via
  ``reconcile``, SSR requests/audits/fingerprints through the SSR runtime buffer and its flush,
  alert evaluation, ingestion runs via ``RunRecorder``, breaker transitions via the source's
  circuit breaker, and queue ledger rows via ``apply_events``. ``trouble=True`` adds the telling
  states: a late-event drift on :data:`DRIFT_DAY`, slow requests that raise the p95 alert to
  warning, an open TMDB breaker, a long-waiting pending job.
* :class:`LiveServer` — werkzeug ``make_server`` in a thread on a random port.
* :func:`launch_browser` / :func:`new_context` / :func:`login` — Debian chromium with the flags and
  the deterministic context options of the stack notes.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 720}, "device_scale_factor": 1, "locale": "en-US",
    "timezone_id": "UTC", "color_scheme": "light", "reduced_motion": "reduce",
}

#: The frozen "now" of every browser test (naive UTC).
FROZEN_NOW = datetime(2026, 11, 20, 10, 0, 0)
#: The seeded window (14 full days ending yesterday) and a window with no data at all.
RANGE = (date(2026, 11, 6), date(2026, 11, 19))
EMPTY_RANGE = (date(2026, 6, 1), date(2026, 6, 14))
#: The day whose rollup the trouble world's late events make drift.
DRIFT_DAY = date(2026, 11, 12)

ADMIN_EMAIL = "visual-admin@example.test"
ADMIN_PASSWORD = "correct horse battery staple"

SSR_ROUTES = ("/", "/<locale>/movies/<int:movie_id>", "/<locale>/trends", "/<locale>/search")
LOCALES = ("en", "de", "fr")
FIELDS = ("title", "overview", "tagline")
FAILED_TASK = "queue.sweep"  # re-running it is harmless: it only re-enqueues stale running jobs


@contextmanager
def frozen_clock(moment: datetime = FROZEN_NOW) -> Iterator[Any]:
    """Freeze wall-clock time (``time.time``, ``datetime.now``) at ``moment`` (naive UTC)."""
    import time_machine

    traveller = time_machine.travel(moment.replace(tzinfo=UTC), tick=False)
    traveller.start()
    try:
        yield traveller
    finally:
        traveller.stop()


def dashboard_url(base: str, page: str = "", start: date = RANGE[0], end: date = RANGE[1],
                  audience: str = "global") -> str:
    """An explicit URL for a dashboard view (the date range never comes from the real date)."""
    query = urlencode({"start": start.isoformat(), "end": end.isoformat(), "audience": audience})
    return f"{base}/admin/{page}?{query}"


# -- the app and its data -------------------------------------------------------------------------
def make_app(tmp: Path, **overrides: Any) -> Any:
    from moviepulse.app import create_app
    from moviepulse.extensions import db

    tmp.mkdir(parents=True, exist_ok=True)
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'browser.db'}", "INSTANCE_PATH": str(tmp / "instance"),
              "DASHBOARD_REFRESH_SECONDS": 0, "WTF_CSRF_TIME_LIMIT": None, "LOAD_ENTRYPOINT_PLUGINS": False,
              **overrides}
    app = create_app("testing", **config)
    with app.app_context():
        db.create_all()
    return app


@dataclass
class World:
    """What a seeded world contains (tests assert against these, not against magic numbers)."""

    trouble: bool
    events: int
    failed_job_ids: list[int]
    drift_days: list[str]


def seed_world(app: Any, *, trouble: bool, seed: int = 11) -> World:
    """Seed every area through its real writer; call inside :func:`frozen_clock`."""
    from moviepulse.core.auth import create_admin

    with app.app_context():
        create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        events = _seed_events(app, seed)
        drift = _seed_rollups_and_reconcile(app, trouble)
        _seed_ingestion(app, trouble)
        _seed_ssr(app, trouble, seed)
        failed = _seed_queue(app, trouble)
    return World(trouble, events, failed, drift)


def _seed_events(app: Any, seed: int) -> int:
    from moviepulse.analytics.seed import generate_events
    from moviepulse.extensions import db
    from moviepulse.site.tracking import record_events

    rows, devices = generate_events(RANGE[0], (RANGE[1] - RANGE[0]).days + 1, devices=240,
                                    impressions_per_day=420, seed=seed, prefix="v")
    hints = {d["device_id"]: d for d in devices}
    total = 0
    for i in range(0, len(rows), 2000):
        batch = []
        for r in rows[i:i + 2000]:
            dev = hints.get(r["device_id"])
            batch.append({**r, "received_at": r["event_time"] + timedelta(seconds=2),
                          "device_type": r["device_type"] if r["is_bot"] or dev is None else dev["device_type"]})
        total += record_events(db.session, batch).accepted
    return total


def _seed_rollups_and_reconcile(app: Any, trouble: bool) -> list[str]:
    from moviepulse.analytics.reconcile import reconcile
    from moviepulse.analytics.rollups import rollup_range
    from moviepulse.extensions import db
    from moviepulse.site.tracking import record_events

    pulse = app.extensions["moviepulse"]
    with frozen_clock(datetime.combine(RANGE[1] + timedelta(days=1), time(1, 0))):
        rollup_range(db.session, RANGE[0], RANGE[1])
    if trouble:  # late beacons for DRIFT_DAY arrive after its rollup: reconciliation must flag it
        t0 = datetime.combine(DRIFT_DAY, time(15, 0))
        late = [{"event_id": f"late-{i}", "type": "impression", "event_time": t0 + timedelta(minutes=i),
                 "received_at": FROZEN_NOW - timedelta(hours=2), "device_id": f"late-device-{i % 7}",
                 "movie_id": 1 + i % 9, "placement": "home", "variant": "AB"[i % 2], "position": i % 6,
                 "locale": "en", "device_type": "desktop", "origin": "beacon"} for i in range(60)]
        with frozen_clock(FROZEN_NOW - timedelta(hours=2)):
            record_events(db.session, late)
    summary = reconcile(db.session, days=(RANGE[1] - RANGE[0]).days + 1, end=RANGE[1], pulse=pulse)
    return list(summary["flagged_days"])


def _seed_ingestion(app: Any, trouble: bool) -> None:
    from moviepulse.ingestion.runs import RunRecorder
    from moviepulse.ingestion.services import get_source

    pulse = app.extensions["moviepulse"]
    plans = [  # (start, movies requested, failed, OMDb fallbacks per locale, missing per locale)
        (datetime(2026, 11, 17, 3, 0), 40, 0, {"en": 0, "de": 6, "fr": 9}, {"en": 0, "de": 2, "fr": 3}),
        (datetime(2026, 11, 18, 3, 0), 25, 2, {"en": 1, "de": 4, "fr": 5}, {"en": 0, "de": 1, "fr": 4}),
        (datetime(2026, 11, 19, 3, 0), 30, 0, {"en": 0, "de": 3, "fr": 7}, {"en": 1, "de": 1, "fr": 2}),
    ]
    for started, requested, failed, omdb, missing in plans:
        with frozen_clock(started):
            run = RunRecorder(pulse, "list", "schedule", {"list": "popular", "pages": 2}, list(LOCALES), FIELDS)
        run.movie("requested", requested)
        run.movie("fetched", requested - failed)
        if failed:
            run.movie("failed", failed)
            run.error("tmdb:9999", "tmdb", "http_500", "upstream answered 500")
        run.movie("stored", requested - failed)
        for locale in LOCALES:
            slots = (requested - failed) * len(FIELDS)
            translated = slots - omdb[locale] - missing[locale]
            for _ in range(translated):
                run.slot(locale, "tmdb_translation" if locale != "en" else "tmdb_original")
            for _ in range(omdb[locale]):
                run.slot(locale, "omdb_fallback")
            for _ in range(missing[locale]):
                run.slot(locale, "missing", stored=False)
        run.source("tmdb", "requests", requested * 4)
        run.source("tmdb", "ok", requested * 4 - failed)
        run.source("omdb", "requests", sum(omdb.values()))
        run.source("omdb", "ok", sum(omdb.values()))
        with frozen_clock(started + timedelta(minutes=4, seconds=30)):
            run.finish()
    if trouble:  # five failed calls in the window open the TMDB breaker (and tell the SSR alerts)
        with frozen_clock(FROZEN_NOW - timedelta(minutes=20)):
            breaker = get_source(pulse, "tmdb").client.breaker
            for _ in range(breaker.config.min_calls):
                breaker.record(breaker.before_call(), False)


def _audit_html(quality: str) -> bytes:
    """A page body for the real HTML audit: ``good`` (100), ``no_ld`` (no JSON-LD: 90), ``bad`` (75)."""
    og = "".join(f'<meta property="og:{k}" content="x">' for k in ("title", "type", "image", "url"))
    head = '<meta charset="utf-8"><meta name="description" content="d">' + og
    if quality == "good":
        head += '<script type="application/ld+json">{"@type":"Movie"}</script>'
    elif quality == "bad":
        head += "".join(f'<script src="/static/app{i}.js"></script>' for i in range(3))
    return f"<!doctype html><html><head>{head}</head><body><h1>t</h1></body></html>".encode()


def _audit_quality(route: str, day: date, trouble: bool) -> str:
    if route == SSR_ROUTES[1] and day == RANGE[1]:
        return "no_ld"  # the movie page loses its JSON-LD on the last day: a drop, still passing
    if route == SSR_ROUTES[3] and trouble and day >= RANGE[1] - timedelta(days=2):
        return "bad"  # search pages pick up blocking scripts: a score warning and a repeat offender
    return "good"


def _seed_ssr(app: Any, trouble: bool, seed: int) -> None:
    from moviepulse.extensions import db
    from moviepulse.ssr.alerts import evaluate_alerts
    from moviepulse.ssr.audit import ScoreRules, audit_html
    from moviepulse.ssr.fingerprints import check_hit
    from moviepulse.ssr.runtime import flush_now, runtime

    rng = random.Random(seed)
    rt = runtime(app)
    rules = ScoreRules.from_config(app.config)
    apdex_t = float(app.config.get("SSR_APDEX_T_MS", 500))
    base_ms = {SSR_ROUTES[0]: 90.0, SSR_ROUTES[1]: 140.0, SSR_ROUTES[2]: 210.0, SSR_ROUTES[3]: 320.0}

    def minute(moment: datetime) -> int:
        return int(moment.replace(tzinfo=UTC).timestamp() // 60)

    day = RANGE[0]
    while day <= RANGE[1]:
        for r_index, route in enumerate(SSR_ROUTES):
            for k in range(60):
                moment = datetime.combine(day, time(6, 0)) + timedelta(minutes=k * 12 + r_index)
                ms = base_ms[route] * (0.6 + rng.random() * 0.9) * (3.5 if k % 29 == 0 else 1.0)
                status = 500 if (route == SSR_ROUTES[3] and k % 31 == 7) else 200
                score = None
                if k == 30:  # the sampled request: audited like the middleware does
                    audit = audit_html(_audit_html(_audit_quality(route, day, trouble)), rules)
                    score, c = audit.score, audit.counts
                    rid = f"req-{day:%m%d}-{r_index}"
                    rt.buffer.record_audit({
                        "recorded_at": moment, "route": route, "path": route.replace("<locale>", "en").replace(
                            "<int:movie_id>", "42"), "method": "GET", "status": status, "server_ms": round(ms, 3),
                        "locale": "en", "variant": "A", "request_id": rid, "self_crawl": True,
                        "html_bytes": c.html_bytes, "meta_count": c.meta, "og_count": c.og,
                        "ldjson_count": c.ldjson, "img_count": c.img, "blocking_scripts": c.blocking,
                        "score": audit.score, "failing": audit.failing,
                    })
                    for check in audit.failing:
                        rt.buffer.record_fingerprint(check_hit(check, route, moment, {
                            "request_id": rid, "path": route, "locale": "en", "score": audit.score}))
                rt.buffer.record_request(route, minute(moment), ms, status, apdex_t, score)
        day += timedelta(days=1)
    # the last 15 minutes before "now": normal, or slow enough for a p95 warning on the trends page
    for k in range(40):
        moment = FROZEN_NOW - timedelta(minutes=14) + timedelta(seconds=k * 20)
        for route in SSR_ROUTES[:3]:
            slow = trouble and route == SSR_ROUTES[2]
            ms = (1100.0 + (k % 5) * 60) if slow else base_ms[route] * (0.8 + (k % 4) * 0.1)
            rt.buffer.record_request(route, minute(moment), ms, 200, apdex_t)
    flush_now(app)
    pulse = app.extensions["moviepulse"]
    rules_list = [r() if isinstance(r, type) else r for r in pulse.alert_rules]
    evaluate_alerts(db.session, rules_list, app.config, now=FROZEN_NOW)
    db.session.commit()


def _seed_queue(app: Any, trouble: bool) -> list[int]:
    from sqlalchemy import select

    from moviepulse.analytics.queue import QueueEvent, apply_events
    from moviepulse.extensions import db
    from moviepulse.models.jobs import JobRecord

    events: list[QueueEvent] = []
    n = 0

    def job(name: str, enqueued: datetime, wait_s: float, run_s: float, outcome: str, args: Any = None,
            error: str | None = None) -> str:
        nonlocal n
        n += 1
        tid = f"job-{n:04d}"
        payload = args if args is not None else {"args": [], "kwargs": {}}
        events.append(QueueEvent("enqueued", tid, name, payload, 0, None, enqueued, None))
        if outcome == "pending":
            return tid
        started = enqueued + timedelta(seconds=wait_s)
        events.append(QueueEvent("executing", tid, name, None, 0, None, started, None))
        done = started + timedelta(seconds=run_s)
        if outcome == "complete":
            events.append(QueueEvent("complete", tid, name, None, 0, None, done, None))
        else:
            events.append(QueueEvent("error", tid, name, None, 0, None, done, error))
        return tid

    day = RANGE[1] - timedelta(days=2)
    while day <= RANGE[1]:
        for h in range(0, 24, 3):
            at = datetime.combine(day, time(h, 5))
            job("ctr.rollup", at, 0.4 + (h % 4) * 0.3, 1.5 + (h % 3), "complete")
            job("ssr.evaluate_alerts", at + timedelta(minutes=1), 0.2, 0.3, "complete")
            if h % 6 == 0:
                job("ingestion.import_list", at + timedelta(minutes=2), 2.0, 40.0 + h, "complete")
        day += timedelta(days=1)
    failed = [job(FAILED_TASK, datetime(2026, 11, 19, 14, 30), 0.5, 0.8, "error",
                  error="OperationalError: database is locked")]
    if trouble:
        failed.append(job(FAILED_TASK, datetime(2026, 11, 19, 16, 45), 0.5, 1.2, "error",
                          error="TimeoutError: upstream did not answer in 30 s"))
        job("ingestion.import_list", FROZEN_NOW - timedelta(minutes=7), 0, 0, "pending")
    apply_events(db.session, events)
    ids = db.session.scalars(select(JobRecord.id).where(JobRecord.task_id.in_(failed)).order_by(JobRecord.id)).all()
    db.session.commit()
    return list(ids)


# -- serving ------------------------------------------------------------------------------------
class LiveServer:
    """``app`` served by werkzeug in a daemon thread on a random local port."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        from moviepulse.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- the browser --------------------------------------------------------------------------------
def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Any, **overrides: Any) -> Any:
    return browser.new_context(**{**CONTEXT_OPTIONS, **overrides})


def login(page: Any, base_url: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD,
          next_path: str | None = None) -> None:
    """Sign in through the real login form (CSRF token and all)."""
    url = f"{base_url}/admin/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    page.goto(url)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/admin/login" not in u)


def logged_in_context(browser: Any, base_url: str, **overrides: Any) -> Any:
    """A new deterministic context whose cookie jar holds an admin session."""
    context = new_context(browser, **overrides)
    page = context.new_page()
    login(page, base_url)
    page.close()
    return context


def widget_locator(page: Any, slug: str, instance: str) -> Any:
    return page.locator(f"#w-{slug}--{instance}")


class DashWatcher:
    """Follows a page's Dash callbacks: requests in flight and the widgets whose outputs were answered.

    ``reset()`` before a navigation or a filter change, then ``wait_widgets(page)`` waits until every
    widget card on the page got an answer from its callback, nothing is in flight and Dash is idle
    (more robust than ``networkidle``, which fires in a lull while plotly.js is still being parsed).
    """

    def __init__(self, page: Any) -> None:
        self.page = page
        self.inflight: set[Any] = set()
        self.answered: set[str] = set()
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._finished)

    @staticmethod
    def _is_callback(request: Any) -> bool:
        return request.method == "POST" and "/_dash-update-component" in request.url

    def _started(self, request: Any) -> None:
        if self._is_callback(request):
            self.inflight.add(request)

    def _finished(self, request: Any) -> None:
        if not self._is_callback(request):
            return
        self.inflight.discard(request)
        try:
            import json

            body = json.loads(request.post_data or "{}")
        except ValueError:
            return
        outputs = body.get("outputs")
        for out in outputs if isinstance(outputs, list) else [outputs]:
            ident = (out or {}).get("id") if isinstance(out, dict) else None
            if isinstance(ident, dict) and ident.get("widget"):
                self.answered.add(f"{ident['widget']}--{ident.get('instance')}")

    def reset(self) -> None:
        self.answered.clear()

    def wait_widgets(self, timeout_s: float = 60.0) -> list[str]:
        """Wait for every ``[data-widget]`` card of the current page to be answered; returns their keys."""
        import time as _time

        from tests.visual.snapshots import DASH_IDLE_JS

        page = self.page
        page.wait_for_selector("#mp-page [data-page]", timeout=timeout_s * 1000)
        deadline = _time.monotonic() + timeout_s  # monotonic: not moved by the frozen clock
        while True:
            cards = page.eval_on_selector_all(
                "#mp-page [data-widget]", "els => els.map(e => e.dataset.widget + '--' + e.dataset.instance)")
            waiting = [c for c in cards if c not in self.answered]
            if not waiting and not self.inflight and page.evaluate(DASH_IDLE_JS):
                return cards
            if _time.monotonic() > deadline:
                raise AssertionError(f"widgets not answered after {timeout_s:.0f} s: {waiting}; "
                                     f"{len(self.inflight)} callback(s) in flight")
            page.wait_for_timeout(50)
