"""SSR middleware overhead on the same cached 50 KB page, µs per request (issue 4).

Every variant is a Flask app with one view returning the same cached 50 KB HTML string, called
straight through its WSGI callable with a prepared environ (no socket, no test client), so that
the numbers are the server-side cost only:

* bare Flask (baseline);
* prometheus-flask-exporter (``PrometheusMetrics(app)``, default metrics);
* OpenTelemetry Flask instrumentation (SDK tracer provider, ``SimpleSpanProcessor`` into an
  ``InMemorySpanExporter``, cleared every sample);
* MoviePulse: the SSR middleware on the same bare view, timing only / audit sampled at 10% /
  audit at 100% (when ``moviepulse.ssr`` provides it).

Overheads are measured in the same run: prometheus-flask-exporter's and OpenTelemetry's against
bare Flask, MoviePulse's middleware against the same MoviePulse app without the ssr plugin; the
targets compare MoviePulse's overhead with prometheus-flask-exporter's. The overheads are 5–35 µs
on a ~120 µs request, so they are estimated robustly. One sample of every variant is taken in one
*block*: 5,000 requests per variant (the MoviePulse buffer flushed exactly once per block, at the
default ``SSR_FLUSH_MAX_ITEMS``), run as 20 chunks of 250 requests that rotate through the variants
(A B C …, B C … A, …), so that every variant's sample spans the same seconds of machine load. Each
overhead is the median over 16 blocks of the difference *within* a block (paired). Samples are the
process's CPU time (``time.process_time``: every variant runs in this one thread, flushes included,
no I/O waits), not wall time: on a shared VM, time stolen by other guests would otherwise land in
whichever variant happened to be running.
"""

from __future__ import annotations

import io
import statistics
import time
from typing import Any

from flask import Flask, Response

from bench.common import optional, page_50kb
from bench.harness import Case, Context, Plan, Target, Variant, benchmark


def bare_app(html: str, name: str = "bench") -> Flask:
    app = Flask(name)

    @app.get("/en/movies/<int:movie_id>")
    def movie(movie_id: int) -> Response:
        return Response(html, mimetype="text/html")

    return app


def wsgi_caller(app: Any, path: str = "/en/movies/42"):
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method="GET", headers={"User-Agent": "Mozilla/5.0 (bench)",
                                                               "Accept-Language": "en"})
    base_env = builder.get_environ()
    builder.close()
    status_box: list[str] = []

    def start_response(status, headers, exc_info=None):
        status_box.append(status)

    def call() -> int:
        env = dict(base_env)
        env["wsgi.input"] = io.BytesIO(b"")
        status_box.clear()
        it = app(env, start_response)
        size = 0
        try:
            for chunk in it:
                size += len(chunk)
        finally:
            close = getattr(it, "close", None)
            if close:
                close()
        if not status_box or not status_box[0].startswith("200"):
            raise RuntimeError(f"{path} -> {status_box}")
        return size

    return call


def prometheus_app(html: str) -> Flask:
    from prometheus_client import CollectorRegistry
    from prometheus_flask_exporter import PrometheusMetrics

    app = bare_app(html, "bench_prom")
    PrometheusMetrics(app, registry=CollectorRegistry(auto_describe=True))
    return app


def otel_app(html: str) -> tuple[Flask, Any]:
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = bare_app(html, "bench_otel")
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    return app, exporter


def find_middleware():
    """``install(app, **settings)`` of MoviePulse's SSR middleware, or None."""
    for module in ("moviepulse.ssr.middleware", "moviepulse.ssr"):
        for name in ("install_middleware", "install", "init_app", "SSRMiddleware", "SsrMiddleware"):
            obj = optional(module, name)
            if obj is not None:
                return obj, f"{module}.{name}"
    return None


CHUNKS = 20


class Blocks:
    """Samples taken in interleaved blocks: the first variant's ``run`` measures one block of every
    variant (``reqs`` requests each, in ``chunks`` chunks rotating through the variants) and each
    variant's ``run`` returns its own part of the current block, in µs of CPU time per request."""

    def __init__(self, reqs: int, chunks: int) -> None:
        self.reqs, self.chunks = reqs, chunks
        self.calls: list[tuple[Any, Any]] = []  # (call, before each sample)
        self.current: list[float] = []
        self.taken: list[bool] = []

    def add(self, call: Any, before: Any = None) -> Any:
        index = len(self.calls)
        self.calls.append((call, before))

        def run() -> float:
            if index == 0:
                self._block()
            if self.taken[index]:
                raise RuntimeError("Blocks: variants must be sampled in their order, once per round")
            self.taken[index] = True
            return self.current[index]

        return run

    def _block(self) -> None:
        n = len(self.calls)
        cpu = [0.0] * n
        for _call, before in self.calls:
            if before is not None:
                before()
        per_chunk, rest = divmod(self.reqs, self.chunks)
        clock = time.process_time  # CPU time: the VM's steal time does not land in one variant's sample
        for k in range(self.chunks):
            size = per_chunk + (1 if k < rest else 0)
            for j in range(n):
                i = (j + k) % n  # rotate: no variant always runs right after the same one
                call = self.calls[i][0]
                t = clock()
                for _ in range(size):
                    call()
                cpu[i] += clock() - t
        self.current = [c / self.reqs * 1e6 for c in cpu]
        self.taken = [False] * n


@benchmark("ssr_middleware", title="SSR middleware overhead on a cached 50 KB page", issue="issue 4")
def build(ctx: Context) -> Plan:
    html = page_50kb()
    reqs = ctx.pick(150, 5_000)  # full: the default SSR_FLUSH_MAX_ITEMS, so one flush per sample
    notes: list[str] = [f"page: {len(html.encode()):,} bytes; {reqs} requests per sample, direct WSGI calls, in "
                        f"{CHUNKS} chunks rotating through the variants"]

    blocks = Blocks(reqs, CHUNKS)
    variants = [Variant("bare Flask", blocks.add(wsgi_caller(bare_app(html))), baseline=True),
                Variant("prometheus-flask-exporter", blocks.add(wsgi_caller(prometheus_app(html))))]
    oapp, exporter = otel_app(html)
    variants.append(Variant("opentelemetry-instrumentation-flask", blocks.add(wsgi_caller(oapp), exporter.clear)))
    variants.extend(_moviepulse_variants(ctx, html, blocks, notes))
    case = Case("GET /en/movies/42 (cached 50 KB HTML)", "µs/request", variants, rounds=ctx.rounds or ctx.pick(3, 16))

    def paired(c, name: str, base: str) -> float:
        """Median over rounds of (variant − base) in the same round: the round's machine noise cancels."""
        return statistics.median(a - b for a, b in zip(c[name].samples, c[base].samples, strict=True))

    def overhead_ratio(r, mp_name: str, without: str) -> float:
        c = r[case.name]
        return paired(c, mp_name, without) / paired(c, "prometheus-flask-exporter", "bare Flask")

    core = "moviepulse core app (no ssr plugin)"
    targets = [Target(f"middleware overhead (audit {rate}; vs the same app without ssr) / prometheus overhead",
                      lambda r, n=f"moviepulse timing + audit {rate}": overhead_ratio(r, n, core), limit, "<=",
                      "issue 4")
               for rate, limit in (("10%", 0.5), ("100%", 2.0))]
    notes.append("the middleware's overhead is each moviepulse ssr row minus the core-app row (same app, same "
                 "hooks, without the ssr plugin); the core row's own ratio to bare Flask is the price of the core "
                 "hooks every MoviePulse page pays (request id, signed session, login cookie), not of telemetry")
    def cleanup() -> None:
        for rm in ctx.cache.pop("cleanups", []):
            rm()

    return Plan(cases=[case], targets=targets, notes=notes, cleanup=cleanup, params={"requests_per_sample": reqs})


def _moviepulse_variants(ctx: Context, html: str, blocks: Blocks, notes: list[str]) -> list[Variant]:
    """MoviePulse apps (core only; core + ssr at three audit rates) serving the same cached page."""
    install = optional("moviepulse.ssr.middleware", "install")
    if install is None:
        notes.append("not available: MoviePulse SSR middleware (moviepulse.ssr.middleware.install)")
        return []
    from bench.common import dispose_app, make_app, tempdir

    tmp, rm = tempdir("mp-bench-ssr-")
    ctx.cache.setdefault("cleanups", []).append(rm)
    out: list[Variant] = []
    configs = [("moviepulse core app (no ssr plugin)", ("core",), None),
               ("moviepulse timing only", ("core", "ssr"), 0.0),
               ("moviepulse timing + audit 10%", ("core", "ssr"), 0.1),
               ("moviepulse timing + audit 100%", ("core", "ssr"), 1.0)]
    for i, (name, plugins, rate) in enumerate(configs):
        # One buffer flush per sample, at its last request: every sample pays its share of the
        # flush (with fewer flushes than samples the median would leave them out).
        overrides = {"SSR_ACCESS_LOG": False, "SSR_FLUSH_MAX_ITEMS": blocks.reqs}
        if rate is not None:
            overrides["SSR_SAMPLE_RATE"] = rate
        app = make_app(f"{tmp}/ssr{i}.db", only_plugins=plugins, **overrides)

        def movie(movie_id: int) -> Response:
            return Response(html, mimetype="text/html")

        app.add_url_rule("/en/movies/<int:movie_id>", "bench_movie", movie)
        ctx.cache["cleanups"].insert(0, lambda app=app: dispose_app(app))
        out.append(Variant(name, blocks.add(wsgi_caller(app))))
    from moviepulse.ssr.audit import SCANNER

    notes.append("moviepulse variants: create_app('testing', only_plugins=…) + the same view; SSR_ACCESS_LOG off "
                 f"(the JSON access line is a separate feature); buffer flushed inline every SSR_FLUSH_MAX_ITEMS = {blocks.reqs:,} "
                 f"requests = once per block (testing config: inline), so every sample includes one flush; audit scanner: {SCANNER}")
    return out
