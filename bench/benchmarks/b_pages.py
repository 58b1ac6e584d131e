"""Home and movie page server time with 10,000 movies and 1,000,000 events (issue 2).

The full app (every built-in plugin, SSR middleware included) on a copy of the seeded data set
(pages record impressions and views, so they write). Requests go through the WSGI test client
with the cookies of a returning visitor; each sample is the mean over a few requests to the
same route, so the median over samples is the "median server time" of the target. Baseline:
bare Flask returning a cached 50 KB page through the same client (the floor of the method).
"""

from __future__ import annotations

import time

from flask import Flask, Response

from bench import common
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark


@benchmark("pages", title="Home and movie page server time (10,000 movies, 1,000,000 events)", issue="issue 2")
def build(ctx: Context) -> Plan:
    n = ctx.events or ctx.pick(200_000, 1_000_000)
    src = common.dataset(ctx, n)
    tmp, rm = common.tempdir("mp-bench-pages-")
    path = common.copy_db(src, tmp, "pages.db")
    app = common.make_app(path, SSR_ACCESS_LOG=False)
    if not common.has_route(app, "/<locale:locale>/movies/"):
        rm()
        raise NotAvailable("the site's movie page route (moviepulse.site)")
    client = app.test_client()
    home = client.get("/en/", headers={"User-Agent": "Mozilla/5.0 (bench)"})
    if home.status_code != 200:
        rm()
        raise RuntimeError(f"GET /en/ -> {home.status_code}")
    con = common.app_connection(path)
    movie_id = con.execute("SELECT movie_id FROM events WHERE type='click' GROUP BY movie_id "
                           "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    reqs = ctx.pick(2, 10)

    bare = Flask("bench_pages")
    page = common.page_50kb()
    bare.add_url_rule("/page", "page", lambda: Response(page, mimetype="text/html"))
    bare_client = bare.test_client()

    def timed(c, url: str):
        def run() -> float:
            t = time.perf_counter()
            for _ in range(reqs):
                resp = c.get(url, headers={"User-Agent": "Mozilla/5.0 (bench)"})
                if resp.status_code != 200:
                    raise RuntimeError(f"GET {url} -> {resp.status_code}")
            return (time.perf_counter() - t) / reqs * 1000
        return run

    variants = [Variant("bare Flask cached 50 KB page", timed(bare_client, "/page"), baseline=True),
                Variant("home /en/", timed(client, "/en/")),
                Variant(f"movie page /en/movies/{movie_id}", timed(client, f"/en/movies/{movie_id}")),
                Variant("trends /en/trends", timed(client, "/en/trends")),
                Variant("search /en/search?q=Film", timed(client, "/en/search?q=Film"))]
    case = Case(f"{n:,} events, 10,000 movies, returning visitor", "ms/request", variants,
                rounds=ctx.rounds or ctx.pick(2, 15))

    def cleanup() -> None:
        common.dispose_app(app)
        rm()

    return Plan(cases=[case], cleanup=cleanup, params={"dataset_events": n, "requests_per_sample": reqs},
                targets=[Target("home page median (ms)", lambda r: r[case.name]["home /en/"].median, 15, "<=",
                                "issue 2"),
                         Target("movie page median (ms)",
                                lambda r: r[case.name][f"movie page /en/movies/{movie_id}"].median, 15, "<=",
                                "issue 2")],
                notes=["test client + cookies of a returning visitor; pages write impressions/views to a copy"])
