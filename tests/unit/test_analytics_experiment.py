"""The experiment read-out on seeded events: z/p/CI from raw counts, SRM on skewed
assignment, CUPED moments in SQL equal to a per-device Python computation."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from moviepulse.analytics.audiences import GLOBAL
from moviepulse.analytics.experiment import cuped_moments_sql, experiment_summary
from moviepulse.analytics.rollups import rollup_range
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.analytics.stats import cuped, cuped_moments
from moviepulse.extensions import db

scipy_stats = pytest.importorskip("scipy.stats")

START = date(2026, 10, 5)


def _counts(events, start, end):
    c = defaultdict(lambda: [0, 0])
    for e in events:
        if e["is_bot"] or not start <= e["event_time"].date() <= end:
            continue
        if e["type"] == "impression":
            c[e["variant"]][0] += 1
        elif e["type"] == "click":
            c[e["variant"]][1] += 1
    return c


def test_ztest_from_rollups_matches_raw_events_and_scipy(app_ctx):
    events, devices = generate_events(START, 6, devices=400, impressions_per_day=900, ctr={"A": 0.05, "B": 0.08},
                                      seed=21)
    insert_events(db.session, events, devices)
    end = START + timedelta(days=5)
    rollup_range(db.session, START, end - timedelta(days=1))  # last day stays raw
    res = experiment_summary(db.session, START, end, with_cuped=False)
    c = _counts(events, START, end)
    (na, ca), (nb, cb) = c["A"], c["B"]
    z = res["ztest"]
    assert (z["n_a"], z["clicks_a"], z["n_b"], z["clicks_b"]) == (na, ca, nb, cb)
    chi2, p, _, _ = scipy_stats.chi2_contingency([[ca, na - ca], [cb, nb - cb]], correction=False)
    pooled = (ca + cb) / (na + nb)
    z_ind = (cb / nb - ca / na) / (pooled * (1 - pooled) * (1 / na + 1 / nb)) ** 0.5
    assert z["z"] == pytest.approx(z_ind, rel=1e-12)
    assert z["p_value"] == pytest.approx(p, rel=1e-9)
    se = (ca / na * (1 - ca / na) / na + cb / nb * (1 - cb / nb) / nb) ** 0.5
    zc = scipy_stats.norm.ppf(0.975)
    assert z["ci_diff"][0] == pytest.approx(cb / nb - ca / na - zc * se, rel=1e-9)
    assert res["state"] == "ok" and z["significant"]
    assert res["sequential"]["looks"] == 6 and res["sequential"]["state"] == "ok"
    assert not res["srm"]["flagged"]


def test_guard_and_srm_flag_on_skewed_assignment(app_ctx):
    events, devices = generate_events(START, 3, devices=3000, impressions_per_day=300, seed=5, variant_split=0.6)
    insert_events(db.session, events, devices)
    end = START + timedelta(days=2)
    res = experiment_summary(db.session, START, end, min_impressions=1000, with_cuped=False)
    assert res["state"] == "not_enough_data"  # ~450 impressions per variant
    assert res["ztest"]["z"] is None
    srm = res["srm"]
    a = sum(1 for d in devices if d["variant"] == "A")
    assert srm["observed"] == {"A": a, "B": len(devices) - a}
    assert srm["flagged"] and srm["p_value"] < 0.001
    assert srm["p_value"] == pytest.approx(scipy_stats.chisquare([a, len(devices) - a]).pvalue, rel=1e-6)
    balanced = experiment_summary(db.session, START, end, split={"A": 60, "B": 40}, with_cuped=False)
    assert not balanced["srm"]["flagged"]


def test_cuped_sql_moments_equal_per_device_python(app_ctx):
    pre_start = START - timedelta(days=7)
    events, devices = generate_events(pre_start, 14, devices=250, impressions_per_day=400, seed=9)
    insert_events(db.session, events, devices)
    start, end = START, START + timedelta(days=6)
    moments = cuped_moments_sql(db.session, start, end, GLOBAL, 7)
    # Independent: per-device window (w, c) and pre-period CTR x from the raw event dicts.
    win = defaultdict(lambda: [0, 0])
    pre = defaultdict(lambda: [0, 0])
    variant_of = {}
    for e in events:
        if e["is_bot"] or e["type"] not in ("impression", "click"):
            continue
        d = e["event_time"].date()
        slot = 0 if e["type"] == "impression" else 1
        if start <= d <= end:
            win[e["device_id"]][slot] += 1
            variant_of[e["device_id"]] = e["variant"]
        elif pre_start <= d < start:
            pre[e["device_id"]][slot] += 1
    units = defaultdict(list)
    for dev, (w, c) in win.items():
        variant = variant_of[dev]
        if w == 0:
            continue
        pw, pc = pre.get(dev, (0, 0))
        units[variant].append((w, c, pc / pw if pw else None))
    expected = cuped({v: cuped_moments(us) for v, us in units.items()})
    got = cuped(moments)
    assert got["theta"] == pytest.approx(expected["theta"], rel=1e-9)
    for v in ("A", "B"):
        assert got["groups"][v]["ctr_adj"] == pytest.approx(expected["groups"][v]["ctr_adj"], rel=1e-9)
        assert got["groups"][v]["devices"] == len(units[v])
    full = experiment_summary(db.session, start, end, cuped_pre_days=7)
    assert full["cuped"]["theta"] == pytest.approx(expected["theta"], rel=1e-9)
    assert full["cuped"]["pre_period"] == {"from": pre_start.isoformat(), "to": (start - timedelta(days=1)).isoformat()}


def test_cuped_served_from_cache_or_pending_not_in_the_request(app_ctx):
    from moviepulse.analytics.cuped_cache import cuped_section

    events, devices = generate_events(START - timedelta(days=3), 6, devices=100, impressions_per_day=200, seed=2)
    insert_events(db.session, events, devices)
    start, end = START, START + timedelta(days=2)
    calls = []

    def enqueue(name, *args):
        calls.append((name, args))

    first = cuped_section(db.session, start, end, "global", 3, enqueue=enqueue)
    assert first["state"] == "pending" and first["previous"] is None
    assert calls == [("experiments.cuped", (start.isoformat(), end.isoformat(), "global", 3))]
    again = cuped_section(db.session, start, end, "global", 3, enqueue=enqueue)
    assert again["state"] == "pending" and len(calls) == 1  # not enqueued twice
    fresh = cuped_section(db.session, start, end, "global", 3, inline=True)  # what the task does
    assert fresh["cached"] is False and fresh["state"] in ("ok", "no_pre_period")
    cached = cuped_section(db.session, start, end, "global", 3, enqueue=enqueue)
    assert cached["cached"] is True and cached["theta"] == fresh["theta"] and len(calls) == 1
    stale = cuped_section(db.session, start, end, "global", 3, enqueue=enqueue, ttl_seconds=-1)
    assert stale["state"] == "pending" and stale["previous"]["theta"] == fresh["theta"]


def test_cuped_snapshot_write_survives_a_concurrent_insert_of_its_key(app_ctx, monkeypatch):
    """Two runs of one window (a sweeper re-enqueue while the first still runs): the second's delete
    missed the first's row, its insert hits the unique key; it deletes and inserts again."""
    from sqlalchemy import delete, false, func, select

    from moviepulse.analytics import cuped_cache
    from moviepulse.models.analytics import ExperimentSnapshot
    from moviepulse.models.base import utcnow

    events, devices = generate_events(START, 3, devices=60, impressions_per_day=200, seed=8)
    insert_events(db.session, events, devices)
    end = START + timedelta(days=2)
    key = cuped_cache.cuped_key(START, end, "global", 14)
    db.session.add(ExperimentSnapshot(key=key, kind="cuped", start_day=START, end_day=end, audience="global",
                                      params={}, result={"stale": True}, computed_at=utcnow()))
    db.session.commit()
    deletes = []

    def racing_delete(table):  # the first delete sees no row (the other run committed after it)
        deletes.append(1)
        return delete(table).where(false()) if len(deletes) == 1 else delete(table)

    monkeypatch.setattr(cuped_cache, "delete", racing_delete)
    result = cuped_cache.compute_and_store(db.session, START, end, "global", 14)
    assert len(deletes) == 2 and "stale" not in result
    rows = db.session.scalars(select(ExperimentSnapshot).where(ExperimentSnapshot.key == key)).all()
    assert len(rows) == 1 and "stale" not in rows[0].result
    assert db.session.scalar(select(func.count()).select_from(ExperimentSnapshot)) == 1
