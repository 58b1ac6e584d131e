"""Resident memory of a web worker and of a Huey consumer after working on the data set (issue 8).

Each variant runs in fresh processes and reports RSS (``psutil``) in MB at the end of its work:

* baseline: a bare Flask app that served 50 requests of a cached 50 KB page;
* web worker: the full app (``create_app`` with every built-in plugin) on the data set after
  serving home, movie, trends and search pages and calling every dashboard query (the work a
  worker of ``gunicorn wsgi:app`` does);
* Huey consumer: a real ``huey_consumer moviepulse.worker.huey -w 2 -k thread`` process in the
  environment of a ``local`` deployment (``MOVIEPULSE_ENV=local``, SQLite Huey in a private
  instance directory, ``DATABASE_URL`` on a copy of the data set), after running the on-demand
  twins of the periodic rollup and reconciliation tasks (``ctr.rollup:now``, then
  ``reconciliation.reconcile:now``), enqueued from a separate process through
  ``pulse.enqueue`` and awaited through Huey's result store and the job ledger. RSS is the
  consumer's process tree (its worker threads live in one process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

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

#: Runs in the consumer's environment (``local``): ``prep`` completes the copy's schema before the
#: consumer starts; ``run TIMEOUT TASK…`` enqueues each task through ``pulse.enqueue``, waits for its
#: result (Huey's result store) and then for the consumer's ledger rows (``job_ledger``).
DRIVER = """
import json, sys, time
from moviepulse.app import create_app
from moviepulse.extensions import db

def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(3)

app = create_app()
if app.config["ENV_NAME"] != "local" or app.config["HUEY_BACKEND"] != "sqlite":
    fail(f"expected a local app with a SQLite Huey, got {app.config['ENV_NAME']}/{app.config['HUEY_BACKEND']}")
if sys.argv[1] == "prep":
    from bench.common import create_missing_indexes
    t0 = time.perf_counter()
    with app.app_context():
        db.create_all()
        create_missing_indexes(db.engine)
        db.session.remove()
        db.engine.dispose()
    print(json.dumps({"prep_s": time.perf_counter() - t0}))
    sys.exit(0)

from huey.exceptions import HueyException, TaskException
from sqlalchemy import select
from moviepulse.models.jobs import FINAL_STATES, JobRecord

timeout = float(sys.argv[2])
pulse = app.extensions["moviepulse"]

def summary(value):
    if isinstance(value, list):  # ctr.rollup: one dict per day rolled up
        return [f"{d.get('day')} {d.get('granularity', '')} rows={d.get('rows')}" for d in value if isinstance(d, dict)]
    if isinstance(value, dict) and "days" in value:  # reconciliation: the run summary
        return {"days": len(value["days"]), "flagged": value.get("flagged_days"), "run_id": value.get("run_id")}
    return repr(value)[:200]

ran = []
for name in sys.argv[3:]:
    if not pulse.has_task(name):
        fail(f"no task {name!r} is registered (tasks: {sorted(pulse.tasks)})")
    t0 = time.perf_counter()
    result = pulse.enqueue(name)
    try:
        value = result.get(blocking=True, timeout=timeout, max_delay=0.2)
    except TaskException as exc:
        fail(f"task {name} failed in the consumer: {exc}")
    except HueyException as exc:
        fail(f"no result of {name} after {timeout:g} s ({type(exc).__name__}: {exc})")
    ran.append({"task": pulse.tasks[name].name, "id": str(result.id), "wall_s": time.perf_counter() - t0,
                "result": summary(value)})

ids = {r["id"]: r for r in ran}
deadline = time.monotonic() + 60
while True:
    with app.app_context():
        rows = db.session.execute(select(JobRecord.task_id, JobRecord.state, JobRecord.run_seconds)
                                  .where(JobRecord.task_id.in_(list(ids)))).all()
        db.session.remove()
    states = {task_id: (state, run_s) for task_id, state, run_s in rows}
    if all(states.get(i, ("", None))[0] in FINAL_STATES for i in ids):
        break
    if time.monotonic() > deadline:
        fail(f"job ledger rows not final after 60 s: {states}")
    time.sleep(0.25)
for i, r in ids.items():
    r["ledger_state"], r["run_s"] = states[i]
    if r["ledger_state"] != "complete":
        fail(f"job ledger: {r['task']} ended {r['ledger_state']}")
with app.app_context():
    db.session.remove()
    db.engine.dispose()
print(json.dumps({"ran": ran}))
"""

#: The tasks a consumer runs periodically whose on-demand twins (``<name>:now``) are enqueued.
CONSUMER_TASKS = ("ctr.rollup", "reconciliation.reconcile")
VENV_BIN = os.path.dirname(sys.executable)

def run_script(script: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MOVIEPULSE_ENV="testing")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed ({out.returncode}): {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def local_env(db_path: str, instance: str) -> dict[str, str]:
    """The environment of a ``local`` deployment (no inherited MoviePulse settings)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MOVIEPULSE_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    env.update({"MOVIEPULSE_ENV": "local", "DATABASE_URL": f"sqlite:///{db_path}",
                "MOVIEPULSE_INSTANCE_PATH": instance, "PYTHONUNBUFFERED": "1"})
    return env


def tree_rss_mb(proc: Any) -> tuple[float, int]:
    """RSS of a process and all its descendants (MB), and how many processes that is."""
    procs = [proc]
    try:
        procs += proc.children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess: the process is gone
        return 0.0, 0
    total, n = 0, 0
    for p in procs:
        try:
            total += p.memory_info().rss
            n += 1
        except Exception:  # noqa: BLE001 - a child exited meanwhile
            pass
    return total / 2**20, n


def stop(proc: subprocess.Popen | None, sig: int, timeout: float) -> str:
    """Signal ``proc``'s process group; SIGKILL it when it has not exited after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return "exited"
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return "exited"
    try:
        proc.wait(timeout)
        return signal.Signals(sig).name
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        return f"{signal.Signals(sig).name}, then SIGKILL after {timeout:.0f} s"


def tail(path: str, chars: int = 1500) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-chars:]
    except OSError:
        return ""


def run_consumer(path: str, task_timeout: float) -> dict[str, Any]:
    """Start a real Huey consumer on a copy of the data set, run the tasks through it, read its RSS."""
    import psutil

    tmp, remove = common.tempdir("mp-bench-consumer-")
    consumer: subprocess.Popen | None = None
    driver: subprocess.Popen | None = None
    files: list[Any] = []
    stopped = ""
    try:
        t0 = time.perf_counter()
        db_path = common.copy_db(path, tmp, "moviepulse.db")
        copy_s = time.perf_counter() - t0
        instance = os.path.join(tmp, "instance")
        env = local_env(db_path, instance)
        driver_env = dict(env, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        script = textwrap.dedent(DRIVER)
        prep = subprocess.run([sys.executable, "-c", script, "prep"], cwd=tmp, env=driver_env,
                              capture_output=True, text=True, timeout=1800)
        if prep.returncode != 0:
            raise RuntimeError(f"schema preparation failed ({prep.returncode}): {prep.stdout[-400:]}"
                               f"{prep.stderr[-800:]}")

        log_path = os.path.join(tmp, "consumer.log")
        files.append(log := open(log_path, "wb"))  # noqa: SIM115 - closed in finally
        argv = [os.path.join(VENV_BIN, "huey_consumer"), "moviepulse.worker.huey", "-w", "2", "-k", "thread",
                "-n", "-m", "0.5"]
        t0 = time.perf_counter()
        consumer = subprocess.Popen(argv, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        ps = psutil.Process(consumer.pid)
        while "Huey consumer started" not in tail(log_path, 1_000_000):
            if consumer.poll() is not None:
                raise RuntimeError(f"huey_consumer exited ({consumer.returncode}) at start-up:\n{tail(log_path)}")
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"huey_consumer did not start within 120 s:\n{tail(log_path)}")
            time.sleep(0.1)
        startup_s = time.perf_counter() - t0
        idle_mb, _ = tree_rss_mb(ps)

        out_path = os.path.join(tmp, "driver.out")
        files.append(out := open(out_path, "wb"))  # noqa: SIM115 - closed in finally
        files.append(err := open(os.path.join(tmp, "driver.err"), "wb"))  # noqa: SIM115
        t0 = time.perf_counter()
        driver = subprocess.Popen([sys.executable, "-c", script, "run", str(task_timeout), *CONSUMER_TASKS],
                                  cwd=tmp, env=driver_env, stdout=out, stderr=err, start_new_session=True)
        peak_mb = idle_mb
        limit = task_timeout * len(CONSUMER_TASKS) + 180
        while driver.poll() is None:
            if consumer.poll() is not None:
                raise RuntimeError(f"huey_consumer exited ({consumer.returncode}) while running the tasks:\n"
                                   f"{tail(log_path)}")
            if time.perf_counter() - t0 > limit:
                raise RuntimeError(f"tasks not finished after {limit:.0f} s:\n{tail(log_path)}")
            peak_mb = max(peak_mb, tree_rss_mb(ps)[0])
            time.sleep(0.2)
        lines = tail(out_path, 100_000).strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, ValueError):
            result = {"error": f"driver exited {driver.returncode} without a result:\n"
                               f"{tail(os.path.join(tmp, 'driver.err'))}"}
        if "error" in result or driver.returncode != 0:
            raise RuntimeError(f"{result.get('error')}\nconsumer log:\n{tail(log_path)}")
        rss_mb, nproc = tree_rss_mb(ps)
        peak_mb = max(peak_mb, rss_mb)
        t0 = time.perf_counter()
        stopped = stop(consumer, signal.SIGINT, 30)
        stop_s = time.perf_counter() - t0
        ran = result["ran"]
        return {
            "rss_mb": rss_mb,
            "command": "huey_consumer " + " ".join(argv[1:]) + " (MOVIEPULSE_ENV=local, SQLite Huey)",
            "ran": ", ".join(f"{r['task']} {r['run_s']:.2f} s (result after {r['wall_s']:.2f} s)" for r in ran),
            "results": {r["task"]: r["result"] for r in ran},
            "processes": nproc,
            "idle_rss_mb": round(idle_mb, 1),
            "peak_rss_mb": round(peak_mb, 1),
            "startup_s": round(startup_s, 2),
            "tasks_s": round(sum(r["wall_s"] for r in ran), 2),
            "copy_s": round(copy_s, 1),
            "stop": f"{stopped} ({stop_s:.1f} s)",
        }
    finally:
        stop(driver, signal.SIGKILL, 10)
        if not stopped:
            stop(consumer, signal.SIGINT, 30)
        for f in files:
            f.close()
        remove()


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

    def consumer_variant(path: str, task_timeout: float) -> Variant:
        v = Variant("real Huey consumer (huey_consumer -w 2 -k thread)", lambda: 0.0)

        def run() -> float:
            out = run_consumer(path, task_timeout)
            v.info.update({k: val for k, val in out.items() if k != "rss_mb"})
            return out["rss_mb"]

        v.run = run
        return v

    case = Case(f"after working on {n:,} events", "MB RSS", [
        variant("bare Flask process", BARE, baseline=True),
        variant("web worker (full app)", WEB, path, ctx.pick("quick", "full")),
        consumer_variant(path, task_timeout=ctx.pick(300.0, 1200.0)),
    ], rounds=ctx.rounds or 1, warmup=0)
    return Plan(cases=[case], params={"dataset_events": n},
                notes=["each sample is a fresh subprocess; RSS at the end of its work",
                        "the consumer runs with -n (no periodic scheduling: only the enqueued tasks run) and "
                        "-m 0.5 (poll the queue at least every 0.5 s)"])
