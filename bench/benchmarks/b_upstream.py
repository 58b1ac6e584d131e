"""Ingestion from the fake TMDB with 40 ms latency and a 40 req/s limit (issue 3).

The fake upstreams run in a child process (``start_fake_upstreams(subprocess=True)``) with the
server-side limit at 40 req/s and 40 ms added latency on every TMDB answer. Each sample imports
the same movies (``force=True``, every configured locale) and reports TMDB requests per second,
read from the server's own counters:

* baseline: the ideal client — a ``requests`` session per thread, 4 threads, a shared token
  bucket at exactly 40 req/s, one ``/movie/{id}?append_to_response=translations`` per movie —
  i.e. what the limit allows on this machine;
* candidate: ``moviepulse.ingestion.pipeline.import_movies`` with ``TMDB_RATE_LIMIT`` = 40.

Targets: MoviePulse's rate ≥ 90% of the limit, nothing lost (stored = requested), and 429
answers reported (the issue asks that no request be answered 429 more than once).
"""

from __future__ import annotations

import threading
import time

from bench import common
from bench.harness import Case, Context, Plan, Target, Variant, benchmark

LIMIT = 40.0
LATENCY_MS = 40


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next)
            self.next = at + 1.0 / self.rate
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


@benchmark("upstream", title="Ingestion from the fake TMDB (40 ms latency, 40 req/s limit)", issue="issue 3")
def build(ctx: Context) -> Plan:
    server = common.require("moviepulse.upstreams.server", "start_fake_upstreams",
                            "moviepulse.upstreams.server.start_fake_upstreams")
    control = common.require("moviepulse.upstreams.control", what="moviepulse.upstreams.control")
    import_movies = common.require("moviepulse.ingestion.pipeline", "import_movies",
                              "moviepulse.ingestion.pipeline.import_movies")
    movie_ref = common.require("moviepulse.ingestion.source", "MovieRef", "moviepulse.ingestion.source.MovieRef")
    catalogue = common.require("moviepulse.upstreams.catalogue", "load_catalogue")()
    import requests

    n = min(ctx.pick(12, 500), len(catalogue))
    ids = [int(m["tmdb_id"]) for m in catalogue[:n]]
    handle = server(subprocess=True, tmdb_rate_limit=LIMIT)
    control.set_faults(handle.tmdb_url, latency_ms=LATENCY_MS)
    tmp, rm = common.tempdir("mp-bench-upstream-")
    overrides = {"TMDB_BASE_URL": handle.tmdb_url, "OMDB_BASE_URL": handle.omdb_url, "TMDB_RATE_LIMIT": LIMIT,
                 "SSR_ACCESS_LOG": False}
    app = common.make_app(f"{tmp}/up.db", **overrides)
    locales = list(app.config.get("LOCALES") or ["en"])
    key = app.config.get("TMDB_API_KEY")

    def stats() -> dict[str, int]:
        """The server's counters since the last call (read, then zeroed)."""
        current = control.upstream_stats(handle.tmdb_url)
        control.upstream_stats(handle.tmdb_url, reset=True)
        return current

    def ideal() -> float:
        bucket = TokenBucket(LIMIT)
        todo = list(ids)
        lock = threading.Lock()

        def worker() -> None:
            s = requests.Session()
            while True:
                with lock:
                    if not todo:
                        return
                    mid = todo.pop()
                bucket.take()
                s.get(f"{handle.tmdb_url}/movie/{mid}", params={"api_key": key, "language": "en-US",
                                                                 "append_to_response": "translations"}, timeout=10)

        stats()
        t = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        st = stats()
        base_v.info.update(requests=st.get("requests", 0), status_429=st.get("status_429", 0))
        return st.get("requests", len(ids)) / dt

    def moviepulse() -> float:
        refs = [movie_ref(tmdb_id=i) for i in ids]
        stats()
        from moviepulse.extensions import db

        with app.app_context():
            t = time.perf_counter()
            summary = import_movies(app, refs, force=True, trigger="bench")
            dt = time.perf_counter() - t
            db.session.remove()
        st = stats()
        stored = len(summary.get("movie_ids") or [])
        mp_v.info.update(requests=st.get("requests", 0), status_429=st.get("status_429", 0), stored=stored,
                         requested=len(refs), lost=len(refs) - stored)
        return st.get("requests", 0) / dt

    base_v = Variant(f"ideal client at {LIMIT:.0f} req/s (4 threads)", ideal, baseline=True)
    mp_v = Variant("moviepulse import_movies", moviepulse)
    case = Case(f"{n} movies × {len(locales)} locales, {LATENCY_MS} ms latency, server limit {LIMIT:.0f} req/s",
                "TMDB req/s", [base_v, mp_v], higher_is_better=True, rounds=ctx.rounds or ctx.pick(1, 2), warmup=0)

    def cleanup() -> None:
        common.dispose_app(app)
        handle.stop()
        rm()

    notes = [f"the bundled catalogue has {len(catalogue)} movies: {n} imported per sample",
             "the 60 s staged outage with 4 consumers: the upstream_outage benchmark"]
    return Plan(cases=[case], cleanup=cleanup, notes=notes, params={"movies": n, "locales": locales},
                targets=[Target("moviepulse TMDB req/s / limit", lambda r: r[case.name][mp_v.name].median / LIMIT,
                                0.9, ">=", "issue 3"),
                         Target("movies lost", lambda r: r[case.name][mp_v.name].info["lost"], 0, "<=", "issue 3"),
                         Target("429 answers received by moviepulse",
                                lambda r: r[case.name][mp_v.name].info["status_429"], 0, "<=",
                                "issue 3 (≤ 1 per request; 0 expected with a client limit at the server's)")])
