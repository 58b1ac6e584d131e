"""The long soak (issue 9, item 6): sustained ingestion on PostgreSQL + Redis while Huey consumers are
killed with ``kill -9`` and admins use the dashboard; nothing accepted may be lost, no job either.

Deployment, as real processes (``tests/support``): a fresh PostgreSQL database migrated with
``moviepulse db upgrade``, a private ``redis-server`` (no persistence, like the shared one; the shared
one on 6379 is used only when ``redis-server`` is missing), ``gunicorn`` with 2 workers × 2 threads
(env ``staging``), and two ``huey_consumer`` processes (2 threads each). Consumer 0 runs the app's own
periodic schedule (``ROLLUP_INTERVAL_SECONDS`` = ``QUEUE_SWEEP_INTERVAL_SECONDS`` = 60, the minimum of
the minute-granular scheduler; ``QUEUE_SWEEP_STALE_SECONDS`` = 30), consumer 1 runs with ``-n`` (one
scheduler per deployment, as Huey wants). The daily ``reconciliation.reconcile`` would not fire in
ten minutes, so once a minute the bench also enqueues ``ctr.rollup``, ``reconciliation.reconcile`` and
``queue.sweep`` the way the admin "run now" does, 1.5 s before the kill so that real jobs are in flight.

Load: 50 batches/s × 100 events posted on a fixed schedule (open loop) by 12 client threads over
keep-alive connections; each batch gets fresh UUIDv4 ids, 80 % of its events are "now", 15 % earlier
today and 5 % one to three days old (late beacons: the hourly, catch-up and reconciliation work reads
them). A batch answered with a 5xx/429 or a transport error is re-sent as is (same ids) up to 5 times,
like a beacon client. Latency = first send → final answer; "lag" = scheduled time → first send.

Timeline: R rounds (10 full, 3 quick), each a quiet window (10 s; 5 s quick) then a fault window
(50 s; 10 s quick). Ingestion never stops. In the fault window N logged-in admin sessions (10; 4
quick; ``requests.Session`` through the real login form) each change a filter every 1–3 s on one of
the Overview / CTR / Experiments / Queue pages, which fires every widget callback of that page at
once (``POST /admin/_dash-update-component``, as the Dash renderer does), and one consumer
(alternately 0 and 1) is ``kill -9``'ed 15 s (4 s quick) into the window and restarted at once: a kill
a minute in the full run.

Baseline: the quiet windows — the same POST rate in the same run, with no dashboard sessions and no
kill, interleaved with the fault windows so that both see the same machine load and the same growing
table. Each sample is one window's POST p95; the ratio is what faults + dashboard load cost in p95.
(Raw psycopg inserts would be a throughput baseline, which ``ingest_server`` already measures.)

After the last window the load stops, then: time until Huey's queue and schedule are empty and no
ledger row is pending/scheduled/running/retrying; Σ accepted vs ``count(*)`` of beacon ``events`` (the
hourly ``ssr.self_crawl`` stores server-side events of its own); the job ledger followed through the
sweeper's ``retried_as`` links (a job is lost when its chain does not end ``complete`` or ``error``);
each widget's callback once more with the load stopped, and how many of today's events no rollup
covers yet (the dashboard aggregates those raw). Targets: accepted = stored, every event sent
accepted, no POST attempt answered other than 200, 0 jobs lost, 0 jobs failed, queue back to 0 within
120 s, callback and filter-change p95 ≤ 1 s (issue 6), every callback 200; POST p50/p95/p99 are
reported. The structured summary is in the JSON result's ``params.summary``; when something is lost or
fails, the processes' logs are kept (the path is in the notes).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Queue
from typing import Any

from bench import common, datagen
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "soak-admin@example.test", "soak horse battery staple 42"
UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.0 Safari/605.1")
RATE = 50.0  # batches per second
BATCH = 100  # events per batch
SENDERS = 12
MOVIES = 500
PAGES = ("overview", "ctr", "experiments", "queue")
AUDIENCES = ("global", "device:mobile", "device:desktop")
REAL_TASKS = ("ctr.rollup", "reconciliation.reconcile", "queue.sweep")
OPEN_STATES = ("pending", "scheduled", "running", "retrying")
DRAIN_TARGET_S = 120.0
SETTINGS = {
    "MOVIEPULSE_QUEUE_SWEEP_STALE_SECONDS": "30",
    "MOVIEPULSE_QUEUE_SWEEP_INTERVAL_SECONDS": "60",
    "MOVIEPULSE_ROLLUP_INTERVAL_SECONDS": "60",
    "MOVIEPULSE_LOG_LEVEL": "WARNING",
    "MOVIEPULSE_SSR_ACCESS_LOG": "false",
}


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (as the harness computes p95); ``None`` for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PrivateRedis:
    """A ``redis-server`` on a free port for this run only (no persistence, like the shared one)."""

    def __init__(self, workdir: Path, free_port: Callable[[], int]) -> None:
        import redis

        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise NotAvailable(f"redis-server did not start on port {self.port}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class _HttpClient:
    """What ``moviepulse.dash_app.testing.post_callback`` needs from a client, over real HTTP."""

    def __init__(self, session: Any, base: str) -> None:
        self.session, self.base = session, base

    def post(self, path: str, json: Any) -> Any:  # noqa: A002 - the test client's signature
        return self.session.post(self.base + path, json=json, timeout=60)


class Soak:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.rounds = ctx.rounds or ctx.pick(3, 10)
        self.quiet_s = float(ctx.pick(5, 10))
        self.fault_s = float(ctx.pick(10, 50))
        self.kill_offset_s = float(ctx.pick(4, 15))
        self.sessions_n = int(ctx.pick(4, 10))
        self.drain_timeout_s = float(ctx.pick(180, 300))
        self.cleanups: list[Callable[[], None]] = []
        self.notes: list[str] = []
        self.keep_workdir = False
        # shared state of the load
        self.posts: list[tuple] = []  # (k, at, start, end, status, attempts, accepted, duplicates, rejected)
        self.callbacks: list[tuple] = []  # (start, seconds, status, slug)
        self.changes: list[tuple] = []  # (start, seconds, page, all_ok)
        self.bad_attempts: list[Any] = []  # status (or exception name) of every POST attempt that was not a 200
        self.callback_resends: list[tuple] = []  # (start, slug, error) of callbacks re-sent after a ConnectionError
        self.kills: list[dict[str, Any]] = []
        self.enqueued: list[str] = []  # Huey ids of the jobs this bench enqueued
        self.windows: list[tuple[str, float, float]] = []
        self.todo: Queue = Queue()
        self.stop_load = threading.Event()
        self.stop_dash = threading.Event()
        self.dash_on = threading.Event()
        self.threads: list[threading.Thread] = []
        self.dash_threads: list[threading.Thread] = []
        self.t0: float | None = None  # monotonic time of batch 0
        self.cursor: float | None = None  # end of the last window
        self.calls = {"quiet": 0, "faults": 0}
        self.summary: dict[str, Any] = {}
        self.base_info: dict[str, Any] = {}
        self.fault_info: dict[str, Any] = {}
        self.consumers: dict[int, subprocess.Popen] = {}

    # ------------------------------------------------------------------ deployment
    def setup(self) -> None:
        common.require("psycopg", what="psycopg")
        common.require("redis", what="redis (the Python client)")
        requests = common.require("requests", what="requests")
        bin_dir = Path(sys.executable).parent
        for tool in ("gunicorn", "huey_consumer", "moviepulse"):
            if not (bin_dir / tool).exists():
                raise NotAvailable(f"{tool} in {bin_dir}")
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        try:
            from tests.support import services, stack
        except ImportError as exc:
            raise NotAvailable(f"tests.support (run from the repository root): {exc}") from None
        self.services, self.stack_mod, self.requests = services, stack, requests
        self._ensure_services()

        self.workdir = Path(tempfile.mkdtemp(prefix="mp-bench-soak-"))
        self.cleanups.append(self._remove_workdir)
        self.db_name, self.db_url = services.fresh_postgres_database("mp_bench_soak")
        self.dsn = self.db_url.replace("postgresql+psycopg://", "postgresql://")
        self.cleanups.append(lambda: services.drop_postgres_database(self.db_name))
        if shutil.which("redis-server"):
            redis_server = PrivateRedis(self.workdir, stack.free_port)
            self.cleanups.append(redis_server.stop)
            self.redis_url = redis_server.url
        else:
            self.redis_url = services.fresh_redis_url()
            self.notes.append(f"redis-server not installed: the shared Redis ({self.redis_url}) was used")
        secret = secrets.token_hex(32)
        settings = {"DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url, "SECRET_KEY": secret, **SETTINGS}
        self.stack = stack.Stack("staging", self.workdir / "stack", settings)
        self.cleanups.append(self.stack.close)
        self.ctx.log(f"reliability_soak: PostgreSQL database {self.db_name}, Redis {self.redis_url}; migrating")
        self.stack.cli("db", "upgrade")

        from moviepulse.app import create_app
        from moviepulse.core.auth import create_admin
        from moviepulse.dash_app.pages import widgets_for
        from moviepulse.extensions import db

        overrides = {k[len("MOVIEPULSE_"):]: parse_setting(v) for k, v in SETTINGS.items()}
        self.app = create_app("staging", SQLALCHEMY_DATABASE_URI=self.db_url, REDIS_URL=self.redis_url,
                              SECRET_KEY=secret, INSTANCE_PATH=str(self.workdir / "inproc"), QUEUE_STATS_SYNC=True,
                              LOAD_ENTRYPOINT_PLUGINS=False, **overrides)
        self.cleanups.append(lambda: common.dispose_app(self.app))
        self.pulse = self.app.extensions["moviepulse"]
        from moviepulse.models.movie import Movie

        with self.app.app_context():
            create_admin(EMAIL, PASSWORD)
            # events must name existing movies; no TMDB/IMDb id, so backfill leaves them alone
            db.session.execute(db.insert(Movie), [{"id": i, "title": f"Soak Film {i:03d}",
                                                   "original_title": f"Soak Film {i:03d}", "is_synthetic": True}
                                                  for i in range(1, MOVIES + 1)])
            db.session.commit()
            db.session.remove()
        self.page_widgets = {p: [(w.slug, inst) for w, inst in widgets_for(self.pulse, p)] for p in PAGES}

        self.consumers = {0: self._spawn_consumer(0), 1: self._spawn_consumer(1)}
        with self.app.app_context():  # both consumers up and running jobs from this Redis
            for name in ("queue.sweep", "queue.sweep"):
                result = self.pulse.enqueue(name)
                self.enqueued.append(str(result.id))
                if result.get(blocking=True, timeout=120) is None:
                    raise RuntimeError(f"the consumers did not run {name} (see {self.workdir}/stack)")
        self.base = self.stack.start_web(workers=2)
        self.ctx.log(f"reliability_soak: gunicorn -w 2 at {self.base}, 2 consumers; logging in {self.sessions_n} "
                     "dashboard sessions")
        today = utcnow().date()
        self.filters = [{"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat(),
                         "audience": audience} for days in (7, 30) for audience in AUDIENCES]
        self.sessions = [self._login() for _ in range(self.sessions_n)]
        self._sanity_batch()

    def _sanity_batch(self) -> None:
        """One batch before the load: every event must be accepted (else the soak would measure rejections)."""
        import psycopg

        events = self._batch(random.Random(self.ctx.seed))
        r = self.requests.post(self.base + "/api/events", json={"sent_at": iso(utcnow()), "events": events},
                               headers={"User-Agent": UA}, timeout=60)
        answer = r.json() if r.status_code == 200 else {}
        if answer.get("accepted") != len(events):
            raise RuntimeError(f"a sample batch was not accepted: {r.status_code} {r.text[:500]}")
        with psycopg.connect(self.dsn) as con:
            self.stored_before = con.execute("SELECT count(*) FROM events WHERE origin = 'beacon'").fetchone()[0]

    def _ensure_services(self) -> None:
        s = self.services
        if s.port_open(s.PG_HOST, s.PG_PORT) and (shutil.which("redis-server") or _redis_up(s.REDIS_URL)):
            return
        script = ROOT / "scripts" / "services.sh"
        if script.exists():
            self.ctx.log("reliability_soak: PostgreSQL/Redis down; running scripts/services.sh")
            subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
        if not s.port_open(s.PG_HOST, s.PG_PORT):
            raise NotAvailable(f"PostgreSQL on {s.PG_HOST}:{s.PG_PORT} (scripts/services.sh could not start it)")
        if not shutil.which("redis-server") and not _redis_up(s.REDIS_URL):
            raise NotAvailable(f"Redis at {s.REDIS_URL} (and no redis-server to start a private one)")

    def _spawn_consumer(self, i: int) -> subprocess.Popen:
        argv = [str(Path(sys.executable).parent / "huey_consumer"), "moviepulse.worker.huey", "-w", "2", "-k",
                "thread", "-d", "0.05", "-m", "0.2"]
        if i != 0:
            argv.append("-n")  # one periodic scheduler per deployment
        return self.stack._spawn(f"consumer{i}", argv)

    def _login(self) -> Any:
        from moviepulse.dash_app.testing import find_callback

        s = self.requests.Session()
        s.headers["User-Agent"] = UA
        page = s.get(self.base + "/admin/login", timeout=60)
        tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page.text)
        token = re.search(r'value="([^"]*)"', tag.group(0)) if tag else None
        if token is None:
            raise RuntimeError("no CSRF token on /admin/login")
        r = s.post(self.base + "/admin/login", data={"csrf_token": token.group(1), "email": EMAIL,
                                                     "password": PASSWORD, "next": "/admin/"},
                   allow_redirects=False, timeout=60)
        if r.status_code != 302 or "/admin/login" in r.headers.get("Location", ""):
            raise RuntimeError(f"admin login failed: {r.status_code}")
        deps = s.get(self.base + "/admin/_dash-dependencies", timeout=60)
        deps.raise_for_status()
        slugs = {slug for widgets in self.page_widgets.values() for slug, _ in widgets}
        s.mp_deps = {slug: find_callback(deps.json(), lambda ident, prop, slug=slug: isinstance(ident, dict)
                                         and ident.get("widget") == slug and ident.get("part") in ("graph", "status")
                                         and prop in ("figure", "children"))
                     for slug in slugs}
        return s

    # ------------------------------------------------------------------ load
    def start_load(self) -> None:
        self.t0 = time.monotonic() + 0.5
        self.threads = [threading.Thread(target=self._schedule, name="soak-schedule", daemon=True)]
        self.threads += [threading.Thread(target=self._send, args=(i,), name=f"soak-send-{i}", daemon=True)
                         for i in range(SENDERS)]
        self.dash_threads = [threading.Thread(target=self._dashboard, args=(i, s), name=f"soak-dash-{i}", daemon=True)
                             for i, s in enumerate(self.sessions)]
        for th in self.threads + self.dash_threads:
            th.start()

    def _schedule(self) -> None:
        k = 0
        while not self.stop_load.is_set():
            at = self.t0 + k / RATE
            delay = at - time.monotonic()
            if delay > 0 and self.stop_load.wait(delay):
                break
            self.todo.put((k, at))
            k += 1
        self.scheduled = k
        for _ in range(SENDERS):
            self.todo.put(None)

    def _batch(self, rng: random.Random) -> list[dict[str, Any]]:
        now = utcnow()
        day_start = datetime(now.year, now.month, now.day)
        earlier_today = (now - day_start).total_seconds() - 3600
        events = []
        for _ in range(BATCH):
            r = rng.random()
            if r < 0.80 or (r < 0.95 and earlier_today <= 0):
                t = now - timedelta(seconds=rng.uniform(0, 30))
            elif r < 0.95:
                t = day_start + timedelta(seconds=rng.uniform(0, earlier_today))
            else:
                t = now - timedelta(days=rng.randint(1, 3), seconds=rng.uniform(0, 72_000))
            dev = rng.randrange(5_000)
            kind = rng.random()
            events.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                           "type": "impression" if kind < 0.9 else "click" if kind < 0.96 else "view",
                           "ts": iso(t), "device_id": f"soak-dev-{dev:05d}", "movie_id": 1 + rng.randrange(MOVIES),
                           "placement": rng.choice(datagen.PLACEMENTS), "variant": "AB"[dev % 2],
                           "position": 1 + rng.randrange(12), "locale": rng.choice(datagen.LOCALES)})
        return events

    def _send(self, idx: int) -> None:
        s = self.requests.Session()
        s.headers.update({"User-Agent": UA, "Content-Type": "application/json"})
        rng = random.Random(self.ctx.seed * 100 + idx)
        url = self.base + "/api/events"
        while True:
            item = self.todo.get()
            if item is None:
                return
            k, at = item
            body = json.dumps({"sent_at": iso(utcnow()), "events": self._batch(rng)})
            start = time.monotonic()
            status: Any = None
            answer: dict[str, Any] = {}
            attempts = 0
            while attempts < 6:
                attempts += 1
                try:
                    r = s.post(url, data=body, timeout=60)
                    status = r.status_code
                    if status == 200:
                        answer = r.json()
                        break
                    self.bad_attempts.append(status)
                    if status < 500 and status != 429:
                        break
                except self.requests.RequestException as exc:
                    status = type(exc).__name__
                    self.bad_attempts.append(status)
                time.sleep(0.5)
            self.posts.append((k, at, start, time.monotonic(), status, attempts, int(answer.get("accepted", 0)),
                               int(answer.get("duplicates", 0)), len(answer.get("rejected", []))))

    def _dashboard(self, idx: int, session: Any) -> None:
        from moviepulse.dash_app.testing import post_callback

        client = _HttpClient(session, self.base)
        rng = random.Random(self.ctx.seed * 1000 + idx)
        pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix=f"soak-dash-{idx}")

        def one(slug: str, instance: str, filters: dict[str, str]) -> bool:
            values = {("mp-filters", "data"): filters, ("mp-refresh", "n_intervals"): 0}
            start = time.monotonic()
            status: Any = None
            for attempt in (1, 2):
                try:
                    status = post_callback(client, session.mp_deps[slug], values, instance).status_code
                    break
                except self.requests.ConnectionError as exc:
                    # a keep-alive connection the server closed as it was reused (gunicorn's keepalive is
                    # 2 s, a session pauses 1-3 s): a browser re-sends such a request, so do we, once
                    status = type(exc).__name__
                    if attempt == 1:
                        self.callback_resends.append((start, slug, str(exc)[:200]))
                except self.requests.RequestException as exc:
                    status = type(exc).__name__
                    break
            self.callbacks.append((start, time.monotonic() - start, status, slug))
            return status == 200

        k = idx
        try:
            while not self.stop_dash.is_set():
                if not self.dash_on.wait(0.2):
                    continue
                page = PAGES[k % len(PAGES)]
                filters = self.filters[(k // len(PAGES) + idx) % len(self.filters)]
                k += 1
                start = time.monotonic()
                futures = [pool.submit(one, slug, inst, filters) for slug, inst in self.page_widgets[page]]
                ok = all(f.result() for f in futures)
                self.changes.append((start, time.monotonic() - start, page, ok))
                self.stop_dash.wait(rng.uniform(1.0, 3.0))
        finally:
            pool.shutdown(wait=True)

    # ------------------------------------------------------------------ faults
    def enqueue_real_tasks(self) -> None:
        with self.app.app_context():
            for name in REAL_TASKS:
                self.enqueued.append(str(self.pulse.enqueue(name).id))

    def kill_and_restart(self, i: int) -> None:
        proc = self.consumers[i]
        at = time.monotonic()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        self.consumers[i] = self._spawn_consumer(i)
        self.kills.append({"consumer": i, "pid": proc.pid, "at_s": round(at - (self.t0 or at), 1),
                           "new_pid": self.consumers[i].pid})

    # ------------------------------------------------------------------ windows
    def _window(self, label: str, seconds: float) -> tuple[float, float]:
        if self.cursor is None:
            self.start_load()
            self.cursor = time.monotonic() + 3.0  # the first 2.5 s of load are a warm-up, in no window
        start = self.cursor
        self.cursor = start + seconds
        self.windows.append((label, start, self.cursor))
        return start, self.cursor

    def _sleep_until(self, t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _wait_posts(self, end: float, timeout: float = 60.0) -> None:
        """Until every batch scheduled before ``end`` has its final answer."""
        expected = max(0, math.ceil((end - self.t0) * RATE))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for p in self.posts if p[0] < expected) >= expected:
                return
            time.sleep(0.1)

    def _latencies(self, label: str, start: float | None = None, end: float | None = None) -> list[float]:
        spans = [(a, b) for lab, a, b in self.windows if lab == label and (start is None or a == start)]
        return [p[3] - p[2] for p in list(self.posts) if any(a <= p[1] < b for a, b in spans)]

    def _in_faults(self, rows: list[tuple], start: float | None = None) -> list[tuple]:
        spans = [(a, b) for lab, a, b in self.windows if lab == "faults" and (start is None or a == start)]
        return [r for r in rows if any(a <= r[0] < b for a, b in spans)]

    def quiet(self) -> float:
        self.calls["quiet"] += 1
        self.dash_on.clear()
        start, end = self._window("quiet", self.quiet_s)
        self._sleep_until(end)
        self._wait_posts(end)
        lat = self._latencies("quiet", start)
        self._update_info()
        self.ctx.log(f"quiet window {self.calls['quiet']}/{self.rounds}: {len(lat)} POSTs, "
                     f"p95 {ms(pct(lat, 0.95))} ms")
        return ms(pct(lat, 0.95)) or float("nan")

    def faults(self) -> float:
        self.calls["faults"] += 1
        n = self.calls["faults"]
        start, end = self._window("faults", self.fault_s)
        self.dash_on.set()
        kill_at = start + self.kill_offset_s
        self._sleep_until(kill_at - 1.5)
        self.enqueue_real_tasks()
        self._sleep_until(kill_at)
        victim = (n - 1) % 2
        self.kill_and_restart(victim)
        self._sleep_until(end)
        self.dash_on.clear()
        self._wait_posts(end)
        lat = self._latencies("faults", start)
        cbs = [c[1] for c in self._in_faults(self.callbacks, start)]
        self._update_info()
        self.ctx.log(f"fault window {n}/{self.rounds}: {len(lat)} POSTs, p95 {ms(pct(lat, 0.95))} ms; "
                     f"{len(cbs)} callbacks, p95 {ms(pct(cbs, 0.95))} ms; kill -9 consumer{victim}")
        sample = ms(pct(lat, 0.95)) or float("nan")
        if n >= self.rounds:
            self.finish()
        return sample

    def _update_info(self) -> None:
        for label, info in (("quiet", self.base_info), ("faults", self.fault_info)):
            lat = self._latencies(label)
            info.update({"posts": len(lat), "post_p50_ms": ms(pct(lat, 0.50)), "post_p95_ms": ms(pct(lat, 0.95)),
                         "post_p99_ms": ms(pct(lat, 0.99)), "post_max_ms": ms(max(lat) if lat else None)})
        cbs = self._in_faults(list(self.callbacks))
        changes = self._in_faults(list(self.changes))
        times = [c[1] for c in cbs]
        self.fault_info.update({
            "callbacks": len(cbs), "callback_p50_ms": ms(pct(times, 0.50)), "callback_p95_ms": ms(pct(times, 0.95)),
            "callback_p99_ms": ms(pct(times, 0.99)), "callback_errors": sum(1 for c in cbs if c[2] != 200),
            "callback_error_statuses": dict(Counter(str(c[2]) for c in cbs if c[2] != 200)),
            "callback_p95_ms_per_window": [ms(pct([c[1] for c in self._in_faults(cbs, a)], 0.95))
                                           for lab, a, _b in self.windows if lab == "faults"],
            "callback_p95_ms_by_widget": {slug: ms(pct([c[1] for c in cbs if c[3] == slug], 0.95))
                                          for slug in sorted({c[3] for c in cbs})},
            "callbacks_resent": len(self._in_faults(list(self.callback_resends))), "filter_changes": len(changes), "filter_change_p95_ms": ms(pct([c[1] for c in changes], 0.95)),
            "kills": len(self.kills)})

    # ------------------------------------------------------------------ the end: drain and count
    def finish(self) -> None:
        self.stop_load.set()
        for th in self.threads:
            th.join(180)
        self.stop_dash.set()
        self.dash_on.clear()
        for th in self.dash_threads:
            th.join(120)
        stopped = time.monotonic()
        self._update_info()
        self.ctx.log("load stopped; waiting for the queue to drain (the sweeper's threshold is 30 s)")
        import psycopg

        huey = self.pulse.huey
        drained_after: float | None = None
        zero_since: float | None = None
        last: tuple = ()
        with psycopg.connect(self.dsn, autocommit=True) as con:
            while time.monotonic() - stopped < self.drain_timeout_s:
                open_rows = con.execute("SELECT count(*) FROM job_ledger WHERE state = ANY(%s)",
                                        (list(OPEN_STATES),)).fetchone()[0]
                last = (huey.pending_count(), huey.scheduled_count(), open_rows)
                self.summary.setdefault("queue_at_stop", {"huey_pending": last[0], "huey_scheduled": last[1],
                                                          "ledger_open": last[2]})
                now = time.monotonic()
                if last == (0, 0, 0):
                    zero_since = zero_since or now
                    if now - zero_since >= 3.0:
                        drained_after = zero_since - stopped
                        break
                else:
                    zero_since = None
                time.sleep(1.0)
            time.sleep(3.0)  # the consumers' and web workers' ledger buffers flush every 2 s
            # beacon rows only: the site's own pages (the hourly ssr.self_crawl) store server-side events too
            stored = con.execute("SELECT count(*) FROM events WHERE origin = 'beacon'").fetchone()[0] \
                - self.stored_before
            other_events = con.execute("SELECT count(*) FROM events WHERE origin <> 'beacon'").fetchone()[0]
            ledger = con.execute("SELECT task_id, name, state, retried_as, coalesce(error, ''), attempts, "
                                 "started_at, finished_at FROM job_ledger").fetchall()
        self._idle_callbacks()
        posts = list(self.posts)
        # a batch re-sent after a lost answer gets its own stored events back as duplicates: they were accepted
        # the first time (fresh UUIDv4 ids, so no other duplicate can exist)
        accepted = sum(p[6] + (p[7] if p[5] > 1 else 0) for p in posts)
        s = self.summary
        s.update({
            "batches_scheduled": getattr(self, "scheduled", len(posts)), "batches_answered": len(posts),
            "events_sent": BATCH * len(posts), "events_accepted": accepted,
            "events_duplicate": sum(p[7] for p in posts),
            "events_duplicate_first_send": sum(p[7] for p in posts if p[5] == 1), "events_rejected": sum(p[8] for p in posts),
            "batches_failed": sum(1 for p in posts if p[4] != 200), "batches_resent": sum(1 for p in posts if p[5] > 1),
            "events_stored": stored, "accepted_minus_stored": accepted - stored, "server_side_events": other_events,
            "post_attempts_not_200": dict(Counter(str(a) for a in self.bad_attempts)),
            "load_seconds": round(stopped - self.t0, 1),
            "achieved_batches_per_s": round(len(posts) / max(1e-9, max(p[3] for p in posts) - self.t0), 2)
            if posts else 0.0,
            "max_lag_s": round(max((p[2] - p[1] for p in posts), default=0.0), 2),
            "drained_after_s": round(drained_after, 1) if drained_after is not None else None,
            "queue_at_timeout": None if drained_after is not None else list(last),
            "kills": self.kills,
        })
        all_lat = [p[3] - p[2] for p in posts]
        s.update({"post_p50_ms": ms(pct(all_lat, 0.50)), "post_p95_ms": ms(pct(all_lat, 0.95)),
                  "post_p99_ms": ms(pct(all_lat, 0.99))})
        s.update(analyse_ledger(ledger, self.enqueued))
        self.notes.append(
            f"ingestion: {s['batches_answered']:,} batches ({s['achieved_batches_per_s']}/s achieved, max lag "
            f"{s['max_lag_s']} s), {s['events_sent']:,} events sent, {s['events_accepted']:,} accepted, "
            f"{s['events_stored']:,} stored, {s['events_duplicate']} duplicates, {s['events_rejected']} rejected, "
            f"{s['batches_failed']} batches failed, {s['batches_resent']} re-sent (attempts not answered 200: "
            f"{s['post_attempts_not_200'] or 'none'}); {s['server_side_events']} server-side events (site pages, "
            f"not counted); POST p50/p95/p99 "
            f"{s['post_p50_ms']}/{s['post_p95_ms']}/{s['post_p99_ms']} ms over the whole run")
        self.notes.append(
            f"queue: {s['jobs']} jobs ({s['ledger_rows']} ledger rows), {s['jobs_complete']} complete, "
            f"{s['jobs_failed']} failed, {s['jobs_lost']} lost; {s['jobs_swept']} re-enqueued by the sweeper, "
            f"{s['jobs_ran_twice']} ran twice; {len(self.kills)} kill -9; open at the stop {s['queue_at_stop']}, "
            "back to 0 after "
            f"{s['drained_after_s']} s" + (f" (not drained: pending/scheduled/open {s['queue_at_timeout']})"
                                           if s["drained_after_s"] is None else "")
            + f"; jobs by task {s['jobs_by_task']}")
        f = self.fault_info
        self.notes.append(
            f"dashboard: {f['callbacks']:,} callbacks in {f['filter_changes']:,} filter changes by {self.sessions_n} "
            f"sessions, p50/p95/p99 {f['callback_p50_ms']}/{f['callback_p95_ms']}/{f['callback_p99_ms']} ms, filter "
            f"change p95 {f['filter_change_p95_ms']} ms; p95 by widget {f['callback_p95_ms_by_widget']}; not 200: "
            f"{f['callback_errors']} "
            f"{f['callback_error_statuses'] or ''}; re-sent after a ConnectionError: {f['callbacks_resent']}"
            + (f" (first: {self.callback_resends[0][2]})" if self.callback_resends else ""))
        self.notes.append(f"after the load, one callback at a time (ms): {s['idle_callback_ms_by_widget']}; today's "
                          f"events not yet in a rollup (read raw by every callback): {s['raw_tail']['events']:,} "
                          f"since {s['raw_tail']['since']}")
        s["log_errors"] = log_errors(self.workdir / "stack")
        for name, (count, first) in s["log_errors"].items():
            self.notes.append(f"{name}: {count} error line(s); first: {first}")
        if s["lost_examples"] or s["failed_examples"]:
            self.notes.append(f"lost: {s['lost_examples']}; failed: {s['failed_examples']}")
        problem = (s["accepted_minus_stored"] or s["jobs_lost"] or s["jobs_failed"] or s["drained_after_s"] is None
                   or s["batches_failed"] or self.fault_info.get("callback_errors") or s["log_errors"])
        if problem:
            self.keep_workdir = True
            self.notes.append(f"logs kept in {self.workdir}/stack (database {self.db_name} dropped)")

    def _idle_callbacks(self) -> None:
        """Every widget once, one at a time, on the final data with the load stopped: what a callback
        costs without queueing behind others; and how many raw events today's rollups do not cover
        yet (the dashboard aggregates those from ``events`` on every callback)."""
        import psycopg

        from moviepulse.dash_app.testing import post_callback

        session = self.sessions[0]
        client = _HttpClient(session, self.base)
        filters = self.filters[0]  # 7 days, global
        idle: dict[str, float | None] = {}
        for page in PAGES:
            for slug, instance in self.page_widgets[page]:
                if slug in idle:
                    continue
                values = {("mp-filters", "data"): filters, ("mp-refresh", "n_intervals"): 0}
                start = time.monotonic()
                try:
                    ok = post_callback(client, session.mp_deps[slug], values, instance).status_code == 200
                except self.requests.RequestException:
                    ok = False
                idle[slug] = ms(time.monotonic() - start) if ok else None
        with psycopg.connect(self.dsn, autocommit=True) as con:
            row = con.execute("SELECT covered_until FROM rollup_state WHERE day = %s AND granularity = 'hourly'",
                              (utcnow().date(),)).fetchone()
            since = row[0] if row else datetime.combine(utcnow().date(), datetime.min.time())
            tail = con.execute("SELECT count(*) FROM events WHERE event_time >= %s", (since,)).fetchone()[0]
        self.summary["idle_callback_ms_by_widget"] = idle
        self.summary["raw_tail"] = {"since": since.isoformat(), "events": tail}

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        self.stop_load.set()
        self.stop_dash.set()
        for th in self.threads + self.dash_threads:
            th.join(60)
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - report and go on
                self.notes.append(f"cleanup: {type(exc).__name__}: {exc}")

    def _remove_workdir(self) -> None:
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def log_errors(logdir: Path) -> dict[str, tuple[int, str]]:
    """Error lines in the processes' logs: ``{file: (count, first error's message and last traceback line)}``."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(logdir.glob("*.log")):
        count, first = 0, ""
        for line in path.read_text(errors="replace").splitlines():
            if '"level": "error"' not in line and " ERROR:" not in line and not line.startswith("Traceback"):
                continue
            count += 1
            if not first:
                try:
                    record = json.loads(line)
                    tb = (record.get("exc") or "").strip().splitlines()
                    last_frame = max([i for i, t in enumerate(tb) if t.startswith("  File ")], default=-1)
                    exc_line = next((t for t in tb[last_frame + 1:] if t and not t.startswith(" ")), "")
                    first = f"{record.get('msg')}: {exc_line}"
                except ValueError:
                    first = line
        if count:
            out[path.name] = (count, first[:300])
    return out


def parse_setting(raw: str) -> Any:
    from moviepulse.config import parse_env_value

    return parse_env_value(raw)


def _redis_up(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


def analyse_ledger(rows: list[tuple], enqueued: list[str]) -> dict[str, Any]:
    """Follow every job through the sweeper's ``retried_as`` links; a job is lost when its chain
    ends neither ``complete`` nor ``error``. Rows re-enqueued by the sweeper are not new jobs."""
    by_id = {r[0]: r for r in rows}
    replacements = {r[3] for r in rows if r[3]}
    originals = [r for r in rows if r[0] not in replacements]

    def final(row: tuple, depth: int = 0) -> str:
        if row[2] == "complete" or depth > 20:
            return row[2]
        if row[3]:
            nxt = by_id.get(row[3])
            return final(nxt, depth + 1) if nxt is not None else "re-enqueued, no ledger row"
        return row[2]

    finals = {r[0]: final(r) for r in originals}
    lost = [r for r in originals if finals[r[0]] not in ("complete", "error")]
    failed = [r for r in originals if finals[r[0]] == "error"]
    by_task: dict[str, int] = {}
    for r in originals:
        by_task[r[1]] = by_task.get(r[1], 0) + 1
    unknown = [t for t in enqueued if t not in by_id]
    return {
        "ledger_rows": len(rows), "jobs": len(originals) + len(unknown),
        "jobs_complete": sum(1 for f in finals.values() if f == "complete"), "jobs_failed": len(failed),
        "jobs_lost": len(lost) + len(unknown), "jobs_enqueued_by_bench": len(enqueued),
        "jobs_unknown_to_ledger": len(unknown),
        "jobs_swept": sum(1 for r in rows if r[3] and "stale:" in r[4]),
        "jobs_ran_twice": sum(1 for r in rows if r[3] and r[2] == "complete"),
        "jobs_by_task": dict(sorted(by_task.items())),
        "lost_examples": [{"task": r[1], "task_id": r[0], "state": r[2], "retried_as": r[3], "chain_ends": finals[r[0]],
                           "started_at": str(r[6]), "finished_at": str(r[7]), "error": r[4][:120]} for r in lost[:5]]
        + [{"task_id": t, "chain_ends": "no ledger row"} for t in unknown[:5]],
        "failed_examples": [(r[1], r[4][:200]) for r in failed[:5]],
    }


@benchmark("reliability_soak", title="Soak: 50 batches/s on PostgreSQL + Redis, consumers kill -9'ed, "
           "dashboard sessions", issue="issue 9")
def build(ctx: Context) -> Plan:
    soak = Soak(ctx)
    try:
        soak.setup()
    except BaseException:
        soak.close()
        raise
    case = Case(f"POST /api/events p95 per window, {int(RATE)} batches/s × {BATCH} events", "ms", [
        Variant("ingestion alone (no kills, no dashboard)", soak.quiet, baseline=True, info=soak.base_info,
                note=f"{soak.quiet_s:.0f} s windows"),
        Variant(f"+ {soak.sessions_n} dashboard sessions + kill -9 of a consumer", soak.faults, info=soak.fault_info,
                note=f"{soak.fault_s:.0f} s windows, a kill {soak.kill_offset_s:.0f} s in"),
    ], rounds=soak.rounds, warmup=0,
        note="each sample: one window's POST latency p95 (first send -> final answer); ingestion runs throughout")
    s = soak.summary
    fault = soak.fault_info
    targets = [
        Target("|accepted - stored| events (a re-sent batch's duplicates count as accepted)",
               lambda r: abs(s["accepted_minus_stored"]), 0, "<=", "issue 9"),
        Target("events sent but not accepted", lambda r: s["events_sent"] - s["events_accepted"], 0, "<=", "issue 9"),
        Target("POST attempts not answered 200 (5xx, transport errors; the client re-sent them)",
               lambda r: sum(s["post_attempts_not_200"].values()), 0, "<=", "issue 9"),
        Target("jobs lost (ledger, after the sweeper)", lambda r: s["jobs_lost"], 0, "<=", "issue 9"),
        Target("jobs failed", lambda r: s["jobs_failed"], 0, "<=", "issue 9"),
        Target("queue back to 0 after the load stops (s)",
               lambda r: s["drained_after_s"] if s["drained_after_s"] is not None else soak.drain_timeout_s,
               DRAIN_TARGET_S, "<=", "issue 9"),
        Target("dashboard callback p95 under the soak (ms)", lambda r: fault["callback_p95_ms"], 1000, "<=", "issue 6"),
        Target("dashboard filter change (all callbacks of a page) p95 (ms)", lambda r: fault["filter_change_p95_ms"],
               1000, "<=", "issue 6"),
        Target("dashboard callbacks not answered 200", lambda r: fault["callback_errors"], 0, "<=", "issue 9"),
    ]
    return Plan(cases=[case], targets=targets, cleanup=soak.close, notes=soak.notes,
                params={"rate_batches_per_s": RATE, "batch": BATCH, "senders": SENDERS, "rounds": soak.rounds,
                        "quiet_s": soak.quiet_s, "fault_s": soak.fault_s, "kill_offset_s": soak.kill_offset_s,
                        "dashboard_sessions": soak.sessions_n, "gunicorn": "2 workers x 2 threads",
                        "consumers": "2 x 2 threads (consumer0 periodic)", "settings": SETTINGS,
                        "summary": soak.summary})  # the same dict: filled at the end of the last window
