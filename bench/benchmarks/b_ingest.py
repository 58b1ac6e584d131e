"""Event ingestion: ``POST /api/events`` vs raw ``sqlite3.executemany`` of the same rows (issue 2).

Two cases, random client ids (UUIDv4) and time-ordered ids (UUIDv7). Every variant writes the
same batches of 100 into its own copy of the same pre-filled database (the unique index on
``event_id`` already holds the pre-fill), one transaction per batch, as a request would:

* raw sqlite3 executemany (baseline) — the rows exactly as stored, app pragmas (WAL, NORMAL);
* SQLAlchemy ORM ``add_all`` — for orientation;
* ````moviepulse.site.tracking.record_events`` called directly (when it exists);
* ``POST /api/events`` in-process through the WSGI test client (when the route exists).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime

from bench import common, datagen
from bench.harness import Case, Context, NotAvailable, Plan, Target, Variant, benchmark


@benchmark("ingest", title="Event ingestion: POST /api/events vs raw sqlite3.executemany", issue="issue 2")
def build(ctx: Context) -> Plan:
    per_sample = ctx.pick(500, 10_000)  # rows per sample
    prefill = ctx.pick(5_000, 300_000)
    rounds = ctx.default_rounds(full=7, quick=2)
    batches_per_sample = per_sample // 100
    tmp, rm = common.tempdir("mp-bench-ingest-")
    template = os.path.join(tmp, "template.db")
    ctx.log(f"ingest: pre-filling a template database with {prefill:,} events")
    datagen.generate(template, datagen.DataSpec(events=prefill, movies=10_000, seed=ctx.seed))
    notes: list[str] = []
    cases: list[Case] = []
    apps = []
    post_available = record_available = False
    for id_kind in ("uuid4", "uuid7"):
        n_samples = rounds + 1  # + warm-up
        batches = common.event_batches(n_samples * batches_per_sample, id_kind=id_kind, seed=ctx.seed + 1)
        variants: list[Variant] = []

        def sampler(insert_batch, batches=batches):
            state = {"i": 0}

            def run() -> float:
                i = state["i"]
                state["i"] += 1
                chunk = batches[i * batches_per_sample:(i + 1) * batches_per_sample]
                t = time.perf_counter()
                for b in chunk:
                    insert_batch(b)
                return len(chunk) * 100 / (time.perf_counter() - t)

            return run

        # raw baseline
        raw_db = common.copy_db(template, tmp, f"raw-{id_kind}.db")
        raw_con = common.app_connection(raw_db)

        def raw_insert(events, con=raw_con):
            rows = common.event_rows(events)
            con.execute("BEGIN")
            con.executemany(common.INSERT_EVENT_SQL, rows)
            con.execute("COMMIT")

        variants.append(Variant("raw sqlite3 executemany", sampler(raw_insert), baseline=True))

        # ORM add_all
        orm_db = common.copy_db(template, tmp, f"orm-{id_kind}.db")
        orm_app = common.make_app(orm_db, only_plugins=("core",))
        apps.append(orm_app)

        def orm_insert(events, app=orm_app):
            from moviepulse.extensions import db
            from moviepulse.models.events import Event

            with app.app_context():
                objs = []
                for r in common.event_rows(events):
                    kw = dict(zip(datagen.EVENT_COLUMNS, r, strict=True))
                    kw["event_time"] = kw["received_at"] = datetime.fromisoformat(kw["event_time"])
                    kw["is_bot"] = bool(kw["is_bot"])
                    objs.append(Event(**kw))
                db.session.add_all(objs)
                db.session.commit()

        variants.append(Variant("SQLAlchemy ORM add_all", sampler(orm_insert)))

        # MoviePulse: record_events and POST /api/events (the full app)
        mp_db = common.copy_db(template, tmp, f"mp-{id_kind}.db")
        try:
            mp_app = common.make_app(mp_db)
        except Exception as exc:  # the app itself does not start: report, keep the baselines
            notes.append(f"MoviePulse app failed to start: {type(exc).__name__}: {exc}")
            mp_app = None
        if mp_app is not None:
            apps.append(mp_app)
            record = common.optional("moviepulse.site.tracking", "record_events")
            if record is not None:
                record_available = True
                rec_db = common.copy_db(template, tmp, f"rec-{id_kind}.db")
                rec_app = common.make_app(rec_db)
                apps.append(rec_app)
                variants.append(Variant("moviepulse record_events", sampler(_record_caller(rec_app, record))))
            if common.has_route(mp_app, "/api/events", "POST"):
                post_available = True
                client = mp_app.test_client()

                def post(events, client=client):
                    body = json.dumps({"sent_at": events[-1]["ts"], "events": events})
                    resp = client.post("/api/events", data=body, content_type="application/json",
                                       headers={"User-Agent": "Mozilla/5.0 (bench)"})
                    if resp.status_code >= 300:
                        raise RuntimeError(f"POST /api/events -> {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
                    data = resp.get_json()
                    if data.get("accepted") != len(events):
                        raise RuntimeError(f"POST /api/events accepted {data.get('accepted')} of {len(events)}: "
                                           f"{str(data)[:300]}")

                variants.append(Variant("POST /api/events (in-process)", sampler(post)))
        cases.append(Case(f"{id_kind} ids, batches of 100, {prefill:,} rows pre-filled", "rows/s", variants,
                          higher_is_better=True, rounds=rounds))
    if not post_available:
        notes.append("not available: POST /api/events (moviepulse.site events API not registered yet)")
    if not record_available:
        notes.append("not available: moviepulse.site.tracking.record_events")
    notes.append("gunicorn with 2 workers and PostgreSQL: see the ingest_server benchmark")

    targets = []
    for c in cases:
        targets.append(Target(f"{c.name.split(',')[0]}: POST /api/events rate / raw executemany rate",
                              lambda r, n=c.name: r[n]["POST /api/events (in-process)"].ratio, 0.5, ">=",
                              "issue 2"))

    def cleanup() -> None:
        for app in apps:
            common.dispose_app(app)
        rm()

    if not cases:
        raise NotAvailable("nothing to measure")
    return Plan(cases=cases, targets=targets, cleanup=cleanup, notes=notes,
                params={"rows_per_sample": per_sample, "prefill": prefill, "batch": 100})


def _record_caller(app, record):
    """Call ``moviepulse.site.tracking.record_events(db.session, rows)`` as the API view does."""
    from moviepulse.extensions import db

    def call(events):
        rows = []
        for r in common.event_rows(events):
            row = dict(zip(datagen.EVENT_COLUMNS, r, strict=True))
            row["event_time"] = row["received_at"] = datetime.fromisoformat(row["event_time"])
            row["is_bot"] = False
            rows.append(row)
        with app.test_request_context("/api/events", method="POST"):
            out = record(db.session, rows)
            db.session.remove()
        if out.accepted != len(rows):
            raise RuntimeError(f"record_events accepted {out.accepted} of {len(rows)}")

    return call
