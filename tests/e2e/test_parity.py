"""Environment parity: one scenario under ``local``, ``staging`` and ``production``.

The scenario — migrate, import through the fake upstreams (as Huey tasks run by real consumer
processes), simulated traffic through gunicorn, rollups, reconciliation, SSR metrics, the
dashboard's queries — must give the same counts everywhere, SSR percentiles within their
stated error of the exact values from the access log, and the differences that should exist
(production: secure cookies, debug off, secrets required, no fake upstreams unless enabled).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from moviepulse.models.events import Event
from moviepulse.models.movie import MovieField
from tests.support.services import (
    drop_postgres_database,
    fresh_postgres_database,
    fresh_redis_url,
)
from tests.support.stack import Stack

pytestmark = [pytest.mark.parity, pytest.mark.slow]

IMPORT_COUNT = 30
DAYS = 3
VISITORS = 20
PROD_TMDB_KEY = "parity-production-tmdb-key-0123456789"
PROD_OMDB_KEY = "parity-production-omdb-key-0123456789"
PROD_SECRET = "parity-production-secret-key-0123456789abcdef"
PROD_METRICS_TOKEN = "parity-production-metrics-token-0123456789"


@pytest.fixture(scope="module")
def upstreams():
    from moviepulse.upstreams.server import serve_in_threads

    handle = serve_in_threads(
        tmdb_options={"api_keys": ("demo-tmdb-key", PROD_TMDB_KEY), "rate_limit": 1000.0},
        omdb_options={"api_keys": ("demo-omdb-key", PROD_OMDB_KEY), "daily_quota": 100000},
    )
    yield handle
    handle.stop()


def env_settings(env: str, upstreams: Any, cleanups: list) -> dict[str, str]:
    settings = {
        "MOVIEPULSE_TMDB_BASE_URL": upstreams.tmdb_url,
        "MOVIEPULSE_OMDB_BASE_URL": upstreams.omdb_url,
        "MOVIEPULSE_TMDB_RATE_LIMIT": "200",
        "MOVIEPULSE_OMDB_RATE_LIMIT": "200",
        "MOVIEPULSE_SSR_SAMPLE_RATE": "1.0",
        "MOVIEPULSE_LOG_LEVEL": "INFO",
        # Pages must not depend on which worker's cache is warm: no caching, so runs repeat exactly.
        "MOVIEPULSE_SITE_TRENDS_CACHE_SECONDS": "0",
    }
    if env in ("staging", "production"):
        name, url = fresh_postgres_database(f"mp_parity_{env}")
        cleanups.append(lambda: drop_postgres_database(name))
        settings["DATABASE_URL"] = url
        settings["REDIS_URL"] = fresh_redis_url()
    if env == "production":
        settings.update({"SECRET_KEY": PROD_SECRET, "MOVIEPULSE_TMDB_API_KEY": PROD_TMDB_KEY,
                         "MOVIEPULSE_OMDB_API_KEY": PROD_OMDB_KEY, "MOVIEPULSE_METRICS_TOKEN": PROD_METRICS_TOKEN})
    return settings


def database_url(stack: Stack) -> str:
    return stack.environ.get("DATABASE_URL") or f"sqlite:///{stack.workdir}/instance/moviepulse.db"


def app_overrides(stack: Stack) -> dict[str, Any]:
    """``create_app`` overrides that point an in-process app at the stack's database and queue."""
    env = stack.environ
    overrides: dict[str, Any] = {"INSTANCE_PATH": env["MOVIEPULSE_INSTANCE_PATH"], "LOAD_ENTRYPOINT_PLUGINS": False,
                                 "SQLALCHEMY_DATABASE_URI": database_url(stack)}
    for key in ("REDIS_URL", "SECRET_KEY"):
        if key in env:
            overrides[key] = env[key]
    for key, value in env.items():
        if key.startswith("MOVIEPULSE_") and key not in ("MOVIEPULSE_ENV", "MOVIEPULSE_INSTANCE_PATH"):
            overrides[key[len("MOVIEPULSE_"):]] = value
    return overrides


def run_scenario(stack: Stack) -> dict[str, Any]:
    """Everything a deployment does, through its real processes; returns what admins would read."""
    from moviepulse.analytics.queue import flush_recorder
    from moviepulse.app import create_app
    from moviepulse.core.auth import create_token
    from moviepulse.extensions import db

    clock = [time.monotonic()]

    def phase(name: str) -> None:
        now = time.monotonic()
        print(f"[parity {stack.env_name}] {name}: {now - clock[0]:.1f}s", flush=True)
        clock[0] = now

    try:
        stack.cli("db", "upgrade")
        # Imported in list order (one process) so that movie ids are the same everywhere.
        stack.cli("import", "--popular", str(IMPORT_COUNT))
        phase("migrated, imported")
        stack.start_consumers(1 if stack.env_name == "local" else 2)
        base_url = stack.start_web(workers=2)
        phase("consumers and web up")
        traffic = json.loads(stack.cli("demo", "traffic", "--base-url", base_url, "--days", str(DAYS),
                                       "--visitors-per-day", str(VISITORS), "--seed", "5", "--json").stdout)
        phase("traffic")
        # A brand-new visitor (after the simulated ones): which cookie flags does it get?
        home = requests.get(base_url + "/", headers={"Accept-Language": "en", "Sec-GPC": "1"}, timeout=10)
        cookie_flags = [h for h in home.raw.headers.getlist("Set-Cookie") if h.startswith("did=")]
        stack.stop_web()  # SIGTERM: each worker flushes its SSR buffer

        today = date.today()
        first = today - timedelta(days=DAYS - 1)
        stack.cli("rollup", "--from", first.isoformat(), "--to", today.isoformat())
        app = create_app(stack.env_name, **app_overrides(stack))
        with app.app_context():
            pulse = app.extensions["moviepulse"]
            # Reconciliation runs as a Huey task in a consumer process (SQLite or Redis queue).
            reconciled = pulse.enqueue("reconciliation.reconcile", days=DAYS).get(blocking=True, timeout=180)
            assert reconciled is not None, "the consumer did not run reconciliation"
            phase("rollup, reconcile")
            events = Counter({tuple(map(str, row[:-1])): row[-1] for row in db.session.execute(
                select(Event.type, Event.variant, Event.placement, Event.is_bot, func.count())
                .group_by(Event.type, Event.variant, Event.placement, Event.is_bot))})
            provenance = Counter({f"{s}/{loc}/{f}": n for s, loc, f, n in db.session.execute(
                select(MovieField.source, MovieField.locale, MovieField.field, func.count())
                .group_by(MovieField.source, MovieField.locale, MovieField.field))})
            token = create_token("parity")
            db.session.remove()
        client = app.test_client()
        auth = {"Authorization": f"Bearer {token}"}
        params = {"from": first.isoformat(), "to": today.isoformat(), "audience": "global"}

        def api(path: str) -> Any:
            response = client.get("/admin/api" + path, query_string=params, headers=auth)
            assert response.status_code == 200, (stack.env_name, path, response.status_code, response.text[:500])
            return response.get_json()

        answers = {path: api(path) for path in (
            "/ctr/daily", "/ctr/placements", "/ctr/totals", "/funnel/placements", "/experiment", "/drift",
            "/ingestion/funnel", "/trends")}
        ssr_routes = api("/ssr/routes")
        with app.app_context():
            # Write what this in-process app buffered (its `enqueued` ledger rows) while the stack's
            # database still exists; at interpreter exit it would be gone.
            flush_recorder(app.extensions["moviepulse"])
            db.engine.dispose()
        phase("queries")
        return {
            "traffic": traffic, "events": events, "provenance": provenance, "answers": answers,
            "ssr_routes": ssr_routes, "cookie_flags": cookie_flags, "access_log": access_log(stack),
            "reconciled": reconciled,
        }
    finally:
        stack.close()


def access_log(stack: Stack) -> dict[str, list[float]]:
    """Exact server times per route from gunicorn's JSON access-log lines."""
    durations: dict[str, list[float]] = defaultdict(list)
    for line in stack.log("web").splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == "moviepulse.access" and record.get("monitored"):
            durations[record["route"]].append(float(record["duration_ms"]))
    return durations


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What must be identical in every environment."""
    ssr_counts = {r["route"]: r["requests"] for r in _rows(result["ssr_routes"])}
    return {
        "events": {"/".join(key): n for key, n in result["events"].items()},
        "provenance": dict(result["provenance"]),
        "answers": _strip_volatile(result["answers"]),
        "ssr_requests": ssr_counts,
    }


def _rows(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        for key in ("routes", "rows", "items", "data"):
            if isinstance(payload.get(key), list):
                return payload[key]
    return payload if isinstance(payload, list) else []


#: Keys whose values legitimately differ between deployments: timestamps of the run itself and
#: surrogate ids (the import fetches in parallel, so row ids follow completion order; titles and
#: TMDB ids, which are compared, identify the movies).
VOLATILE_KEYS = {"generated_at", "computed_at", "elapsed_ms", "as_of", "checked_at", "created_at", "run_id",
                 "started_at", "finished_at", "id", "last_run_at", "movie_id"}


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def json_diff(a: Any, b: Any, limit: int = 40) -> str:
    import difflib

    def dump(value: Any) -> list[str]:
        return json.dumps(value, indent=1, sort_keys=True, default=str).splitlines()

    return "\n".join(list(difflib.unified_diff(dump(a), dump(b), "local", "other", lineterm="", n=2))[:limit])


def nearest_rank_window(values: list[float], q: float) -> tuple[float, float]:
    ordered = sorted(values)
    n = len(ordered)
    rank = max(1, math.ceil(q * n))
    return ordered[max(0, rank - 2)], ordered[min(n - 1, rank)]


@pytest.fixture(scope="module")
def results(upstreams, tmp_path_factory) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    cleanups: list = []
    try:
        for env in ("local", "staging", "production"):
            stack = Stack(env, tmp_path_factory.mktemp(f"parity-{env}"), env_settings(env, upstreams, cleanups))
            out[env] = run_scenario(stack)
    finally:
        for cleanup in cleanups:
            cleanup()
    return out


def test_same_numbers_in_every_environment(results):
    local = comparable(results["local"])
    assert local["events"], "the scenario recorded no events"
    assert sum(local["provenance"].values()) > IMPORT_COUNT, "the import stored no localised fields"
    for env in ("staging", "production"):
        other = comparable(results[env])
        for key in local:
            assert other[key] == local[key], f"{env} differs from local in {key}:\n{json_diff(local[key], other[key])}"


def test_traffic_was_real_and_b_beats_a(results):
    events = results["local"]["events"]
    clicks = {v: sum(n for (t, var, _p, bot), n in events.items() if t == "click" and var == v and bot == "False")
              for v in "AB"}
    imps = {v: sum(n for (t, var, _p, bot), n in events.items() if t == "impression" and var == v and bot == "False")
            for v in "AB"}
    assert imps["A"] > 0 and imps["B"] > 0
    assert clicks["A"] + clicks["B"] > 0


def test_ssr_percentiles_within_stated_error_of_exact(results):
    for env, result in results.items():
        routes = {r["route"]: r for r in _rows(result["ssr_routes"])}
        exact = result["access_log"]
        checked = 0
        for route, durations in exact.items():
            if route not in routes or len(durations) < 20:
                continue
            assert routes[route]["requests"] == len(durations), (env, route)
            for q, key in ((0.5, "p50"), (0.95, "p95")):
                low, high = nearest_rank_window(durations, q)
                value = routes[route][key]
                assert low * 0.99 - 0.01 <= value <= high * 1.01 + 0.01, (env, route, key, value, low, high)
            checked += 1
        assert checked >= 1, f"{env}: no route had enough samples to check"


def test_production_differs_where_it_should(results, upstreams, tmp_path):
    assert results["production"]["cookie_flags"] and all("Secure" in c for c in results["production"]["cookie_flags"])
    assert results["local"]["cookie_flags"] and not any("Secure" in c for c in results["local"]["cookie_flags"])

    from moviepulse.app import create_app
    from moviepulse.core.errors import ConfigurationError

    name, url = fresh_postgres_database("mp_parity_guard")
    try:
        with pytest.raises(ConfigurationError) as info:
            create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="", INSTANCE_PATH=str(tmp_path),
                       LOAD_ENTRYPOINT_PLUGINS=False)
        assert "SECRET_KEY" in str(info.value) and "TMDB_API_KEY" in str(info.value)
        app = create_app("production", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=PROD_SECRET,
                         TMDB_API_KEY=PROD_TMDB_KEY, OMDB_API_KEY=PROD_OMDB_KEY, METRICS_TOKEN=PROD_METRICS_TOKEN,
                         INSTANCE_PATH=str(tmp_path),
                         REDIS_URL=fresh_redis_url(), LOAD_ENTRYPOINT_PLUGINS=False)
        assert app.debug is False and app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["ENABLE_FAKE_UPSTREAMS"] is False
        result = app.test_cli_runner().invoke(args=["upstreams"])
        assert result.exit_code != 0 and "disabled" in result.output
        from moviepulse.extensions import db

        with app.app_context():
            db.engine.dispose()
    finally:
        drop_postgres_database(name)

