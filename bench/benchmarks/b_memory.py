"""Resident memory of a web worker and of a Huey consumer after working on the data set (issue 8).

Each variant runs in a fresh subprocess and reports its RSS (``psutil``) in MB at the end:

* baseline: a bare Flask app that served 50 requests of a cached 50 KB page;
* web worker: the full app (``create_app`` with every built-in plugin) on the data set after
  serving home, movie, trends and search pages and calling every dashboard query (the work a
  worker of ``gunicorn wsgi:app`` does);
* Huey consumer: the full app and its Huey after running the rollup of the last day and a
  7-day reconciliation in-process (what the consumer's periodic tasks do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from bench import common
from bench.benchmarks.b_rollup import dataset_size
from bench.harness import Case, Context, Plan, Variant, benchmark

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BARE = """
import json, psutil
from flask import Flask, Response
from bench.common import page_50kb
app = Flask("bare")
page = page_50kb()
app.add_url_rule("/p", "p", lambda: Response(page, mimetype="text/html"))
c = app.test_client()
for _ in range(50):
    c.get("/p")
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 2**20}))
"""

WEB = """
import json, psutil, sys
from datetime import timedelta
from bench import common
from bench.benchmarks.b_rollup import dataset_days
path = sys.argv[1]
app = common.make_app(path, SSR_ACCESS_LOG=False)
c = app.test_client()
done = 0
for url in ["/en/", "/de/", "/en/trends", "/en/search?q=Film"] + [f"/en/movies/{i}" for i in range(1, 40)]:
    r = c.get(url, headers={"User-Agent": "Mozilla/5.0 (bench)"})
    done += r.status_code == 200
first, last = dataset_days(path)
q = common.optional("moviepulse.analytics.queries")
calls = 0
if q is not None:
    from moviepulse.extensions import db
    with app.app_context():
        names = ["ctr_daily", "ctr_by_placement", "ctr_totals", "placement_funnel", "drift", "queue", "trends",
                 "experiment"]
        for name in names if sys.argv[2] == "full" else names[:2]:
            f = getattr(q, name, None)
            if f is not None:
                f(db.session, last - timedelta(days=30), last, "global")
                calls += 1
common.dispose_app(app)
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 2**20, "pages_ok": done, "queries": calls}))
"""

CONSUMER = """
import json, psutil, sys
from datetime import timedelta
from bench import common
from bench.benchmarks.b_rollup import dataset_days
path = sys.argv[1]
app = common.make_app(path, SSR_ACCESS_LOG=False)
pulse = app.extensions["moviepulse"]
huey = pulse.huey
first, last = dataset_days(path)
from moviepulse.extensions import db
ran = []
roll = common.optional("moviepulse.analytics.rollups", "rollup_day")
rec = common.optional("moviepulse.analytics.reconcile", "reconcile")
with app.app_context():
    if roll is not None:
        roll(db.session, last - timedelta(days=1)); ran.append("rollup_day")
    if rec is not None:
        rec(db.session, days=7, end=last - timedelta(days=1)); ran.append("reconcile")
common.dispose_app(app)
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 2**20, "ran": ran,
                  "huey": type(huey).__name__}))
"""


def run_script(script: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MOVIEPULSE_ENV="testing")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed ({out.returncode}): {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@benchmark("memory", title="Resident memory of a web worker and a Huey consumer", issue="issue 8")
def build(ctx: Context) -> Plan:
    common.require("psutil", what="psutil (pip install psutil)")
    n = dataset_size(ctx)
    path = common.dataset(ctx, n)

    def variant(name: str, script: str, *args: str, baseline: bool = False) -> Variant:
        v = Variant(name, lambda: 0.0, baseline=baseline)

        def run() -> float:
            out = run_script(script, *args)
            v.info.update({k: val for k, val in out.items() if k != "rss_mb"})
            return out["rss_mb"]

        v.run = run
        return v

    case = Case(f"after working on {n:,} events", "MB RSS", [
        variant("bare Flask process", BARE, baseline=True),
        variant("web worker (full app)", WEB, path, ctx.pick("quick", "full")),
        variant("Huey consumer (full app + tasks)", CONSUMER, path),
    ], rounds=ctx.rounds or 1, warmup=0)
    return Plan(cases=[case], params={"dataset_events": n},
                notes=["each sample is a fresh subprocess; RSS at the end of its work"])
