"""Browser flow: the Retry button of the failed-task list re-enqueues the task (job ledger)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.visual import harness

pytestmark = pytest.mark.e2e


def ledger(server, job_id: int):
    from moviepulse.extensions import db
    from moviepulse.models.jobs import JobRecord

    with server.app.app_context():
        job = db.session.get(JobRecord, job_id)
        # a periodic task is re-run through its on-demand twin ("<name>:now"), so match the prefix
        runs = db.session.scalar(select(func.count()).select_from(JobRecord)
                                 .where(JobRecord.name.startswith(job.name)))
        out = (job.state, job.retried_as, runs)
        db.session.remove()
        return out


def test_retry_button_re_enqueues_a_failed_task(e2e_world, browser, live_url):
    server, world = e2e_world
    job_id = world.failed_job_ids[0]
    state, retried_as, runs_before = ledger(server, job_id)
    assert (state, retried_as) == ("error", None)

    context = harness.logged_in_context(browser, live_url)
    try:
        page = context.new_page()
        watcher = harness.DashWatcher(page)
        page.goto(harness.dashboard_url(live_url, "queue"))
        watcher.wait_widgets()
        card = harness.widget_locator(page, "queue-failed", "queue")
        row = card.locator(f'tr[data-row="{job_id}"]')
        assert harness.FAILED_TASK in row.inner_text()
        row.get_by_role("button", name="Retry").click()
        card.get_by_text(f"Job {job_id} re-enqueued").wait_for()
        row.get_by_text("retried").wait_for()
        assert row.get_by_role("button", name="Retry").count() == 0
    finally:
        context.close()

    state, retried_as, runs_after = ledger(server, job_id)
    assert retried_as  # the failed row names its replacement (or "enqueued" with an immediate Huey)
    assert runs_after == runs_before + 1  # a new ledger row of the same task: it was enqueued and ran
