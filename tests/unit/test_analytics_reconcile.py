"""Reconciliation: events inserted behind a rollup's back are drift on exactly those days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from moviepulse import hookimpl
from moviepulse.analytics.reconcile import drift_report, reconcile
from moviepulse.analytics.rollups import rollup_range
from moviepulse.analytics.seed import generate_events, insert_events
from moviepulse.extensions import db
from moviepulse.models.analytics import DriftRow
from moviepulse.models.events import Event

START = date(2026, 11, 10)
END = START + timedelta(days=6)


class Capture:
    def __init__(self):
        self.drifts = []

    @hookimpl
    def drift_detected(self, drift):
        self.drifts.append(drift)


@pytest.fixture
def capture():
    return Capture()


@pytest.fixture
def rolled(make_app, capture):
    app = make_app(extra_plugins=[("capture", capture)])
    with app.app_context():
        events, devices = generate_events(START, 7, devices=120, impressions_per_day=300, seed=4)
        insert_events(db.session, events, devices)
        rollup_range(db.session, START, END)
        yield app


def _sneak(day: date, n: int, *, late: bool, kind: str = "impression"):
    t = datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
    received = t + timedelta(days=2) if late else t
    db.session.add_all([Event(event_id=f"sneak-{day}-{kind}-{i}", type=kind, event_time=t, received_at=received,
                              device_id=f"s{i}", movie_id=1, placement="home", variant="A", locale="en",
                              device_type="desktop", visitor_type="new", first_seen_week="2026-W46", is_bot=False)
                        for i in range(n)])
    db.session.commit()


def test_clean_rollups_have_no_drift(rolled):
    from moviepulse.core.pulse import current_pulse

    summary = reconcile(db.session, days=7, end=END, pulse=current_pulse())
    assert summary["flagged_days"] == []
    assert all(d["status"] == "ok" for d in summary["days"])


def test_events_behind_the_rollups_back_flag_exactly_those_days(rolled, capture):
    from moviepulse.core.pulse import current_pulse

    d2, d5 = START + timedelta(days=2), START + timedelta(days=5)
    _sneak(d2, 30, late=True)  # ~10 % of the day's impressions
    _sneak(d5, 5, late=False, kind="click")
    _sneak(START + timedelta(days=3), 1, late=False)  # 1 of ~300 impressions: below 0.5 %
    summary = reconcile(db.session, days=7, end=END, threshold=0.005, late_seconds=3600, pulse=current_pulse())
    assert summary["flagged_days"] == [d2.isoformat(), d5.isoformat()]
    by_day = {d["day"]: d for d in summary["days"]}
    m = by_day[d2.isoformat()]["metrics"]["impressions"]
    assert m["raw"] - m["stored"] == 30 and m["abs_diff"] == 30
    assert m["rel_diff"] == pytest.approx(30 / m["raw"])
    assert by_day[d2.isoformat()]["late_events"] == 30
    assert "late events are the likely cause" in by_day[d2.isoformat()]["likely_cause"]
    assert "no late arrivals" in by_day[d5.isoformat()]["likely_cause"]
    assert by_day[d5.isoformat()]["metrics"]["clicks"]["abs_diff"] == 5
    assert not by_day[(START + timedelta(days=3)).isoformat()]["flagged"]
    assert [d["day"] for d in capture.drifts] == [d2.isoformat(), d5.isoformat()]
    stored = db.session.scalars(select(DriftRow).where(DriftRow.run_id == summary["run_id"],
                                                       DriftRow.dimension == "*", DriftRow.flagged)).all()
    assert {(r.day, r.metric) for r in stored} == {(d2, "impressions"), (d5, "clicks")}
    dims = db.session.scalars(select(DriftRow).where(DriftRow.run_id == summary["run_id"],
                                                     DriftRow.dimension != "*", DriftRow.day == d2)).all()
    assert any("variant=A|placement=home|locale=en" in r.dimension for r in dims)
    report = drift_report(db.session, START, END)
    assert [d["day"] for d in report["days"] if d["flagged"]] == [d2.isoformat(), d5.isoformat()]

    rebuilt = reconcile(db.session, days=7, end=END, rebuild=True)
    assert rebuilt["rebuilt"] == [d2.isoformat(), d5.isoformat()]  # the 1-event day stays under the threshold
    assert reconcile(db.session, days=7, end=END)["flagged_days"] == []


def test_cli_commands(rolled):
    runner = rolled.test_cli_runner()
    out = runner.invoke(args=["rollup", "--from", START.isoformat(), "--to", (START + timedelta(days=1)).isoformat()])
    assert out.exit_code == 0, out.output
    assert out.output.count("rows") == 2
    out = runner.invoke(args=["reconcile", "--days", "3"])
    assert out.exit_code == 0, out.output
    assert "flagged: none" in out.output
    bad = runner.invoke(args=["rollup", "--date", "2026-13-01"])
    assert bad.exit_code != 0
