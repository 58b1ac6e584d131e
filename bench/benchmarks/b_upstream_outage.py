"""A staged TMDB outage while 4 real Huey consumers are busy importing (issue 3, listed in issue 8).

Target (issue 3): "During a 60 s staged outage with 4 consumers busy: upstream calls ≤ (breaker
probes + the configured retry budget); none during the open state."

Set-up: the fake upstreams in a child process; 4 ``huey_consumer moviepulse.worker.huey -w 1``
processes (``local`` config: SQLite database, SQLite Huey, breaker/limiter state shared through
the database, every other setting at its default). A feeder in this process keeps the Huey queue
``2 × consumers`` deep with ``enqueue_import`` of the catalogue's movies (each once, then forced
re-imports of stored ones) from the start until the end of the outage. Timeline of a sample:

* warm-up, healthy (10 s; ``--quick`` 3 s): the breaker's window fills with successes;
* outage (60 s; ``--quick`` 10 s): the fake TMDB answers 503 to every request
  (``set_faults(status_5xx_rate=1.0)``), so the server's own ``status_503`` counter is exactly the
  number of calls that reached it during the outage;
* recovery: faults cleared, feeder stopped; the backlog drains through Huey's own retries
  (``ingestion.import_movie``: 4 retries, 30 s delay doubling) until no ``pending_imports`` row is
  left (or a timeout).

``--quick`` scales the breaker's time settings with the outage (window and open time 5 s instead of
30 s) so that a probe can fall inside it; Huey's 30 s retry delay is not a setting, so the quick
drain still takes 30–80 s.

A monitor polls the breaker's row (``upstream_state``, ``breaker:tmdb``) and the server's counters
every 20 ms. What counts:

* **calls during the outage**: server ``status_503`` (all of them, whatever the breaker state);
* **trip calls**: those that arrived before the first poll that saw the breaker not closed (the
  poll interval in which it opened is counted here: 20 ms asked, ``max_poll_gap_ms`` reports the
  longest one);
* **probe calls**: those in poll intervals in which the breaker was half-open or reopened
  (``opens`` moved): the half-open probes;
* **open-state calls**: every other call while open. Those arriving within ``in-flight grace``
  (the longest retry back-off + 1 s) after the opening were admitted before it (a retry that
  passed its breaker check, then slept its back-off) — at most one per other consumer; any later
  one would be a call admitted while open (target 0).

The bound computed from the configuration in use: ``probes = BREAKER_HALF_OPEN_PROBES ×
ceil(outage / BREAKER_OPEN_SECONDS)`` (a probe is a single attempt: retries stop once the breaker
is not closed) and ``retry budget = UPSTREAM_RETRY_BUDGET_PER_MIN × ceil(outage / 60 s)``. It does
not include the calls that the breaker needs before it can open at all; these are reported (and
bounded in a second target) from the window at the outage's start: failures needed =
``max(BREAKER_MIN_CALLS, ceil(successes × ratio / (1 − ratio)))`` (or
``BREAKER_CONSECUTIVE_FAILURES`` when that setting exists and is lower), plus one call in flight per
consumer — the test's ``(min calls + concurrency)`` generalised to a window that is not empty.
Retries sent during the outage come from MoviePulse's own counters (``stats.retries`` of the
breaker row, per finished call) and are compared with the retry budget alone.

Baseline: a naive client with the same retries, back-off and client-side rate limit but no breaker
and no retry budget, 4 threads for the same outage time against the same 503s.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import common
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark
from moviepulse.config import child_environ

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CONSUMERS = 4
POLL_S = 0.02
IMPORT_TASK = "ingestion.import_movie"


@dataclass
class Sample:
    t: float  # time.time()
    state: str
    opens: int
    opened_at: float | None
    changed_at: float | None
    s503: int
    requests: int
    client: dict[str, int]
    rejected: int


@dataclass
class Monitor:
    """Polls the breaker's shared row and the fake TMDB's counters."""

    db_path: str
    tmdb_url: str
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outage-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def breaker_doc(self, con: sqlite3.Connection) -> dict[str, Any]:
        row = con.execute("SELECT value FROM upstream_state WHERE key = 'breaker:tmdb'").fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def sample(self, con: sqlite3.Connection, session: Any) -> Sample:
        doc = self.breaker_doc(con)
        stats = session.get(self.tmdb_url.rsplit("/3", 1)[0] + "/__stats", timeout=5).json()["stats"]
        client = {k: int(v) for k, v in (doc.get("stats") or {}).items() if k != "day"}
        s = Sample(time.time(), doc.get("state", "closed"), int(doc.get("opens", 0)), doc.get("opened_at"),
                   doc.get("changed_at"), int(stats.get("status_503", 0)), int(stats.get("requests", 0)), client,
                   int(doc.get("rejected", 0)))
        self.samples.append(s)
        return s

    def _run(self) -> None:
        import requests

        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        session = requests.Session()
        try:
            while not self._stop.is_set():
                try:
                    self.sample(con, session)
                except Exception:  # noqa: BLE001 - a missed poll widens an interval, nothing more
                    self.errors += 1
                self._stop.wait(POLL_S)
        finally:
            con.close()
            session.close()


class Consumers:
    """``CONSUMERS`` real ``huey_consumer`` processes, each in its own process group."""

    def __init__(self, environ: dict[str, str], workdir: str, count: int) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []
        for i in range(count):
            log = open(os.path.join(workdir, f"consumer{i}.log"), "ab")  # noqa: SIM115 - closed in stop()
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [str(VENV_BIN / "huey_consumer"), "moviepulse.worker.huey", "-w", "1", "-k", "thread",
                 "-d", "0.05", "-m", "0.5", "-b", "1.1", "-n"],
                env=environ, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def log(self, i: int) -> str:
        path = os.path.join(self.workdir, f"consumer{i}.log")
        return Path(path).read_text(errors="replace") if os.path.exists(path) else ""

    def wait_ready(self, timeout: float) -> float:
        t = time.monotonic()
        deadline = t + timeout
        while time.monotonic() < deadline:
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    raise RuntimeError(f"consumer {i} exited ({p.returncode}):\n{self.log(i)[-2000:]}")
            if all("consumer started" in self.log(i).lower() for i in range(len(self.procs))):
                return time.monotonic() - t
            time.sleep(0.2)
        raise RuntimeError("consumers not ready in time:\n" + self.log(0)[-2000:])

    def alive(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:  # SIGINT: Huey finishes the running task, then exits
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
        for log in self.logs:
            log.close()
        self.procs.clear()
        self.logs.clear()


class Feeder:
    """Keeps ``depth`` import jobs queued: each catalogue movie once, then forced re-imports."""

    def __init__(self, app: Any, ids: list[int], depth: int) -> None:
        self.app = app
        self.ids = ids
        self.depth = depth
        self.enqueued: list[tuple[int, Any]] = []  # (tmdb id, naive UTC time of the enqueue)
        self.skipped = 0  # already pending: enqueue_import refused a duplicate
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outage-feeder", daemon=True)
        self._next = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        from moviepulse.extensions import db
        from moviepulse.ingestion.queueing import enqueue_import
        from moviepulse.ingestion.source import MovieRef
        from moviepulse.models.base import utcnow

        pulse = self.app.extensions["moviepulse"]
        with self.app.app_context():
            try:
                while not self._stop.is_set():
                    want = self.depth - pulse.huey.pending_count()
                    tried = 0
                    while want > 0 and tried < len(self.ids) and not self._stop.is_set():
                        i = self._next
                        self._next += 1
                        tried += 1
                        tmdb_id = self.ids[i % len(self.ids)]
                        at = utcnow()
                        if enqueue_import(pulse, MovieRef(tmdb_id=tmdb_id), reason="bench",
                                          force=i >= len(self.ids)):
                            self.enqueued.append((tmdb_id, at))
                            want -= 1
                        else:
                            self.skipped += 1
                    db.session.remove()
                    self._stop.wait(0.05)
            except Exception as exc:  # noqa: BLE001 - reported in the results
                self.errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                db.session.remove()


def consumer_environ(settings: dict[str, Any], instance: str) -> dict[str, str]:
    env = child_environ("local", settings)
    env.update({"MOVIEPULSE_INSTANCE_PATH": instance, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)})
    return env


def pulse_of(app: Any) -> Any:
    return app.extensions["moviepulse"]


def window_successes(doc: dict[str, Any], now: float, window_s: float) -> tuple[int, int]:
    window = [w for w in doc.get("window", []) if w[0] > now - window_s]
    return sum(1 for w in window if w[1]), sum(1 for w in window if not w[1])


def attribute(samples: list[Sample], start: float, end: float, grace: float) -> dict[str, Any]:
    """Split the outage's 503s by breaker state (see the module docstring)."""
    # from the last poll before the outage (no 503 yet) to the first after it (no 503 any more):
    # the intervals then add up to every 503 of the outage
    lo = max((i for i, s in enumerate(samples) if s.t < start), default=0)
    hi = min((i for i, s in enumerate(samples) if s.t > end), default=len(samples) - 1)
    inside = samples[lo:hi + 1]
    out: dict[str, Any] = {"trip": 0, "probe": 0, "open_in_flight": 0, "open_late": 0, "polls": len(inside),
                           "max_poll_gap_ms": 0.0}
    if len(inside) < 2:
        return out
    first_open: float | None = None
    for a, b in zip(inside, inside[1:], strict=False):
        out["max_poll_gap_ms"] = max(out["max_poll_gap_ms"], round((b.t - a.t) * 1000, 1))
        d = b.s503 - a.s503
        if first_open is None:
            out["trip"] += d
            if b.state != "closed":
                first_open = b.opened_at or b.t
            continue
        if a.opens != b.opens or "half_open" in (a.state, b.state) or b.state == "closed":
            out["probe"] += d
        elif b.t <= first_open + grace:
            out["open_in_flight"] += d
        else:
            out["open_late"] += d
    out["first_open_seen"] = first_open
    return out


@benchmark("upstream_outage", title="60 s staged TMDB outage, 4 busy Huey consumers (breaker + retry budget)",
           issue="issue 3")
def build(ctx: Context) -> Plan:
    server = common.require("moviepulse.upstreams.server", "start_fake_upstreams",
                            "moviepulse.upstreams.server.start_fake_upstreams")
    control = common.require("moviepulse.upstreams.control", what="moviepulse.upstreams.control")
    common.require("moviepulse.ingestion.queueing", "enqueue_import", "moviepulse.ingestion.queueing.enqueue_import")
    common.require("moviepulse.worker", what="moviepulse.worker (the Huey consumers' entry point)")
    if not (VENV_BIN / "huey_consumer").exists():
        raise NotAvailable(f"huey_consumer not found next to {sys.executable}")
    catalogue = common.require("moviepulse.upstreams.catalogue", "load_catalogue")()
    from bench.benchmarks.b_upstream import TokenBucket

    warm_s = ctx.pick(3.0, 10.0)
    outage_s = ctx.pick(10.0, 60.0)
    drain_timeout = ctx.pick(150.0, 360.0)
    # --quick: the breaker's time settings shrink with the outage (defaults are 30 s / 30 s)
    breaker_overrides = ctx.pick({"BREAKER_WINDOW_SECONDS": 5.0, "BREAKER_OPEN_SECONDS": 5.0}, {})
    ids = [int(m["tmdb_id"]) for m in catalogue]

    cleanups: list[Any] = []

    def cleanup() -> None:
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - clean up the rest
                notes.append(f"cleanup step failed: {type(exc).__name__}: {exc}")

    notes: list[str] = []
    try:
        tmp, rm = common.tempdir("mp-bench-outage-")
        cleanups.append(rm)
        handle = server(subprocess=True)
        cleanups.append(handle.stop)
        tmdb = handle.tmdb_url
        control.reset_faults(tmdb)
        db_path = os.path.join(tmp, "mp.db")
        instance = os.path.join(tmp, "instance")
        os.makedirs(instance, exist_ok=True)
        settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "HUEY_BACKEND": "sqlite",
            "HUEY_SQLITE_PATH": os.path.join(tmp, "huey.db"), "HUEY_NAME": "bench-outage",
            "SECRET_KEY": secrets.token_hex(16), "TMDB_BASE_URL": tmdb, "OMDB_BASE_URL": handle.omdb_url,
            "QUEUE_STATS_FLUSH_SECONDS": 0.5, "LOG_JSON": False, **breaker_overrides,
        }
        from moviepulse.app import create_app
        from moviepulse.extensions import db

        app = create_app("local", INSTANCE_PATH=instance, LOG_LEVEL="WARNING", **settings)
        app.config["BENCH_INSTANCE_DIR"] = None
        cleanups.append(lambda: common.dispose_app(app))
        cleanups.append(lambda: common.require("moviepulse.analytics.queue", "flush_recorder")(pulse_of(app)))
        with app.app_context():
            db.create_all()
        common._quiet_logs()
        pulse = app.extensions["moviepulse"]
        cfg = {k: pulse.setting(k) for k in (
            "BREAKER_WINDOW_SECONDS", "BREAKER_MIN_CALLS", "BREAKER_FAILURE_RATIO", "BREAKER_OPEN_SECONDS",
            "BREAKER_HALF_OPEN_PROBES", "UPSTREAM_RETRY_BUDGET_PER_MIN", "TMDB_RETRIES", "TMDB_RATE_LIMIT",
            "UPSTREAM_BACKOFF_BASE", "UPSTREAM_BACKOFF_MAX", "UPSTREAM_RETRY_AFTER_MAX", "INGESTION_CONCURRENCY")}
        consumers = Consumers(consumer_environ({**settings, "LOG_LEVEL": "INFO"}, instance), tmp, CONSUMERS)
        cleanups.append(consumers.stop)
    except BaseException:
        cleanup()
        raise

    consecutive = int(pulse.setting("BREAKER_CONSECUTIVE_FAILURES", 0) or 0)  # not a setting (yet)
    if consecutive:
        cfg["BREAKER_CONSECUTIVE_FAILURES"] = consecutive
    retries = int(cfg["TMDB_RETRIES"])
    probes_max = int(cfg["BREAKER_HALF_OPEN_PROBES"]) * math.ceil(outage_s / float(cfg["BREAKER_OPEN_SECONDS"]))
    retry_budget = int(cfg["UPSTREAM_RETRY_BUDGET_PER_MIN"]) * math.ceil(outage_s / 60.0)
    bound = probes_max + retry_budget
    base, cap = float(cfg["UPSTREAM_BACKOFF_BASE"]), float(cfg["UPSTREAM_BACKOFF_MAX"])
    grace = min(cap, base * 2 ** max(0, retries - 1)) + 1.0
    key = pulse.setting("TMDB_API_KEY")

    def naive() -> float:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        control.upstream_stats(tmdb, reset=True)
        control.set_faults(tmdb, reset=True, status_5xx_rate=1.0, status_5xx_code=503)
        bucket = TokenBucket(float(cfg["TMDB_RATE_LIMIT"]))
        stop_at = time.monotonic() + outage_s
        counter = iter(range(10**9))
        lock = threading.Lock()

        def worker() -> None:
            s = requests.Session()
            retry = Retry(total=retries, backoff_factor=base, backoff_max=cap, status_forcelist=(429, 500, 502, 503, 504),
                          allowed_methods=frozenset({"GET"}), respect_retry_after_header=True, raise_on_status=False)
            s.mount("http://", HTTPAdapter(max_retries=retry))
            while time.monotonic() < stop_at:
                with lock:
                    mid = ids[next(counter) % len(ids)]
                bucket.take()
                try:
                    s.get(f"{tmdb}/movie/{mid}", params={"api_key": key, "append_to_response": "translations"},
                          timeout=10).close()
                except requests.RequestException:
                    pass
            s.close()

        threads = [threading.Thread(target=worker) for _ in range(CONSUMERS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        control.reset_faults(tmdb)
        st = control.upstream_stats(tmdb)  # (a reset answers the zeroed counters)
        base_v.info.update(calls=st.get("status_503", 0), per_s=round(st.get("status_503", 0) / outage_s, 1))
        consumers.wait_ready(120)  # they boot while the baseline runs
        return float(st.get("status_503", 0))

    def moviepulse() -> float:
        consumers.wait_ready(120)
        control.reset_faults(tmdb)
        control.upstream_stats(tmdb, reset=True)
        monitor = Monitor(db_path, tmdb)
        feeder = Feeder(app, ids, depth=2 * CONSUMERS)
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            monitor.start()
            t_start = time.time()
            feeder.start()
            time.sleep(warm_s)
            doc0 = monitor.breaker_doc(con)
            now = time.time()
            ok0, bad0 = window_successes(doc0, now, float(cfg["BREAKER_WINDOW_SECONDS"]))
            warm = control.upstream_stats(tmdb)
            control.set_faults(tmdb, status_5xx_rate=1.0, status_5xx_code=503)
            t_out = time.time()
            enq_before = len(feeder.enqueued)
            time.sleep(outage_s)
            control.reset_faults(tmdb)
            t_end = time.time()
            feeder.stop()
            at_end = control.upstream_stats(tmdb)
            enq_outage = len(feeder.enqueued) - enq_before
            # recovery: the backlog drains through Huey's retries
            deadline = time.monotonic() + drain_timeout
            t_drained = None
            while time.monotonic() < deadline:
                pending = con.execute("SELECT count(*) FROM pending_imports").fetchone()[0]
                if pending == 0:
                    t_drained = time.time()
                    break
                if consumers.alive() < CONSUMERS:
                    raise RuntimeError("a consumer died:\n" + "\n".join(consumers.log(i)[-1500:]
                                                                       for i in range(CONSUMERS)))
                time.sleep(0.25)
            time.sleep(1.5)  # the consumers flush their ledger events every 0.5 s
            monitor.stop()
            final = control.upstream_stats(tmdb)
            doc = monitor.breaker_doc(con)
        finally:
            feeder.stop()
            monitor.stop()

        samples = monitor.samples
        split = attribute(samples, t_out, t_end, grace)
        first_open = split.get("first_open_seen")
        during = int(at_end.get("status_503", 0))
        # failed probes: each reopened the breaker (``opens`` + 1); one may still be in flight at the end
        open_samples = [s for s in samples if t_out <= s.t <= t_end and s.state != "closed"]
        probes = (open_samples[-1].opens - open_samples[0].opens + (open_samples[-1].state == "half_open")
                  if open_samples else 0)
        close = next((s for s in samples if s.t > t_end and s.state == "closed"), None)
        t_close = (close.changed_at or close.t) if close else None
        # client-side counters (breaker row, per finished logical call)
        c0 = next((s.client for s in samples if s.t >= t_out), {})
        c_open = next((s.client for s in samples if first_open and s.t >= first_open), c0)
        c_end = next((s.client for s in samples if s.t >= t_end), samples[-1].client if samples else {})
        rej = [s.rejected for s in samples if t_out <= s.t <= t_end]
        # nothing lost: every enqueue followed by a stored import
        fetched = dict(con.execute("SELECT tmdb_id, metadata_fetched_at FROM movies").fetchall())
        last_enqueue: dict[int, Any] = {}
        for tmdb_id, at in feeder.enqueued:
            last_enqueue[tmdb_id] = at
        lost = [m for m, at in last_enqueue.items()
                if fetched.get(m) is None or datetime.fromisoformat(str(fetched[m])) < at]
        ledger = dict(con.execute("SELECT state, count(*) FROM job_ledger WHERE name = ? GROUP BY state",
                                  (IMPORT_TASK,)).fetchall())
        pending_left = con.execute("SELECT count(*) FROM pending_imports").fetchone()[0]
        con.close()
        ratio = float(cfg["BREAKER_FAILURE_RATIO"])
        trip_needed = max(int(cfg["BREAKER_MIN_CALLS"]), math.ceil(ok0 * ratio / (1 - ratio)))
        if consecutive:  # a breaker that also opens after N failures in a row
            trip_needed = min(trip_needed, consecutive)
        trip_bound = trip_needed + CONSUMERS
        extended = trip_bound + min(retry_budget, trip_bound * retries) + probes_max
        mp_v.info.update(
            calls=during, bound=bound, probes_max=probes_max, retry_budget=retry_budget,
            trip_calls=split["trip"], probe_calls=split["probe"], probes=probes,
            open_in_flight=split["open_in_flight"], open_late=split["open_late"],
            open_s=round(first_open - t_out, 2) if first_open else None,
            open_share=round((t_end - first_open) / outage_s, 2) if first_open else 0.0,
            close_after_recovery_s=round(t_close - t_end, 2) if t_close else None,
            drain_s=round(t_drained - t_end, 1) if t_drained else None,
            window_ok_at_start=ok0, window_failed_at_start=bad0, trip_needed=trip_needed, extended_bound=extended,
            trip_logical_calls=c_open.get("requests", 0) - c0.get("requests", 0),
            trip_retries=c_open.get("retries", 0) - c0.get("retries", 0),
            outage_logical_calls=c_end.get("requests", 0) - c0.get("requests", 0),
            outage_retries=c_end.get("retries", 0) - c0.get("retries", 0),
            rejected_fast=(max(rej) - min(rej)) if rej else 0,
            warm_calls=int(warm.get("requests", 0)), recovery_calls=int(final.get("requests", 0))
            - int(at_end.get("requests", 0)),
            enqueued=len(feeder.enqueued), enqueued_in_outage=enq_outage, movies=len(last_enqueue),
            lost=len(lost), pending_left=pending_left, ledger=ledger, feeder_errors=len(feeder.errors),
            opens_total=int(doc.get("opens", 0)), polls=split["polls"], max_poll_gap_ms=split["max_poll_gap_ms"],
            monitor_errors=monitor.errors,
            timeline_s=f"{warm_s:g}+{outage_s:g}+drain", run_s=round(time.time() - t_start, 1))
        if feeder.errors:
            notes.append("feeder errors: " + "; ".join(feeder.errors[:3]))
        if lost:
            notes.append(f"lost movies (tmdb ids): {sorted(lost)[:20]}")
        return float(during)

    base_v = Variant("naive client: same retries/back-off/limit, no breaker", naive, baseline=True,
                     note=f"{CONSUMERS} threads for the outage's {outage_s:g} s")
    mp_v = Variant(f"moviepulse: {CONSUMERS} huey consumers", moviepulse)
    case = Case(f"{outage_s:g} s of 503 from TMDB after {warm_s:g} s healthy, {CONSUMERS} consumers busy",
                "TMDB calls during the outage", [base_v, mp_v], rounds=1, warmup=0,
                note=f"bound = probes ({probes_max}) + retry budget ({retry_budget}) = {bound}; in-flight grace "
                     f"{grace:g} s")
    info = lambda r, k: r[case.name][mp_v.name].info[k]  # noqa: E731
    notes.append("config in use: " + ", ".join(f"{k}={v}" for k, v in cfg.items()))
    if breaker_overrides:
        notes.append("--quick: " + ", ".join(f"{k}={v:g}" for k, v in breaker_overrides.items())
                     + " (scaled with the outage; full runs use the defaults)")
    targets = [
        Target("calls during the outage (bound: probes + retry budget)", lambda r: info(r, "calls"), bound, "<=",
               "issue 3"),
        Target("retries sent during the outage (bound: the retry budget)", lambda r: info(r, "outage_retries"),
               retry_budget, "<=", "issue 3 (UPSTREAM_RETRY_BUDGET_PER_MIN; client-side count)"),
        Target("calls during the outage ÷ (trip calls needed + in flight + probes + retry budget)",
               lambda r: info(r, "calls") / info(r, "extended_bound"), 1.0, "<=",
               "issue 3, with the calls that open the breaker"),
        Target("calls admitted in the open state (not probes, after the in-flight grace)",
               lambda r: info(r, "open_late"), 0, "<=", "issue 3"),
        Target("calls in flight at the opening, arriving after it", lambda r: info(r, "open_in_flight"),
               CONSUMERS - 1, "<=", "one per other consumer"),
        Target("movies lost", lambda r: info(r, "lost") + info(r, "pending_left"), 0, "<=", "issue 3"),
    ]
    return Plan(cases=[case], targets=targets, cleanup=cleanup, notes=notes,
                params={"warm_s": warm_s, "outage_s": outage_s, "consumers": CONSUMERS, "catalogue": len(ids),
                        "config": cfg, "grace_s": grace, "poll_s": POLL_S})
