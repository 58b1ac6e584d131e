"""Shared fixtures of the benchmarks: event batches, a 50 KB page, apps, data sets, availability checks."""

from __future__ import annotations

import importlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bench import datagen
from bench.harness import Context, NotAvailable

# --------------------------------------------------------------------------- availability

def require(module: str, attr: str | None = None, what: str = "") -> Any:
    """Import ``module`` (and ``attr``) or raise NotAvailable naming what is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise NotAvailable(f"{what or module} ({type(exc).__name__}: {exc})") from None
    if attr is None:
        return mod
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise NotAvailable(what or f"{module}.{attr}")
        obj = getattr(obj, part)
    return obj


def optional(module: str, attr: str | None = None) -> Any | None:
    try:
        return require(module, attr)
    except NotAvailable:
        return None


# --------------------------------------------------------------------------- apps

def make_app(db_path: str, *, only_plugins: Any = None, **overrides: Any):
    """A MoviePulse app (env testing) on the SQLite file ``db_path``; tables created if missing."""
    os.environ.setdefault("MOVIEPULSE_ENV", "testing")
    from moviepulse.app import create_app
    from moviepulse.extensions import db

    inst = tempfile.mkdtemp(prefix="mp-bench-inst-")
    overrides.setdefault("LOG_JSON", False)
    overrides.setdefault("LOG_LEVEL", "WARNING")
    kwargs: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "INSTANCE_PATH": inst, **overrides}
    if only_plugins is not None:
        kwargs["only_plugins"] = only_plugins
    app = create_app("testing", **kwargs)
    app.config["BENCH_INSTANCE_DIR"] = inst  # removed by dispose_app
    with app.app_context():
        db.create_all()
        create_missing_indexes(db.engine)
    _quiet_logs()
    return app


def create_missing_indexes(engine) -> None:
    """``create_all`` skips existing tables, indexes included: add the metadata's indexes a cached
    data set lacks (see ``datagen.ON_OPEN_INDEXES``), so it always has the app's full schema."""
    from moviepulse.models.base import Base

    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def dispose_app(app) -> None:
    """Flush what the app buffers (SSR telemetry, queue ledger) and close its connections.

    Call before deleting the app's database, or the at-exit flushes fail on a missing file.
    """
    from moviepulse.extensions import db

    flush = optional("moviepulse.ssr.runtime", "flush_now")
    if flush is not None and "moviepulse.ssr" in app.extensions:
        try:
            with app.app_context():
                flush(app)
        except Exception:  # noqa: BLE001 - best effort; the benchmark is over
            pass
        rt = app.extensions.get("moviepulse.ssr")
        if rt is not None and hasattr(rt, "enabled"):
            rt.enabled = False
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    inst = app.config.get("BENCH_INSTANCE_DIR")
    if inst:
        shutil.rmtree(inst, ignore_errors=True)


def _quiet_logs() -> None:
    import logging

    for name in ("moviepulse", "werkzeug", "huey"):
        logging.getLogger(name).setLevel(logging.WARNING)


def has_route(app, rule_prefix: str, method: str = "GET") -> bool:
    return any(r.rule.startswith(rule_prefix) and method in (r.methods or ()) for r in app.url_map.iter_rules())


# --------------------------------------------------------------------------- events

def event_batches(n_batches: int, batch: int = 100, *, id_kind: str = "uuid7", seed: int = 7,
                  start: datetime | None = None) -> list[list[dict[str, Any]]]:
    """API-shaped event batches (``{"event_id", "type", "ts", …}``), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    n = n_batches * batch
    start = start or (datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1))
    start_us = int((start - datetime(1970, 1, 1)).total_seconds() * 1e6)
    us = start_us + np.cumsum(rng.integers(100, 5_000, size=n))
    if id_kind == "uuid7":
        ids = datagen.uuid7_strings(us // 1000, rng.integers(0, 2**62, size=n, dtype=np.int64))
    elif id_kind == "uuid4":
        ids = datagen.uuid4_strings(rng, n)
    else:
        raise ValueError(id_kind)
    times = [t.replace(" ", "T") + "Z" for t in datagen.datetime_strings(us)]
    devices = datagen.uuid4_strings(rng, max(1, n // 40))
    dev = rng.integers(0, len(devices), size=n).tolist()
    typ = rng.choice(3, size=n, p=(0.9, 0.05, 0.05)).tolist()
    movie = rng.integers(1, 10_001, size=n).tolist()
    place = rng.integers(0, 4, size=n).tolist()
    pos = rng.integers(1, 13, size=n).tolist()
    loc = rng.integers(0, len(datagen.LOCALES), size=n).tolist()
    out: list[list[dict[str, Any]]] = []
    for b in range(n_batches):
        events = []
        for i in range(b * batch, (b + 1) * batch):
            events.append({"event_id": ids[i], "type": ("impression", "click", "view")[typ[i]], "ts": times[i],
                           "device_id": devices[dev[i]], "movie_id": movie[i],
                           "placement": datagen.PLACEMENTS[place[i]], "variant": "AB"[dev[i] % 2],
                           "position": pos[i], "locale": datagen.LOCALES[loc[i]]})
        out.append(events)
    return out


def event_rows(events: list[dict[str, Any]]) -> list[tuple]:
    """The rows that the events table holds for API events (audience keys as a server would set them)."""
    rows = []
    for e in events:
        t = e["ts"].rstrip("Z").replace("T", " ")
        rows.append((e["event_id"], e["type"], t, t, e["device_id"], e["movie_id"], e["placement"], e["variant"],
                     e["position"], e["locale"], "desktop", "returning", "2026-W40", 0, "beacon", None))
    return rows


INSERT_EVENT_SQL = ("INSERT INTO events (" + ", ".join(datagen.EVENT_COLUMNS) + ") VALUES ("
                    + ",".join("?" * len(datagen.EVENT_COLUMNS)) + ")")


def app_connection(path: str) -> sqlite3.Connection:
    """A sqlite3 connection with the app's pragmas (WAL, synchronous=NORMAL, busy timeout)."""
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
        con.execute(f"PRAGMA {pragma}")
    return con


# --------------------------------------------------------------------------- data sets

def dataset(ctx: Context, events: int, *, days: int = 90) -> str:
    """Path of the cached seeded data set of ``events`` events (generated on first use)."""
    key = f"dataset:{events}:{days}"
    if key not in ctx.cache:
        spec = datagen.DataSpec(events=events, days=days, seed=ctx.seed)
        ctx.log(f"data set: {events:,} events over {days} days (cached in bench/.data after the first run)")
        path, stats = datagen.ensure_dataset(spec, ctx.data_dir, progress=ctx.verbose)
        if stats is not None:
            ctx.log(f"generated in {stats.total_s:.1f} s: executemany {stats.executemany_rate:,.0f} events/s, "
                    f"load {stats.load_rate:,.0f} events/s, indexes {stats.index_s:.1f} s")
        ctx.cache[key] = path
    return ctx.cache[key]


def copy_db(src: str, dst_dir: str, name: str) -> str:
    dst = os.path.join(dst_dir, name)
    shutil.copyfile(src, dst)
    return dst


def tempdir(prefix: str) -> tuple[str, Callable[[], None]]:
    path = tempfile.mkdtemp(prefix=prefix)
    return path, lambda: shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- a 50 KB page

def page_50kb(size: int = 50 * 1024) -> str:
    """A realistic server-rendered movie page of about ``size`` bytes (head, JSON-LD, rails, scripts)."""
    head = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Synthetic Film 00042 (2019) — MoviePulse</title>",
        '<meta name="description" content="Overview of synthetic film 42, a drama about benchmarks.">',
        '<link rel="canonical" href="https://moviepulse.example/en/movies/42">',
    ]
    for loc in ("en", "de", "fr", "es", "pt-BR"):
        head.append(f'<link rel="alternate" hreflang="{loc}" href="https://moviepulse.example/{loc}/movies/42">')
    for prop, val in (("og:title", "Synthetic Film 00042"), ("og:type", "video.movie"),
                      ("og:url", "https://moviepulse.example/en/movies/42"),
                      ("og:image", "https://image.example/t/p/w780/poster42.jpg"),
                      ("og:description", "Overview of synthetic film 42.")):
        head.append(f'<meta property="{prop}" content="{val}">')
    head.append('<meta name="twitter:card" content="summary_large_image">')
    head.append('<link rel="stylesheet" href="/static/site.css">')
    head.append('<script nonce="r4nd0m" type="application/ld+json">{"@context":"https://schema.org",'
                '"@type":"Movie","name":"Synthetic Film 00042","datePublished":"2019-06-15",'
                '"aggregateRating":{"@type":"AggregateRating","ratingValue":7.1,"ratingCount":1234}}</script>')
    head.append('<script src="/static/site.js" defer></script><script src="/static/legacy.js"></script>')
    head.append("</head><body><header><nav><a href='/en/'>Home</a> <a href='/en/trends'>Trends</a></nav></header>")
    body: list[str] = ["<main><article><h1>Synthetic Film 00042</h1><p>" + "A long overview sentence. " * 20
                       + "</p>"]
    i = 0
    while sum(map(len, head)) + sum(map(len, body)) < size - 200:
        i += 1
        body.append(f'<div class="card"><a href="/en/movies/{1000 + i}?placement=show&amp;variant=A&amp;'
                    f'position={i % 12 + 1}"><img src="https://image.example/t/p/w342/p{i}.jpg" '
                    f'alt="Synthetic Film {1000 + i:05d}" loading="lazy" width="171" height="256">'
                    f"<span class=\"title\">Synthetic Film {1000 + i:05d}</span></a>"
                    f"<p class=\"meta\">Drama · {1950 + i % 70} · ★ {5 + i % 4}.{i % 10}</p></div>")
    body.append("</article></main><footer>MoviePulse</footer></body></html>")
    html = "\n".join(head + body)
    return html
